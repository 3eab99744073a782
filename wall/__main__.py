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


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """The wall under gunicorn: what a command room runs."""
    from wall.server import serve as serve_wall

    serve_wall(settings, args.host, args.port, workers=args.workers)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser("wall", "IOC Wall: the operations wall of a smart-city IOC.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="show the settings in force and check the store answers")
    serve_parser = sub.add_parser("serve", help="serve the wall (gunicorn)")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument("--port", type=int, default=8050, help="port to listen on")
    serve_parser.add_argument(
        "--workers", type=int, default=2, help="worker processes (they share the cache)"
    )
    return run(p, {"check": check, "serve": serve}, argv)


if __name__ == "__main__":
    sys.exit(main())
