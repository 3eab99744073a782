"""`python -m wall …`: the wall's commands."""

from __future__ import annotations

import argparse
import json
import sys

from wall.cli import parser, run
from wall.settings import Settings
from wall.store import StoreUnavailable, open_store


def check(args: argparse.Namespace, settings: Settings) -> int:
    """Print the effective settings and reach the store: what an operator runs first."""
    print(json.dumps(settings.redacted(), ensure_ascii=False, indent=2))
    try:
        with open_store(settings) as store:
            store.check()
    except StoreUnavailable as exc:
        print(f"store not reachable: {exc}", file=sys.stderr)
        return 1
    print(f"store ready: {settings.store}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser("wall", "IOC Wall: the operations wall of a smart-city IOC.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="show the settings in force and check the store answers")
    return run(p, {"check": check}, argv)


if __name__ == "__main__":
    sys.exit(main())
