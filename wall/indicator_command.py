"""`python -m wall indicators …`: the city's indicator catalogue and the units' figures."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from layouts.common import fmt_number
from wall.i18n import Translator
from wall.indicator_files import FileRefused, read_rows
from wall.indicator_tokens import TokenError, create_token, revoke_token, tokens
from wall.settings import Settings
from wall.store import StoreError, open_store
from wall.submissions import STREAM, SubmissionRefused, check_rows, submit


def add_arguments(sub: argparse._SubParsersAction) -> None:
    command = sub.add_parser(
        "indicators", help="the indicator catalogue and the figures units submit"
    )
    actions = command.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "list", help="print the catalogue (in the wall's language: IOC_LANGUAGE=en for English)"
    )
    add = actions.add_parser(
        "import",
        help="store a unit's file of values (.csv or .xlsx rows: indicator_id, period, value"
        "[, note]), all of it or, if any row is bad, none",
    )
    add.add_argument("path", type=Path, help="the .csv (UTF-8) or .xlsx file")
    add.add_argument(
        "--unit", required=True, help="the submitting handling unit's code (city profile)"
    )
    add.add_argument("--by", help="who submits (default: your login name)")
    add.add_argument(
        "--reason", help="why values already given for a period are corrected (required then)"
    )
    token = actions.add_parser(
        "token", help="the API's per-unit tokens: add (printed once), revoke, list"
    )
    token_actions = token.add_subparsers(dest="token_action", required=True)
    new = token_actions.add_parser("add", help="a new token of a unit, printed once")
    new.add_argument("--unit", required=True, help="the handling unit's code (city profile)")
    new.add_argument("--label", help="what the token is for (the department's system)")
    token_actions.add_parser("revoke", help="refuse a token from now on").add_argument(
        "token_id", help="the id `token list` shows (the part after ioc_)"
    )
    token_actions.add_parser("list", help="every token: id, unit, created, by, label, status")


def indicators(args: argparse.Namespace, settings: Settings) -> int:
    commands = {"list": catalogue, "import": import_file, "token": api_tokens}
    return commands[args.action](args, settings)


def catalogue(args: argparse.Namespace, settings: Settings) -> int:
    """The catalogue as tab-separated lines under a header, in the wall's language."""
    t, lang, profile = Translator(settings.language), settings.language, settings.profile
    units = {u.code: (u.name_vi, u.name_en) for u in profile.handling_units}
    print(t("ind.catalogue", city=profile.name(lang), n=len(profile.indicators)))
    print(t("ind.columns"))
    for i in profile.indicators:
        target = f"{fmt_number(i.target, lang)} {i.unit_in(lang)}".strip()
        fields = (
            i.indicator_id,
            i.name(lang),
            t.label(profile.sector_labels, i.sector),
            i.unit_in(lang),
            t(f"ind.{i.direction}", target=target),
            t(f"ind.{i.aggregation}"),
            t(f"ind.{i.period}"),
            t.label(units, i.responsible_unit),
            t("ind.due", n=i.due_day),
        )
        print("\t".join(fields))
    return 0


def import_file(args: argparse.Namespace, settings: Settings) -> int:
    """A unit's file stored as one submission, or refused whole naming every bad row (exit 2)."""
    t, profile = Translator(settings.language), settings.profile
    units = {u.code: u for u in profile.handling_units}
    if args.unit not in units:
        print(f"wall indicators import: {unknown_unit(args.unit, settings)}", file=sys.stderr)
        return 2
    try:
        rows, problems = read_rows(args.path, t)
    except FileRefused as exc:
        print(f"wall indicators import: {args.path}: {exc}", file=sys.stderr)
        return 2
    reason = (args.reason or "").strip() or None
    try:
        with open_store(settings) as store:
            store.check()
            latest = store.latest_events(STREAM)
            try:
                values = check_rows(
                    rows, profile, args.unit, datetime.now(UTC), settings.tz, latest, reason, t
                )
            except SubmissionRefused as exc:
                problems += exc.problems
            if problems:
                refused = t("imp.refused", file=args.path, n=len(problems))
                print(f"wall indicators import: {refused}", file=sys.stderr)
                for row, why in sorted(problems):
                    print(t("imp.row", row=row, reason=why), file=sys.stderr)
                return 2
            by = args.by or getpass.getuser()
            submission = submit(
                store,
                values,
                by=by,
                unit=args.unit,
                path="file",
                latest=latest,
                reason=reason,
                source=args.path.name,
            )
    except StoreError as exc:
        print(f"wall indicators import: store not reachable: {exc}", file=sys.stderr)
        return 1
    unit = units[args.unit].name_vi if settings.language == "vi" else units[args.unit].name_en
    print(t("imp.stored", id=submission, n=len(values), unit=unit, by=by, file=args.path.name))
    return 0


def unknown_unit(unit: str, settings: Settings) -> str:
    known = ", ".join(u.code for u in settings.profile.handling_units)
    return Translator(settings.language)("imp.no_unit", unit=unit, known=known)


def api_tokens(args: argparse.Namespace, settings: Settings) -> int:
    """Tokens of the indicator API (wall.indicator_tokens)."""
    units = {u.code for u in settings.profile.handling_units}
    if args.token_action == "add" and args.unit not in units:
        print(f"wall indicators token: {unknown_unit(args.unit, settings)}", file=sys.stderr)
        return 2
    try:
        with open_store(settings) as store:
            store.check()
            if args.token_action == "add":
                token = create_token(store, args.unit, by=getpass.getuser(), label=args.label)
                print(token)
                print(
                    f"token of {args.unit}: shown this once (the wall keeps only its hash); "
                    "give it to the department's system",
                    file=sys.stderr,
                )
            elif args.token_action == "revoke":
                revoke_token(store, args.token_id, by=getpass.getuser())
                print(f"revoked token {args.token_id}: it is refused from now on")
            else:
                for t in tokens(store):
                    created = t.created_at.astimezone(settings.tz)
                    status = "revoked" if t.revoked else "live"
                    fields = (t.token_id, t.unit, f"{created:%Y-%m-%d %H:%M}", t.created_by or "")
                    print("\t".join((*fields, t.label or "", status)))
    except TokenError as exc:
        print(f"wall indicators token: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"wall indicators token: store not reachable: {exc}", file=sys.stderr)
        return 1
    return 0
