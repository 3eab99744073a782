"""The store interface every part of the wall uses, and the data it speaks.

Feeds write Points; the wall reads DataFrames. Both backends (embedded SQLite and InfluxDB) sit
behind the same `Store` methods and must give the same answers: tests/test_store_contract.py runs
unchanged against both.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

FieldValue = bool | int | float | str
Aggregate = Literal["mean", "max", "min", "sum", "count", "last"]
AGGREGATES: tuple[str, ...] = ("mean", "max", "min", "sum", "count", "last")
TagFilter = Mapping[str, str | Collection[str]]
# {field: values}: entities whose newest point has one of the values in that field.
FieldFilter = Mapping[str, Collection[FieldValue]]

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Starts a field text that InfluxDB stores escaped (lineprotocol.portable_text); a private-use
# character, so no tag value may start with it.
TEXT_MARK = "\ue000"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Names the store itself uses in query results; a tag or field of that name would be ambiguous.
RESERVED_NAMES = frozenset({"time", "value", "count"})


class StoreError(Exception):
    """The store refused the request: bad data or a bad query. Retrying will not help."""


class StoreUnavailable(StoreError):
    """A failure of the store itself, whatever the points: unreachable (after retries), its
    configuration (database missing), its permissions (may not write), its limits (request
    size, series or tag values). Nothing is wrong with the data: keep it and retry later."""


class InvalidPoint(StoreError, ValueError):
    """A point (or event) that cannot be stored; the message names what is wrong."""


class PointsRefused(StoreError):
    """The store refused some points of a write for what they are (a field whose type
    changed, a value the server rejects); every other point of the write is stored.

    `refused`: (point, the server's reason) pairs; `written`: how many points were stored."""

    def __init__(self, refused: list[tuple[Point, str]], written: int):
        super().__init__(
            f"the store refused {len(refused)} point(s), the first: {refused[0][1]}"
            if refused
            else "the store refused no point"
        )
        self.refused = refused
        self.written = written


class RequestRefused(StoreError):
    """One request of a write that the server refused for (some of) its points' content;
    `refused_items` finds which ones."""


def refused_items(
    items: Sequence[Any], refusal: RequestRefused, send: Callable[[Sequence[Any]], None]
) -> list[tuple[int, str]]:
    """(index, reason) of the items of a refused request that the server refuses on their own.

    Bisection: each refused half is sent again (writes are idempotent) until single items are
    left, so one bad item in a batch of n costs 2 × ceil(log2 n) more requests, not n. A half
    that now fails for a reason about the store raises (StoreUnavailable) like any write.
    """
    if len(items) == 1:
        return [(0, str(refusal))]
    middle = len(items) // 2
    found: list[tuple[int, str]] = []
    for offset, half in ((0, items[:middle]), (middle, items[middle:])):
        try:
            send(half)
        except RequestRefused as exc:
            found += [(offset + i, reason) for i, reason in refused_items(half, exc, send)]
    return found


@lru_cache(maxsize=4096)  # the same few names are in every point
def check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidPoint(f"{kind} {name!r} is not a name of letters, digits and _ (max 64)")
    return name


def check_tag_value(key: str, value: str) -> str:
    """Tag values must round-trip exactly through every InfluxDB line-protocol parser.

    InfluxDB 1.x and 2.x/3.x disagree on what a backslash before another backslash, before a
    separator or at the end of a tag value means, so those cannot be stored portably.
    """
    if not isinstance(value, str):
        raise InvalidPoint(f"tag {key}={value!r} is not text")
    if not value:
        raise InvalidPoint(f"tag {key} is empty")
    if len(value) > 256:
        raise InvalidPoint(f"tag {key} is longer than 256 characters")
    if CONTROL_CHARACTER.search(value):
        raise InvalidPoint(f"tag {key}={value!r} contains a control character")
    if value.startswith(TEXT_MARK):
        raise InvalidPoint(f"tag {key}={value!r} starts with U+E000, which the store reserves")
    if re.search(r"\\(?=[\\, =]|$)", value):
        raise InvalidPoint(
            f"tag {key}={value!r}: a backslash before '\\', ',', ' ', '=' or at the end "
            "cannot be stored"
        )
    return value


def _known_tag_value(key: str, value: Any) -> str:
    """check_tag_value, remembered: the same ids and wards arrive in every message."""
    if not isinstance(value, str):
        return check_tag_value(key, value)
    return _cached_tag_value(key, value)


_cached_tag_value = lru_cache(maxsize=65536)(check_tag_value)


def check_field_value(key: str, value: Any) -> FieldValue:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidPoint(f"field {key}={value} does not fit a 64-bit integer")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidPoint(f"field {key}={value} is not a finite number")
        return value
    raise InvalidPoint(f"field {key}={value!r} is not a number, boolean or text")


def fsync_path(path: Path) -> None:
    """Make a file's content, or the creation and removal of files in a folder, survive a power
    cut."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def utc(ts: datetime) -> datetime:
    if not isinstance(ts, datetime):
        raise InvalidPoint(f"time {ts!r} is not a datetime")
    if ts.tzinfo is None:
        raise InvalidPoint(f"time {ts.isoformat()} has no time zone")
    return ts.astimezone(UTC)


def to_ms(ts: datetime) -> int:
    """Milliseconds since the epoch: the resolution points are stored with, in every backend."""
    delta = utc(ts) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Point:
    """One measurement at one time, in one series (measurement + tags), to the millisecond.

    Writing a point with the same measurement, tags and time again merges its fields into the
    stored one, as InfluxDB does: writing the same point twice leaves one point.
    """

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time: datetime

    def __post_init__(self) -> None:
        tags_in, fields_in = self.tags, self.fields
        tag_keys = sorted(tags_in.keys())
        field_keys = sorted(k for k, v in fields_in.items() if v is not None)
        shape = (self.measurement, *tag_keys, None, *field_keys)
        if shape in _checked_shapes:  # names known good: only the values are left to check
            tags = {k: _known_tag_value(k, tags_in[k]) for k in tag_keys}
            fields_ = {k: check_field_value(k, fields_in[k]) for k in field_keys}
        else:
            tags, fields_ = self._check_names_and_values()
            if len(_checked_shapes) >= MAX_CHECKED_SHAPES:
                _checked_shapes.clear()
            _checked_shapes.add(shape)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "fields", fields_)
        ts = self.time
        time_ms = to_ms(ts)
        if type(ts) is not datetime or ts.tzinfo is not UTC or ts.microsecond % 1000:
            object.__setattr__(self, "time", from_ms(time_ms))  # else it already is that
        object.__setattr__(self, "_time_ms", time_ms)

    def _check_names_and_values(self) -> tuple[dict[str, str], dict[str, FieldValue]]:
        check_name("measurement", self.measurement)
        tags = {check_name("tag", k): _known_tag_value(k, v) for k, v in sorted(self.tags.items())}
        fields_ = {
            check_name("field", k): check_field_value(k, v)
            for k, v in sorted(self.fields.items())
            if v is not None
        }
        if not fields_:
            raise InvalidPoint(f"point of {self.measurement} has no field")
        for key in (*tags, *fields_):
            if key in RESERVED_NAMES:
                raise InvalidPoint(f"{key!r} is reserved and cannot be a tag or field name")
        if both := set(tags) & set(fields_):
            raise InvalidPoint(f"{sorted(both)} are both tag and field")
        return tags, fields_

    @property
    def time_ms(self) -> int:
        return self._time_ms

    @property
    def series(self) -> str:
        """A canonical text form of the series identity (tags are sorted)."""
        return json.dumps(self.tags, ensure_ascii=False, separators=(",", ":"))


# (measurement, *tag names, None, *field names) of points whose names passed every check: the
# same few shapes arrive in every message, so their name checks run once.
_checked_shapes: set[tuple[Any, ...]] = set()
MAX_CHECKED_SHAPES = 4096

_ORIGIN = os.urandom(4).hex()
_sequence = itertools.count()
_order_lock = threading.Lock()
_last_time_ns = 0  # of the event this process made last (Event.new)


@dataclass(frozen=True)
class Event:
    """An entry of the append-only event log; nothing in it is ever changed or removed.

    `time_ns` carries the event's time to the microsecond plus a per-process counter in the
    last three digits, and `origin` names the writing process, so two events written at the
    same instant (two officers acknowledging at once) are two events, never one.
    """

    stream: str
    key: str
    kind: str
    time_ns: int
    origin: str
    event_id: str
    actor: str | None = None
    note: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("event stream", self.stream)
        check_tag_value("key", self.key)
        check_name("event kind", self.kind)
        check_tag_value("origin", self.origin)
        json.dumps(self.data)  # raises TypeError early on data that cannot be stored

    @classmethod
    def new(
        cls,
        stream: str,
        key: str,
        kind: str,
        *,
        actor: str | None = None,
        note: str | None = None,
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event:
        at = utc(at) if at is not None else datetime.now(UTC)
        micros = to_ms(at) * 1000 + at.microsecond % 1000
        global _last_time_ns
        with _order_lock:
            seq = next(_sequence)
            # Events apart in the log (two processes, or one process's events of other times)
            # take nanoseconds from their sequence, so they do not overwrite one another on
            # InfluxDB; an event dated at most 1 ms before the one this process made last is put
            # a nanosecond after it, so events keep the order they were made in even where the
            # sequence wraps (an acknowledgement dated like its raise sorts after it).
            time_ns = micros * 1000 + seq % 1000
            if time_ns <= _last_time_ns < micros * 1000 + 1_000_000:
                time_ns = _last_time_ns + 1
            _last_time_ns = time_ns
        return cls(
            stream=stream,
            key=key,
            kind=kind,
            time_ns=time_ns,
            origin=_ORIGIN,
            event_id=f"{_ORIGIN}-{seq}-{micros}",
            actor=actor,
            note=note,
            data=dict(data or {}),
        )

    @property
    def time(self) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.time_ns // 1000)

    @property
    def order(self) -> tuple[int, str]:
        return (self.time_ns, self.event_id)


@dataclass(frozen=True)
class KeyState:
    """A key's state folded from its events (by the state's owner, e.g. wall.alerts.state):
    the fold of `events` events of the key, the newest of which has order (`through_ns`,
    `through_id`). A store keeps, per key, the state that folds the most events: states are
    folds of the key's events as the log held them at some moment, and the log only grows, so
    the one that folds more events folds a later log. `open`: the owner still has it in hand
    (read with `key_states(closed_since=...)` even when older); `data`: JSON, or None."""

    key: str
    events: int
    through_ns: int
    through_id: str
    open: bool
    data: Mapping[str, Any] | None

    def __post_init__(self) -> None:
        check_tag_value("key", self.key)

    @property
    def through(self) -> tuple[int, str]:
        return (self.through_ns, self.through_id)


def tag_filter_values(where: TagFilter | None) -> dict[str, list[str]]:
    """Normalise a tag filter {tag: value or values} to {tag: [values]}, checking names."""
    result = {}
    for key, values in (where or {}).items():
        check_name("tag", key)
        values = [values] if isinstance(values, str) else sorted(values)
        if not values:
            raise StoreError(f"filter on tag {key} has no values")
        result[key] = [check_tag_value(key, v) for v in values]
    return result


def field_filter_values(unless: FieldFilter | None) -> dict[str, list[FieldValue]]:
    """Normalise a field filter {field: values}, checking names and values."""
    result = {}
    for name, values in (unless or {}).items():
        check_name("field", name)
        if isinstance(values, str) or not values:
            raise StoreError(f"filter on field {name} needs a list of values")
        for v in values:
            if not isinstance(v, FieldValue):
                raise StoreError(f"filter on field {name}: {v!r} is not a field value")
        result[name] = list(values)
    return result


def without_matching(rows: Iterable[Mapping[str, Any]], unless: FieldFilter | None):
    """The rows whose fields match none of `unless` (a field missing from a row matches none)."""
    filters = field_filter_values(unless)
    return [row for row in rows if not any(row.get(f) in values for f, values in filters.items())]


# Every time a store holds: what "no bound" means to a read over a range.
ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


def changes_of_field(points: pd.DataFrame, field: str, entity: str) -> pd.DataFrame:
    """`changes` of an entity that is a field, from a read's frame of points (time-ordered)."""
    if points.empty or not {entity, field} <= set(points.columns):
        return points_frame([], leading=[entity, field])
    rows = points.loc[points[entity].notna() & points[field].notna(), ["time", entity, field]]
    previous = rows.groupby(entity)[field].shift()
    changed = rows[previous.isna() | (rows[field] != previous)]
    return changed.sort_values(["time", entity, field], kind="stable").reset_index(drop=True)


def points_frame(
    rows: Iterable[Mapping[str, Any]] | Mapping[str, Sequence[Any]], leading: Sequence[str] = ()
) -> pd.DataFrame:
    """The one shape every read returns: `time` (UTC) first, then `leading`, then the rest by name;
    rows ordered by time, then by the columns in that order.

    Rows carry `time` as epoch milliseconds; missing values are None (NaN in numeric columns).
    Many rows can come column by column instead, {name: values}: no dict per row.
    """
    columns = ["time", *leading]
    if isinstance(rows, Mapping):
        others = sorted(set(rows) - set(columns))
    else:
        rows = list(rows)
        others = sorted({k for row in rows for k in row} - set(columns))
    frame = pd.DataFrame(rows, columns=[*columns, *others])
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="ms", utc=True)
    # Sorting on every column makes rows of the same time come out in one order everywhere.
    return frame.sort_values([*columns, *others], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class FrameColumns:
    """A frame of points, checked as Point checks each point: tags and fields sorted by name,
    one value per row in each column (tags text; fields bool, int64, float64 or text)."""

    measurement: str
    tags: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]
    time_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.time_ms)

    def rows(self, start: int, stop: int) -> FrameColumns:
        def cut(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {name: values[start:stop] for name, values in columns.items()}

        return FrameColumns(
            self.measurement, cut(self.tags), cut(self.fields), self.time_ms[start:stop]
        )


def frame_columns(measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> FrameColumns:
    """The points of `frame` (a `time` column, the `tags` columns, every other column a field),
    refused with InvalidPoint naming the column where Point would refuse one of them."""
    if "time" not in frame.columns:
        raise InvalidPoint(f"frame of {measurement} has no time column")
    missing_tags = [t for t in tags if t not in frame.columns]
    if missing_tags:
        raise InvalidPoint(f"frame of {measurement} has no column for tags {missing_tags}")
    if frame.columns.duplicated().any():
        raise InvalidPoint(f"frame of {measurement} has the same column twice")
    names = [c for c in frame.columns if c != "time"]
    if len(frame):  # the name checks of Point (reserved names, tag and field both, no field)
        first = {c: frame[c].iloc[0] for c in frame.columns}
        first = {c: v.item() if isinstance(v, np.generic) else v for c, v in first.items()}
        fields = {f: first[f] for f in names if f not in tags}
        Point(measurement, {t: first[t] for t in tags}, fields, first["time"])
    time = frame["time"]
    if not isinstance(time.dtype, pd.DatetimeTZDtype):
        raise InvalidPoint(f"time of a {measurement} frame is not a datetime with a time zone")
    # Milliseconds rounded down, as to_ms does.
    time_ms = time.dt.tz_convert(UTC).astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    time_ms = time_ms // 1_000_000
    return FrameColumns(
        measurement,
        {t: _tag_column(t, frame[t]) for t in sorted(tags)},
        {f: _field_column(f, frame[f]) for f in sorted(set(names) - set(tags))},
        time_ms,
    )


def _tag_column(key: str, column: pd.Series) -> np.ndarray:
    values = column.to_numpy(dtype=object)
    for value in pd.unique(values):
        check_tag_value(key, value)
    return values


def _field_column(key: str, column: pd.Series) -> np.ndarray:
    if column.isna().any():
        raise InvalidPoint(f"field {key} has missing values")
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(dtype):
        if len(column) and (column.min() < INT64_MIN or column.max() > INT64_MAX):
            raise InvalidPoint(f"field {key} has values that do not fit a 64-bit integer")
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise InvalidPoint(f"field {key} has values that are not finite numbers")
        return values
    values = column.to_numpy(dtype=object)
    if not all(type(v) is str for v in pd.unique(values)):
        raise InvalidPoint(f"field {key} mixes text with other values: one kind per column")
    return values


def encoded(values: np.ndarray, encode: Callable[[Any], str]) -> np.ndarray:
    """`encode(value)` of each value (as a Python value), called once per distinct value."""
    if values.dtype == np.float64:  # by their bits, so that 0.0 and -0.0 stay apart
        codes, bits = pd.factorize(values.view(np.int64))
        distinct = bits.view(np.float64)
    else:
        codes, distinct = pd.factorize(values)
    return np.array([encode(v) for v in distinct.tolist()], dtype=object)[codes]


class Store(ABC):
    """Time series and the event log, in one of the backends (see wall.store.open_store)."""

    @abstractmethod
    def check(self) -> None:
        """Reach the backend and prepare it (create database/tables where allowed): what every
        command runs at its start (and the feeds' writers after an outage).

        Raises SettingsError when the settings cannot work with this server (bad credentials),
        or when the store is one this wall does not know how to read (a layout of another
        version, field reports of the first shape: wall.store.reports.refuse_first_shape) —
        one line naming `python -m wall migrate`, or the newer wall that wrote it;
        StoreUnavailable when it cannot be reached.
        """

    @abstractmethod
    def write(self, points: Iterable[Point]) -> int:
        """Write points in batches; returns how many. Idempotent per (series, time).

        Raises PointsRefused when the store refused some points for what they are (the others
        are stored), StoreUnavailable (or SettingsError) when it failed for a reason about
        itself: then nothing may be dropped, the whole write is to be tried again later."""

    @abstractmethod
    def write_frame(self, measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> int:
        """Write one point per row of `frame`: a `time` column (with a time zone), the `tags`
        columns, every other column a field, no missing values. Stores exactly what `write`
        stores for those points (in row order), for bulk loads such as a city's history."""

    @abstractmethod
    def points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        """Every point with start <= time < end: time, tags and fields as columns."""

    @abstractmethod
    def latest(
        self,
        measurement: str,
        entity: str,
        since: datetime | None = None,
        unless: FieldFilter | None = None,
    ) -> pd.DataFrame:
        """The newest point of each value of tag `entity` (one row each), with its time; `unless`
        leaves out the entities whose newest point has one of the given values in a field
        (e.g. the reports whose status is closed). `entity` may be a field (a report's
        `report_id`): then every point since is read and the newest of each value picked."""

    @abstractmethod
    def changes(
        self, measurement: str, field: str, entity: str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        """The points of start <= time < end at which an entity (a value of tag `entity`) took a
        new value of `field`: its first point with the field in the range, then each point whose
        value differs from its previous one's. Points without the field are skipped. Columns:
        time, entity, field. A day of a camera's status every 5 minutes is 288 points but only
        the few of its outages: what a fold of state periods needs, without reading the rest.
        `entity` may be a field (a report's `report_id`): then every point of the range is read."""

    def aggregate(
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
        """`fn(field)` per window of `every` (aligned to the epoch) and per value of the `by`
        tags, over start <= time < end. Columns: time (window start), *by, value. Windows with
        no data are absent, not zero.

        With `combine`, the values of each window are combined across the `by` groups into one,
        in the store: e.g. the town's clients as the sum over access points of each one's mean
        (a screen that draws the town reads 192 windows, not 192 × 1,000). Columns: time, value.

        Several fields (a list) are aggregated in one pass: one column per field, named after
        it, in place of `value`; a window appears when any of them has data.

        Windows older than the raw points kept (`rollup_marks`, written by wall.store.retention)
        are answered from the rollups when `every` is a multiple of one of ROLLUP_SPANS: the
        same values (a mean as sum / count), but always of the whole window.
        """
        every_ms = check_aggregate(fn, every, combine)
        span = next((s for s in ROLLUP_SPANS if every_ms % (s.seconds * 1000) == 0), None)
        raw_from = self.raw_kept_from(measurement) if span is not None else None
        if raw_from is None or to_ms(start) >= raw_from:
            return self.aggregate_points(
                measurement, field, fn, start, end, every, by, where, combine
            )
        cut = from_ms(-(-raw_from // every_ms) * every_ms)  # the first whole window of raw points
        older = self._aggregate_rollups(
            span, measurement, field, fn, start, min(cut, end), every, by, where, combine
        )
        if end <= cut:
            return older
        newer = self.aggregate_points(measurement, field, fn, cut, end, every, by, where, combine)
        return pd.concat([older, newer], ignore_index=True) if len(older) else newer

    def raw_kept_from(self, measurement: str) -> int | None:
        """Epoch ms from which the measurement's raw points are all kept (None: all of them),
        as the last retention pass recorded it: read once per ROLLUP_MARKS_SECONDS, not at
        each aggregate (a tick asks several; the marks change once a pass)."""
        read_at, marks = getattr(self, "_rollup_marks", (None, {}))
        if read_at is None or time.monotonic() - read_at > ROLLUP_MARKS_SECONDS:
            frame = self.latest(ROLLUP_MARKS, "measurement")
            marks = {}
            if not frame.empty and "raw_from_ms" in frame.columns:
                rows = frame[["measurement", "raw_from_ms"]].dropna()
                marks = {m: int(ms) for m, ms in rows.itertuples(index=False)}
            self._rollup_marks = (time.monotonic(), marks)
        return marks.get(measurement)

    def forget_rollup_marks(self) -> None:
        """The marks change (a retention pass in this process): read them again."""
        self._rollup_marks = (None, {})

    def _aggregate_rollups(
        self,
        span: timedelta,
        measurement: str,
        field: str | Sequence[str],
        fn: Aggregate,
        start: datetime,
        end: datetime,
        every: timedelta,
        by: Sequence[str],
        where: TagFilter | None,
        combine: Aggregate | None,
    ) -> pd.DataFrame:
        """`aggregate` of whole windows from the rollups of `span` (windows from `start`'s)."""
        fields, names = aggregated_fields(field)
        every_ms = int(every.total_seconds() * 1000)
        first = from_ms(to_ms(start) - to_ms(start) % every_ms)
        parts = ("sum", "count") if fn == "mean" else (fn,)
        read = "sum" if fn in ("mean", "sum", "count") else fn
        stored = [rollup_field(f, part) for part in parts for f in fields]
        frame = self.aggregate_points(
            rollup_measurement(measurement, span), stored, read, first, end, every, by, where
        )
        by = list(by)
        values = {}
        for f, name in zip(fields, names, strict=True):
            if rollup_field(f, parts[0]) not in frame.columns:
                values[name] = pd.Series(np.nan, index=frame.index)
            elif fn == "mean":
                values[name] = frame[rollup_field(f, "sum")] / frame[rollup_field(f, "count")]
            else:
                values[name] = frame[rollup_field(f, fn)]
        result = pd.DataFrame({"time": frame["time"], **{b: frame[b] for b in by}, **values})
        result = result.dropna(how="all", subset=names)
        if combine is not None:
            result = result.groupby("time", sort=True)[names].agg(combine).reset_index()
            return result.dropna(how="all", subset=names).reset_index(drop=True)
        return result.reset_index(drop=True)

    @abstractmethod
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
        """`aggregate` of the raw points only."""

    @abstractmethod
    def shape(self, measurement: str) -> tuple[list[str], dict[str, str]]:
        """The measurement's tag names, and its fields' types (boolean, integer, float,
        string), as stored."""

    def apply_retention(self, measurement: str) -> None:  # noqa: B027 - InfluxDB overrides it
        """Backends that remove points by their own retention (InfluxDB's policies) give the
        measurement's the duration of the settings here: called by the retention pass once the
        rollups of what a shorter one removes are written."""

    def remove_points_before(self, measurement: str, before: datetime) -> int:
        """Remove the measurement's points older than `before` in short steps; returns how many.
        Backends that keep points by their own retention (InfluxDB) remove none here."""
        return 0

    def count_latest(
        self,
        measurement: str,
        entity: str,
        by: Sequence[str],
        where: Mapping[str, Any | Collection[Any]] | None = None,
        since: datetime | None = None,
    ) -> pd.DataFrame:
        """How many entities, by their newest point, match `where` (on tags or fields), per
        value of the `by` tags. Columns: *by, count."""
        latest = self.latest(measurement, entity, since)
        for key, wanted in (where or {}).items():
            if key not in latest.columns:
                latest = latest.iloc[0:0]
                continue
            wanted = [wanted] if isinstance(wanted, str | bool | int | float) else list(wanted)
            latest = latest[latest[key].isin(wanted)]
        by = list(by)
        if not by:
            return pd.DataFrame({"count": [len(latest)]})
        present = [b for b in by if b in latest.columns]
        if len(present) < len(by) or latest.empty:
            return pd.DataFrame({**{b: pd.Series(dtype=object) for b in by}, "count": []}).astype(
                {"count": "int64"}
            )
        counts = latest.groupby(by, dropna=False).size().reset_index(name="count")
        return counts.sort_values(by, kind="stable").reset_index(drop=True)

    # -- rewriting points of series that have a tag (wall.store.reports) ------------------------

    def tagged_series_span(self, measurement: str, tag: str) -> tuple[datetime, datetime] | None:
        """Times of the oldest and newest point of the series of `measurement` that have the
        tag `tag`; None when there are none."""
        raise NotImplementedError

    def tagged_series_points(
        self, measurement: str, tag: str, start: datetime, end: datetime
    ) -> list[Point]:
        """The points of start <= time < end of the series that have the tag `tag`."""
        raise NotImplementedError

    def drop_tagged_series(self, measurement: str, tag: str) -> None:
        """Delete every point of the series of `measurement` that have the tag `tag`."""
        raise NotImplementedError

    @abstractmethod
    def append_events(self, events: Iterable[Event]) -> None:
        """Append to the event log; appending the same event (same event_id) again is a no-op."""

    @abstractmethod
    def events(
        self, stream: str, key: str | None = None, since: datetime | None = None
    ) -> list[Event]:
        """Events of a stream (optionally of one key, from a time on), oldest first."""

    @abstractmethod
    def latest_events(self, stream: str) -> dict[str, Event]:
        """The newest event of each key of a stream."""

    @abstractmethod
    def count_events(self, stream: str, keys: Collection[str] | None = None) -> dict[str, int]:
        """How many events each key (of `keys`) of a stream has; a key without any is left out."""

    @abstractmethod
    def key_states(
        self,
        stream: str,
        keys: Collection[str] | None = None,
        closed_since: datetime | None = None,
    ) -> dict[str, KeyState]:
        """The kept state of each key (of `keys`) of a stream; with `closed_since`, a state not
        `open` only if its newest event is from that time on."""

    @abstractmethod
    def put_key_states(self, stream: str, states: Iterable[KeyState]) -> None:
        """Keep each state unless the store holds one of its key that folds as many events."""

    def close(self) -> None:  # noqa: B027 - backends with resources override it
        """Release connections and files."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Rollups (wall.store.retention): per series, per window of each span, of each field the parts
# that fit it (ROLLUP_PARTS by its type, or as the town's schema says: wall.domain), stored as
# the points of `<measurement>_5m` and `_1h`.
ROLLUP_SPANS = (timedelta(hours=1), timedelta(minutes=5))  # the coarsest that fits first
ROLLUP_PARTS = {
    "integer": ("sum", "count", "min", "max"),  # the mean is sum / count
    "float": ("sum", "count", "min", "max"),
    "boolean": ("count", "last"),
    "string": ("last",),
}
# One point per measurement rolled up: `rolled_until_ms` (rollups complete before it) and
# `raw_from_ms` (raw points all kept from then on).
ROLLUP_MARKS = "rollup_marks"
# How long a process reads with the marks it read: a pass removes raw points only up to the
# previous pass's mark (an hour before), so a mark this old still finds every raw point it
# promises.
ROLLUP_MARKS_SECONDS = 60.0


def rollup_measurement(measurement: str, span: timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    suffix = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
    return check_name("rollup measurement", f"{measurement}_{suffix}")


def rollup_field(field: str, part: str) -> str:
    return f"{field}__{part}"


def check_aggregate(fn: str, every: timedelta, combine: str | None = None) -> int:
    """Validate an aggregate request; returns the window in milliseconds."""
    for name in (fn, combine) if combine is not None else (fn,):
        if name not in AGGREGATES:
            raise StoreError(f"aggregate {name!r} is not one of {', '.join(AGGREGATES)}")
    if combine == "last":
        raise StoreError("the values of several groups cannot be combined by `last`")
    every_ms = int(every.total_seconds() * 1000)
    if every_ms <= 0:
        raise StoreError(f"window {every} must be at least a millisecond")
    return every_ms


def aggregated_fields(field: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """The fields an aggregate reads, checked, and the names of its value columns."""
    if isinstance(field, str):
        return [check_name("field", field)], ["value"]
    fields = [check_name("field", f) for f in field]
    if not fields or len(set(fields)) < len(fields):
        raise StoreError(f"aggregate of {fields!r}: name one field or several different ones")
    return fields, fields


def decode_key_state(row: Mapping[str, Any]) -> KeyState:
    return KeyState(
        key=row["key"],
        events=int(row["events"]),
        through_ns=int(row["through_ns"]),
        through_id=row["through_id"],
        open=bool(row["open"]),
        data=json.loads(row["data"]),
    )


def decode_event(row: Mapping[str, Any]) -> Event:
    return Event(
        stream=row["stream"],
        key=row["key"],
        kind=row["kind"],
        time_ns=int(row["time_ns"]),
        origin=row["origin"],
        event_id=row["event_id"],
        actor=row.get("actor"),
        note=row.get("note"),
        data=json.loads(row.get("data") or "{}"),
    )
