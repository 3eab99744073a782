"""`python -m wall …`: the wall's commands."""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import sys
import threading

from wall.cli import parser, run
from wall.officers import OfficerError, add_officer, officers, remove_officer
from wall.settings import Settings, masked_url
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
    print(f"store ready: {masked_url(settings.store)}")
    return 0


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """The wall under gunicorn: what a command room runs."""
    from wall.server import serve as serve_wall

    serve_wall(settings, args.host, args.port, workers=args.workers)
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Everything a newcomer needs: the city simulator, the feed path into the store, the alert
    rules and the wall (see wall.demo). With no IOC_MQTT_URL the simulator writes through the
    same validation and write path as the MQTT worker; with it, the simulator publishes to that
    broker and an MQTT worker writes what arrives."""
    from wall.demo import run_demo

    return run_demo(settings, args.host, args.port, args.workers)


def alerts(args: argparse.Namespace, settings: Settings) -> int:
    """The alert evaluator, until SIGTERM/SIGINT."""
    from wall.alerts import service

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return service.run(settings, stop)


def users(args: argparse.Namespace, settings: Settings) -> int:
    """Duty-officer accounts: add (asks the password twice, or reads stdin), remove, list."""

    try:
        with open_store(settings) as store:
            store.check()
            if args.action == "list":
                for officer in officers(store):
                    print(
                        f"{officer.name}\t{officer.added_at.astimezone(settings.tz):%Y-%m-%d %H:%M}"
                    )
            elif args.action == "remove":
                remove_officer(store, args.name, by=getpass.getuser())
                print(f"removed officer {args.name}")
            else:
                add_officer(
                    store, args.name, _new_password(args.password_stdin), by=getpass.getuser()
                )
                print(f"added officer {args.name}")
    except OfficerError as exc:
        print(f"wall users: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"wall users: store not reachable: {exc}", file=sys.stderr)
        return 1
    return 0


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise OfficerError("the two passwords differ")
    return password


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
    sub.add_parser("alerts", help="evaluate the alert rules continuously (the alert service)")
    users_parser = sub.add_parser("users", help="duty-officer accounts: add, remove, list")
    actions = users_parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an officer (asks for the password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    actions.add_parser("remove", help="remove an officer").add_argument("name")
    actions.add_parser("list", help="list the officers")
    commands = {"check": check, "serve": serve, "demo": demo, "alerts": alerts, "users": users}
    return run(p, commands, argv)


if __name__ == "__main__":
    sys.exit(main())
