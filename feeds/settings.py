"""The feed workers' settings: the registered devices, the MQTT worker, the batches it writes,
the polled HTTP JSON sources and Open311 endpoint."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wall.settings_core import (
    PROJECT_DIR,
    Section,
    checked_port,
    json_or_value,
    masked_url,
    one_of,
    optional_http_url,
    optional_text,
    positive_number,
    positive_whole_number,
    setting,
    text,
    text_pairs,
    text_table,
    whole_number,
)


def _inventory_path(value: Any) -> str | None:
    if not text(value).strip():
        return None
    path = Path(text(value)).expanduser()
    if not path.is_file():
        raise ValueError(f"inventory file {str(path)!r} does not exist")
    return str(path)


@dataclass(frozen=True)
class InventorySettings(Section):
    """Registered devices (feeds/inventory.py)"""

    inventory: str | None = setting(
        None,
        _inventory_path,
        "CSV file of the city's registered cameras and WiFi access points (name, ward, "
        "coordinates, AP capacity; format in docs/feeds-contract.md). Empty: the city "
        "profile's `inventory.csv`.",
    )


MQTT_PROTOCOLS = ("5", "3.1.1")


def _mqtt_url(value: Any) -> str | None:
    value = text(value).strip()
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
    checked_port(value)
    return value


MQTT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _mqtt_name(value: Any) -> str:
    """Client ids and shared-subscription groups: what every broker accepts."""
    value = text(value).strip()
    if not MQTT_NAME.fullmatch(value):
        raise ValueError(f"{value!r} must be 1–64 ASCII letters, digits or _ . -")
    return value


def _optional_mqtt_name(value: Any) -> str | None:
    return _mqtt_name(value) if text(value).strip() else None


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
    value = text(value).strip()
    if value and (any(c in value for c in "+#\0") or value.startswith("$")):
        raise ValueError(f"{value!r} must be a topic name without + # or a leading $")
    return value or None


def _optional_file(value: Any) -> str | None:
    value = text(value).strip()
    if value and not Path(value).expanduser().is_file():
        raise ValueError(f"file {value!r} does not exist")
    return str(Path(value).expanduser()) if value else None


def _mqtt_keepalive(value: Any) -> int:
    number = positive_whole_number(value)
    if number > 65535:
        raise ValueError(f"{value!r} must be at most 65535 (the most MQTT allows)")
    return number


@dataclass(frozen=True)
class MqttSettings(Section):
    """MQTT worker (feeds/mqtt_worker.py, `python -m feeds mqtt`)"""

    mqtt_url: str | None = setting(
        None,
        _mqtt_url,
        "MQTT broker of the feeds: `mqtt://host:1883` (`mqtts://host:8883` for TLS). Empty: the "
        "demo's simulator feeds the store in-process instead of over MQTT.",
    )
    mqtt_username: str | None = setting(
        None, optional_text, "User name the MQTT worker gives the broker (empty: anonymous)."
    )
    mqtt_password: str | None = setting(
        None, optional_text, "Password the MQTT worker gives the broker.", secret=True
    )
    mqtt_client_id: str = setting(
        "ioc-wall-mqtt",
        _mqtt_name,
        "Fixed MQTT client id of the worker: the broker keeps its session (subscriptions and "
        "unacknowledged messages) under this name while it is down. Give each worker its own.",
    )
    mqtt_topics: tuple[str, ...] = setting(
        ("ioc/#",),
        _mqtt_topics,
        "Topic filters the MQTT worker subscribes to at QoS 1 (comma-separated, or a TOML list).",
    )
    mqtt_shared_group: str | None = setting(
        None,
        _optional_mqtt_name,
        "Shared-subscription group: the worker subscribes to `$share/<group>/<filter>` so "
        "several workers split one stream. Empty: a plain subscription.",
    )
    mqtt_ca_file: str | None = setting(
        None,
        _optional_file,
        "CA certificate file (PEM) that signs the broker's certificate, for `mqtts://`. "
        "Empty: the system's trusted CAs.",
    )
    mqtt_session_expiry_seconds: int = setting(
        7 * 24 * 3600,
        positive_whole_number,
        "How long the broker keeps the worker's session and queued messages while the worker "
        "is away (MQTT v5; on 3.1.1 the broker's own setting applies).",
    )
    mqtt_dead_letter_topic: str | None = setting(
        None,
        _optional_mqtt_topic,
        "Topic rejected messages are republished to (QoS 1, with the reason and original "
        "topic as user properties on MQTT v5). Empty: rejects are only counted and logged.",
    )
    mqtt_protocol: str = setting(
        "5",
        one_of(MQTT_PROTOCOLS),
        "MQTT version the worker speaks first: 5, or 3.1.1 (about twice the messages per second "
        "through paho; no session expiry or dead-letter properties). On 5 it falls back to "
        "3.1.1 by itself when the broker refuses 5.",
    )
    mqtt_keepalive_seconds: int = setting(
        30,
        _mqtt_keepalive,
        "MQTT keepalive: the worker pings the broker when it sent nothing else for this many "
        "seconds, and the broker drops a worker it heard nothing from for 1.5 times as long. "
        "Shorter: a dead connection is noticed sooner (and NAT or firewall idle timeouts are not "
        "reached).",
    )


def _spool_bytes(value: Any) -> int:
    number = whole_number(value)
    if number < 4096:
        raise ValueError(f"{value!r} must be at least 4096 bytes")
    return number


@dataclass(frozen=True)
class IngestSettings(Section):
    """Writing to the store (feeds/ingest.py, feeds/spool.py, feeds/health.py)"""

    ingest_batch_size: int = setting(
        1000, positive_whole_number, "Points written to the store in one batch, at most."
    )
    ingest_batch_seconds: float = setting(
        0.5,
        positive_number,
        "Longest time a received message waits for its batch to be written, in seconds.",
    )
    ingest_spool_dir: str = setting(
        str(PROJECT_DIR / "data" / "spool"),
        text,
        "Folder of the on-disk spool that holds batches while the store is unreachable (one "
        "sub-folder per worker client id).",
    )
    ingest_spool_max_bytes: int = setting(
        256 * 1024 * 1024,
        _spool_bytes,
        "Size limit of the spool in bytes; when it is full the worker stops reading from the "
        "broker (which keeps the messages) instead of dropping any.",
    )
    feed_health_seconds: float = setting(
        10.0,
        positive_number,
        "Interval at which the feed workers write their `feed_health` points, in seconds.",
    )


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


def _poll_sources(value: Any) -> tuple[dict[str, Any], ...]:
    value = json_or_value(value)
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
        "url": (optional_http_url, None),
        "interval_seconds": (positive_number, 60.0),
        "headers": (text_table, {}),
        "fields": (text_table, None),
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
    values = json_or_value(source.get("values", {}))
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ValueError("key 'values' must be a table of tables (values.online = {ON = true})")
    if unmapped := sorted(set(values) - set(checked["fields"])):
        raise ValueError(f"values: {unmapped[0]!r} is not one of this source's fields")
    checked["values"] = {k: dict(v) for k, v in values.items()}
    return checked


@dataclass(frozen=True)
class PollSettings(Section):
    """Polled HTTP JSON sources (feeds/poll_worker.py, feeds/http_sources.py)"""

    poll_sources: tuple = setting(
        (),
        _poll_sources,
        "HTTP JSON status sources polled for camera or WiFi AP status ([[poll_sources]] tables "
        "in the TOML file, JSON list in the environment; keys in docs/feeds-poll.md). Shown "
        "masked because their headers carry credentials.",
        secret=True,
    )
    poll_timeout_seconds: float = setting(
        10.0,
        positive_number,
        "Timeout of one HTTP request of the polling worker (the whole answer), in seconds.",
    )
    poll_backoff_max_seconds: float = setting(
        600.0,
        positive_number,
        "Longest wait between two tries of a failing polled source (exponential backoff).",
    )
    poll_state_dir: str = setting(
        str(PROJECT_DIR / "data" / "poll"),
        text,
        "Folder where the polling worker keeps what it already wrote (Open311 cursor and "
        "report versions), so a restart neither misses nor repeats reports.",
    )
    poll_dead_letter_max_bytes: int = setting(
        64 * 1024 * 1024,
        positive_whole_number,
        "Bound of the polling worker's dead-letter file (`dead-letters.jsonl` in "
        "`poll_state_dir`: the points the store refused, with their source and reason). Past it "
        "the file becomes `dead-letters.jsonl.1`, replacing the older one: at most about twice "
        "this is kept.",
    )


@dataclass(frozen=True)
class Open311Settings(Section):
    """Open311 (feeds/open311.py)"""

    open311_url: str | None = setting(
        None,
        optional_http_url,
        "Open311 GeoReport v2 endpoint whose service requests become field reports "
        "(`https://city.example/open311/v2`, without `requests.json`). Empty: not polled.",
    )
    open311_jurisdiction_id: str | None = setting(
        None, optional_text, "`jurisdiction_id` sent to the Open311 endpoint, if it needs one."
    )
    open311_api_key: str | None = setting(
        None,
        optional_text,
        "`api_key` sent to the Open311 endpoint, if it needs one.",
        secret=True,
    )
    open311_interval_seconds: float = setting(
        60.0, positive_number, "How often the Open311 endpoint is polled, in seconds."
    )
    open311_overlap_seconds: float = setting(
        600.0,
        positive_number,
        "Each Open311 poll asks again for this many seconds before the newest update already "
        "written, so requests that appear on the server up to this late are not missed (later "
        "ones wait for the re-scan, `open311_rescan_hours`).",
    )
    open311_backfill_days: float = setting(
        7.0,
        positive_number,
        "On its first run the Open311 poll fetches the requests of this many past days.",
    )
    open311_rescan_hours: float = setting(
        6.0,
        positive_number,
        "Every this many hours the Open311 poll asks again for all requests made in the last "
        "`open311_rescan_days`, so requests that appear on the server later than the overlap "
        "(a moderation queue) are still fetched.",
    )
    open311_rescan_days: float = setting(
        3.0,
        positive_number,
        "How far back the periodic Open311 re-scan (`open311_rescan_hours`) asks, in days: a "
        "request that appears on the server later than this after it was made is not fetched.",
    )
    open311_naive_times: str = setting(
        "city",
        one_of(("city", "reject")),
        "Open311 times without an offset (`2026-11-26T08:30:00`): `city` reads them in "
        "`timezone`; `reject` refuses each request that has one.",
    )
    open311_page_limit: int = setting(
        1000,
        whole_number,
        "Most requests the Open311 server returns in one answer (GeoReport v2: 1000). A full "
        "answer makes the poll split its time window in two and ask again.",
    )
    open311_id_prefix: str = setting(
        "",
        text,
        "Prefix put before Open311 `service_request_id`s to make the wall's `report_id`, so "
        "they cannot collide with reports arriving over MQTT (e.g. `311-`).",
    )
    open311_categories: tuple[tuple[str, str], ...] = setting(
        (),
        text_pairs,
        "Open311 `service_code` or `service_name` to a category of the city profile (or "
        "`other`), before the profile's service codes and keywords: a TOML "
        'table (`open311_categories = { PH01 = "traffic" }`), or JSON in the environment '
        '(`{"PH01": "traffic"}`).',
    )
    open311_statuses: tuple[tuple[str, str], ...] = setting(
        (),
        text_pairs,
        "Extra Open311 status texts (the status, an extended `detailed_status`) to wall "
        "report statuses (new, assigned, in_progress, resolved, closed, rejected).",
    )
    open311_ward_field: str = setting(
        "address",
        text,
        "Field of an Open311 request (dotted path, e.g. `extended_attributes.ward`) holding "
        "the ward: its text is matched against `open311_wards` and the city profile's units and "
        "their former names.",
    )
    open311_wards: tuple[tuple[str, str], ...] = setting(
        (),
        text_pairs,
        "Values of `open311_ward_field` (e.g. a district code) to ward names.",
    )
