"""`python -m wall …`: the wall's commands."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.inventory import town_inventory
from wall.cli import parser, run
from wall.heartbeat import HEALTHY_WITHIN_INTERVALS, Heartbeat
from wall.indicator_command import add_arguments as add_indicator_arguments
from wall.indicator_command import indicators, unknown_unit
from wall.officers import (
    OFFICER,
    ROLES,
    OfficerError,
    add_officer,
    change_password,
    disable_officer,
    enable_officer,
    officer_named,
    officers,
    remove_officer,
)
from wall.settings import Settings
from wall.settings_core import SettingsError, masked_url
from wall.store import StoreError, StoreUnavailable, open_store, sqlite_path


def check(args: argparse.Namespace, settings: Settings) -> int:
    """Print the effective settings and reach the store: what an operator runs first."""
    print(json.dumps(settings.redacted(), ensure_ascii=False, indent=2))
    inventory = town_inventory(settings)
    print(settings.profile.summary(len(inventory.cameras), len(inventory.access_points)))
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

    # A store this wall cannot read (another layout, first-shape reports): one line, exit 2.
    with open_store(settings) as store, contextlib.suppress(StoreUnavailable):
        store.check()
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


def maintain(args: argparse.Namespace, settings: Settings) -> int:
    """Retention and rollups (wall.store.retention): a pass now and every
    `retention_pass_minutes` until SIGTERM/SIGINT; with --once, one pass (exit 1 if the store
    does not answer)."""
    from wall.domain import ROLLUP_PARTS_OF
    from wall.store.retention import keep

    log = logging.getLogger("wall.maintain")
    heartbeat = Heartbeat(settings, "maintain")
    heartbeat.require_writable()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    raw_days = dict(settings.retention_raw_days)
    with open_store(settings) as store:
        # A store it cannot read (another layout, first-shape reports): one line, exit 2.
        with contextlib.suppress(StoreUnavailable):
            store.check()
        log.info(
            "keeping raw points %s; 5-minute rollups %g days, hourly %g days",
            ", ".join(f"of {m} {d:g} days" for m, d in raw_days.items()) or "of every measurement",
            settings.retention_5m_rollup_days,
            settings.retention_hourly_rollup_days,
        )
        while True:
            try:
                store.check()
                removed = keep(
                    store, raw_days, settings.rollup_days, datetime.now(UTC), ROLLUP_PARTS_OF
                )
                log.info(
                    "retention pass done: raw points removed %s",
                    ", ".join(f"{m} {n}" for m, n in removed.items()) or "none",
                )
                heartbeat.beat()
            except StoreUnavailable as exc:
                log.warning("store not reachable (%s); trying again at the next pass", exc)
                if args.once:
                    return 1
            if args.once or stop.wait(settings.retention_pass_minutes * 60):
                return 0


def health(args: argparse.Namespace, settings: Settings) -> int:
    """A service's health check (the compose file's): exit 0 if its heartbeat is fresh, i.e.
    newer than 3 of its intervals; else one line saying why, exit 1. The feed workers' heartbeat
    is their feed_health points in the store (so it also tells their writes reach the wall);
    the alert and retention services' is the file each pass they complete touches."""
    now = datetime.now(UTC)
    if args.service in ("alerts", "maintain"):
        every = {
            "alerts": settings.alert_evaluate_seconds,
            "maintain": settings.retention_pass_minutes * 60,
        }[args.service]
        heartbeat = Heartbeat(settings, args.service)
        age = heartbeat.age_seconds()
        if age is None:
            print(
                f"{args.service}: no pass completed yet ({heartbeat.path} absent)", file=sys.stderr
            )
            return 1
        if age > HEALTHY_WITHIN_INTERVALS * every:
            print(
                f"{args.service}: last pass completed {age:.0f} s ago ({heartbeat.path}), "
                f"more than {HEALTHY_WITHIN_INTERVALS} × {every:g} s",
                file=sys.stderr,
            )
            return 1
        print(f"{args.service}: last pass completed {age:.0f} s ago")
        if args.service == "alerts":
            from wall.notifications.service import status_lines

            for line in status_lines(settings):
                print(line)
        return 0
    from feeds.mqtt_worker import feed_name
    from feeds.poll_worker import feed_names

    feeds = [feed_name(settings)] if args.service == "mqtt" else feed_names(settings)
    if not feeds:
        raise SettingsError("IOC_OPEN311_URL", "is empty and no [[poll_sources]] are set")
    since = now - timedelta(seconds=HEALTHY_WITHIN_INTERVALS * settings.feed_health_seconds)
    try:
        with open_store(settings) as store:
            seen = set(store.latest("feed_health", "feed", since=since).get("feed", ()))
    except StoreError as exc:
        print(f"store not reachable: {exc}", file=sys.stderr)
        return 1
    missing = [feed for feed in feeds if feed not in seen]
    if missing:
        print(f"no feed_health of {', '.join(missing)} since {since:%H:%M:%S} UTC", file=sys.stderr)
        return 1
    print(f"feed_health of {', '.join(feeds)} since {since:%H:%M:%S} UTC")
    return 0


def users(args: argparse.Namespace, settings: Settings) -> int:
    """Duty-officer accounts: add, passwd (ask the password twice, or read stdin), remove,
    disable, enable, list. Removing, disabling and a new password end the account's sessions."""
    changes = {
        "remove": (remove_officer, "removed officer {}; its sessions are ended"),
        "disable": (disable_officer, "disabled officer {}; its sessions are ended"),
        "enable": (enable_officer, "enabled officer {}; it can sign in again"),
    }
    try:
        with open_store(settings) as store:
            store.check()
            if args.action == "list":
                for officer in officers(store):
                    added = officer.added_at.astimezone(settings.tz)
                    status = "enabled" if officer.enabled else "disabled"
                    role = f"{officer.role} {officer.unit}" if officer.unit else officer.role
                    print(f"{officer.name}\t{added:%Y-%m-%d %H:%M}\t{status}\t{role}")
            elif args.action in changes:
                change, done = changes[args.action]
                change(store, args.name, by=getpass.getuser())
                print(done.format(args.name))
            elif args.action == "passwd":
                officer_named(store, args.name)  # before asking for a password
                password = _new_password(args.password_stdin)
                change_password(store, args.name, password, by=getpass.getuser())
                print(
                    f"new password for officer {args.name}; all its sessions are ended "
                    "(this command cannot tell which one is yours): sign in again"
                )
            else:
                if args.unit is not None and args.unit not in {
                    u.code for u in settings.profile.handling_units
                }:
                    raise OfficerError(unknown_unit(args.unit, settings))
                add_officer(
                    store,
                    args.name,
                    _new_password(args.password_stdin),
                    by=getpass.getuser(),
                    role=args.role,
                    unit=args.unit,
                )
                unit = f" of unit {args.unit}" if args.unit else ""
                print(f"added {args.role} {args.name}{unit}")
    except OfficerError as exc:
        print(f"wall users: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"wall users: store not reachable: {exc}", file=sys.stderr)
        return 1
    return 0


INFLUX_BACKUP_HINT = (
    "the store is InfluxDB: back it up with its own tools (1.x: `influxd backup -portable "
    "-database DB DIR`, `influxd restore -portable`; 2.x: `influx backup DIR`, `influx restore`)"
)


def backup(args: argparse.Namespace, settings: Settings) -> int:
    """A consistent copy of the embedded store while feeds and wall keep running."""
    if sqlite_path(settings) is None:
        print(f"wall backup: {INFLUX_BACKUP_HINT}", file=sys.stderr)
        return 2
    destination = args.destination
    if destination.is_dir():
        destination = destination / f"ioc-{datetime.now(settings.tz):%Y%m%d-%H%M%S}.db"
    if destination.exists():
        print(f"wall backup: {destination} exists already; name a new file", file=sys.stderr)
        return 2
    if not destination.parent.is_dir():
        print(f"wall backup: there is no folder {destination.parent}", file=sys.stderr)
        return 2
    try:
        with open_store(settings) as store:
            store.backup(destination)
    except StoreError as exc:
        print(f"wall backup: {exc}", file=sys.stderr)
        return 1
    size = destination.stat().st_size / 2**20
    print(f"backup written: {destination} ({size:.1f} MiB)")
    return 0


def restore(args: argparse.Namespace, settings: Settings) -> int:
    """Put a backup in place of the embedded store, which no running process may be using."""
    from wall.store.sqlite import StoreInUse
    from wall.store.sqlite import restore as restore_store

    path = sqlite_path(settings)
    if path is None:
        print(f"wall restore: {INFLUX_BACKUP_HINT}", file=sys.stderr)
        return 2
    if not args.source.is_file():
        print(f"wall restore: there is no file {args.source}", file=sys.stderr)
        return 2
    try:
        restore_store(args.source, path)
    except StoreError as exc:  # in use (exit 1), or not a backup of this store (exit 2)
        print(f"wall restore: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, StoreInUse) else 2
    print(f"restored {args.source} to {path}")
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Rewrite an embedded store of an earlier layout into the one this wall reads (InfluxDB:
    move points into their retention policies), then (on either store) the field reports of
    the first shape into the bounded one, then (InfluxDB) index each report's newest state,
    then fold the alerts' kept state from their log (a store of a wall before it was kept)."""
    from wall.alerts.state import rebuild as rebuild_alert_state
    from wall.domain import ROLLUP_PARTS_OF
    from wall.store.newest_reports import build as build_newest_reports
    from wall.store.policies import migrate as migrate_policies
    from wall.store.reports import migrate_reports
    from wall.store.sqlite import SCHEMA_VERSION, StoreInUse, store_version
    from wall.store.sqlite import migrate as migrate_store

    def say(line: str) -> None:
        print(line, flush=True)

    path = sqlite_path(settings)
    if path is not None and not path.is_file():
        print(f"wall migrate: there is no store at {path}", file=sys.stderr)
        return 2
    try:
        if path is not None and store_version(path) == SCHEMA_VERSION:  # may be in use
            say(f"{path} is a store of version {SCHEMA_VERSION}: its layout needs no migration")
        elif path is not None:  # stop everything using it first (its exclusive lock)
            migrate_store(path, dry_run=args.dry_run, report=say)
            if store_version(path) != SCHEMA_VERSION:  # a dry run
                say("field reports: looked at once the store's layout is rewritten")
                return 0
        with open_store(settings) as store:
            if path is None:  # InfluxDB: points into their retention policies
                migrate_policies(
                    store,
                    dict(settings.retention_raw_days),
                    settings.rollup_days,
                    ROLLUP_PARTS_OF,
                    dry_run=args.dry_run,
                    report=say,
                )
            migrate_reports(store, dry_run=args.dry_run, report=say)
            if path is None:  # InfluxDB: the newest state of each report, for the open ones
                build_newest_reports(store, dry_run=args.dry_run, report=say)
            if args.dry_run:
                say("alert state: folded from the event log by the migration itself")
            else:  # what the wall and the console read alerts from (wall.alerts.state)
                behind, keys = rebuild_alert_state(store)
                say(f"alert state: {behind} of {keys} alerts folded from the event log")
    except StoreError as exc:  # in use or unreachable (exit 1), or cannot be migrated (exit 2)
        print(f"wall migrate: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, StoreInUse | StoreUnavailable) else 2
    return 0


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise OfficerError("the two passwords differ")
    return password


def brief(args: argparse.Namespace, settings: Settings) -> int:
    """One period's leaders' brief, PDF and CSV, into --out."""
    from wall.brief import BriefError, chosen_period, write_brief

    zone = settings.tz
    try:
        period = chosen_period(args.period, args.date, datetime.now(UTC), zone)
    except BriefError as exc:
        print(f"wall brief: {exc}", file=sys.stderr)
        return 2
    try:
        with open_store(settings) as store:
            paths = write_brief(store, settings.profile, zone, period, args.out, args.lang)
    except StoreUnavailable as exc:
        print(f"wall brief: store not reachable: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"wall brief: cannot write into {args.out}: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


BRIEFS_EVERY_S = 600  # how often `briefs` looks for an ended period


def briefs(args: argparse.Namespace, settings: Settings) -> int:
    """Each ended period's brief, once, into IOC_BRIEF_DIR, each new one e-mailed to its
    period kind's readers (IOC_BRIEF_EMAIL), until SIGTERM/SIGINT (or --once). A store out of
    reach, a folder that cannot be written (disk full) or a mail server that does not take the
    mail is logged and tried again on the next pass; the exit status is 1 when the last pass
    had such a failure."""
    from wall.brief import make_due_briefs
    from wall.brief_mail import mark_due, send_due_mail

    log = logging.getLogger("wall.briefs")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    out = Path(settings.brief_dir)
    mail = settings.brief_email
    while True:
        failed = False
        try:
            with open_store(settings) as store:
                now = datetime.now(UTC)

                def made(path: Path, store=store, now=now) -> None:
                    log.info("brief made: %s", path)
                    mark_due(store, mail, [path], settings.tz, now)

                try:
                    make_due_briefs(
                        store, settings.profile, settings.tz, out, settings.brief_keep_days,
                        settings.brief_lang, now, made,
                    )  # fmt: skip
                except OSError as exc:
                    log.error("briefs not made: cannot write into %s: %s", out, exc)
                    failed = True
                lang, town = settings.brief_lang, settings.profile.name(settings.brief_lang)
                failures = send_due_mail(store, mail, out, lang, town)[1]
                failed = failed or bool(failures)
        except StoreError as exc:
            log.error("briefs not made or e-mailed: store not reachable: %s", exc)
            failed = True
        if args.once or stop.wait(BRIEFS_EVERY_S):
            return 1 if failed else 0


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
    sub.add_parser(
        "maintain", help="roll up and remove old raw points continuously (retention)"
    ).add_argument("--once", action="store_true", help="one pass, then exit")
    sub.add_parser(
        "health", help="exit 0 if a service's heartbeat is fresh, else 1 (a health check)"
    ).add_argument("service", choices=["mqtt", "poll", "alerts", "maintain"])
    users_parser = sub.add_parser(
        "users", help="duty-officer accounts: add, passwd, remove, disable, enable, list"
    )
    actions = users_parser.add_subparsers(dest="action", required=True)
    for action, help_text in (
        ("add", "add an officer (asks for the password)"),
        ("passwd", "give an officer a new password (asks for it); ends all its sessions"),
    ):
        command = actions.add_parser(action, help=help_text)
        command.add_argument("name")
        command.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    for action, help_text in (
        ("remove", "remove an officer; ends its sessions"),
        ("disable", "stop an officer signing in, keeping the account; ends its sessions"),
        ("enable", "let a disabled officer sign in again"),
    ):
        actions.add_parser(action, help=help_text).add_argument("name")
    add_command = actions.choices["add"]
    add_command.add_argument(
        "--role",
        choices=ROLES,
        default=OFFICER,
        help="officer (default: handles alerts) or reporter (submits its unit's indicators only)",
    )
    add_command.add_argument("--unit", help="a reporter's handling unit code (city profile)")
    actions.add_parser("list", help="list the accounts: name, added, status, role [unit]")
    add_indicator_arguments(sub)
    sub.add_parser(
        "backup", help="copy the embedded store while everything keeps running"
    ).add_argument("destination", type=Path, help="a new file, or a folder to put it in")
    sub.add_parser(
        "restore", help="put a backup in place of the embedded store (nothing may be running)"
    ).add_argument("source", type=Path, help="a file written by `wall backup`")
    sub.add_parser(
        "migrate",
        help="rewrite a store of an earlier layout (stop wall, feeds and alerts first)",
    ).add_argument("--dry-run", action="store_true", help="say what it would do, change nothing")
    brief_parser = sub.add_parser("brief", help="write one period's leaders' brief (PDF and CSV)")
    brief_parser.add_argument("--period", required=True, help="day, week or month")
    brief_parser.add_argument(
        "--date", help="a day of the period, YYYY-MM-DD (default: the last period ended)"
    )
    brief_parser.add_argument("--lang", default="vi", choices=["vi", "en"])
    brief_parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    sub.add_parser(
        "briefs", help="make each ended day's, week's and month's brief once (IOC_BRIEF_DIR)"
    ).add_argument("--once", action="store_true", help="one pass, then exit")
    commands = {
        "brief": brief,
        "briefs": briefs,
        "check": check,
        "serve": serve,
        "demo": demo,
        "alerts": alerts,
        "maintain": maintain,
        "health": health,
        "users": users,
        "indicators": indicators,
        "backup": backup,
        "restore": restore,
        "migrate": migrate,
    }
    return run(p, commands, argv)


if __name__ == "__main__":
    sys.exit(main())
