"""InfluxDB through its v1-compatible HTTP API: line protocol on /write, InfluxQL on /query.

InfluxDB 1.x, 2.x (v1 compatibility, `Authorization: Token …`) and 3.x all serve this API, so
the same store runs on any of them. No Flux.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd
import requests
from requests.adapters import HTTPAdapter

from wall.domain import FIELD_REPORT
from wall.settings_core import SettingsError
from wall.store import newest_reports, policies
from wall.store.base import (
    ALL_TIME,
    Aggregate,
    Event,
    FieldFilter,
    KeyState,
    Point,
    PointsRefused,
    RequestRefused,
    Store,
    StoreError,
    StoreUnavailable,
    TagFilter,
    aggregated_fields,
    changes_of_field,
    check_aggregate,
    check_name,
    decode_event,
    decode_key_state,
    field_filter_values,
    frame_columns,
    from_ms,
    points_frame,
    refused_items,
    tag_filter_values,
    to_ms,
    without_matching,
)
from wall.store.lineprotocol import (
    encode_frame,
    encode_point,
    escape_tag,
    field_value,
    quote_identifier,
    quote_string,
    read_text,
)
from wall.store.reports import refuse_first_shape

log = logging.getLogger(__name__)
# Entities whose changes one query reads (each is an OR term of its WHERE).
CHANGED_ENTITIES_PER_QUERY = 200

# The newest point of most entities is in the last day: asked first, the time bound lets InfluxDB
# skip older shards (a city's 2,000 cameras over 30 days: 0.17 s against 1.6 s for all of it).
RECENT_WINDOW = timedelta(days=1)
# A `since` this close to now (the wall's folds: the last ~15 minutes) reads the points themselves.
RAW_WINDOW = timedelta(minutes=30)
# Entities silent during RECENT_WINDOW are then asked by name over the whole range, this many at
# most (a query per CHANGED_ENTITIES_PER_QUERY); past that (most of a city's 50,000 reports are
# old) one query over the whole range costs less.
MAX_SILENT_ENTITIES_ASKED = 1000
# InfluxDB's earliest time. SHOW TAG VALUES needs a time bound: InfluxDB 3 lists only the last
# day's values without one.
EARLIEST_NS = -9_223_372_036_854_775_806

MAX_LINES_PER_REQUEST = 5000
# A 413 lowers the lines sent per request from then on, never below this: one oversized point
# must not turn every later write into a request per point.
MIN_LINES_PER_REQUEST = 100
EVENT_MEASUREMENT = "event_log"
# Each key's state folded from its events (Store.put_key_states): one series per key, a point per
# state at the time of its number of events (nanoseconds into 1970: the default policy's one
# shard, kept), so the newest point is the state that folds the most and an equal one overwrites
# the same state.
KEY_STATE_MEASUREMENT = "key_state"
KEY_STATE_FIELDS = frozenset({"events", "through_ns", "through_id", "open", "data"})
LATEST_NS = 9_223_372_036_854_775_806
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A write answered with one of these was refused for some of its points (InfluxDB 1.x: 400
# "partial write: field type conflict …", "unable to parse …", "points beyond retention
# policy"; 2.x/3.x also 422), and the server kept the others. Every other refusal (404 database
# not found, 403 may not write, 413 too large, …) is about the store: nothing is dropped for it.
POINT_STATUSES = frozenset({400, 422})
# …except these 400s: limits of the store's configuration, not faults of the points (the city
# outgrew the setting). Their points wait, like in an outage, until the limit is raised.
STORE_LIMITS = ("max-values-per-tag limit exceeded", "max-series-per-database limit exceeded")
TOO_LARGE = 413
# Connections kept open to the server, at least as many as threads asking at once (a wall asks
# a screen's parts and its hourly reads from scratch at the same time: up to 12 threads). Past
# this, urllib3 drops each extra connection after its request, with a warning.
CONNECTIONS_KEPT = 32


class RequestTooLarge(StoreUnavailable):
    """413: the server's request size limit. Smaller requests may pass; one line that does not
    is a limit of the store (a point is at most a few KiB), not a fault of the point."""


class InfluxStore(Store):
    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout_seconds: float = 10.0,
        retries: int = 4,
        backoff_seconds: float = 0.25,
        raw_days: Mapping[str, float] | None = None,
        rollup_days: Mapping[timedelta, float] | None = None,
    ):
        """`raw_days`, `rollup_days`: the retention settings, which put measurements in
        retention policies of their own (wall.store.policies); none: every point in the
        database's default policy."""
        parts = urlsplit(url)
        scheme = "https" if parts.scheme == "influxdbs" else "http"
        self.base_url = f"{scheme}://{parts.hostname}:{parts.port or 8086}"
        self.database = parts.path.strip("/")
        self.token = token
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.lines_per_request = MAX_LINES_PER_REQUEST  # lowered by a 413 (max-body-size)
        self.plan = policies.Plan.of(raw_days or {}, rollup_days or {})
        self._policies: tuple[dict[str, timedelta], str] | None = None  # read once, then kept
        # (measurement, entity) found to be a field: a key written as a field stays one
        self._field_entities: set[tuple[str, str]] = set()
        self.session = requests.Session()
        self.session.mount(f"{scheme}://", HTTPAdapter(pool_maxsize=CONNECTIONS_KEPT))
        if parts.username:  # InfluxDB 1.x users; 2.x takes a user name and a token this way too
            self.session.auth = (  # as UTF-8 bytes: requests would encode text as Latin-1
                unquote(parts.username).encode(),
                unquote(parts.password or "").encode(),
            )
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    # -- HTTP ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request with retries and backoff on connection errors, 5xx and 429."""
        url = self.base_url + path
        delay = self.backoff_seconds
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, url, timeout=self.timeout_seconds, **kwargs)
            except requests.RequestException as exc:
                problem = f"cannot reach InfluxDB at {self.base_url}: {exc.__class__.__name__}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = (
                    f"InfluxDB at {self.base_url} answered {response.status_code}: "
                    f"{_error_text(response)}"
                )
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 30.0))
            if attempt < self.retries:
                log.warning("%s; retrying in %.2f s", problem, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise StoreUnavailable(problem)

    def _raise_for_client_error(self, response: requests.Response, what: str) -> None:
        if response.status_code == 401:
            # The user and password of IOC_STORE, when given, are what was sent (as Basic
            # authentication, which every 1.x takes and which replaces a token's header).
            raise SettingsError(
                "IOC_STORE" if self.session.auth else "IOC_INFLUX_TOKEN",
                f"InfluxDB at {self.base_url} demands authentication and "
                + (
                    "refused the credentials given"
                    if self.token or self.session.auth
                    else "no token (or user:password@ in IOC_STORE) is set"
                ),
            )
        if response.status_code >= 400:
            raise StoreError(
                f"InfluxDB refused {what} ({response.status_code}): {_error_text(response)}"
            )

    def _query(self, q: str, epoch: str = "ms", method: str = "GET") -> list[dict]:
        """Run InfluxQL; returns the series of the (single) statement's result."""
        params = {"db": self.database, "q": q, "epoch": epoch}
        if method == "GET":
            response = self._request("GET", "/query", params=params)
        else:
            response = self._request("POST", "/query", data=params)
        self._raise_for_client_error(response, "a query")
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"InfluxDB answered a query with no results: {exc}") from exc
        result = results[0] if results else {}
        if "error" in result:
            raise StoreError(f"InfluxDB query failed: {result['error']} (query: {q})")
        if result.get("partial"):
            raise StoreError(f"InfluxDB cut the result short (max-row-limit?) for: {q}")
        return result.get("series", [])

    def _post_lines(self, lines: Sequence[str], precision: str, policy: str | None = None) -> None:
        """One /write request (into `policy`, or the default one); raises RequestRefused when
        the server refused some of the lines for what they are, StoreUnavailable
        (RequestTooLarge) or SettingsError otherwise."""
        body = gzip.compress("\n".join(lines).encode("utf-8"), compresslevel=1)
        params = {"db": self.database, "precision": precision}
        if policy is not None:
            params["rp"] = policy
        try:
            response = self._request(
                "POST",
                "/write",
                params=params,
                data=body,
                headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
            )
        except StoreUnavailable as exc:  # 500 "retention policy not found": a recreated database
            if policy is not None and "retention policy not found" in str(exc):
                self._recreate_policies(exc)
            raise
        status = response.status_code
        if status < 300:
            return
        if status == 401:
            self._raise_for_client_error(response, "a write")  # a SettingsError
        text = _error_text(response)
        if status == TOO_LARGE:
            raise RequestTooLarge(
                f"InfluxDB at {self.base_url} refused a write of {len(lines)} line(s) as too "
                f"large (413, its [http] max-body-size): {text}"
            )
        if status in POINT_STATUSES and not any(limit in text for limit in STORE_LIMITS):
            raise RequestRefused(f"InfluxDB refused the point ({status}): {text}")
        raise StoreUnavailable(
            f"InfluxDB at {self.base_url} refused writes to database {self.database!r} "
            f"({status}): {text}"
        )

    def _write_lines(
        self, lines: Sequence[str], precision: str, policy: str | None = None
    ) -> list[tuple[int, str]]:
        """Write lines in requests of at most `lines_per_request`; returns (index, reason) of
        the lines the server refused for what they are (every other line is stored). A request
        too large for the server is halved until it passes (down to one line)."""
        refused: list[tuple[int, str]] = []
        start, size = 0, self.lines_per_request
        while start < len(lines):
            chunk = lines[start : start + size]
            try:
                self._post_lines(chunk, precision, policy)
            except RequestTooLarge:
                if len(chunk) == 1:
                    raise
                size = len(chunk) // 2
                self._send_fewer_lines(max(size, MIN_LINES_PER_REQUEST))
                continue
            except RequestRefused as refusal:
                send = partial(self._post_lines, precision=precision, policy=policy)
                refused += [(start + i, why) for i, why in refused_items(chunk, refusal, send)]
            start += len(chunk)
            size = self.lines_per_request
        return refused

    def _send_fewer_lines(self, lines_per_request: int) -> None:
        if lines_per_request < self.lines_per_request:
            self.lines_per_request = lines_per_request
            log.warning(
                "InfluxDB at %s refused a request as too large (413, its max-body-size): "
                "sending at most %d lines per request from now on",
                self.base_url,
                lines_per_request,
            )

    # -- Store ---------------------------------------------------------------------------

    def check(self) -> None:
        """Also: a store of another layout version is refused with SettingsError (one line,
        exit 2), the retention policies the settings ask for are created (wall.store.policies)."""
        try:
            self._query(f"CREATE DATABASE {quote_identifier(self.database)}", method="POST")
        except StoreUnavailable:
            raise
        except StoreError as exc:
            # 2.x/3.x map databases to buckets themselves; a 1.x account that is no
            # administrator may not create one (the deployment's services): nothing to tell.
            log.debug("InfluxDB did not create database %s: %s", self.database, exc)
        self.forget_policies()
        policies.prepare(self)
        refuse_first_shape(self)
        newest_reports.prepare(self)

    # -- retention policies (wall.store.policies) ------------------------------------------

    def policies(self) -> dict[str, timedelta]:
        """The database's retention policies and their durations (0: infinite)."""
        return self._read_policies()[0]

    def default_policy(self) -> str:
        return self._read_policies()[1]

    def _read_policies(self) -> tuple[dict[str, timedelta], str]:
        if self._policies is None:
            try:
                series = self._query(
                    f"SHOW RETENTION POLICIES ON {quote_identifier(self.database)}"
                )
            except StoreUnavailable:
                raise
            except StoreError as exc:  # database not found: as a write's 404, about the store
                raise StoreUnavailable(f"InfluxDB at {self.base_url}: {exc}") from exc
            rows = [dict(zip(s["columns"], v, strict=True)) for s in series for v in s["values"]]
            durations = {r["name"]: policies.parse_duration(r["duration"]) for r in rows}
            default = next((r["name"] for r in rows if r["default"]), "autogen")
            self._policies = durations, default
        return self._policies

    def forget_policies(self) -> None:
        self._policies = None

    def _recreate_policies(self, problem: StoreUnavailable) -> None:
        """A policy gone (the database dropped and created again): made again, so the write's
        next try (the feeds retry it) finds it; the write itself still fails, nothing dropped."""
        self.forget_policies()
        try:
            policies.prepare(self)
        except (StoreError, SettingsError) as exc:
            log.warning("InfluxDB database %s lost a policy (%s): %s", self.database, problem, exc)

    def _home(self, measurement: str) -> str | None:
        """The measurement's retention policy, None for the default one."""
        home = self.plan.homes.get(measurement, policies.raw_policy(measurement))
        return home if home in self.policies() else None

    def _from(self, measurement: str) -> str:
        """The measurement as InfluxQL names it, in its retention policy."""
        home = self._home(measurement)
        name = quote_identifier(measurement)
        return name if home is None else f"{quote_identifier(home)}.{name}"

    def query_statement(self, statement: str) -> list[dict]:
        """InfluxQL of wall.store.policies (POST: it may change the database)."""
        return self._query(statement, method="POST")

    def write_marker(
        self, measurement: str, fields: Mapping[str, Any], tags: Mapping[str, str] | None = None
    ) -> None:
        """One point at time 0 in the default policy (the store's version, its moves)."""
        point = Point(measurement, tags or {}, fields, from_ms(0))
        self._write_lines([encode_point(point)], "ms")

    def apply_retention(self, measurement: str) -> None:
        policies.retain(self, measurement)

    def remove_points_before(self, measurement: str, before: datetime) -> int:
        """The measurement's policy removes its points; those a store of version 1 left in the
        default policy are deleted here once older than `before` (DELETE reaches every
        policy: the points it finds there are past their retention)."""
        if self._home(measurement) is None:
            return 0
        old = f"WHERE time < {to_ms(before) * 1_000_000}"
        default = quote_identifier(self.default_policy())
        series = self._query(
            f"SELECT count(*) FROM {default}.{quote_identifier(measurement)} {old}"
        )
        left = max(series[0]["values"][0][1:], default=0) if series else 0
        if left:
            self._query(f"DELETE FROM {quote_identifier(measurement)} {old}", method="POST")
        return left

    def write(self, points: Iterable[Point]) -> int:
        points = list(points)
        indexes: dict[str | None, list[int]] = {}
        for i, point in enumerate(points):
            indexes.setdefault(self._home(point.measurement), []).append(i)
        refused = []
        for policy, mine in indexes.items():
            lines = [encode_point(points[i]) for i in mine]
            refused += [(mine[i], why) for i, why in self._write_lines(lines, "ms", policy)]
        kept = set(range(len(points))) - {i for i, _ in refused}
        reports = (points[i] for i in sorted(kept) if points[i].measurement == FIELD_REPORT.name)
        newest_reports.update(
            self, newest_reports.versions_of((p.time_ms, p.tags, p.fields) for p in reports)
        )
        if refused:
            raise PointsRefused(
                [(points[i], why) for i, why in sorted(refused)], len(points) - len(refused)
            )
        return len(points)

    def write_frame(self, measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> int:
        columns = frame_columns(measurement, frame, tags)
        refused, policy = 0, self._home(measurement)
        for start in range(0, len(columns), MAX_LINES_PER_REQUEST):
            lines = encode_frame(columns.rows(start, start + MAX_LINES_PER_REQUEST))
            refused_here = self._write_lines(lines, "ms", policy)
            if refused_here and not refused:
                first = f"row {start + refused_here[0][0]}: {refused_here[0][1]}"
            refused += len(refused_here)
        if refused:
            raise StoreError(f"InfluxDB refused {refused} rows of the {measurement} frame; {first}")
        if measurement == FIELD_REPORT.name and FIELD_REPORT.entity not in tags:
            rows = frame.astype(object).to_dict("records")
            newest_reports.update(
                self,
                newest_reports.versions_of((to_ms(row.pop("time")), {}, row) for row in rows),
            )
        return len(columns)

    def points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        return self._points(measurement, start, end, where)

    def _points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        series = self._query(
            f"SELECT * FROM {self._from(measurement)} "
            f"WHERE {_time_range(start, end)}{_tag_clause(where)}"
        )
        return points_frame(_rows(series))

    def latest(
        self,
        measurement: str,
        entity: str,
        since: datetime | None = None,
        unless: FieldFilter | None = None,
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("entity", entity)
        field_filter_values(unless)
        now = datetime.now(UTC)
        recent = now - RECENT_WINDOW
        if self._is_field(measurement, entity):  # a report's id
            if (
                (measurement, entity) == (FIELD_REPORT.name, FIELD_REPORT.entity)
                and (since is None or since < recent - RECENT_WINDOW)
                and newest_reports.built(self)
            ):
                open_only = newest_reports.leaves_out_closed(unless)
                rows = newest_reports.read(self, open_only)
                if since is not None:
                    rows = [row for row in rows if row["time"] >= to_ms(since)]
            else:  # the last days' points, or a store whose reports wait for `migrate`
                rows = self._newest_of_points_since(measurement, entity, since or ALL_TIME[0])
            return points_frame(without_matching(rows, unless), leading=[entity])
        if since is not None and since >= now - RAW_WINDOW:  # a fold forward: few points
            rows = self._newest_of_points_since(measurement, entity, since)
        elif since is not None and since >= recent - RECENT_WINDOW:  # bounded to a few days
            rows = self._newest_points(measurement, entity, _since(since))
        else:
            rows = self._newest_points_recent_first(measurement, entity, since, recent)
        # InfluxQL cannot filter on the newest point alone (a WHERE picks points, not entities).
        return points_frame(without_matching(rows, unless), leading=[entity])

    def tagged_series_span(self, measurement: str, tag: str) -> tuple[datetime, datetime] | None:
        check_name("measurement", measurement)
        check_name("tag", tag)
        if tag not in self._tag_keys(measurement):
            return None
        times = []
        for order in ("ASC", "DESC"):
            rows = list(
                _rows(
                    self._query(
                        f"SELECT * FROM {quote_identifier(measurement)} "
                        f"WHERE {quote_identifier(tag)}::tag != '' ORDER BY time {order} LIMIT 1"
                    )
                )
            )
            if not rows:
                return None
            times.append(from_ms(rows[0]["time"]))
        return times[0], times[1]

    def tagged_series_points(
        self, measurement: str, tag: str, start: datetime, end: datetime
    ) -> list[Point]:
        check_name("measurement", measurement)
        check_name("tag", tag)
        series = self._query(
            f"SELECT *::field FROM {quote_identifier(measurement)} "
            f"WHERE {quote_identifier(tag)}::tag != '' AND {_time_range(start, end)} GROUP BY *"
        )
        floats = {
            name for name, type_ in self._field_types(measurement).items() if type_ == "float"
        }
        points = []
        for one in series:  # a float such as 2.0 comes back as 2: written again as a float
            tags = {k: v for k, v in (one.get("tags") or {}).items() if v != ""}
            columns = one["columns"]
            for values in one.get("values") or ():
                row = dict(zip(columns, values, strict=True))
                time_ms = row.pop("time")
                fields = {
                    k: float(v) if k in floats else read_text(v)
                    for k, v in row.items()
                    if v is not None
                }
                points.append(Point(measurement, tags, fields, from_ms(time_ms)))
        return points

    def drop_tagged_series(self, measurement: str, tag: str) -> None:
        """`::tag`: the tag may also be a field's name (a report's id, once rewritten)."""
        check_name("measurement", measurement)
        check_name("tag", tag)
        self._query(
            f"DROP SERIES FROM {quote_identifier(measurement)} "
            f"WHERE {quote_identifier(tag)}::tag != ''",
            method="POST",
        )

    def _tag_keys(self, measurement: str) -> set[str]:
        series = self._query(f"SHOW TAG KEYS FROM {self._from(measurement)}")
        return {row[0] for s in series for row in s.get("values") or ()}

    def _field_types(self, measurement: str) -> dict[str, str]:
        series = self._query(f"SHOW FIELD KEYS FROM {self._from(measurement)}")
        return {row[0]: row[1] for s in series for row in s.get("values") or ()}

    def _is_field(self, measurement: str, entity: str) -> bool:
        """Whether `entity` is a field of the measurement (a report's id) rather than a tag.
        A field is remembered (a migration only ever turns a tag into one); a tag is asked
        about again, so a store migrated while this process runs is read right."""
        if (measurement, entity) in self._field_entities:
            return True
        if entity in self._field_types(measurement):
            self._field_entities.add((measurement, entity))
            return True
        return False

    def _newest_points(self, measurement: str, entity: str, condition: str) -> list[dict]:
        series = self._query(
            f"SELECT * FROM {self._from(measurement)}"
            f"{f' WHERE {condition}' if condition else ''} "
            f"GROUP BY {quote_identifier(entity)} ORDER BY time DESC LIMIT 1"
        )
        return list(_rows(series))

    def _newest_of_points_since(self, measurement: str, entity: str, since: datetime) -> list[dict]:
        """Every point since, newest per entity picked here: over minutes, cheaper than the
        server's GROUP BY, which visits every series of the shard (the field reports of a city,
        one series each: 0.46 s against 0.09 s for the last 16 minutes on InfluxDB 1.6)."""
        newest: dict[Any, dict] = {}
        series = self._query(f"SELECT * FROM {self._from(measurement)} WHERE {_since(since)}")
        for row in _rows(series):  # oldest first
            key = row.get(entity)
            if key is not None and (key not in newest or row["time"] >= newest[key]["time"]):
                newest[key] = row
        return list(newest.values())

    def _newest_points_recent_first(
        self, measurement: str, entity: str, since: datetime | None, recent: datetime
    ) -> list[dict]:
        """The newest points over the recent window, then over the whole range only for the
        entities silent in that window: the same answer as one query over the whole range."""
        rows = self._newest_points(measurement, entity, _since(recent))
        listed = self._query(
            f"SHOW TAG VALUES FROM {self._from(measurement)} "
            f"WITH KEY = {quote_identifier(entity)} "
            f"WHERE time >= {EARLIEST_NS if since is None else to_ms(since) * 1_000_000}"
        )
        silent = sorted(
            {value for s in listed for _, value in s["values"]} - {row[entity] for row in rows}
        )
        if len(silent) > MAX_SILENT_ENTITIES_ASKED:
            return self._newest_points(measurement, entity, _since(since))
        bound = _since(since)
        for chunk in _chunks(iter(silent), CHANGED_ENTITIES_PER_QUERY):
            either = _either(entity, chunk)
            rows += self._newest_points(
                measurement, entity, f"{bound} AND {either}" if bound else either
            )
        return rows

    def changes(
        self, measurement: str, field: str, entity: str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("field", field)
        check_name("entity", entity)
        if self._is_field(measurement, entity):
            return changes_of_field(self._points(measurement, start, end), field, entity)
        # InfluxQL has no "previous value". The server counts each entity's distinct values,
        # so only the entities that changed in the range are read point by point; the others
        # are their first point. (A city's day: 2,000 cameras × 288 points, a few dozen changed.)
        source = f"FROM {self._from(measurement)} WHERE {_time_range(start, end)}"
        group = f"GROUP BY {quote_identifier(entity)}"
        column = quote_identifier(field)
        firsts = self._query(f"SELECT first({column}) AS {column} {source} {group}")
        counts = self._query(f"SELECT count(distinct({column})) AS n {source} {group}")
        changed = sorted(
            key
            for s in counts
            if (key := (s.get("tags") or {}).get(entity)) and s["values"][0][1] > 1
        )
        rows = [
            {"time": s["values"][0][0], entity: key, field: read_text(s["values"][0][1])}
            for s in firsts
            if (key := (s.get("tags") or {}).get(entity)) and key not in changed
        ]
        for chunk in _chunks(iter(changed), CHANGED_ENTITIES_PER_QUERY):
            series = self._query(f"SELECT {column} {source} AND {_either(entity, chunk)} {group}")
            for s in series:
                key = s["tags"][entity]
                at, of = s["columns"].index("time"), s["columns"].index(field)
                previous: Any = None
                for values in s["values"]:  # one entity, oldest first
                    value = read_text(values[of])
                    if value is not None and (previous is None or value != previous):
                        rows.append({"time": values[at], entity: key, field: value})
                        previous = value
        return points_frame(rows, leading=[entity, field])

    def aggregate_points(
        self,
        measurement: str,
        field: str | Sequence[str],
        fn: Aggregate,
        start: datetime,
        end: datetime,
        every: timedelta,
        by: Sequence[str] = (),
        where: TagFilter | None = None,
        combine: Aggregate | None = None,
    ) -> pd.DataFrame:
        every_ms = check_aggregate(fn, every, combine)
        check_name("measurement", measurement)
        fields, names = aggregated_fields(field)
        by = [check_name("tag", b) for b in by]
        group_by = "".join(f", {quote_identifier(b)}" for b in by)
        # Combined, points without a `by` tag would join the sum as a group of their own: left
        # out here, as the answer without `combine` leaves them out.
        tagged = "".join(f" AND {quote_identifier(b)} != ''" for b in by) if combine else ""
        selected = ", ".join(
            f"{fn}({quote_identifier(f)}) AS {quote_identifier(name)}"
            for f, name in zip(fields, names, strict=True)
        )
        windows = (
            f"SELECT {selected} FROM {self._from(measurement)} "
            f"WHERE {_time_range(start, end)}{_tag_clause(where)}{tagged} "
            f"GROUP BY time({every_ms}ms){group_by} fill(none)"
        )
        if combine is not None:
            combined = ", ".join(
                f"{combine}({quote_identifier(name)}) AS {quote_identifier(name)}" for name in names
            )
            series = self._query(
                f"SELECT {combined} FROM ({windows}) "
                f"WHERE {_time_range(start, end)} GROUP BY time({every_ms}ms) fill(none)"
            )
            return points_frame(_rows(series), leading=names)
        series = self._query(windows)
        return points_frame(_rows(series), leading=[*by, *names])

    def shape(self, measurement: str) -> tuple[list[str], dict[str, str]]:
        check_name("measurement", measurement)
        types = self._field_types(measurement)
        return sorted(self._tag_keys(measurement)), dict(sorted(types.items()))

    def append_events(self, events: Iterable[Event]) -> None:
        refused = self._write_lines([_encode_event(e) for e in events], precision="ns")
        if refused:
            raise StoreError(f"InfluxDB refused {len(refused)} event(s): {refused[0][1]}")

    def events(
        self, stream: str, key: str | None = None, since: datetime | None = None
    ) -> list[Event]:
        condition = f'"stream" = {quote_string(stream)}'
        if key is not None:
            condition += f' AND "key" = {quote_string(key)}'
        if since is not None:
            condition += f" AND time >= {to_ms(since) * 1_000_000}"
        series = self._query(f"SELECT * FROM {EVENT_MEASUREMENT} WHERE {condition}", epoch="ns")
        return sorted(map(decode_event, _rows(series, time_key="time_ns")), key=lambda e: e.order)

    def latest_events(self, stream: str) -> dict[str, Event]:
        series = self._query(
            f'SELECT * FROM {EVENT_MEASUREMENT} WHERE "stream" = {quote_string(stream)} '
            'GROUP BY "key", "origin" ORDER BY time DESC LIMIT 1',
            epoch="ns",
        )
        newest: dict[str, Event] = {}
        for event in map(decode_event, _rows(series, time_key="time_ns")):
            if event.key not in newest or event.order > newest[event.key].order:
                newest[event.key] = event
        return newest

    def count_events(self, stream: str, keys: Collection[str] | None = None) -> dict[str, int]:
        if keys is not None and not keys:
            return {}
        # Bounded by hand: an aggregate without a bound stops at the server's now.
        series = self._query(
            f'SELECT count("event_id") FROM {EVENT_MEASUREMENT} '
            f'WHERE "stream" = {quote_string(stream)}{_keys_clause(keys)} '
            f'AND time >= {EARLIEST_NS} AND time <= {LATEST_NS} GROUP BY "key"'
        )
        return {row["key"]: int(row["count"]) for row in _rows(series) if row.get("count")}

    def key_states(
        self,
        stream: str,
        keys: Collection[str] | None = None,
        closed_since: datetime | None = None,
    ) -> dict[str, KeyState]:
        if keys is not None and not keys:
            return {}
        newest = (
            f"SELECT * FROM {KEY_STATE_MEASUREMENT} WHERE "
            f'"stream" = {quote_string(stream)}{_keys_clause(keys)} '
            'GROUP BY "key" ORDER BY time DESC LIMIT 1'
        )
        if closed_since is not None:
            newest = (
                f"SELECT * FROM ({newest}) WHERE "
                f'"open" = true OR "through_ns" >= {to_ms(closed_since) * 1_000_000} '
                'GROUP BY "key" ORDER BY time DESC'
            )
        rows = _rows(self._query(newest, epoch="ns"))
        # InfluxDB 1.x keeps each field of a point apart: a point being written may be read with
        # some of its fields only. Such a state is left out (its owner folds the key's log).
        states = map(decode_key_state, (row for row in rows if row.keys() >= KEY_STATE_FIELDS))
        return {state.key: state for state in states}

    def put_key_states(self, stream: str, states: Iterable[KeyState]) -> None:
        lines = []
        for state in states:
            fields = {
                "events": state.events,
                "through_ns": state.through_ns,
                "through_id": state.through_id,
                "open": state.open,
                "data": json.dumps(state.data, ensure_ascii=False),
            }
            values = ",".join(f"{k}={field_value(v)}" for k, v in fields.items())
            tags = f"stream={escape_tag(stream)},key={escape_tag(state.key)}"
            lines.append(f"{KEY_STATE_MEASUREMENT},{tags} {values} {state.events}")
        refused = self._write_lines(lines, precision="ns")
        if refused:
            raise StoreError(f"InfluxDB refused {len(refused)} key state(s): {refused[0][1]}")

    def close(self) -> None:
        self.session.close()


def _error_text(response: requests.Response) -> str:
    try:
        return str(response.json().get("error") or response.json().get("message"))
    except (ValueError, AttributeError):
        return response.text.strip()[:300] or response.reason or "no details"


def _chunks(items: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _time_range(start: datetime, end: datetime) -> str:
    return f"time >= {to_ms(start) * 1_000_000} AND time < {to_ms(end) * 1_000_000}"


def _since(since: datetime | None) -> str:
    return f"time >= {to_ms(since) * 1_000_000}" if since is not None else ""


def _tag_clause(where: TagFilter | None) -> str:
    clause = ""
    for key, values in tag_filter_values(where).items():
        clause += f" AND {_either(key, values)}"
    return clause


def _either(tag: str, values: Iterable[str]) -> str:
    """InfluxQL for "tag is one of values", in parentheses."""
    return "(" + " OR ".join(f"{quote_identifier(tag)} = {quote_string(v)}" for v in values) + ")"


def _keys_clause(keys: Collection[str] | None) -> str:
    if keys is None:
        return ""
    return f" AND {_either('key', sorted(keys))}"


def _rows(series: list[dict], time_key: str = "time") -> Iterator[dict]:
    """Flatten InfluxDB series into row dicts; null and missing group tags ("") are dropped."""
    for s in series:
        group_tags = {k: v for k, v in (s.get("tags") or {}).items() if v != ""}
        if len(group_tags) < len(s.get("tags") or {}):
            continue  # grouped by a tag the points do not have
        columns = s["columns"]
        for values in s["values"]:
            row = {k: read_text(v) for k, v in zip(columns, values, strict=True) if v is not None}
            row[time_key] = row.pop("time")
            row.update(group_tags)
            yield row


def _encode_event(event: Event) -> str:
    fields: Mapping[str, Any] = {
        "event_id": event.event_id,
        "kind": event.kind,
        "actor": event.actor,
        "note": event.note,
        "data": json.dumps(event.data, ensure_ascii=False),
    }
    tags = f"stream={escape_tag(event.stream)},key={escape_tag(event.key)},origin={event.origin}"
    values = ",".join(f"{k}={field_value(v)}" for k, v in fields.items() if v is not None)
    return f"{EVENT_MEASUREMENT},{tags} {values} {event.time_ns}"
