"""The duty officers' console (/officer): sign in, acknowledge, shelve, annotate, audit.

Wall and kiosk pages stay read-only for everyone: the only requests that change anything are the
console's POSTs, and each needs a signed-in officer's session cookie (HttpOnly, SameSite=Strict,
expiring) and that session's CSRF token. The cookie names a session on record in the store, and
every request checks that it was not ended (signed out, account removed, disabled or given a new
password), so a copied cookie stops working with its session on every replica. Sign-in attempts
are limited per name and address, per address and per name (wall.signin_limit), counted in the
wall's shared cache so every worker process and replica counts the same attempts. Pages are
rendered by Jinja with autoescaping: text from feeds and officers is always text, never HTML.
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
import math
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from layouts.common import age_text, fmt_int
from wall import brief_console, indicator_console
from wall.alerts.model import (
    OFFICER_ACTIONS,
    STREAM,
    Alert,
    AlertActionError,
    Owner,
    fold,
    officer_action,
)
from wall.alerts.rules import check_rules
from wall.alerts.state import alert_of, open_alerts, record
from wall.alerts.text import RULE_NAMES, SEVERITIES, STATES, alert_title, label
from wall.alerts.timeline import Describer, Entry, alert_events, procedure_steps, timeline
from wall.domain import SCREEN_HEALTH
from wall.i18n import Translator
from wall.notifications.outbox import RECORDS, deliveries
from wall.officers import (
    OfficerError,
    Session,
    authenticate,
    end_session,
    officer_named,
    officers,
    session_is_live,
    start_session,
)
from wall.screen_health import screen_rows
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.signin_limit import Attempt, SigninLimiter
from wall.store import InvalidPoint, Store, StoreError, check_tag_value
from wall.writable import require_writable

log = logging.getLogger(__name__)

# Past any officer's name (wall.officers.NAME_PATTERN) or password: refused before counting.
MAX_NAME_CHARS, MAX_PASSWORD_CHARS = 64, 1024
SIGNIN_MAX_BYTES = 16 * 1024
SHELVE_CHOICES_MINUTES = (15, 30, 60, 120, 240, 480)
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
# The largest console form: a 1000-character note, percent-encoded, is under 12 KB.
MAX_FORM_BYTES = 64 * 1024


def load_secret_key(settings: Settings) -> str:
    """From the setting, else from the key file (created once with a random key)."""
    if settings.secret_key:
        if len(settings.secret_key) < 32:
            raise SettingsError("IOC_SECRET_KEY", "must be at least 32 characters long")
        return settings.secret_key
    path = Path(settings.secret_key_file)
    try:
        if not path.exists():
            require_writable(path.parent, "IOC_SECRET_KEY_FILE", "create the session key")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as f:
                f.write(secrets.token_urlsafe(48))
        key = path.read_text().strip()
    except FileExistsError:  # another worker created it a moment ago
        key = path.read_text().strip()
    except OSError as exc:
        raise SettingsError("IOC_SECRET_KEY_FILE", f"cannot read or create {path}: {exc}") from None
    if len(key) < 32:
        raise SettingsError("IOC_SECRET_KEY_FILE", f"{path} holds fewer than 32 characters")
    return key


def register(
    server: Flask, settings: Settings, store: Store, limiter: SigninLimiter | None = None
) -> None:
    server.secret_key = load_secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME="ioc_officer",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.officer_session_minutes),
    )
    server.register_blueprint(console(settings, store, limiter))


def console(settings: Settings, store: Store, limiter: SigninLimiter | None = None) -> Blueprint:
    bp = Blueprint("officer", __name__, template_folder="templates")
    limiter = limiter or SigninLimiter()
    session_length = timedelta(minutes=settings.officer_session_minutes)
    max_shelve = timedelta(hours=settings.alert_max_shelve_hours)
    # A screen is silent past the screen_silent rule's `minutes`, whether the rule raises or not.
    silent_minutes = (settings.alert_rules or check_rules({}))["screen_silent"]["minutes"]

    def lang() -> str:
        wanted = request.args.get("lang") or session.get("lang") or settings.language
        return wanted if wanted in ("vi", "en") else settings.language

    def t(key: str, **values: object) -> str:
        return Translator(lang())(f"oc.{key}", **values)

    def local(ts: datetime) -> str:
        return ts.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M:%S")

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    def current_session() -> Session | None:
        name, session_id, since = (
            session.get("officer"),
            session.get("session"),
            session.get("since"),
        )
        if not name:
            return None
        if not session_id or not since:  # a cookie from before sessions were on record
            session.clear()
            return None
        return Session(name, session_id, datetime.fromisoformat(since))

    @bp.before_request
    def check_session():
        """Who is signed in (g.officer), checked against the store on every request."""
        request.max_content_length = MAX_FORM_BYTES
        g.officer = None
        signed_in = current_session()
        if signed_in is None:
            return None
        if datetime.now(UTC) - signed_in.started > session_length:
            forget_session("expired")
            return None
        try:
            live = session_is_live(store, signed_in)
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if not live:
            log.warning(
                "ended session of %s used from %s: %s %s",
                signed_in.officer,
                request.remote_addr,
                request.method,
                request.path,
            )
            forget_session("session_ended")
            return None
        g.officer = signed_in.officer
        return None

    def forget_session(why: str) -> None:
        """Drop the session from this browser, keeping its language, with `why` on the next page."""
        message, language = t(why), lang()
        session.clear()
        session.update(lang=language, flash=[("error", message)])

    @bp.errorhandler(RequestEntityTooLarge)
    def too_large(_exc):
        return page(
            t("title"), "base", 413, messages=[("error", t("too_large", kb=MAX_FORM_BYTES // 1024))]
        )

    def page(heading: str, template: str, status: int = 200, **values: object) -> tuple[str, int]:
        messages = [*session.pop("flash", []), *values.pop("messages", [])]
        html = render_template(
            f"officer/{template}.html",
            t=t,
            lang=lang(),
            csrf=csrf_token(),
            url=lambda path: path,
            heading=heading,
            officer=g.officer,
            messages=messages,
            **values,
        )
        return html, status

    def refused() -> tuple[str, int]:
        log.warning("refused %s %s from %s", request.method, request.path, request.remote_addr)
        return page(t("title"), "base", 403, messages=[("error", t("refused"))])

    def request_is_genuine() -> bool:
        """The session's CSRF token, and (where the browser says) our own origin."""
        sent = request.form.get("csrf_token", "").encode()
        expected = session.get("csrf", "").encode()
        if not expected or not hmac.compare_digest(sent, expected):
            return False
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    @bp.get("/officer/signin")
    def signin_form():
        if g.officer:
            return redirect("/officer")
        return page(t("signin"), "signin")

    @bp.post("/officer/signin")
    def signin():
        request.max_content_length = SIGNIN_MAX_BYTES  # larger: 413, before anything is read
        if not request_is_genuine():
            return refused()
        name, password = request.form.get("name", "").strip(), request.form.get("password", "")
        if not (0 < len(name) <= MAX_NAME_CHARS and 0 < len(password) <= MAX_PASSWORD_CHARS):
            message = t("signin_invalid", name=MAX_NAME_CHARS, password=MAX_PASSWORD_CHARS)
            return page(t("signin"), "signin", 400, messages=[("error", message)])
        address = request.remote_addr or "unknown"
        attempt = limiter.begin(name, address)
        if not isinstance(attempt, Attempt):
            log.warning("sign-in for %r from %s refused for %.0f s", name, address, attempt)
            until = datetime.now(UTC) + timedelta(seconds=attempt)
            message = t(
                "too_many",
                minutes=math.ceil(attempt / 60),
                time=until.astimezone(settings.tz).strftime("%H:%M"),
            )
            html, status = page(t("signin"), "signin", 429, messages=[("error", message)])
            return html, status, {"Retry-After": str(math.ceil(attempt))}
        try:
            ok = authenticate(store, name, password)
        except StoreError:
            limiter.forgive(attempt)
            return page(t("signin"), "signin", 503, messages=[("error", t("store_down"))])
        limiter.end(attempt, ok)
        if not ok:
            log.warning("failed sign-in for %r from %s", name, address)
            return page(t("signin"), "signin", 401, messages=[("error", t("bad_credentials"))])
        try:
            started = start_session(store, name)
        except StoreError:
            return page(t("signin"), "signin", 503, messages=[("error", t("store_down"))])
        session.clear()  # a fresh session (and CSRF token) at every sign-in
        session.permanent = True
        session.update(
            officer=name,
            session=started.session_id,
            since=started.started.isoformat(),
            lang=lang(),
        )
        log.info("officer %s signed in from %s", name, request.remote_addr)
        return redirect("/officer")

    @bp.post("/officer/signout")
    def signout():
        signed_in = current_session()
        if signed_in is not None and g.officer and request_is_genuine():
            try:
                end_session(store, signed_in)
            except StoreError:  # the session stays: signing out again must be possible
                return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
            log.info("officer %s signed out from %s", signed_in.officer, request.remote_addr)
            session.clear()
        return redirect("/officer/signin")

    @bp.get("/officer")
    def alerts_page():
        if not g.officer:
            return redirect("/officer/signin")
        try:
            may_act = officer_named(store, g.officer).may_act_on_alerts
        except (OfficerError, StoreError):
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if not may_act:  # a unit's reporter works on its indicators, not on alerts
            return redirect("/officer/indicators")
        return alerts_listing()

    def alerts_listing(status: int = 200, messages: tuple = ()) -> tuple[str, int]:
        try:
            alerts = open_alerts(store)
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        now = datetime.now(UTC)
        shown = list(alerts.values())
        shown.sort(
            key=lambda a: (not a.unacknowledged, SEVERITY_ORDER.get(a.severity, 9), a.raised_at)
        )
        rows = [alert_view(a, now) for a in shown]
        return page(
            t("title"),
            "alerts",
            status,
            alerts=rows,
            shelve_choices=SHELVE_CHOICES_MINUTES,
            owner_choices=owner_choices(),
            messages=list(messages),
        )

    def alert_view(a, now: datetime) -> dict:
        actions = []
        if a.unacknowledged:
            actions.append("acknowledged")
        actions.append("unshelved" if a.shelved(now) else "shelved")
        actions.append("noted")
        return {
            "key": a.key,
            "alert_id": a.alert_id,
            "severity": a.severity,
            "severity_label": label(SEVERITIES, a.severity, lang()),
            "state": a.state,
            "state_label": label(STATES, a.state, lang()),
            "title": alert_title(a, lang()),
            "raised": local(a.raised_at),
            "escalated": a.escalated_at is not None and a.unacknowledged,
            "acked": t("acked_by", who=a.acked_by, time=local(a.acked_at)) if a.acked_at else "",
            "shelved": t(
                "shelved_until", time=local(a.shelved_until), who=a.shelved_by, why=a.shelve_reason
            )
            if a.shelved(now)
            else "",
            "notes": [f"{local(when)} · {who}: {text}" for when, who, text in a.notes],
            "actions": actions,
            "owner": owner_text(a),
            "owner_value": f"{a.owner_kind}:{a.owner}" if a.owner else "",
            "assignable": a.state != "closed",
            "page": alert_url(a.key),
        }

    def owner_text(a: Alert) -> str:
        if not a.owner:
            return t("no_owner")
        time = local(a.assigned_at) if a.assigned_at else ""
        return t("owner", owner=a.owner_name(lang()), who=a.assigned_by or "", time=time)

    def owner_choices() -> dict[str, list[tuple[str, str]]]:
        """What an alert can be assigned to: {group label: [(form value, name)]}."""
        units = [(f"unit:{h.code}", h.name(lang())) for h in settings.profile.handling_units]
        people = [
            (f"person:{o.name}", o.name)
            for o in officers(store)
            if o.enabled and o.may_act_on_alerts
        ]
        return {t("units"): units, t("people"): people}

    def owner_of(value: str) -> Owner | None:
        """The owner a form's `owner` names, or None when it is no unit or enabled officer."""
        kind, _, code = value.partition(":")
        if kind == "unit" and (unit := settings.profile.handling_unit(code)):
            return Owner("unit", code, {"vi": unit.name_vi, "en": unit.name_en})
        if kind == "person" and any(
            o.name == code and o.enabled and o.may_act_on_alerts for o in officers(store)
        ):
            return Owner("person", code, {"vi": code, "en": code})
        return None

    @bp.post("/officer/action")
    def act():
        name = g.officer
        if not name or not request_is_genuine():
            return refused()
        try:
            may_act = officer_named(store, name).may_act_on_alerts
        except (OfficerError, StoreError):  # removed meanwhile, or the store is down
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if not may_act:
            log.warning("officer console: reporter %s refused %s on alerts", name, request.path)
            return page(t("title"), "base", 403, messages=[("error", t("reporter_no_alerts"))])
        form = request.form
        action, key, seen = form.get("action", ""), form.get("key", ""), form.get("alert_id", "")
        if missing := [field for field in ("action", "key", "alert_id") if not form.get(field)]:
            return bad_form(t("missing_fields", fields=", ".join(missing)))
        if action not in OFFICER_ACTIONS:
            return bad_form(t("unknown_action", action=action))
        try:
            shelve_for = shelve_time(form.get("minutes"))
        except ValueError:
            return bad_form(t("bad_minutes", most=int(max_shelve / timedelta(minutes=1))))
        try:
            check_tag_value("key", key)
        except InvalidPoint:  # no alert can have such a key
            return bad_form(t("no_such_alert"))
        try:
            alert = alert_of(store, key)
            if alert is None:
                return bad_form(t("no_such_alert"))
            if alert.alert_id != seen:
                log.info("officer %s: %s of %s refused, raised again since", name, action, key)
                return alerts_listing(409, (("error", t("alert_changed")),))
            owner = step = None
            if action == "assigned":
                owner = owner_of(form.get("owner", ""))
                if owner is None:
                    return bad_form(t("unknown_owner", owner=form.get("owner", "")))
            if action in ("step_checked", "step_unchecked"):
                step = form.get("step", "")
                steps = procedure_steps(alert, settings.profile) or []
                if not any(s.step.step_id == step for s in steps):
                    return bad_form(t("unknown_step", step=step))
            event = officer_action(
                alert,
                action,
                name,
                datetime.now(UTC),
                note=request.form.get("note"),
                shelve_for=shelve_for,
                max_shelve=max_shelve,
                owner=owner,
                step=step,
            )
            record(store, [event])
        except AlertActionError as exc:
            return bad_form(t(f"why.{exc.reason}", **exc.values))
        except InvalidPoint as exc:  # the note or name cannot be stored as given
            return bad_form(str(exc))
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        log.info("officer %s: %s %s", name, action, key)
        session["flash"] = [("", t("done", action=t(action), alert=alert_title(alert, lang())))]
        return redirect(alert_url(key) if form.get("back") == "alert" else "/officer")

    def bad_form(message: str) -> tuple[str, int]:
        return page(t("title"), "base", 400, messages=[("error", message)])

    def shelve_time(minutes: str | None) -> timedelta | None:
        """The form's shelving minutes, or ValueError when they are not a finite number of
        minutes from 0 to the longest shelving (checked before any timedelta can overflow)."""
        if not minutes:
            return None
        value = float(minutes)
        if not (math.isfinite(value) and 0 < value <= max_shelve / timedelta(minutes=1)):
            raise ValueError(minutes)
        return timedelta(minutes=value)

    @bp.get("/officer/screens")
    def screens():
        """Every wall page that reported its health (wall.screen_health), silent ones first."""
        if not g.officer:
            return redirect("/officer/signin")
        try:
            newest = store.latest(SCREEN_HEALTH.name, SCREEN_HEALTH.entity)
        except StoreError:
            return page(t("screens_title"), "base", 503, messages=[("error", t("store_down"))])
        now = datetime.now(UTC)
        tr = Translator(lang())
        rows = [
            {
                "name": r.screen if r.named else t("screen_unnamed"),
                "id": r.screen,
                "named": r.named,
                "url": unquote(r.url),  # as the address bar shows it: Vietnamese names read
                "heard": local(r.heard),
                "uptime": age_text(r.uptime_s, tr) if r.uptime_s is not None else t("unknown"),
                "refresh": local(r.last_refresh) if r.last_refresh else t("screen_no_refresh"),
                "reconnects": fmt_int(r.reconnects, lang()),
                "heap": f"{fmt_int(r.heap_bytes / 1e6, lang())} MB"
                if r.heap_bytes is not None
                else t("unknown"),
                "live": r.live,
                "status": t("screen_live")
                if r.live
                else t("screen_silent", age=age_text((now - r.heard).total_seconds(), tr)),
            }
            for r in screen_rows(newest, now, timedelta(minutes=silent_minutes))
        ]
        intro = t(
            "screens_intro",
            every=f"{settings.screen_heartbeat_seconds:g}",
            minutes=f"{silent_minutes:g}",
        )
        return page(t("screens_title"), "screens", screens=rows, intro=intro)

    def audit_rows() -> list[tuple[str, str, str, str, str]]:
        events = store.events(STREAM)
        alerts = fold(events)
        rows = []
        for e in reversed(events):
            if e.kind in OFFICER_ACTIONS and e.actor:
                alert = alerts.get(e.key)
                title = alert_title(alert, lang()) if alert else e.key
                note = e.note or ""
                if alert and e.kind in ("assigned", "step_checked", "step_unchecked"):
                    # whom to, which step: the profile's words
                    entry = Entry(e.time, e.kind, e.actor, event=e)
                    note = Describer(alert, settings.profile, lang(), local).detail(entry)
                rows.append((local(e.time), e.actor, t(e.kind), title, note))
        return rows

    @bp.get("/officer/audit")
    def audit():
        if not g.officer:
            return redirect("/officer/signin")
        return page(t("audit"), "audit", rows=audit_rows())

    @bp.get("/officer/audit.csv")
    def audit_csv():
        if not g.officer:
            return redirect("/officer/signin")
        header = [t("time"), t("officer"), t("action"), t("alert"), t("note")]
        return csv_download(header, audit_rows(), "ioc-audit.csv")

    def alert_story(key: str) -> tuple[Alert, Describer, list[Entry]] | None:
        """The alert of `key` with its timeline; None when there is no such alert."""
        try:
            check_tag_value("key", key)
        except InvalidPoint:  # no alert can have such a key
            return None
        alert = alert_of(store, key)
        if alert is None:
            return None
        events = alert_events(store.events(STREAM, key=key), alert)
        told = deliveries(store.events(RECORDS, since=alert.raised_at))
        describer = Describer(alert, settings.profile, lang(), local)
        return alert, describer, timeline(events, told)

    @bp.get("/officer/alerts/<path:key>")
    def alert_page(key: str):
        if not g.officer:
            return redirect("/officer/signin")
        try:
            story = alert_story(key)
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if story is None:
            return page(
                t("title"), "base", 404, messages=[("error", t("alert_not_found", alert_key=key))]
            )
        alert, describer, entries = story
        steps = procedure_steps(alert, settings.profile)
        return page(
            alert_title(alert, lang()),
            "alert",
            alert=alert_view(alert, datetime.now(UTC)),
            kind=label(RULE_NAMES, alert.rule, lang()),
            steps=[
                {
                    "id": s.step.step_id,
                    "text": s.step.text(lang()),
                    "done": t("step_by", who=s.done_by, time=local(s.done_at)) if s.done_at else "",
                }
                for s in steps or []
            ],
            has_procedure=steps is not None,
            steps_done=sum(1 for s in steps or [] if s.done_at),
            timeline=describer.rows(entries),
            shelve_choices=SHELVE_CHOICES_MINUTES,
            owner_choices=owner_choices(),
        )

    @bp.get("/officer/alerts/<path:key>/summary.txt")
    def alert_summary_text(key: str):
        if not g.officer:
            return redirect("/officer/signin")
        try:
            story = alert_story(key)
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if story is None:
            return page(
                t("title"), "base", 404, messages=[("error", t("alert_not_found", alert_key=key))]
            )
        alert, describer, entries = story
        text = describer.summary(entries, datetime.now(UTC), str(settings.tz))
        return Response(
            text,
            mimetype="text/plain",
            headers={"Content-Disposition": f"attachment; filename={summary_name(alert)}.txt"},
        )

    @bp.get("/officer/alerts/<path:key>/summary.csv")
    def alert_summary_csv(key: str):
        if not g.officer:
            return redirect("/officer/signin")
        try:
            story = alert_story(key)
        except StoreError:
            return page(t("title"), "base", 503, messages=[("error", t("store_down"))])
        if story is None:
            return page(
                t("title"), "base", 404, messages=[("error", t("alert_not_found", alert_key=key))]
            )
        alert, describer, entries = story
        header = [t("time"), t("who"), t("event"), t("detail")]
        return csv_download(header, describer.rows(entries), f"{summary_name(alert)}.csv")

    parts = indicator_console.ConsoleParts(
        page, refused, request_is_genuine, t, lang, local, MAX_FORM_BYTES
    )
    bp.register_blueprint(indicator_console.pages(settings, store, parts))
    brief_console.add_routes(bp, settings, store, page, t, lang, local)
    return bp


def alert_url(key: str) -> str:
    return "/officer/alerts/" + quote(key, safe="")


def summary_name(alert: Alert) -> str:
    """The download's file name: the rule and when it was raised (entities may be any text)."""
    return f"ioc-alert-{alert.rule}-{alert.raised_at:%Y%m%d-%H%M%S}"


def csv_download(header: list[str], rows: list, filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        # A leading =, +, - or @ would run as a formula in a spreadsheet.
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row])
    return Response(
        "\ufeff" + out.getvalue(),  # BOM: spreadsheet programs then read UTF-8 Vietnamese
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
