"""What a channel is told: notices (one alert event each, with the alert as it stood after it),
routed by each channel's settings, grouped into messages, written in the channel's language.

Text from data (titles, officers' names and notes) is only ever put into JSON strings or a
plain-text mail; nothing from an alert is read as a template or markup.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from wall.alerts.model import SEVERITIES, Alert, transitions
from wall.alerts.text import SEVERITIES as SEVERITY_LABELS
from wall.alerts.text import alert_title, label
from wall.i18n import LANGUAGES, Translator
from wall.notifications.settings import NOTIFIED_EVENTS, Channel, Routing, WebhookChannel
from wall.store import Event

SUBJECT_PREFIX = "[IOC]"
MAX_LINES_IN_TEXT = 50  # a grouped message lists this many lines, then how many more


@dataclass(frozen=True)
class Notice:
    """One alert event a channel may be told of; a plain record, kept as JSON in the outbox."""

    event_id: str  # the idempotency key of this event, the same in every message that has it
    event: str  # raised, acknowledged, shelved, assigned, escalated, cleared
    key: str
    rule: str
    entity: str
    ward: str | None
    severity: str
    state: str
    at: str  # ISO time, UTC
    by: str | None  # the officer (or "system")
    note: str | None
    shelved_until: str | None
    titles: dict[str, str]  # {language: title}
    owners: dict[str, str] = field(default_factory=dict)  # {language: who owns it}, if anyone

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.at)

    @classmethod
    def of(cls, event: Event, alert: Alert) -> Notice:
        return cls(
            event_id=event.event_id,
            event=event.kind,
            key=alert.key,
            rule=alert.rule,
            entity=alert.entity,
            ward=alert.ward,
            severity=alert.severity,
            state=alert.state,
            at=event.time.isoformat(),
            by=event.actor,
            note=event.note,
            shelved_until=alert.shelved_until.isoformat() if alert.shelved_until else None,
            titles={lang: alert_title(alert, lang) for lang in LANGUAGES},
            owners={lang: alert.owner_name(lang) for lang in LANGUAGES} if alert.owner else {},
        )


def notices(history: Iterable[Event]) -> list[Notice]:
    """The notices of one alert key's events (its whole history, any order): each event that
    changed the alert in a way people are told of; a second acknowledgement changes nothing."""
    return [
        Notice.of(event, after)
        for event, before, after in transitions(history)
        if event.kind in NOTIFIED_EVENTS and after is not None and _changed(before, after)
    ]


def _changed(before: Alert | None, after: Alert) -> bool:
    if before is None:
        return True
    keep = ("updated_at", "notes")
    return any(
        getattr(before, name) != getattr(after, name) for name in asdict(after) if name not in keep
    )


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def in_quiet_hours(at: datetime, hours: tuple[time, time], tz: ZoneInfo) -> bool:
    """`at` falls in [start, end) of the city's clock; a span may cross midnight."""
    local = at.astimezone(tz).time().replace(tzinfo=None)
    start, end = hours
    return start <= local < end if start < end else local >= start or local < end


def routed(routing: Routing, notice: Notice, tz: ZoneInfo) -> bool:
    """Whether a channel with `routing` is told of `notice` (quiet hours by the event's time, so
    the answer is the same after any restart)."""
    if notice.event not in routing.events or _rank(notice.severity) > _rank(routing.min_severity):
        return False
    if routing.rules and notice.rule not in routing.rules:
        return False
    if routing.wards and notice.ward not in routing.wards:
        return False
    return not (
        routing.quiet_hours
        and in_quiet_hours(notice.time, routing.quiet_hours, tz)
        and _rank(notice.severity) > _rank(routing.quiet_min_severity)
    )


@dataclass(frozen=True)
class Message:
    """Notices sent to one channel together; its id is the message's idempotency key."""

    channel: str
    message_id: str
    notices: tuple[Notice, ...]

    @classmethod
    def of(cls, channel: str, notices: Sequence[Notice]) -> Message:
        ids = "\n".join([channel, *(n.event_id for n in notices)])
        return cls(channel, hashlib.sha256(ids.encode()).hexdigest()[:32], tuple(notices))

    def record(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "notices": [asdict(n) for n in self.notices]}

    @classmethod
    def from_record(cls, channel: str, data: dict[str, Any]) -> Message:
        return cls(channel, data["message_id"], tuple(Notice(**n) for n in data["notices"]))


def _local(iso: str, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M %d/%m")


def notice_line(notice: Notice, lang: str, tz: ZoneInfo) -> str:
    t = Translator(lang)
    what = t(
        f"nt.{notice.event}",
        by=notice.by or "",
        until=_local(notice.shelved_until, tz) if notice.shelved_until else "",
        owner=notice.owners.get(lang, ""),
    )
    severity = label(SEVERITY_LABELS, notice.severity, lang)
    line = f"{_local(notice.at, tz)} [{severity}] {what}: {notice.titles.get(lang, notice.key)}"
    if notice.note:
        line += f" – {t('nt.note', note=notice.note)}"
    return one_line(line)


def one_line(text: str) -> str:
    """Text from data on one line: a note with line breaks must not make a mail header."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text)


def subject(message: Message, lang: str) -> str:
    if len(message.notices) == 1:
        notice = message.notices[0]
        what = Translator(lang)(f"nt.event.{notice.event}")
        severity = label(SEVERITY_LABELS, notice.severity, lang)
        title = notice.titles.get(lang, notice.key)
        return one_line(f"{SUBJECT_PREFIX} {severity} – {what}: {title}")
    return f"{SUBJECT_PREFIX} {Translator(lang)('nt.group', count=len(message.notices))}"


def text(message: Message, lang: str, tz: ZoneInfo) -> str:
    lines = [notice_line(n, lang, tz) for n in message.notices[:MAX_LINES_IN_TEXT]]
    if (more := len(message.notices) - MAX_LINES_IN_TEXT) > 0:
        lines.append(f"… (+{more})")
    return "\n".join(lines)


def json_body(channel: Channel, message: Message, tz: ZoneInfo) -> bytes:
    """A webhook's or MQTT channel's body: ours, or the webhook's template filled in."""
    lang = channel.language
    values = {
        "text": text(message, lang, tz),
        "subject": subject(message, lang),
        "count": len(message.notices),
        "idempotency_key": message.message_id,
        "channel": channel.name,
    }
    if isinstance(channel, WebhookChannel) and channel.template:
        return fill_template(channel.template, values).encode()
    body = {
        **values,
        "language": lang,
        "notices": [
            {**asdict(n), "title": n.titles.get(lang), "owner": n.owners.get(lang)}
            for n in message.notices
        ],
    }
    for notice in body["notices"]:
        del notice["titles"], notice["owners"]
    return json.dumps(body, ensure_ascii=False).encode()


def fill_template(template: str, values: dict[str, Any]) -> str:
    """`{{name}}` inside a JSON string of the template becomes the value, JSON-escaped; in one
    pass, so a value holding `{{text}}` stays that text."""

    def put(match: re.Match) -> str:
        return (
            json.dumps(values[match[1]], ensure_ascii=False)[1:-1]
            if isinstance(values[match[1]], str)
            else str(values[match[1]])
        )

    return re.sub(r"\{\{(\w+)\}\}", put, template)
