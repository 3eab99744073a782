"""`python -m feeds …`: the feed workers and the city simulator.

Each command is one entry of COMMANDS: (help, function adding its arguments, function running it).
"""

from __future__ import annotations

import sys

from feeds import mqtt_worker, poll_worker, simulator
from wall.cli import parser, run

COMMANDS = {
    "simulate": simulator.COMMAND,
    "poll": poll_worker.COMMAND,
    "mqtt": mqtt_worker.COMMAND,
}


def main(argv: list[str] | None = None) -> int:
    p = parser("feeds", "IOC Wall feeds: MQTT and polling workers, and the city simulator.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return run(p, {name: command for name, (_, _, command) in COMMANDS.items()}, argv)


if __name__ == "__main__":
    sys.exit(main())
