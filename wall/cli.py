"""Command-line entry shared by `python -m wall` and `python -m feeds`.

Settings problems end the program with one line naming the setting and exit status 2; no
traceback ever reaches an operator's terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from feeds.inventory import InventoryError, town_inventory
from wall.settings import Settings, load_settings, setting_docs
from wall.settings_core import SettingsError


def settings_epilog() -> str:
    lines = ["settings (environment variables, or the same names in lower case without IOC_"]
    lines.append("in the --config TOML file):")
    lines += [f"  {name:<28} {doc}" for name, _default, doc in setting_docs()]
    return "\n".join(lines)


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="PATH", help="TOML settings file (or IOC_CONFIG)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def setup_logging(level: str) -> None:
    """Log lines to stderr; also in the processes a command starts (spawned ones start bare)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(
    argparser: argparse.ArgumentParser,
    commands: dict[str, Callable[[argparse.Namespace, Settings], int | None]],
    argv: list[str] | None = None,
) -> int:
    args = argparser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        settings = load_settings(args.config)
        try:  # a broken city profile or inventory stops every command here, in one line
            town_inventory(settings)
        except InventoryError as exc:
            raise SettingsError("IOC_INVENTORY", str(exc)) from None
        return commands[args.command](args, settings) or 0
    except SettingsError as exc:
        print(f"{argparser.prog}: bad setting {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
