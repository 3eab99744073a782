"""The one typed settings object, from defaults, an optional TOML file and IOC_* variables.

Precedence: environment variable > TOML file > default. A bad value raises SettingsError naming
the setting, which the command-line entry points turn into one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_STORE = f"sqlite:///{PROJECT_DIR / 'data' / 'ioc.db'}"
STORE_SCHEMES = ("sqlite", "influxdb", "influxdbs")
LANGUAGES = ("vi", "en")


class SettingsError(Exception):
    """A setting has a value the program cannot run with."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


def _store_url(value: str) -> str:
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if parts.scheme not in STORE_SCHEMES:
        raise ValueError(
            f"unknown scheme {parts.scheme or '(none)'!r} in {shown!r}; "
            "use sqlite:///path/to/file.db, influxdb://host:port/database "
            "or influxdbs://host:port/database"
        )
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ValueError(f"{shown!r} names no database file (sqlite:///path/to/file.db)")
    else:
        if not parts.hostname:
            raise ValueError(f"{shown!r} names no host (influxdb://host:port/database)")
        if not parts.path.strip("/") or "/" in parts.path.strip("/"):
            raise ValueError(f"{shown!r} must name one database (influxdb://host:port/database)")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port in {shown!r}") from exc
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{value!r} must be a number greater than 0")
    return number


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{value!r} must not be negative")
    return number


def _timezone(value: str) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA time zone") from None
    return str(value)


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} is not one of {', '.join(LANGUAGES)}")
    return value


MQTT_PROTOCOLS = ("5", "3.1.1")


def _mqtt_protocol(value: Any) -> str:
    value = str(value).strip()
    if value not in MQTT_PROTOCOLS:
        raise ValueError(f"{value!r} is not one of {', '.join(MQTT_PROTOCOLS)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _inventory_path(value: Any) -> str:
    path = Path(_text(value)).expanduser()
    if not path.is_file():
        raise ValueError(f"inventory file {str(path)!r} does not exist")
    return str(path)


def _mqtt_url(value: Any) -> str | None:
    value = _text(value).strip()
    if not value:
        return None
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(
            f"unknown scheme {parts.scheme or '(none)'!r} in {shown!r}; "
            "use mqtt://host:1883 or mqtts://host:8883"
        )
    if not parts.hostname:
        raise ValueError(f"{shown!r} names no host (mqtt://host:1883)")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {shown!r}") from exc
    return value


# Polling worker (feeds/poll_worker.py): Open311 and generic HTTP JSON status sources.
POLL_SOURCE_KINDS = {
    # The record keys of the feed contract (feeds/payloads.py) a source's fields can fill.
    "camera": ("online", "fps", "bitrate_kbps", "name", "ward", "lat", "lon", "ts"),
    "wifi": ("up", "clients", "rx_bytes", "tx_bytes", "site", "ward", "capacity", "ts"),
}
POLL_SOURCE_REQUIRED = {"camera": ("online",), "wifi": ("up", "clients")}
POLL_SOURCE_KEYS = (
    "name",
    "kind",
    "url",
    "interval_seconds",
    "headers",
    "items",
    "id",
    "fields",
    "values",
)
POLL_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def _optional_http_url(value: Any) -> str | None:
    value = _text(value).strip()
    if not value:
        return None
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http:// or https:// URL with a host")
    return value


def _json_or_value(value: Any) -> Any:
    """Tables and lists come from the TOML file as they are, from the environment as JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc.msg} at character {exc.pos})") from None


def _text_table(value: Any, what: str = "table") -> dict[str, str]:
    value = _json_or_value(value)
    if not isinstance(value, dict):
        raise ValueError(f"must be a {what} of text to text, not {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} entry {key!r} must be non-empty text, not {item!r}")
    return dict(value)


NAIVE_TIMES = ("city", "reject")


def _naive_times(value: Any) -> str:
    if value not in NAIVE_TIMES:
        raise ValueError(f"{value!r} is not one of {', '.join(NAIVE_TIMES)}")
    return value


def _text_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """A text-to-text table, kept as sorted pairs so the settings stay immutable."""
    return tuple(sorted(_text_table(value).items()))


def _retention_days(value: Any) -> tuple[tuple[str, float], ...]:
    """{measurement: days} as sorted pairs: a name of letters, digits and _, at least a day
    (the rollups are made a day before the raw points go)."""
    value = _json_or_value(value)
    if not isinstance(value, dict):
        raise ValueError(f"must be a table of measurement to days, not {type(value).__name__}")
    pairs = []
    for name, days in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ValueError(f"{name!r} is not a measurement name (letters, digits and _)")
        try:
            number = _positive_number(days)
        except ValueError as exc:
            raise ValueError(f"days of {name}: {exc}") from None
        if number < 1:
            raise ValueError(f"days of {name}: {days!r} is less than one day")
        pairs.append((name, number))
    return tuple(sorted(pairs))


def _poll_sources(value: Any) -> tuple[dict[str, Any], ...]:
    value = _json_or_value(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ValueError("must be a list of tables ([[poll_sources]] in the TOML file)")
    sources, names = [], set()
    for number, source in enumerate(value, start=1):
        if not isinstance(source, dict):
            raise ValueError(f"source {number} must be a table, not {source!r}")
        label = f"source {number} ({source.get('name', 'unnamed')!r})"
        try:
            sources.append(_poll_source(source))
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        if source["name"] in names:
            raise ValueError(f"{label}: another source has the name {source['name']!r}")
        names.add(source["name"])
    return tuple(sources)


def _poll_source(source: dict[str, Any]) -> dict[str, Any]:
    if unknown := sorted(set(source) - set(POLL_SOURCE_KEYS)):
        raise ValueError(f"unknown key {unknown[0]!r}; known: {', '.join(POLL_SOURCE_KEYS)}")
    for key in ("name", "kind", "url", "id", "fields"):
        if key not in source:
            raise ValueError(f"key {key!r} is missing")
    name, kind = source["name"], source["kind"]
    if not isinstance(name, str) or not POLL_SOURCE_NAME.fullmatch(name):
        raise ValueError(f"key 'name' must be 1-32 of a-z 0-9 _ - (e.g. 'vms'), not {name!r}")
    if kind not in POLL_SOURCE_KINDS:
        raise ValueError(f"key 'kind' must be one of {', '.join(POLL_SOURCE_KINDS)}, not {kind!r}")
    checked: dict[str, Any] = {"name": name, "kind": kind}
    parsers = {
        "url": (_optional_http_url, None),
        "interval_seconds": (_positive_number, 60.0),
        "headers": (lambda v: _text_table(v, "table"), {}),
        "fields": (lambda v: _text_table(v, "table"), None),
    }
    for key, (parse, default) in parsers.items():
        try:
            checked[key] = parse(source.get(key, default))
        except ValueError as exc:
            raise ValueError(f"key {key!r}: {exc}") from None
    if checked["url"] is None:
        raise ValueError("key 'url' is empty")
    for key in ("items", "id"):
        path = source.get(key, "")
        if not isinstance(path, str) or (key == "id" and not path.strip()):
            raise ValueError(f"key {key!r} must be a dotted path such as 'data.id', not {path!r}")
        checked[key] = path.strip()
    known = POLL_SOURCE_KINDS[kind]
    if unknown := sorted(set(checked["fields"]) - set(known)):
        raise ValueError(f"fields: {unknown[0]!r} is not a {kind} field; known: {', '.join(known)}")
    if missing := [k for k in POLL_SOURCE_REQUIRED[kind] if k not in checked["fields"]]:
        raise ValueError(f"fields: the {kind} field {missing[0]!r} is required")
    values = _json_or_value(source.get("values", {}))
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ValueError("key 'values' must be a table of tables (values.online = {ON = true})")
    if unmapped := sorted(set(values) - set(checked["fields"])):
        raise ValueError(f"values: {unmapped[0]!r} is not one of this source's fields")
    checked["values"] = {k: dict(v) for k, v in values.items()}
    return checked


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def _alert_rules(value: Any) -> dict:
    from wall.alerts.rules import check_rules  # the rules module owns its parameter defaults

    return check_rules(_json_or_value(value) or {})


def _setting(default: Any, parse: Callable[[Any], Any], doc: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc, "secret": secret})


def _cache_url(value: Any) -> str:
    value = _text(value)
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if value and parts.scheme not in ("file", "redis", "rediss"):
        raise ValueError(
            f"{shown!r} is not a cache URL; leave it empty for the default folder, or use "
            "file:///path/to/folder or redis://host:port/0"
        )
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path):
        raise ValueError(f"{shown!r} must name an absolute folder (file:///path/to/folder)")
    return value


def _tiles_url(value: Any) -> str | None:
    value = _optional_text(value)
    if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"{value!r} must contain {{z}}, {{x}} and {{y}}")
    return value


MQTT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _mqtt_name(value: Any) -> str:
    """Client ids and shared-subscription groups: what every broker accepts."""
    value = _text(value).strip()
    if not MQTT_NAME.fullmatch(value):
        raise ValueError(f"{value!r} must be 1–64 ASCII letters, digits or _ . -")
    return value


def _optional_mqtt_name(value: Any) -> str | None:
    return _mqtt_name(value) if _text(value).strip() else None


def _mqtt_topic_filter(topic: str) -> str:
    levels = topic.split("/")
    for number, level in enumerate(levels):
        if ("#" in level and (level != "#" or number != len(levels) - 1)) or (
            "+" in level and level != "+"
        ):
            raise ValueError(
                f"topic filter {topic!r}: '+' must be a whole level and '#' the whole last level"
            )
    if not topic or topic.startswith("$share/"):
        raise ValueError(
            f"topic filter {topic!r} must not be empty nor $share/… (set mqtt_shared_group)"
        )
    return topic


def _mqtt_topics(value: Any) -> tuple[str, ...]:
    """A comma-separated list (environment) or a list of text (TOML file)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(t, str) for t in items):
        raise ValueError(f"{value!r} is not a list of topic filters")
    topics = tuple(_mqtt_topic_filter(t.strip()) for t in items if t.strip())
    if not topics:
        raise ValueError("names no topic filter (e.g. ioc/#)")
    return topics


def _optional_mqtt_topic(value: Any) -> str | None:
    value = _text(value).strip()
    if value and (any(c in value for c in "+#\0") or value.startswith("$")):
        raise ValueError(f"{value!r} must be a topic name without + # or a leading $")
    return value or None


def _optional_file(value: Any) -> str | None:
    value = _text(value).strip()
    if value and not Path(value).expanduser().is_file():
        raise ValueError(f"file {value!r} does not exist")
    return str(Path(value).expanduser()) if value else None


def _positive_whole_number(value: Any) -> int:
    number = _whole_number(value)
    if number < 1:
        raise ValueError(f"{value!r} must be at least 1")
    return number


def _mqtt_keepalive(value: Any) -> int:
    number = _positive_whole_number(value)
    if number > 65535:
        raise ValueError(f"{value!r} must be at most 65535 (the most MQTT allows)")
    return number


def _spool_bytes(value: Any) -> int:
    number = _whole_number(value)
    if number < 4096:
        raise ValueError(f"{value!r} must be at least 4096 bytes")
    return number


@dataclass(frozen=True)
class Settings:
    store: str = _setting(
        DEFAULT_STORE,
        _store_url,
        "Time-series store: `sqlite:///path/to/file.db` (embedded, the default, under `data/`) "
        "or `influxdb://host:port/database` (`influxdbs://` for TLS; "
        "`influxdb://user:password@host:port/database` for InfluxDB 1.x with authentication).",
    )
    influx_token: str | None = _setting(
        None,
        _optional_text,
        "Token sent as `Authorization: Token …` to InfluxDB 2.x/3.x (1.8+ also takes "
        "`user:password` here). Needed when the server demands authentication.",
        secret=True,
    )
    influx_timeout_seconds: float = _setting(
        30.0,
        _positive_number,
        "Timeout of one HTTP request to InfluxDB, in seconds. At city scale on InfluxDB 1.x the "
        "hourly read of the open field reports (one series per report) takes ~10 s.",
    )
    influx_retries: int = _setting(
        4,
        _whole_number,
        "How many times a failed InfluxDB request (connection error, 5xx, 429) is retried, "
        "with exponential backoff, before the store reports itself unavailable.",
    )
    retention_raw_days: tuple[tuple[str, float], ...] = _setting(
        (("camera_status", 14.0), ("wifi_usage", 14.0)),
        _retention_days,
        "Days each measurement's raw points are kept (`python -m wall maintain`), as a table "
        "`{measurement = days}` (JSON in the variable), at least 1. Before they go, their 5-minute "
        "and hourly rollups (sum, count, min, max) are written, and the wall's longer views read "
        "those. A measurement not listed keeps every point: the field reports (their latest state "
        "over 90 days), the indicators and the feeds' health are few.",
    )
    retention_hourly_rollup_days: float = _setting(
        1830.0,
        _positive_number,
        "Days the hourly rollups (`<measurement>_1h`) are kept: five years.",
    )
    retention_5m_rollup_days: float = _setting(
        92.0,
        _positive_number,
        "Days the 5-minute rollups (`<measurement>_5m`) are kept: three months. Of telemetry "
        "sent every 5 minutes they take 1.6 times the raw points' room (docs/benchmarks.md).",
    )
    retention_pass_minutes: float = _setting(
        60.0,
        _positive_number,
        "How often `python -m wall maintain` rolls up and removes old raw points, in minutes.",
    )
    timezone: str = _setting(
        "Asia/Ho_Chi_Minh",
        _timezone,
        "The city's time zone: times are stored in UTC and shown in this zone.",
    )
    language: str = _setting("vi", _language, "Language of the wall: `vi` (default) or `en`.")
    refresh_seconds: float = _setting(
        5.0, _positive_number, "Auto-refresh interval of the wall screens, in seconds."
    )

    cache_url: str = _setting(
        "",
        _cache_url,
        "Where the wall caches query results for one refresh, shared by every worker process: "
        "empty for a folder under the system temp directory, `file:///path/to/folder`, or "
        "`redis://host:port/0` for wall replicas on several machines.",
    )
    stale_after_seconds: float = _setting(
        120.0,
        _positive_number,
        "A tile whose newest data is older than this many seconds is shown as stale.",
    )
    history_refresh_seconds: float = _setting(
        60.0,
        _positive_number,
        "How long the wall reuses a 24-hour history query (timelines, curves) before asking "
        "the store again, in seconds.",
    )
    first_read_wait_seconds: float = _setting(
        0.2,
        _positive_number,
        "How long a refresh waits for a question the wall has no answer for yet (days of history "
        "after a start, or a history query due again) before it draws the screen without it: "
        "marked as loading (or its previous answer), filled in by a later refresh, in seconds.",
    )
    map_tiles_url: str | None = _setting(
        None,
        _tiles_url,
        "Optional raster tile server for the field-report map (`https://…/{z}/{x}/{y}.png`); "
        "empty draws the map offline from coordinates alone.",
    )
    kiosk_reload_hours: float = _setting(
        24.0,
        _positive_number,
        "A kiosk reloads its page after this many hours, at a rotation boundary and only when "
        "the server answers, so days of running never grow the browser's memory.",
    )
    inventory: str = _setting(
        str(PROJECT_DIR / "feeds" / "hoa_thanh_inventory.csv"),
        _inventory_path,
        "CSV file of the city's registered cameras and WiFi access points (name, ward, "
        "coordinates, AP capacity; format in docs/feeds-contract.md). Default: Hòa Thành's.",
    )
    mqtt_url: str | None = _setting(
        None,
        _mqtt_url,
        "MQTT broker of the feeds: `mqtt://host:1883` (`mqtts://host:8883` for TLS). Empty: the "
        "demo's simulator feeds the store in-process instead of over MQTT.",
    )

    open311_url: str | None = _setting(
        None,
        _optional_http_url,
        "Open311 GeoReport v2 endpoint whose service requests become field reports "
        "(`https://city.example/open311/v2`, without `requests.json`). Empty: not polled.",
    )
    open311_jurisdiction_id: str | None = _setting(
        None, _optional_text, "`jurisdiction_id` sent to the Open311 endpoint, if it needs one."
    )
    open311_api_key: str | None = _setting(
        None,
        _optional_text,
        "`api_key` sent to the Open311 endpoint, if it needs one.",
        secret=True,
    )
    open311_interval_seconds: float = _setting(
        60.0, _positive_number, "How often the Open311 endpoint is polled, in seconds."
    )
    open311_overlap_seconds: float = _setting(
        600.0,
        _positive_number,
        "Each Open311 poll asks again for this many seconds before the newest update already "
        "written, so requests that appear on the server up to this late are not missed (later "
        "ones wait for the re-scan, `open311_rescan_hours`).",
    )
    open311_backfill_days: float = _setting(
        7.0,
        _positive_number,
        "On its first run the Open311 poll fetches the requests of this many past days.",
    )
    open311_rescan_hours: float = _setting(
        6.0,
        _positive_number,
        "Every this many hours the Open311 poll asks again for all requests made in the last "
        "`open311_rescan_days`, so requests that appear on the server later than the overlap "
        "(a moderation queue) are still fetched.",
    )
    open311_rescan_days: float = _setting(
        3.0,
        _positive_number,
        "How far back the periodic Open311 re-scan (`open311_rescan_hours`) asks, in days: a "
        "request that appears on the server later than this after it was made is not fetched.",
    )
    open311_naive_times: str = _setting(
        "city",
        _naive_times,
        "Open311 times without an offset (`2026-11-26T08:30:00`): `city` reads them in "
        "`timezone`; `reject` refuses each request that has one.",
    )
    open311_page_limit: int = _setting(
        1000,
        _whole_number,
        "Most requests the Open311 server returns in one answer (GeoReport v2: 1000). A full "
        "answer makes the poll split its time window in two and ask again.",
    )
    open311_id_prefix: str = _setting(
        "",
        _text,
        "Prefix put before Open311 `service_request_id`s to make the wall's `report_id`, so "
        "they cannot collide with reports arriving over MQTT (e.g. `311-`).",
    )
    open311_categories: tuple[tuple[str, str], ...] = _setting(
        (),
        _text_pairs,
        "Open311 `service_code` or `service_name` to wall category (traffic, environment, "
        "lighting, flooding, urban_order, other), before the built-in keyword rules: a TOML "
        'table (`open311_categories = { PH01 = "traffic" }`), or JSON in the environment '
        '(`{"PH01": "traffic"}`).',
    )
    open311_statuses: tuple[tuple[str, str], ...] = _setting(
        (),
        _text_pairs,
        "Extra Open311 status texts (the status, an extended `detailed_status`) to wall "
        "report statuses (new, assigned, in_progress, resolved, closed, rejected).",
    )
    open311_ward_field: str = _setting(
        "address",
        _text,
        "Field of an Open311 request (dotted path, e.g. `extended_attributes.ward`) holding "
        "the ward: its text is matched against the town's wards and `open311_wards`.",
    )
    open311_wards: tuple[tuple[str, str], ...] = _setting(
        (),
        _text_pairs,
        "Values of `open311_ward_field` (e.g. a district code) to ward names.",
    )
    poll_sources: tuple = _setting(
        (),
        _poll_sources,
        "HTTP JSON status sources polled for camera or WiFi AP status ([[poll_sources]] tables "
        "in the TOML file, JSON list in the environment; keys in docs/feeds-poll.md). Shown "
        "masked because their headers carry credentials.",
        secret=True,
    )
    poll_timeout_seconds: float = _setting(
        10.0,
        _positive_number,
        "Timeout of one HTTP request of the polling worker (the whole answer), in seconds.",
    )
    poll_backoff_max_seconds: float = _setting(
        600.0,
        _positive_number,
        "Longest wait between two tries of a failing polled source (exponential backoff).",
    )
    poll_state_dir: str = _setting(
        str(PROJECT_DIR / "data" / "poll"),
        _text,
        "Folder where the polling worker keeps what it already wrote (Open311 cursor and "
        "report versions), so a restart neither misses nor repeats reports.",
    )
    mqtt_username: str | None = _setting(
        None, _optional_text, "User name the MQTT worker gives the broker (empty: anonymous)."
    )
    mqtt_password: str | None = _setting(
        None, _optional_text, "Password the MQTT worker gives the broker.", secret=True
    )
    mqtt_client_id: str = _setting(
        "ioc-wall-mqtt",
        _mqtt_name,
        "Fixed MQTT client id of the worker: the broker keeps its session (subscriptions and "
        "unacknowledged messages) under this name while it is down. Give each worker its own.",
    )
    mqtt_topics: tuple[str, ...] = _setting(
        ("ioc/#",),
        _mqtt_topics,
        "Topic filters the MQTT worker subscribes to at QoS 1 (comma-separated, or a TOML list).",
    )
    mqtt_shared_group: str | None = _setting(
        None,
        _optional_mqtt_name,
        "Shared-subscription group: the worker subscribes to `$share/<group>/<filter>` so "
        "several workers split one stream. Empty: a plain subscription.",
    )
    mqtt_ca_file: str | None = _setting(
        None,
        _optional_file,
        "CA certificate file (PEM) that signs the broker's certificate, for `mqtts://`. "
        "Empty: the system's trusted CAs.",
    )
    mqtt_session_expiry_seconds: int = _setting(
        7 * 24 * 3600,
        _positive_whole_number,
        "How long the broker keeps the worker's session and queued messages while the worker "
        "is away (MQTT v5; on 3.1.1 the broker's own setting applies).",
    )
    mqtt_dead_letter_topic: str | None = _setting(
        None,
        _optional_mqtt_topic,
        "Topic rejected messages are republished to (QoS 1, with the reason and original "
        "topic as user properties on MQTT v5). Empty: rejects are only counted and logged.",
    )
    ingest_batch_size: int = _setting(
        1000, _positive_whole_number, "Points written to the store in one batch, at most."
    )
    ingest_batch_seconds: float = _setting(
        0.5,
        _positive_number,
        "Longest time a received message waits for its batch to be written, in seconds.",
    )
    ingest_spool_dir: str = _setting(
        str(PROJECT_DIR / "data" / "spool"),
        _text,
        "Folder of the on-disk spool that holds batches while the store is unreachable (one "
        "sub-folder per worker client id).",
    )
    ingest_spool_max_bytes: int = _setting(
        256 * 1024 * 1024,
        _spool_bytes,
        "Size limit of the spool in bytes; when it is full the worker stops reading from the "
        "broker (which keeps the messages) instead of dropping any.",
    )
    feed_health_seconds: float = _setting(
        10.0,
        _positive_number,
        "Interval at which the feed workers write their `feed_health` points, in seconds.",
    )
    alert_rules: Mapping[str, Mapping[str, Any]] | None = _setting(
        None,
        _alert_rules,
        "Alert rules and their parameters: `[alert_rules.camera_offline]` tables in the settings "
        "file (JSON in the environment) override the defaults listed in docs/alerts.md "
        "(severity, minutes to hold before raising, clear_minutes, thresholds, enabled).",
    )
    alert_evaluate_seconds: float = _setting(
        15.0,
        _positive_number,
        "How often `python -m wall alerts` evaluates the rules, in seconds.",
    )
    heartbeat_dir: str = _setting(
        str(PROJECT_DIR / "data" / "heartbeat"),
        _text,
        "Folder where `python -m wall alerts` and `maintain` note each pass they complete, "
        "for `python -m wall health alerts|maintain` (the container's health check).",
    )
    alert_escalate_minutes: float = _setting(
        15.0,
        _positive_number,
        "An unacknowledged critical alert older than this escalates: shown loudly on the wall "
        "and published to `alert_escalation_topic`.",
    )
    alert_escalation_topic: str = _setting(
        "ioc/alerts/escalated",
        _text,
        "MQTT topic escalations are published to (QoS 1, JSON) when `mqtt_url` is set.",
    )
    alert_max_shelve_hours: float = _setting(
        8.0, _positive_number, "Longest time an officer may shelve an alert for, in hours."
    )
    secret_key: str | None = _setting(
        None,
        _optional_text,
        "Key that signs officers' session cookies (at least 32 characters). Every wall replica "
        "needs the same one. Empty: read from `secret_key_file`.",
        secret=True,
    )
    secret_key_file: str = _setting(
        str(PROJECT_DIR / "data" / "secret_key"),
        _text,
        "File holding the session key when `secret_key` is empty; created with a random key "
        "(mode 600) when missing.",
    )
    officer_session_minutes: float = _setting(
        480.0, _positive_number, "A duty officer's sign-in lasts this many minutes (one shift)."
    )
    secure_cookies: bool = _setting(
        False,
        _boolean,
        "Send the session cookie over HTTPS only: set to true when the wall is served over TLS.",
    )
    trusted_proxies: int = _setting(
        0,
        _whole_number,
        "How many reverse proxies (load balancer, TLS terminator) stand in front of the wall and "
        "append the client's address to `X-Forwarded-For`: sign-in limits then count the "
        "client's own address. 0: the header is ignored (anyone could write it).",
    )
    mqtt_protocol: str = _setting(
        "5",
        _mqtt_protocol,
        "MQTT version the worker speaks first: 5, or 3.1.1 (about twice the messages per second "
        "through paho; no session expiry or dead-letter properties). On 5 it falls back to "
        "3.1.1 by itself when the broker refuses 5.",
    )
    mqtt_keepalive_seconds: int = _setting(
        30,
        _mqtt_keepalive,
        "MQTT keepalive: the worker pings the broker when it sent nothing else for this many "
        "seconds, and the broker drops a worker it heard nothing from for 1.5 times as long. "
        "Shorter: a dead connection is noticed sooner (and NAT or firewall idle timeouts are not "
        "reached).",
    )

    @property
    def rollup_days(self) -> dict[timedelta, float]:
        """The days the rollups of each span are kept (wall.store.retention.keep)."""
        return {
            timedelta(hours=1): self.retention_hourly_rollup_days,
            timedelta(minutes=5): self.retention_5m_rollup_days,
        }

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def redacted(self) -> dict[str, Any]:
        """Effective settings for display, secrets (and passwords inside URLs) masked."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = "***"
            elif isinstance(value, str):
                value = masked_url(value)
            shown[f.name] = value
        return shown


def masked_url(url: str) -> str:
    """`url` as a log or a terminal may show it: the password of its user part as ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user_part, _, host = parts.netloc.rpartition("@")
    user = user_part.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def env_name(name: str) -> str:
    return f"IOC_{name.upper()}"


def setting_docs() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, for README and --help."""
    return [
        (env_name(f.name), "" if f.default is None else str(f.default), f.metadata["doc"])
        for f in fields(Settings)
    ]


def load_settings(
    config_path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    config_path = config_path or environ.get("IOC_CONFIG") or None
    known = {f.name: f for f in fields(Settings)}
    raw: dict[str, tuple[str, Any]] = {}
    if config_path:
        for key, value in _read_toml(Path(config_path)).items():
            if key not in known:
                raise SettingsError(
                    f"{config_path}: {key}", f"unknown setting; known: {', '.join(known)}"
                )
            raw[key] = (f"{key} in {config_path}", value)
    for name in known:
        if env_name(name) in environ:
            raw[name] = (env_name(name), environ[env_name(name)])
    values = {}
    for name, (source, value) in raw.items():
        try:
            values[name] = known[name].metadata["parse"](value)
        except ValueError as exc:
            raise SettingsError(source, str(exc)) from None
    return replace(Settings(), **values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError("IOC_CONFIG", f"settings file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            "IOC_CONFIG", f"settings file {str(path)!r} is not TOML: {exc}"
        ) from None
    except OSError as exc:
        raise SettingsError(
            "IOC_CONFIG", f"cannot read settings file {str(path)!r}: {exc}"
        ) from None
