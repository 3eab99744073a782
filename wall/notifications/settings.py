"""Notification channels (`IOC_NOTIFICATIONS`, or `[[notifications]]` tables in the settings
file): where people are told of alerts, and which alerts each channel is told of."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from wall.alerts.model import SEVERITIES
from wall.alerts.rules import RULE_DEFAULTS
from wall.i18n import LANGUAGES
from wall.settings_core import (
    Section,
    json_or_value,
    positive_number,
    positive_whole_number,
    setting,
)

# What happens to an alert that a channel can be told of (events of the alert log).
NOTIFIED_EVENTS = ("raised", "acknowledged", "shelved", "assigned", "escalated", "cleared")
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
SECURITIES = ("starttls", "tls", "plain")
DEFAULT_SMTP_PORTS = {"starttls": 587, "tls": 465, "plain": 25}
# What a webhook template may ask for; each is put in as JSON text, whatever it holds.
TEMPLATE_FIELDS = ("text", "subject", "count", "idempotency_key", "channel")


def shown_endpoint(url: str) -> str:
    """A webhook URL as a log may show it: a token may be anywhere in its path or query, so only
    the scheme, host and port are shown."""
    parts = urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{rest}"


@dataclass(frozen=True)
class Routing:
    """Which alerts a channel is told of; empty `rules`/`wards` mean every one."""

    min_severity: str = "low"
    rules: frozenset[str] = frozenset()
    wards: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset(NOTIFIED_EVENTS)
    quiet_hours: tuple[time, time] | None = None  # [start, end) in the city's zone
    quiet_min_severity: str = "critical"  # what still gets through in quiet hours


@dataclass(frozen=True)
class Channel:
    kind: ClassVar[str] = ""  # the `type` of its table
    name: str
    routing: Routing
    language: str
    group_seconds: float  # at most one message per this many seconds; the rest is grouped

    def shown(self) -> dict[str, Any]:
        """The channel as `python -m wall check` shows it: no password, no token."""
        shown: dict[str, Any] = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            elif f.name == "url":
                value = shown_endpoint(value)
            elif isinstance(value, Routing):
                value = {
                    k: sorted(v) if isinstance(v, frozenset) else v for k, v in vars(value).items()
                }
                if value["quiet_hours"]:
                    value["quiet_hours"] = "-".join(
                        t.strftime("%H:%M") for t in value["quiet_hours"]
                    )
            shown[SETTING_KEYS.get(f.name, f.name)] = value
        return shown


@dataclass(frozen=True)
class WebhookChannel(Channel):
    """An HTTP POST of a JSON body: ours, or `template`'s (a chat platform's bot API)."""

    kind: ClassVar[str] = "webhook"
    url: str = ""
    template: str | None = None  # JSON text with {{text}}, {{subject}}, … in its strings
    headers: tuple[tuple[str, str], ...] = field(default=(), metadata={"secret": True})
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class EmailChannel(Channel):
    """Plain-text mail over SMTP: STARTTLS (default), implicit TLS, or plain when set so."""

    kind: ClassVar[str] = "email"
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, metadata={"secret": True})
    sender: str = ""
    recipients: tuple[str, ...] = ()
    ca_file: str | None = None  # trust this CA (a town's own mail server); default: the system's
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class MqttChannel(Channel):
    """A QoS 1 JSON message on the wall's broker (`mqtt_url`)."""

    kind: ClassVar[str] = "mqtt"
    topic: str | None = None  # default: `alert_escalation_topic`


SETTING_KEYS = {"sender": "from", "recipients": "to"}  # field: its key in a channel's table
TYPES: dict[str, type[Channel]] = {c.kind: c for c in (WebhookChannel, EmailChannel, MqttChannel)}


class Channels(tuple):
    """The channels of the settings; `redacted()` is what `python -m wall check` prints."""

    def redacted(self) -> list[dict[str, Any]]:
        return [channel.shown() for channel in self]


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be non-empty text, not {value!r}")
    return value.strip()


def _texts(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a list of text, not {value!r}")
    return tuple(_text(item, key) for item in value)


def _choices(value: Any, key: str, known: tuple[str, ...]) -> frozenset[str]:
    chosen = frozenset(_texts(value, key))
    if unknown := sorted(chosen - set(known)):
        raise ValueError(f"{key}: {', '.join(unknown)} unknown; known: {', '.join(known)}")
    return chosen


def _one_of(value: Any, key: str, known: tuple[str, ...]) -> str:
    value = _text(value, key)
    if value not in known:
        raise ValueError(f"{key}: {value!r} is not one of {', '.join(known)}")
    return value


def _clock_time(text: str, key: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{key}: {text!r} is not a time of day (hh:mm)") from None


def _quiet_hours(value: Any) -> tuple[time, time]:
    start, dash, end = _text(value, "quiet_hours").partition("-")
    if not dash:
        raise ValueError(f"quiet_hours: {value!r} is not hh:mm-hh:mm (22:00-06:00)")
    hours = (_clock_time(start, "quiet_hours"), _clock_time(end, "quiet_hours"))
    if hours[0] == hours[1]:
        raise ValueError(f"quiet_hours: {value!r} starts and ends at the same time")
    return hours


def _number(parse, value: Any, key: str):
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _template(value: Any) -> str:
    template = _text(value, "template")
    try:
        json.loads(template)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template is not JSON ({exc.msg} at character {exc.pos})") from None
    for name in re.findall(r"\{\{(\w+)\}\}", template):
        if name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"template: {{{{{name}}}}} unknown; known: {', '.join(TEMPLATE_FIELDS)}"
            )
    return template


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ValueError("headers must be a table of header names to text")
    for name, item in value.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not isinstance(item, str):
            raise ValueError(f"headers: {name!r} must be a header name with a text value")
        if "\n" in item or "\r" in item:
            raise ValueError(f"headers: the value of {name} has a line break")
    return tuple(sorted(value.items()))


def _address(value: Any, key: str) -> str:
    address = _text(value, key)
    if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", address):
        raise ValueError(f"{key}: {address!r} is not a mail address (name@host)")
    return address


def _webhook_url(value: Any) -> str:
    url = _text(value, "url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"url {shown_endpoint(url)!r} has a bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"url {shown_endpoint(url)!r} is not an http:// or https:// URL with a host"
        )
    return url


def _ca_file(value: Any) -> str:
    path = _text(value, "ca_file")
    if not Path(path).is_file():
        raise ValueError(f"ca_file: there is no file {path!r}")
    return path


def _channel(table: Any) -> Channel:
    if not isinstance(table, Mapping):
        raise ValueError(f"must be a table, not {table!r}")
    table = dict(table)
    kind = _one_of(table.pop("type", None), "type", tuple(TYPES))
    name = _text(table.pop("name", None), "name")
    if not CHANNEL_NAME.fullmatch(name):
        raise ValueError(f"name {name!r} must be lower-case letters, digits, - and _ (max 40)")
    routing = Routing(
        min_severity=_one_of(table.pop("min_severity", "low"), "min_severity", SEVERITIES),
        rules=_choices(table.pop("rules"), "rules", tuple(RULE_DEFAULTS))
        if "rules" in table
        else frozenset(),
        wards=frozenset(_texts(table.pop("wards"), "wards")) if "wards" in table else frozenset(),
        events=_choices(table.pop("events", list(NOTIFIED_EVENTS)), "events", NOTIFIED_EVENTS),
        quiet_hours=_quiet_hours(table.pop("quiet_hours")) if "quiet_hours" in table else None,
        quiet_min_severity=_one_of(
            table.pop("quiet_min_severity", "critical"), "quiet_min_severity", SEVERITIES
        ),
    )
    common = {
        "name": name,
        "routing": routing,
        "language": _one_of(table.pop("language", "vi"), "language", LANGUAGES),
        "group_seconds": _number(positive_number, table.pop("group_seconds", 60), "group_seconds"),
    }
    own = {SETTING_KEYS.get(f.name, f.name) for f in fields(TYPES[kind])} - set(common)
    if unknown := sorted(set(table) - own):
        raise ValueError(
            f"{', '.join(unknown)} unknown; a {kind} channel has: {', '.join(sorted(own))}"
        )
    if kind == "webhook":
        return WebhookChannel(
            **common,
            url=_webhook_url(table.get("url")),
            template=_template(table["template"]) if "template" in table else None,
            headers=_headers(table.get("headers", {})),
            timeout_seconds=_number(
                positive_number, table.get("timeout_seconds", 10), "timeout_seconds"
            ),
        )
    if kind == "email":
        security = _one_of(table.get("security", "starttls"), "security", SECURITIES)
        username = _text(table["username"], "username") if "username" in table else None
        password = table.get("password")
        if (username is None) != (password is None):
            raise ValueError("username and password go together: set both or neither")
        if password is not None and not (isinstance(password, str) and password.isascii()):
            raise ValueError("password must be text of ASCII characters (what SMTP AUTH sends)")
        if username and security == "plain":
            raise ValueError(
                'security = "plain" would send the password unencrypted; use starttls or tls'
            )
        port = table.get("port", DEFAULT_SMTP_PORTS[security])
        port = _number(positive_whole_number, port, "port")
        if port > 65535:
            raise ValueError(f"port: {port} is not a port number")
        return EmailChannel(
            **common,
            host=_text(table.get("host"), "host"),
            port=port,
            security=security,
            username=username,
            password=password,
            sender=_address(table.get("from"), "from"),
            recipients=tuple(_address(a, "to") for a in _texts(table.get("to"), "to")),
            ca_file=_ca_file(table["ca_file"]) if "ca_file" in table else None,
            timeout_seconds=_number(
                positive_number, table.get("timeout_seconds", 20), "timeout_seconds"
            ),
        )
    topic = _text(table["topic"], "topic") if "topic" in table else None
    return MqttChannel(**common, topic=topic)


def email_channel(table: Mapping[str, Any]) -> EmailChannel:
    """An e-mail channel's table checked by the same rules (the leaders' briefs' mail server)."""
    channel = _channel({**table, "type": "email"})
    assert isinstance(channel, EmailChannel)
    return channel


def parse_channels(value: Any) -> Channels:
    value = json_or_value(value) or []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("must be a list of channel tables ([[notifications]] …)")
    channels = []
    for number, table in enumerate(value, 1):
        name = table.get("name") if isinstance(table, Mapping) else None
        try:
            channels.append(_channel(table))
        except ValueError as exc:
            raise ValueError(f"channel {number}{f' ({name})' if name else ''}: {exc}") from None
    names = [c.name for c in channels]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"channel name {twice[0]!r} is used twice")
    return Channels(channels)


@dataclass(frozen=True)
class NotificationSettings(Section):
    """Notifications (wall/notifications, run by `python -m wall alerts`)"""

    notifications: tuple[Channel, ...] = setting(
        Channels(),
        parse_channels,
        "Where people are told of alerts: `[[notifications]]` tables in the settings file (a "
        "JSON list in the environment), each a `webhook`, `email` or `mqtt` channel with its "
        "routing (min_severity, rules, wards, events, quiet_hours). Format, delivery "
        "guarantees and examples: docs/notifications.md.",
    )
    notification_outbox_seconds: float = setting(
        5.0,
        positive_number,
        "How often the alert service looks for alert events to notify (officers' "
        "acknowledgements and shelves come from the console), in seconds; its own raises and "
        "clears are handed over at once.",
    )
