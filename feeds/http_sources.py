"""Polled HTTP JSON sources: fetching with clear errors, and generic camera/AP status lists.

A video-management system's camera list or a WiFi controller's AP list is mapped, by settings
alone (`poll_sources`), onto the camera/wifi records of the feed contract and validated by
`feeds.payloads.parse_record`, exactly as an MQTT message would be.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from feeds.payloads import RejectedMessage, parse_record
from wall.store import Point

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
NUMERIC_FIELDS = frozenset(
    {"fps", "bitrate_kbps", "lat", "lon", "clients", "rx_bytes", "tx_bytes", "capacity"}
)
INTEGER_FIELDS = frozenset({"clients", "rx_bytes", "tx_bytes", "capacity"})


class SourceError(Exception):
    """A poll of a source failed as a whole (no answer, HTTP error, not JSON, wrong shape).

    `retry_after` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(self, source: str, problem: str, retry_after: float | None = None):
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
        self.retry_after = retry_after


def shown_url(url: str) -> str:
    """The URL for a log line: no query string (it may carry an api_key), no credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def fetch_json(
    session: requests.Session,
    source: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float,
) -> Any:
    """GET a JSON document; any failure is a SourceError whose text says what went wrong.

    `timeout` bounds the whole answer, not only each socket read, so a server that trickles
    bytes cannot hold the worker.
    """
    where = shown_url(url)
    too_slow = f"no complete answer from {where} within {timeout:g} s"
    deadline = time.monotonic() + timeout
    try:
        response = session.get(url, params=params, headers=headers, timeout=timeout, stream=True)
    except requests.Timeout:
        raise SourceError(source, too_slow) from None
    except requests.ConnectionError as exc:
        raise SourceError(source, f"cannot reach {where}: {_connection_problem(exc)}") from None
    except requests.RequestException as exc:
        raise SourceError(source, f"request to {where} failed: {exc}"[:300]) from None
    # Socket timeouts bound each read only; read1 returns what has arrived, so the deadline is
    # checked however slowly a server trickles its answer.
    body = bytearray()
    try:
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise SourceError(
                    source, f"answer from {where} is larger than {MAX_RESPONSE_BYTES} bytes"
                )
            if time.monotonic() > deadline:
                raise SourceError(source, too_slow)
    except SourceError:
        raise
    except Exception as exc:  # urllib3 and socket errors alike: the answer broke off
        if "timed out" in str(exc):
            raise SourceError(source, too_slow) from None
        raise SourceError(source, f"answer from {where} broke off: {exc}"[:300]) from None
    finally:
        response.close()
    if response.status_code >= 300:
        raise SourceError(
            source,
            f"HTTP {response.status_code} from {where}: {_error_text(bytes(body))}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    try:
        return json.loads(bytes(body).decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise SourceError(source, f"answer from {where} is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            source, f"answer from {where} is not JSON: {exc.msg} at character {exc.pos}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(source, f"answer from {where} is not JSON: {exc}") from None


def _connection_problem(exc: requests.ConnectionError) -> str:
    """The innermost reason ("[Errno 111] Connection refused", "Remote end closed connection
    without response"), not urllib3's nested wrappers."""
    inner: object = exc.args[0] if exc.args else exc
    inner = getattr(inner, "reason", None) or inner
    if isinstance(inner, BaseException) and inner.args and isinstance(inner.args[-1], Exception):
        inner = inner.args[-1]
    return str(inner).split(": ")[-1][:200]


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _error_text(body: bytes) -> str:
    """The server's own explanation: Open311's [{"code":…, "description":…}] or the text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:200] or "(empty answer)"
    errors = data if isinstance(data, list) else [data]
    descriptions = [
        str(e.get("description") or e.get("message") or e.get("error"))
        for e in errors
        if isinstance(e, dict) and (e.get("description") or e.get("message") or e.get("error"))
    ]
    return "; ".join(descriptions)[:200] or " ".join(text.split())[:200]


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ('data.items', 'stats.0.fps'); None where it does not exist."""
    if not path:
        return data
    for key in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(key)
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            return None
    return data


@dataclass
class Batch:
    """What one poll produced: points to write, then `commit` once they are written."""

    points: list[Point] = field(default_factory=list)
    received: int = 0
    rejected: int = 0
    state: Any = None


class RepeatFilter:
    """Log a problem once, and again only after `every` seconds: a bad item that a source
    returns on every poll must not flood the log."""

    def __init__(self, every: float = 600.0):
        self.every = every
        self._last: dict[tuple[str, str], float] = {}

    def should_log(self, key: str, problem: str) -> bool:
        now = time.monotonic()
        last = self._last.get((key, problem))
        if last is not None and now - last < self.every:
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[(key, problem)] = now
        return True


class HttpStatusSource:
    """One `[[poll_sources]]` entry: a JSON list of cameras or APs, mapped field by field."""

    def __init__(self, config: Mapping[str, Any], *, timeout: float, session: requests.Session):
        self.name: str = config["name"]
        self.kind: str = config["kind"]
        self.url: str = config["url"]
        self.interval: float = config["interval_seconds"]
        self.headers: dict[str, str] = dict(config["headers"])
        self.items_path: str = config["items"]
        self.id_path: str = config["id"]
        self.fields: dict[str, str] = dict(config["fields"])
        self.values: dict[str, dict[str, Any]] = {k: dict(v) for k, v in config["values"].items()}
        self.timeout = timeout
        self.session = session
        self.repeats = RepeatFilter()

    def fetch(self, received_at: datetime) -> Batch:
        data = fetch_json(
            self.session, self.name, self.url, headers=self.headers, timeout=self.timeout
        )
        items = dig(data, self.items_path)
        if not isinstance(items, list):
            where = f"at {self.items_path!r}" if self.items_path else "at the top"
            raise SourceError(self.name, f"answer from {shown_url(self.url)} has no list {where}")
        batch = Batch(received=len(items))
        for number, item in enumerate(items, start=1):
            try:
                entity_id, record = self.record(item, number)
                batch.points += parse_record(self.kind, entity_id, record, received_at)
            except RejectedMessage as exc:
                batch.rejected += 1
                key = (
                    f"item {number}"
                    if not isinstance(item, Mapping)
                    else str(dig(item, self.id_path))
                )
                if self.repeats.should_log(key, exc.reason):
                    log.warning("%s: %s %s rejected: %s", self.name, self.kind, key, exc.reason)
        return batch

    def commit(self, batch: Batch) -> None:
        """Status snapshots need no memory: each poll writes what the source says now."""

    def record(self, item: Any, number: int) -> tuple[str, dict[str, Any]]:
        """(entity id, contract record) of one item of the list."""
        if not isinstance(item, Mapping):
            raise RejectedMessage(f"item {number} of the list is not an object")
        raw_id = dig(item, self.id_path)
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
            raise RejectedMessage(f"item {number} has no id at {self.id_path!r}")
        record: dict[str, Any] = {}
        for key, path in self.fields.items():
            value = dig(item, path)
            if key in self.values and value is not None:
                value = self._mapped(key, value)
            elif key in NUMERIC_FIELDS and isinstance(value, str):
                value = _number_from_text(key, value)
            record[key] = value
        return str(raw_id), record

    def _mapped(self, key: str, value: Any) -> Any:
        table = self.values[key]
        text = value if isinstance(value, str) else json.dumps(value)
        if text not in table:
            raise RejectedMessage(
                f"field {key!r}: value {text[:40]!r} is not in values.{key} "
                f"({', '.join(map(repr, table))})"
            )
        return table[text]


def _number_from_text(key: str, value: str) -> Any:
    """Numbers sent as text ("25", "12.5"), as many device APIs do; anything else stays text
    and is refused by the contract with its usual message."""
    try:
        number = float(value.strip())
    except ValueError:
        return value
    if key in INTEGER_FIELDS and number.is_integer():
        return int(number)
    return number
