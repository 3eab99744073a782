"""E-mailing each newly made leaders' brief (PDF and CSV attached) to its period kind's readers.

Deliveries are recorded in the store's append-only event log (stream `brief_mail`, one key per
brief): `due` when the brief is made, `sent` once the mail server took the mail, `failed` with
the reason when it did not. A brief due and not sent is sent again on the next pass, and one
sent never again. The record is in the store, not next to the brief, because it must survive
what the brief folder may not: a full disk (the very failure to report) would stop a marker
file from being written after a send and so send the brief again on the next run; the store is
also what the console already reads, on every replica, and what `wall backup` keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from wall.brief import PERIODS, BriefPeriod, brief_paths, brief_period, period_words, text
from wall.notifications.senders import Refused, Unavailable, smtp_send
from wall.notifications.settings import EmailChannel, email_channel
from wall.settings_core import Section, json_or_value, setting
from wall.store import Event, Store

log = logging.getLogger(__name__)

STREAM = "brief_mail"
# A brief caught up for a period that ended longer ago than this is kept, not e-mailed: after
# downtime leaders want the news, not an inbox of old briefs.
MAIL_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class BriefMail:
    """The mail server (as an e-mail notification channel has it) and each kind's readers."""

    server: EmailChannel
    readers: Mapping[str, tuple[str, ...]]  # period kind: addresses

    def redacted(self) -> dict[str, Any]:
        shown = self.server.shown()
        for key in ("type", "name", "to", "routing", "language", "group_seconds"):
            shown.pop(key, None)
        return {**shown, **{f"to_{kind}": list(to) for kind, to in self.readers.items()}}


def parse_brief_mail(value: Any) -> BriefMail | None:
    """A `[brief_email]` table: an e-mail channel's server keys (host, port, security, username,
    password, from, ca_file, timeout_seconds) and to_day, to_week, to_month."""
    value = json_or_value(value)
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("must be a table: host, port, security, from, to_day, to_week, to_month")
    table = dict(value)
    readers: dict[str, tuple[str, ...]] = {}
    for kind in PERIODS:
        to = table.pop(f"to_{kind}", [])
        readers[kind] = tuple(to) if isinstance(to, list | tuple) else (to,)
    if not any(readers.values()):
        raise ValueError("names no reader: set to_day, to_week or to_month (lists of addresses)")
    for key in ("type", "name", "to", "language", "group_seconds"):
        if key in table:
            raise ValueError(f"{key} unknown; use to_day, to_week and to_month for the readers")
    every = [a for to in readers.values() for a in to]
    server = email_channel({**table, "type": "email", "name": "brief", "to": every})
    # Each address checked by the channel's own rules (to[] of the combined table).
    checked = iter(server.recipients)
    readers = {kind: tuple(next(checked) for _ in to) for kind, to in readers.items()}
    return BriefMail(server, readers)


@dataclass(frozen=True)
class BriefMailSettings(Section):
    """E-mailing the leaders' briefs (wall/brief_mail.py, run by `python -m wall briefs`)"""

    brief_email: BriefMail | None = setting(  # noqa: RUF009 - a field(), frozen value
        None,
        parse_brief_mail,
        "Where `python -m wall briefs` e-mails each new brief (PDF and CSV attached): a "
        "`[brief_email]` table in the settings file (JSON in the environment) with an e-mail "
        "channel's host, port, security (starttls, tls or plain), username, password, from, "
        "ca_file, and the readers of each period kind: to_day, to_week, to_month (lists of "
        "addresses; a kind without readers is not e-mailed). Empty: briefs are not e-mailed.",
    )


@dataclass(frozen=True)
class MailState:
    due: bool = False
    sent_at: datetime | None = None
    recipients: int = 0
    failure: str | None = None  # the latest failure, while not sent


def mail_states(store: Store, stems: Iterable[str] | None = None) -> dict[str, MailState]:
    """What became of each brief's e-mail, by brief (`brief-day-2026-12-04`)."""
    wanted = set(stems) if stems is not None else None
    states: dict[str, MailState] = {}
    for event in store.events(STREAM):
        if wanted is not None and event.key not in wanted:
            continue
        state = states.get(event.key, MailState())
        if state.sent_at:
            continue  # sent is final
        if event.kind == "due":
            state = MailState(True, None, 0, state.failure)
        elif event.kind == "sent":
            state = MailState(state.due, event.time, len(event.data.get("to", [])), None)
        elif event.kind == "failed":
            state = MailState(state.due, None, 0, event.note)
        states[event.key] = state
    return states


def period_of(stem: str) -> BriefPeriod:
    _, kind, first_day = stem.split("-", 2)
    return brief_period(kind, date.fromisoformat(first_day))


def mark_due(
    store: Store, mail: BriefMail | None, made: Iterable[Path], zone: ZoneInfo, now: datetime
) -> None:
    """Record each just-made brief that its kind's readers are to be sent, unless its period
    ended longer than MAIL_WITHIN ago."""
    if mail is None:
        return
    events = []
    for pdf in made:
        period = period_of(pdf.stem)
        if mail.readers.get(period.kind) and now - period.end(zone) <= MAIL_WITHIN:
            readers = list(mail.readers[period.kind])
            events.append(Event.new(STREAM, pdf.stem, "due", data={"to": readers}))
    if events:
        store.append_events(events)


def brief_email(
    mail: BriefMail, pdf: Path, csv_path: Path, period: BriefPeriod, lang: str, town: str
) -> EmailMessage:
    """The brief's mail: a short text and both files; its Message-ID is the brief's, the same
    on every try, so a reader's mail program shows one mail even if a send was repeated."""
    kind = period.kind
    message = EmailMessage()
    title = f"{text('title', lang)} – {period_words(period, lang)}"
    message["Subject"] = f"{town} · {title}"
    message["From"] = mail.server.sender
    message["To"] = ", ".join(mail.readers[kind])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{pdf.stem}@ioc-wall>"  # the same on every try: readers dedupe
    message["X-Idempotency-Key"] = pdf.stem
    body = (
        f"{title}.\nTệp đính kèm: {pdf.name} (PDF), {csv_path.name} (CSV)."
        if lang == "vi"
        else f"{title}.\nAttached: {pdf.name} (PDF), {csv_path.name} (CSV)."
    )
    message.set_content(body, cte="quoted-printable")
    message.add_attachment(
        pdf.read_bytes(), maintype="application", subtype="pdf", filename=pdf.name
    )
    message.add_attachment(
        csv_path.read_bytes(), maintype="text", subtype="csv", filename=csv_path.name
    )
    return message


def send_due_mail(
    store: Store,
    mail: BriefMail | None,
    out: Path,
    lang: str,
    town: str,
) -> tuple[list[str], list[str]]:
    """Send every brief due and not yet sent; (briefs sent, failures as `name: reason`). Each
    outcome is recorded before the next brief is tried."""
    if mail is None:
        return [], []
    sent, failed = [], []
    for stem, state in sorted(mail_states(store).items()):
        if not state.due or state.sent_at:
            continue
        period = period_of(stem)
        kind = period.kind
        pdf, csv_path = brief_paths(out, period)
        try:
            message = brief_email(mail, pdf, csv_path, period, lang, town)
            smtp_send(mail.server, message)
        except (Unavailable, Refused) as exc:
            reason = str(exc)
        except OSError as exc:  # the brief's files went or cannot be read
            reason = f"cannot read the brief: {exc.strerror or type(exc).__name__}"
        else:
            store.append_events(
                [Event.new(STREAM, stem, "sent", data={"to": list(mail.readers[kind])})]
            )
            log.info("brief e-mailed: %s to %d readers", stem, len(mail.readers[kind]))
            sent.append(stem)
            continue
        store.append_events([Event.new(STREAM, stem, "failed", note=reason[:500])])
        log.error("brief not e-mailed: %s: %s", stem, reason)
        failed.append(f"{stem}: {reason}")
    return sent, failed
