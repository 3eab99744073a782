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


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Everything a newcomer needs on the embedded store: the simulator feeding the store
    in-process (the same validation and write path as the MQTT worker), and the wall."""
    import threading

    from feeds.simulator import run_in_process
    from wall.server import serve as serve_wall

    store = open_store(settings)
    try:
        store.check()
    except StoreUnavailable as exc:
        print(f"store not reachable: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    simulation = run_in_process(store, settings, stop)
    url = f"http://{args.host}:{args.port}"
    print(
        f"IOC Wall demo on {settings.store}\n"
        f"  wall:  {url}/\n"
        f"  kiosk: {url}/kiosk?layouts=overview,cameras,wifi,reports,indicators,alerts"
        "&rotate=20\n"
        "The simulator is writing a day of history first; the screens fill in as it goes.\n"
        "Stop with Ctrl+C.",
        flush=True,
    )
    try:
        serve_wall(settings, args.host, args.port, workers=args.workers)
    finally:
        stop.set()
        simulation.join(10)
        store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = parser("wall", "IOC Wall: the operations wall of a smart-city IOC.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="show the settings in force and check the store answers")
    for name, help_text in (
        ("serve", "serve the wall (gunicorn)"),
        ("demo", "simulator + wall on the embedded store: see the wall in one command"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--host", default="127.0.0.1", help="address to listen on")
        command.add_argument("--port", type=int, default=8050, help="port to listen on")
        command.add_argument(
            "--workers", type=int, default=2, help="worker processes (they share the cache)"
        )
    return run(p, {"check": check, "serve": serve, "demo": demo}, argv)


if __name__ == "__main__":
    sys.exit(main())
