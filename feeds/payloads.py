"""The feed contract: MQTT topics and JSON payloads in, Points of wall.domain's measurements out.

Pure functions, no I/O: the MQTT worker, the polling worker and the simulator's in-process mode
all validate through here, so a message means the same thing whichever way it arrives. Anything
that does not fit raises RejectedMessage whose text names the one thing that was wrong.

Each field always has one type (floats stay floats, counters stay integers) because InfluxDB
refuses a field whose type changes. Free text (names, titles) only ever lands in fields; tags get
ids and short, bounded labels, NFC-normalised so one Vietnamese ward is one series whatever the
sender's Unicode form.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from wall.domain import (
    CAMERA_STATUS,
    FIELD_REPORT,
    KPI,
    REPORT_STATUSES,
    WIFI_USAGE,
    report_slot,
)
from wall.store.base import InvalidPoint, Point, utc

MAX_PAYLOAD_BYTES = 16 * 1024
TOPIC_ROOT = "ioc"
KINDS = ("camera", "wifi", "report", "kpi")
# Ids become tags and MQTT topic levels: ASCII letters, digits and . _ : - only.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Category and sector are grouping codes (e.g. "traffic", "hanh_chinh"), not prose.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_LABEL_CHARS = 64  # ward, site: tags, so short
MAX_NAME_CHARS = 200
MAX_TITLE_CHARS = 500
MAX_PERIOD_CHARS = 32
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(minutes=10)
RFC3339_PATTERN = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d{1,9})?)?([Zz]|[+-]\d\d:\d\d)"
)


class RejectedMessage(ValueError):
    """A message that does not fit the contract; `reason` says what was wrong."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def topic_for(kind: str, entity_id: str) -> str:
    """The topic a message about one entity is published on (the inverse of parse_topic)."""
    if kind == "camera":
        return f"{TOPIC_ROOT}/camera/{entity_id}/status"
    if kind == "wifi":
        return f"{TOPIC_ROOT}/wifi/{entity_id}/usage"
    if kind in ("report", "kpi"):
        return f"{TOPIC_ROOT}/{kind}/{entity_id}"
    raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")


_TOPIC_SHAPES = {  # (kind, number of levels): the last level
    ("camera", 4): "status",
    ("wifi", 4): "usage",
    ("report", 3): None,
    ("kpi", 3): None,
}


def parse_topic(topic: str) -> tuple[str, str]:
    """(kind, entity id) of a contract topic; RejectedMessage for any other topic."""
    levels = topic.split("/")
    kind = levels[1] if len(levels) > 1 and levels[0] == TOPIC_ROOT else None
    shape = (kind, len(levels))
    if shape not in _TOPIC_SHAPES or (
        _TOPIC_SHAPES[shape] is not None and levels[3] != _TOPIC_SHAPES[shape]
    ):
        raise RejectedMessage(
            f"unknown topic {topic!r}; expected ioc/camera/<id>/status, ioc/wifi/<id>/usage, "
            "ioc/report/<id> or ioc/kpi/<id>"
        )
    return kind, levels[2]


def parse_message(topic: str, payload: bytes, received_at: datetime) -> list[Point]:
    """Points for one MQTT message, or RejectedMessage naming what was wrong with it."""
    kind, entity_id = parse_topic(topic)
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise RejectedMessage(
            f"payload of {len(payload)} bytes is over the limit of {MAX_PAYLOAD_BYTES}"
        )
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RejectedMessage(f"payload is not UTF-8 (byte {exc.start})") from None
    try:
        data = _decoder.decode(text)
    except RejectedMessage:
        raise
    except json.JSONDecodeError as exc:
        raise RejectedMessage(f"payload is not JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise RejectedMessage("payload is not JSON: nested too deeply") from None
    return parse_record(kind, entity_id, data, received_at)


def parse_record(kind: str, entity_id: str, data: Any, received_at: datetime) -> list[Point]:
    """The same validation for an already-decoded object (polled HTTP/Open311 sources)."""
    parse = _PARSERS.get(kind)
    if parse is None:
        raise RejectedMessage(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if not isinstance(entity_id, str) or not ID_PATTERN.fullmatch(entity_id):
        raise RejectedMessage(
            f"{kind} id {entity_id!r} must be 1–128 ASCII letters, digits or . _ : - "
            "(starting with a letter or digit)"
        )
    if not isinstance(data, Mapping):
        raise RejectedMessage(f"payload must be a JSON object, not {_json_type(data)}")
    received_at = utc(received_at)
    fields = _Fields(data)
    time = fields.timestamp("ts") or received_at
    if time > received_at + MAX_CLOCK_AHEAD:
        raise RejectedMessage(
            f"field 'ts' ({time.isoformat()}) is more than {MAX_CLOCK_AHEAD} ahead of the "
            f"receive time ({received_at.isoformat()}); is the sender's clock or zone wrong?"
        )
    measurement, tags, values = parse(entity_id, fields)
    tags = {key: value for key, value in tags.items() if value is not None}
    try:
        return [Point(measurement, tags, values, time)]
    except InvalidPoint as exc:  # what a tag or field value cannot hold in the store
        raise RejectedMessage(str(exc)) from None


def _camera(entity_id: str, f: _Fields) -> tuple[str, dict, dict]:
    tags = {"camera_id": entity_id, "ward": f.label("ward")}
    values = {
        "online": f.boolean("online", required=True),
        "fps": f.number("fps", minimum=0),
        "bitrate_kbps": f.number("bitrate_kbps", minimum=0),
        "name": f.text("name", MAX_NAME_CHARS),
        "lat": f.number("lat", minimum=-90, maximum=90),
        "lon": f.number("lon", minimum=-180, maximum=180),
    }
    return CAMERA_STATUS.name, tags, values


def _wifi(entity_id: str, f: _Fields) -> tuple[str, dict, dict]:
    tags = {"ap_id": entity_id, "ward": f.label("ward"), "site": f.label("site")}
    values = {
        "up": f.boolean("up", required=True),
        "clients": f.integer("clients", required=True),
        "rx_bytes": f.integer("rx_bytes"),
        "tx_bytes": f.integer("tx_bytes"),
        "capacity": f.integer("capacity"),
    }
    return WIFI_USAGE.name, tags, values


def _report(entity_id: str, f: _Fields) -> tuple[str, dict, dict]:
    tags = {
        "category": f.code("category", required=True),
        "ward": f.label("ward"),
        "report_slot": report_slot(entity_id),
    }
    status = f.text("status", MAX_NAME_CHARS, required=True)
    if status not in REPORT_STATUSES:
        raise RejectedMessage(
            f"field 'status' must be one of {', '.join(REPORT_STATUSES)}, not {status!r}"
        )
    created, updated = f.timestamp("created"), f.timestamp("updated")
    if created and updated and updated < created:
        raise RejectedMessage("field 'updated' is earlier than field 'created'")
    values = {
        "report_id": entity_id,
        "status": status,
        "title": f.text("title", MAX_TITLE_CHARS),
        "agency": f.text("agency", MAX_NAME_CHARS),  # the unit handling it, as the source names it
        "lat": f.number("lat", minimum=-90, maximum=90),
        "lon": f.number("lon", minimum=-180, maximum=180),
        "created": rfc3339(created) if created else None,
        "updated": rfc3339(updated) if updated else None,
    }
    return FIELD_REPORT.name, tags, values


def _kpi(entity_id: str, f: _Fields) -> tuple[str, dict, dict]:
    tags = {"indicator_id": entity_id, "sector": f.code("sector")}
    values = {
        "actual": f.number("value", required=True),  # "value" is reserved by the store
        "target": f.number("target"),
        "unit": f.text("unit", MAX_LABEL_CHARS),
        "name": f.text("name", MAX_NAME_CHARS),
        "period": f.text("period", MAX_PERIOD_CHARS),
    }
    return KPI.name, tags, values


_PARSERS: dict[str, Callable[[str, _Fields], tuple[str, dict, dict]]] = {
    "camera": _camera,
    "wifi": _wifi,
    "report": _report,
    "kpi": _kpi,
}


def rfc3339(ts: datetime) -> str:
    """UTC, to the millisecond, with Z: how report times are stored as text fields."""
    return utc(ts).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: Any, key: str = "ts") -> datetime:
    """An RFC 3339 string with an offset, or epoch milliseconds, as an aware UTC datetime."""
    if isinstance(value, bool):
        raise RejectedMessage(f"field {key!r} must be an RFC 3339 string or epoch milliseconds")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise RejectedMessage(f"field {key!r} is not a finite number")
        try:
            ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except OverflowError:
            raise RejectedMessage(f"field {key!r}={value} is out of range") from None
        if ts < EARLIEST_TS:
            raise RejectedMessage(
                f"field {key!r}={value} is before 2000 as epoch milliseconds "
                "(seconds sent by mistake?)"
            )
        return ts
    if not isinstance(value, str):
        raise RejectedMessage(
            f"field {key!r} must be an RFC 3339 string or epoch milliseconds, "
            f"not {_json_type(value)}"
        )
    shape = RFC3339_PATTERN.fullmatch(value)
    if shape is None:
        raise RejectedMessage(
            f"field {key!r}={value[:40]!r} is not an RFC 3339 time with an offset "
            "(e.g. 2026-11-26T08:30:00+07:00)"
        )
    fraction = shape[2]
    text = (
        value if fraction is None or len(fraction) <= 7 else value.replace(fraction, fraction[:7])
    )
    text = text.replace("z", "Z")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise RejectedMessage(f"field {key!r}={value!r} is not a valid date and time") from None
    ts = ts.astimezone(UTC)
    if ts < EARLIEST_TS:
        raise RejectedMessage(f"field {key!r}={value!r} is before 2000")
    return ts


class _Fields:
    """Typed access to a payload's keys; JSON null means absent; unknown keys are ignored."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise RejectedMessage(f"required field {key!r} is missing")
        return value

    def boolean(self, key: str, required: bool = False) -> bool | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, bool):
            raise RejectedMessage(f"field {key!r} must be true or false, not {_json_type(value)}")
        return value

    def number(
        self,
        key: str,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RejectedMessage(f"field {key!r} must be a number, not {_json_type(value)}")
        try:
            number = float(value)
        except OverflowError:
            raise RejectedMessage(f"field {key!r} is too large") from None
        if not math.isfinite(number):
            raise RejectedMessage(f"field {key!r} must be a finite number")
        if minimum is not None and number < minimum:
            raise RejectedMessage(f"field {key!r} must be >= {minimum:g}, not {number:g}")
        if maximum is not None and number > maximum:
            raise RejectedMessage(f"field {key!r} must be <= {maximum:g}, not {number:g}")
        return number

    def integer(self, key: str, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RejectedMessage(f"field {key!r} must be an integer >= 0, not {value!r}"[:200])
        if value >= 2**63:
            raise RejectedMessage(f"field {key!r} does not fit a 64-bit integer")
        return value

    def text(self, key: str, max_chars: int, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise RejectedMessage(f"field {key!r} must be text, not {_json_type(value)}")
        value = unicodedata.normalize("NFC", value)
        if len(value) > max_chars:
            raise RejectedMessage(f"field {key!r} is longer than {max_chars} characters")
        return value

    def label(self, key: str) -> str | None:
        """A short human label stored as a tag (ward, site)."""
        value = self.text(key, MAX_LABEL_CHARS)
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise RejectedMessage(f"field {key!r} is empty")
        return value  # the rest of what a tag may hold is checked (once) by Point

    def code(self, key: str, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not CODE_PATTERN.fullmatch(value):
            raise RejectedMessage(
                f"field {key!r} must be a code of 1–64 ASCII letters, digits or . _ - "
                f"(e.g. 'traffic'), not {value!r}"[:200]
            )
        return value

    def timestamp(self, key: str) -> datetime | None:
        value = self._get(key, False)
        return None if value is None else parse_timestamp(value, key)


def _refuse_constant(name: str) -> None:
    raise RejectedMessage(f"payload is not JSON: {name} is not a JSON number")


_decoder = json.JSONDecoder(parse_constant=_refuse_constant)  # one for all: json.loads builds one


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    return "an object"
