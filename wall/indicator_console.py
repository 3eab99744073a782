"""The console's pages for the units' figures (/officer/indicators): enter a value, upload a file,
read an indicator's history.

A unit's reporter sees and submits only its own unit's indicators; an officer every unit's. A
value goes through the same checks as a file or the API (wall.submissions.check_rows) and is
stored by `submit` with path `console` and the signed-in name as actor; an uploaded file goes
through the command line's reader (wall.indicator_files.read_rows) and is stored whole, path
`file`, or refused whole naming every bad row. A refused form is shown again with each problem
next to its field and what was typed kept. The blueprint is nested in the console's
(wall.officer_console), so its session check runs first and its page frame, CSRF check and
refusal are the console's own.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, g, redirect, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from layouts.common import fmt_number
from wall.accountability import indicators_due
from wall.city import Indicator
from wall.i18n import Translator
from wall.indicator_files import FileRefused, read_rows
from wall.officers import REPORTER, Officer, OfficerError, officer_named
from wall.periods import Period, period_of
from wall.settings import Settings
from wall.store import Event, Store, StoreError
from wall.submissions import (
    MAX_NOTE_CHARS,
    STREAM,
    Row,
    SubmissionRefused,
    check_rows,
    delivered,
    key_of,
    number,
    sent_shared,
    submit,
    values_of,
)

log = logging.getLogger(__name__)

# A unit's file of 5,000 values is ~200 KB as CSV or XLSX: 2 MiB leaves room, and keeps a web
# worker from parsing a workbook of tens of megabytes (the command line takes up to 10 MiB).
MAX_UPLOAD_BYTES = 2 * 2**20
MAX_FILE_NAME_CHARS = 200
FIELDS = ("period", "value", "note", "reason")


@dataclass(frozen=True)
class ConsoleParts:
    """What wall.officer_console shares with the pages of this module:
    the page frame, the CSRF check and the refusal; the session check runs for them as their
    blueprints are nested in this one."""

    page: Callable[..., tuple[str, int]]
    refused: Callable[[], tuple[str, int]]
    request_is_genuine: Callable[[], bool]
    t: Callable[..., str]
    lang: Callable[[], str]
    local: Callable[[datetime], str]
    max_form_bytes: int


def pages(settings: Settings, store: Store, parts: ConsoleParts) -> Blueprint:
    bp = Blueprint("indicators", __name__, template_folder="templates")
    profile, zone = settings.profile, settings.tz
    catalogue = {i.indicator_id: i for i in profile.indicators}
    units = {u.code: u for u in profile.handling_units}
    t, page = parts.t, parts.page

    def words() -> Translator:
        return Translator(parts.lang())

    def title() -> str:
        return t("ind_title")

    def store_down() -> tuple[str, int]:
        return page(title(), "base", 503, messages=[("error", t("store_down"))])

    def unit_name(code: str) -> str:
        unit = units.get(code)
        return unit.name(parts.lang()) if unit else code

    def user() -> Officer:
        """The signed-in account (OfficerError if removed meanwhile)."""
        return officer_named(store, g.officer)

    def may_submit(who: Officer, indicator: Indicator) -> bool:
        return who.role != REPORTER or indicator.responsible_unit == who.unit

    def value_text(value: object, indicator: Indicator | None = None) -> str:
        """The stored number as given (every digit, the language's decimal mark) and its unit."""
        text = format(float(value), ".12g")
        if parts.lang() == "vi":
            text = text.replace(".", ",")
        return f"{text} {indicator.unit_in(parts.lang())}".strip() if indicator else text

    def given_text(e: Event, indicator: Indicator) -> str:
        return t(
            "ind_given",
            value=value_text(e.data.get("value"), indicator),
            who=e.actor or "—",
            time=parts.local(e.time),
            path=words()(f"path.{e.data.get('path')}"),
        )

    def open_periods(indicator: Indicator, now: datetime) -> list[Period]:
        """The period just ended (its value is due) and the one under way (wall.periods)."""
        current = period_of(indicator.period, now, zone)
        return [current.previous(), current]

    def indicator_view(
        indicator: Indicator,
        latest: dict[str, Event],
        due: dict,
        now: datetime,
        errors: dict | None = None,
        typed: dict | None = None,
    ) -> dict:
        lang = parts.lang()
        current = period_of(indicator.period, now, zone)
        periods = []
        for p in open_periods(indicator, now):
            given = latest.get(key_of(indicator.indicator_id, p.name))
            label = t("ind_period_now" if p == current else "ind_period_ended", period=p.name)
            periods.append(
                {
                    "name": p.name,
                    "label": label,
                    "given": given_text(given, indicator) if given else t("ind_none_yet"),
                    "has_value": given is not None,
                }
            )
        mine = [e for k, e in latest.items() if k.startswith(indicator.indicator_id + "/")]
        newest = max(mine, key=lambda e: e.data.get("period", ""), default=None)
        state = due[indicator.indicator_id]
        day = f"{state.due - timedelta(days=1):%d/%m/%Y}"
        submitted = key_of(indicator.indicator_id, state.period) in latest
        shown_state = "sent" if state.submitted is not None and not submitted else state.state
        target = f"{fmt_number(indicator.target, lang)} {indicator.unit_in(lang)}".strip()
        typed = typed or {}
        unfilled = next((p["name"] for p in periods if not p["has_value"]), periods[0]["name"])
        return {
            "id": indicator.indicator_id,
            "name": indicator.name(lang),
            "unit": unit_name(indicator.responsible_unit),
            "target": words()(f"ind.{indicator.direction}", target=target),
            "kind": words()(f"ind.{indicator.period}"),
            "periods": periods,
            "latest": t("ind_latest_of", period=newest.data.get("period"))
            + " "
            + given_text(newest, indicator)
            if newest
            else t("ind_none_yet"),
            "due_state": state.state,
            "due": t(f"ind_due_{shown_state}", period=state.period, day=day),
            "history": f"/officer/indicators/{quote(indicator.indicator_id, safe='')}",
            "errors": errors or {},
            "typed": {f: typed.get(f, "") for f in FIELDS}
            | {"period": typed.get("period") or unfilled},
        }

    def listing(
        status: int = 200,
        messages: list | None = None,
        form_errors: dict | None = None,
        typed: dict | None = None,
        upload: dict | None = None,
    ) -> tuple[str, int]:
        """The page: the user's indicators with their forms, and the upload form."""
        try:
            who = user()
            latest = store.latest_events(STREAM)
            now = datetime.now(UTC)
            sent = sent_shared(store, profile, now, zone)
        except (OfficerError, StoreError):
            return store_down()
        shown = [i for i in profile.indicators if may_submit(who, i)]
        # values an automated source sent during the period count as delivered, as on the
        # accountability screen
        found = indicators_due(profile, delivered(values_of(latest), sent), now, zone)
        due = {d.indicator.indicator_id: d for d in found}
        groups: dict[str, list[dict]] = {}
        for i in shown:
            view = indicator_view(
                i,
                latest,
                due,
                now,
                (form_errors or {}).get(i.indicator_id),
                (typed or {}).get(i.indicator_id),
            )
            groups.setdefault(unit_name(i.responsible_unit), []).append(view)
        reporter_unit = who.unit if who.role == REPORTER else None
        upload_units = [
            (code, unit_name(code))
            for code in dict.fromkeys(i.responsible_unit for i in profile.indicators)
        ]
        intro = (
            t("ind_intro_unit", unit=unit_name(reporter_unit))
            if reporter_unit
            else t("ind_intro_all")
        )
        return page(
            title(),
            "indicators",
            status,
            messages=messages or [],
            intro=intro,
            groups=groups,
            reporter_unit=reporter_unit,
            upload_units=upload_units,
            upload=upload or {},
            max_note=MAX_NOTE_CHARS,
            max_upload_mb=MAX_UPLOAD_BYTES // 2**20,
        )

    @bp.get("/officer/indicators")
    def indicators_page():
        if not g.officer:
            return redirect("/officer/signin")
        return listing()

    @bp.post("/officer/indicators")
    def submit_value():
        """One value of one indicator for one open period, with a note (and a reason when it
        corrects a value already given)."""
        if not g.officer or not parts.request_is_genuine():
            return parts.refused()
        form = request.form
        indicator = catalogue.get(form.get("indicator_id", ""))
        if indicator is None:
            message = words()("sub.unknown", id=form.get("indicator_id", ""))
            return listing(400, messages=[("error", message)])
        try:
            who = user()
            if not may_submit(who, indicator):
                return not_yours(who, indicator)
            latest = store.latest_events(STREAM)
        except (OfficerError, StoreError):
            return store_down()
        typed = {f: form.get(f, "") for f in FIELDS}
        now = datetime.now(UTC)
        errors = field_errors(indicator, typed, latest, now)
        values = []
        if not errors:
            period, reason = typed["period"].strip(), typed["reason"].strip() or None
            row = Row(1, indicator.indicator_id, period, typed["value"], typed["note"])
            unit = indicator.responsible_unit
            try:
                values = check_rows([row], profile, unit, now, zone, latest, reason, words())
            except SubmissionRefused as exc:  # what the fields alone do not show
                errors["form"] = "; ".join(why for _, why in exc.problems)
        if errors:
            refused = [("error", t("ind_form_refused"))]
            return listing(
                400,
                messages=refused,
                form_errors={indicator.indicator_id: errors},
                typed={indicator.indicator_id: typed},
            )
        correcting = key_of(indicator.indicator_id, values[0].period) in latest
        try:
            submit(
                store,
                values,
                by=g.officer,
                unit=indicator.responsible_unit,
                path="console",
                latest=latest,
                reason=reason,
            )
        except StoreError:
            return store_down()
        log.info(
            "officer console: %s %s %s for %s",
            g.officer,
            "corrected" if correcting else "submitted",
            indicator.indicator_id,
            values[0].period,
        )
        done = t(
            "ind_corrected" if correcting else "ind_stored",
            value=value_text(values[0].value, indicator),
            name=indicator.name(parts.lang()),
            period=values[0].period,
        )
        session["flash"] = [("", done)]
        return redirect(f"/officer/indicators?lang={parts.lang()}#ind-{indicator.indicator_id}")

    def not_yours(who: Officer, indicator: Indicator) -> tuple[str, int]:
        log.warning(
            "officer console: reporter %s of %s refused %s of %s",
            who.name,
            who.unit,
            indicator.indicator_id,
            indicator.responsible_unit,
        )
        message = t(
            "ind_not_yours",
            name=indicator.name(parts.lang()),
            owner=unit_name(indicator.responsible_unit),
            unit=unit_name(who.unit or ""),
        )
        return page(title(), "base", 403, messages=[("error", message)])

    def field_errors(
        indicator: Indicator, typed: dict[str, str], latest: dict[str, Event], now: datetime
    ) -> dict[str, str]:
        """Each field's problem in the user's words, next to the field that has it."""
        errors = {}
        periods = [p.name for p in open_periods(indicator, now)]
        period = typed["period"].strip()
        if period not in periods:
            errors["period"] = t("ind_period_closed", period=period, open=", ".join(periods))
        try:
            number(typed["value"], words())
        except ValueError as exc:
            errors["value"] = str(exc)
        for field in ("note", "reason"):
            if len(typed[field].strip()) > MAX_NOTE_CHARS:
                errors[field] = t("ind_too_long", n=MAX_NOTE_CHARS)
        given = latest.get(key_of(indicator.indicator_id, period))
        if given is not None and not typed["reason"].strip():
            errors["reason"] = t(
                "ind_reason_needed",
                period=period,
                value=value_text(given.data.get("value"), indicator),
                who=given.actor or "—",
                time=parts.local(given.time),
            )
        return errors

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        """A body past the limit: the page again, saying so (never a bare 413)."""
        if request.path == "/officer/indicators/upload" and g.get("officer"):
            message = t("ind_upload_too_large", mb=MAX_UPLOAD_BYTES // 2**20)
            return listing(413, messages=[("error", message)])
        message = t("too_large", kb=parts.max_form_bytes // 1024)  # the console's own limit
        return page(title(), "base", 413, messages=[("error", message)])

    @bp.post("/officer/indicators/upload")
    def upload():
        """A unit's .csv or .xlsx file, as `python -m wall indicators import` takes it."""
        request.max_content_length = MAX_UPLOAD_BYTES  # past it: too_large, nothing read
        if not g.officer or not parts.request_is_genuine():
            return parts.refused()
        try:
            who = user()
        except (OfficerError, StoreError):
            return store_down()
        unit = who.unit if who.role == REPORTER else request.form.get("unit", "")
        if who.role == REPORTER and request.form.get("unit", unit) != unit:
            log.warning("officer console: reporter %s refused a file for %s", who.name, unit)
            return page(title(), "base", 403, messages=[("error", t("ind_other_unit"))])
        reason = request.form.get("reason", "").strip()
        kept = {"unit": unit, "reason": reason}
        if unit not in units:
            return listing(400, messages=[("error", t("ind_choose_unit"))], upload=kept)
        if len(reason) > MAX_NOTE_CHARS:
            message = t("ind_too_long", n=MAX_NOTE_CHARS)
            return listing(400, messages=[("error", message)], upload=kept)
        sent = request.files.get("file")
        name = Path((sent.filename or "") if sent else "").name[-MAX_FILE_NAME_CHARS:]
        if not name:
            return listing(400, messages=[("error", t("ind_no_file"))], upload=kept)
        tr = words()
        with tempfile.TemporaryDirectory(prefix="ioc-upload-") as folder:
            path = Path(folder) / f"upload{Path(name).suffix.lower()}"
            sent.save(path)
            try:
                rows, problems = read_rows(path, tr)
            except FileRefused as exc:
                message = t("ind_file_refused", file=name, why=str(exc))
                return listing(400, messages=[("error", message)], upload=kept)
        try:
            latest = store.latest_events(STREAM)
            values = []
            try:
                values = check_rows(
                    rows, profile, unit, datetime.now(UTC), zone, latest, reason or None, tr
                )
            except SubmissionRefused as exc:
                problems = problems + exc.problems
            if problems:
                message = t("ind_upload_refused", file=name, n=len(problems))
                bad = {"unit": unit, "reason": reason, "problems": sorted(problems)}
                return listing(400, messages=[("error", message)], upload=bad)
            submission = submit(
                store,
                values,
                by=g.officer,
                unit=unit,
                path="file",
                latest=latest,
                reason=reason or None,
                source=name,
            )
        except StoreError:
            return store_down()
        log.info(
            "officer console: %s stored %d values of %s from %s (%s)",
            g.officer,
            len(values),
            unit,
            name,
            submission,
        )
        stored = tr("imp.stored", id=submission, n=len(values), unit=unit_name(unit), by=g.officer,
                    file=name)  # fmt: skip
        session["flash"] = [("", stored)]
        return redirect(f"/officer/indicators?lang={parts.lang()}")

    @bp.get("/officer/indicators/<indicator_id>")
    def history(indicator_id: str):
        """Every value given for the indicator, newest first, each period's current one marked."""
        if not g.officer:
            return redirect("/officer/signin")
        indicator = catalogue.get(indicator_id)
        if indicator is None:
            message = words()("sub.unknown", id=indicator_id)
            return page(title(), "base", 404, messages=[("error", message)])
        try:
            events = [e for e in store.events(STREAM) if e.data.get("indicator_id") == indicator_id]
        except StoreError:
            return store_down()
        events.sort(key=lambda e: e.time, reverse=True)
        current = {}
        for e in events:
            current.setdefault(e.key, e)
        rows = [
            {
                "period": e.data.get("period", ""),
                "value": value_text(e.data.get("value"), indicator),
                "time": parts.local(e.time),
                "who": e.actor or "—",
                "unit": unit_name(e.data.get("unit", "")),
                "path": words()(f"path.{e.data.get('path')}")
                + (f" · {e.data['source']}" if e.data.get("source") else ""),
                "kind": t(f"ind_kind_{e.kind}"),
                "note": e.note or "",
                "reason": e.data.get("reason") or "",
                "current": current[e.key] is e,
            }
            for e in events
        ]
        lang = parts.lang()
        target = f"{fmt_number(indicator.target, lang)} {indicator.unit_in(lang)}".strip()
        return page(
            t("ind_history_title", name=indicator.name(lang)),
            "indicator",
            rows=rows,
            unit=unit_name(indicator.responsible_unit),
            target=words()(f"ind.{indicator.direction}", target=target),
            kind=words()(f"ind.{indicator.period}"),
        )

    return bp
