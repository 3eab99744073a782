"""Embedded store: one SQLite file in WAL mode, one writer process and any number of readers.

Points keep tags and fields as JSON; a `latest` table, kept by the same transaction that writes a
point, answers "newest point of every camera" without scanning history. The event log refuses
UPDATE and DELETE by trigger: it is append-only in fact, not by convention.

Every process using the store holds a shared lock on `<file>.lock`: a restore takes it
exclusively, so it never overwrites a store a wall, feed or alert process is using, and a process
starting during a restore waits for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from wall.store.base import (
    Aggregate,
    Event,
    FieldFilter,
    FrameColumns,
    Point,
    PointsRefused,
    RequestRefused,
    Store,
    StoreError,
    StoreUnavailable,
    TagFilter,
    aggregated_fields,
    check_aggregate,
    check_name,
    decode_event,
    encoded,
    field_filter_values,
    frame_columns,
    points_frame,
    refused_items,
    tag_filter_values,
    to_ms,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    ts INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_time ON points (measurement, ts);
CREATE TABLE IF NOT EXISTS latest (
    measurement TEXT NOT NULL,
    series TEXT NOT NULL,
    ts INTEGER NOT NULL,
    tags TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, series)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    key TEXT NOT NULL,
    time_ns INTEGER NOT NULL,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT,
    note TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_key ON events (stream, key, time_ns);
CREATE INDEX IF NOT EXISTS events_by_time ON events (stream, time_ns);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""

UPSERT_POINT = """
INSERT INTO points (measurement, series, ts, tags, fields) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (measurement, series, ts) DO UPDATE SET fields = json_patch(fields, excluded.fields)
"""
# The newest point of a series; a point written for the same time merges its fields, as above.
UPSERT_LATEST = """
INSERT INTO latest (measurement, series, ts, tags, fields) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (measurement, series) DO UPDATE SET
    fields = CASE
        WHEN excluded.ts > latest.ts THEN excluded.fields
        WHEN excluded.ts = latest.ts THEN json_patch(latest.fields, excluded.fields)
        ELSE latest.fields END,
    ts = max(latest.ts, excluded.ts)
"""
EVENT_COLUMNS = "stream, key, time_ns, origin, event_id, kind, actor, note, data"

# The points of one measurement in a time range as one row per series: its tags, its times and,
# per field, the JSON text of each point's value ('' where the point lacks it; `->` gives the
# text as stored, so 1 and true stay apart and a float keeps its digits), in time order. Each
# series is one range of the primary key, read in key order, and GROUP BY series follows that
# order: SQLite sorts nothing (a GROUP BY per window sorts every point) and Python receives one
# row per series, not per point. Parameters: *field paths, start, end (ms), measurement, *where.
SERIES_COLUMNS = """
SELECT l.tags, group_concat(p.ts){values} FROM latest l CROSS JOIN points p
    ON p.measurement = l.measurement AND p.series = l.series AND p.ts >= ? AND p.ts < ?
WHERE l.measurement = ?{clause} GROUP BY l.series
"""
SERIES_VALUE = ", group_concat(coalesce(p.fields -> ?, ''), char(31))"
# A boolean field as one character a point (t, f; - without the field; ? anything else), found
# in the JSON text by `"name":true` and `"name":false` instead of parsing it (a third cheaper for
# a day of cameras). Exact for the JSON this store writes: fields are named by letters, digits
# and _, so `"name":` (a quote, the name, a quote, a colon) occurs in a point's text only where
# that field is: inside a text value every quote is escaped (\"), and a value's closing quote is
# followed by , or }. Parameters: `"name":true`, `"name":false`, `"name":`, start, end (ms),
# measurement.
SERIES_STATES = SERIES_COLUMNS.format(
    values=""", group_concat(CASE WHEN instr(p.fields, ?) THEN 't' WHEN instr(p.fields, ?) THEN 'f'
        WHEN instr(p.fields, ?) THEN '?' ELSE '-' END, '')""",
    clause="",
)
STATE_TEXTS = np.array(["", "true", "false"], dtype=object)  # of -, t and f
# A character of no JSON number (nor the \x1f between values): true, false or text is there.
NOT_A_NUMBER = re.compile(r"[^0-9.eE+\-\x1f]")
WRITE_BATCH = 5000
FRAME_BATCH = 100_000  # rows of a frame per transaction
FRAME_CACHE_KIB = 256 * 1024
FRAME_CHECKPOINT = 65_536  # pages (of 4 KiB): 256 MiB of log


class SQLiteStore(Store):
    # FULL syncs the write-ahead log at every commit, so a write that returned (and the message
    # the MQTT worker then acknowledged) survives a power cut; NORMAL survives only a process
    # crash. Cost measured by bench/sqlite_durability.py (docs/benchmarks.md).
    SYNCHRONOUS = "FULL"

    def __init__(self, path: str | Path, timeout_seconds: float = 10.0):
        self.path = Path(path)
        self.timeout_seconds = timeout_seconds
        self._local = threading.local()
        self._ready = False
        self._lock_file: int | None = None

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread: sqlite3 connections must not cross threads."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.check()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_seconds, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.SYNCHRONOUS}")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout_seconds * 1000)}")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn

    def check(self) -> None:
        if self._ready:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create folder for {self.path}: {exc}") from exc
        self._lock_file = _lock(self.path, fcntl.LOCK_SH, self.timeout_seconds)
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot prepare SQLite store {self.path}: {exc}") from exc
        finally:
            conn.close()
        self._ready = True

    def _execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """The statements inside read one state of the store (one read transaction)."""
        self._execute("BEGIN")
        try:
            yield
        finally:
            self._connection().execute("COMMIT")

    def write(self, points: Iterable[Point]) -> int:
        conn = self._connection()
        points = list(points)
        refused: list[tuple[Point, str]] = []
        send = functools.partial(self._write_batch, conn)
        for start in range(0, len(points), WRITE_BATCH):
            chunk = points[start : start + WRITE_BATCH]
            rows = [_point_row(point) for point in chunk]
            try:
                send(rows)
            except RequestRefused as refusal:  # rolled back: the others are written again
                refused += [(chunk[i], why) for i, why in refused_items(rows, refusal, send)]
        if refused:
            raise PointsRefused(refused, len(points) - len(refused))
        return len(points)

    def write_frame(self, measurement: str, frame: pd.DataFrame, tags: Sequence[str]) -> int:
        columns = frame_columns(measurement, frame, tags)
        conn = self._connection()
        # A bulk load touches a page of every series in turn: hold them all while it runs, and
        # copy the log back into the database file (a checkpoint) once per FRAME_CHECKPOINT
        # pages rather than after every transaction (each rewrites those pages).
        settings = {"cache_size": -FRAME_CACHE_KIB, "wal_autocheckpoint": FRAME_CHECKPOINT}
        before = {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in settings}
        try:
            for name, value in settings.items():
                conn.execute(f"PRAGMA {name}={value}")
            for start in range(0, len(columns), FRAME_BATCH):
                rows, newest = _frame_rows(columns.rows(start, start + FRAME_BATCH))
                self._write_batch(conn, rows, newest)
        finally:
            for name, value in before.items():
                conn.execute(f"PRAGMA {name}={value}")
        return len(columns)

    def _write_batch(
        self, conn: sqlite3.Connection, rows: list[tuple], newest: list[tuple] | None = None
    ) -> int:
        """`newest`: the rows that can change `latest` (by default all of them)."""
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(UPSERT_POINT, rows)
                conn.executemany(UPSERT_LATEST, rows if newest is None else newest)
        except sqlite3.IntegrityError as exc:  # a constraint (or trigger) refused a row
            raise RequestRefused(f"SQLite store {self.path} refused the point: {exc}") from exc
        except sqlite3.Error as exc:  # disk full, read-only, locked, not a database: the store
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        return len(rows)

    def points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        clause, params = _tag_clause(where)
        rows = self._execute(
            f"SELECT ts, tags, fields FROM points WHERE measurement = ? AND ts >= ? AND ts < ?"
            f"{clause} ORDER BY ts",
            [measurement, to_ms(start), to_ms(end), *params],
        )
        return points_frame(_decode(rows))

    def latest(
        self,
        measurement: str,
        entity: str,
        since: datetime | None = None,
        unless: FieldFilter | None = None,
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("tag", entity)
        path = f"$.{entity}"
        excluded, parameters = "", []
        for field, values in field_filter_values(unless).items():
            # Not IN with a missing field (NULL) would drop the row: a missing field matches none.
            excluded += (
                f" AND coalesce(json_extract(fields, ?) IN ({', '.join('?' * len(values))}), 0) = 0"
            )
            parameters += [f"$.{field}", *values]
        rows_of_entities = (
            "FROM latest WHERE measurement = ? AND ts >= ? AND json_extract(tags, ?) IS NOT NULL"
        )
        of_entities = [measurement, to_ms(since) if since else -(2**62), path]
        # An entity's newest point is its series' row in `latest` unless it has several series
        # (e.g. a camera that moved ward): only then is SQLite's row_number() window needed,
        # which sorts every row (for 50,000 reports, more than the rest of the query). Both
        # statements read one snapshot, so a series written in between cannot slip through.
        with self._snapshot():
            several_series = self._execute(
                f"SELECT count(*) > count(DISTINCT json_extract(tags, ?)) {rows_of_entities}",
                [path, *of_entities],
            )[0][0]
            if several_series:
                sql = f"""
                    SELECT ts, tags, fields FROM (
                        SELECT ts, tags, fields, row_number() OVER (
                            PARTITION BY json_extract(tags, ?) ORDER BY ts DESC, series) AS newest
                        {rows_of_entities})
                    WHERE newest = 1{excluded}
                    """
                rows = self._execute(sql, [path, *of_entities, *parameters])
            else:
                sql = f"SELECT ts, tags, fields {rows_of_entities}{excluded}"
                rows = self._execute(sql, [*of_entities, *parameters])
        return points_frame(_decode(rows), leading=[entity])

    def changes(
        self, measurement: str, field: str, entity: str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("field", field)
        check_name("tag", entity)
        # Neighbours are compared in numpy: SQLite's lag() window sorts every point.
        columns, values = self._field_texts(measurement, field, start, end)
        keys = [tags.get(entity) for tags in columns.tags]  # None: a series without the entity
        names = sorted({key for key in keys if key is not None})
        codes = {key: code for code, key in enumerate(names)}
        entities = np.repeat(
            np.array([codes.get(k, -1) for k in keys], dtype=np.int64), columns.sizes
        )
        kept = (entities >= 0) & (values != "")  # points without the field are skipped
        times, entities, values = columns.times[kept], entities[kept], values[kept]
        if len(names) < sum(key is not None for key in keys):  # e.g. an entity that moved ward
            order = np.lexsort((times, entities))  # stable: ties keep their series' order
            times, entities, values = times[order], entities[order], values[order]
        first_or_new = np.ones(len(times), dtype=bool)
        first_or_new[1:] = (entities[1:] != entities[:-1]) | (values[1:] != values[:-1])
        return points_frame(
            {
                "time": times[first_or_new],
                entity: np.array(names, dtype=object)[entities[first_or_new]],
                field: [_json_value_of(value) for value in values[first_or_new].tolist()],
            },
            leading=[entity, field],
        )

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
        """Aggregated in numpy from each series' values (SERIES_COLUMNS), as SQLite's avg, sum,
        max, min and count would: integers stay integers, true and false count as 1 and 0."""
        every_ms = check_aggregate(fn, every, combine)
        check_name("measurement", measurement)
        fields, names = aggregated_fields(field)
        by = [check_name("tag", b) for b in by]
        columns = self._series_columns(measurement, fields, start, end, where)
        groups: dict[tuple, int] = {}  # values of the `by` tags: a series without one is left out
        series_groups = [
            groups.setdefault(key, len(groups)) if None not in key else -1
            for key in (tuple(tags.get(b) for b in by) for tags in columns.tags)
        ]
        grouped = np.repeat(np.array(series_groups, dtype=np.int64), columns.sizes)
        # Windows aligned to the epoch as SQL's ts - ts % every (truncated toward zero).
        windows = columns.times - np.fmod(columns.times, every_ms)
        first = int(windows.min()) if len(windows) else 0
        window_count = (int(windows.max()) - first) // every_ms + 1 if len(windows) else 0
        keys = grouped * window_count + (windows - first) // every_ms  # one per (group, window)
        in_group = grouped >= 0
        counted = []  # per field: (which points count, the values of those points)
        for name, text in zip(fields, columns.values, strict=True):
            has, numbers = _field_values(text, len(keys), name, numeric=fn != "count")
            counted.append((has & in_group, None if numbers is None else numbers[in_group[has]]))
        cells, results = _aggregated(fn, keys, counted)
        group_names = list(groups)
        labels = [group_names[g] for g in (cells // window_count).tolist()] if len(cells) else []
        cells = cells % window_count if len(cells) else cells  # the window of each cell
        if combine is not None:
            cells, results = _aggregated(
                combine, cells, [(has, numbers[has]) for has, numbers in results]
            )
            by, labels = [], [()] * len(cells)
        return points_frame(
            {
                "time": first + cells * every_ms,
                **{b: [label[i] for label in labels] for i, b in enumerate(by)},
                **{name: _column(*result) for name, result in zip(names, results, strict=True)},
            },
            leading=[*by, *names],
        )

    def _series_columns(
        self,
        measurement: str,
        fields: Sequence[str],
        start: datetime,
        end: datetime,
        where: TagFilter | None = None,
    ) -> SeriesColumns:
        clause, params = _tag_clause(where, "l.tags")
        rows = self._execute(
            SERIES_COLUMNS.format(values=SERIES_VALUE * len(fields), clause=clause),
            [*(f"$.{f}" for f in fields), to_ms(start), to_ms(end), measurement, *params],
        )
        return _series_of(rows, len(fields))

    def _field_texts(
        self, measurement: str, field: str, start: datetime, end: datetime
    ) -> tuple[SeriesColumns, np.ndarray]:
        """The points of the range and the JSON text of one field at each ('' where absent):
        a boolean field by SERIES_STATES, any other (or a mix) from its parsed JSON. Whether
        the field is boolean is first judged by the newest points (`latest`)."""
        name = f'"{field}":'
        other = "json_type(fields, ?) NOT IN ('true', 'false')"
        if not self._execute(
            f"SELECT 1 FROM latest WHERE measurement = ? AND {other} LIMIT 1",
            [measurement, f"$.{field}"],
        ):
            rows = self._execute(
                SERIES_STATES,
                [f"{name}true", f"{name}false", name, to_ms(start), to_ms(end), measurement],
            )
            states = "".join(row[2] for row in rows)
            if "?" not in states:
                codes = np.frombuffer(states.encode("ascii"), dtype=np.uint8)
                texts = STATE_TEXTS[(codes == ord("t")) + 2 * (codes == ord("f"))]
                return _series_of(rows, 0), texts
        columns = self._series_columns(measurement, [field], start, end)
        texts = columns.values[0].split("\x1f") if len(columns.times) else []
        return columns, np.array(texts, dtype=object)

    def append_events(self, events: Iterable[Event]) -> None:
        rows = [
            (
                e.stream,
                e.key,
                e.time_ns,
                e.origin,
                e.event_id,
                e.kind,
                e.actor,
                e.note,
                json.dumps(e.data, ensure_ascii=False),
            )
            for e in events
        ]
        conn = self._connection()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    rows,
                )
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    def events(
        self, stream: str, key: str | None = None, since: datetime | None = None
    ) -> list[Event]:
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?"
        params: list = [stream]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        if since is not None:
            sql += " AND time_ns >= ?"
            params.append(to_ms(since) * 1_000_000)
        rows = self._execute(sql + " ORDER BY time_ns, event_id", params)
        return [_event(r) for r in rows]

    def latest_events(self, stream: str) -> dict[str, Event]:
        rows = self._execute(
            f"""
            SELECT {EVENT_COLUMNS} FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY key ORDER BY time_ns DESC, event_id DESC) AS newest
                FROM events WHERE stream = ?)
            WHERE newest = 1
            """,
            [stream],
        )
        return {e.key: e for e in map(_event, rows)}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file, self._ready = None, False

    def backup(self, destination: Path) -> None:
        """A consistent copy of the store in `destination` (a new file), taken while others
        write: SQLite's online backup in one step is one read transaction, which in WAL mode
        never blocks a writer."""
        self.check()
        partial = destination.with_name(destination.name + ".partial")
        try:
            source = self._connect()
            try:
                with contextlib.closing(sqlite3.connect(partial)) as copy:
                    source.backup(copy)
                    problems = _problems(copy)
            finally:
                source.close()
            if problems:
                raise StoreError(f"the copy of {self.path} is damaged: {problems}")
            _fsync(partial)
            os.replace(partial, destination)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot back up {self.path} to {destination}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)


class StoreInUse(StoreError):
    """A restore was asked for a store that running processes use."""


def restore(source: Path, path: Path, timeout_seconds: float = 1.0) -> None:
    """Put the backup `source` in place of the store at `path`, which no process may be using."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        ) as backup:
            problems = _problems(backup)
            if problems:
                raise StoreError(f"{source} is not a backup of this store: {problems}")
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = _lock(path, fcntl.LOCK_EX, timeout_seconds)
            try:
                with contextlib.closing(sqlite3.connect(path)) as target:
                    backup.backup(target)
                    target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                _fsync(path)
            finally:
                os.close(lock)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot restore {source} to {path}: {exc}") from exc


def _problems(conn: sqlite3.Connection) -> str:
    """What is wrong with a database that should be this store ("" when nothing)."""
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    missing = sorted({"points", "latest", "events"} - tables)
    if missing:
        return f"it has no table {', '.join(missing)}"
    return "" if check == "ok" else f"quick_check says {check}"


def _lock(path: Path, kind: int, timeout_seconds: float) -> int:
    """A flock on `<path>.lock` (kind: shared or exclusive), waiting at most timeout_seconds."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreUnavailable(f"cannot open {lock_path}: {exc}") from exc
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            fcntl.flock(descriptor, kind | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(descriptor)
                if kind == fcntl.LOCK_EX:
                    raise StoreInUse(
                        f"{path} is in use by a running wall, feed or alert process: "
                        "stop them first"
                    ) from None
                raise StoreUnavailable(f"{path} is being restored; try again") from None
            time.sleep(0.05)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _tag_clause(where: TagFilter | None, tags: str = "tags") -> tuple[str, list]:
    clause, params = "", []
    for key, values in tag_filter_values(where).items():
        clause += f" AND json_extract({tags}, '$.{key}') IN ({','.join('?' * len(values))})"
        params.extend(values)
    return clause, params


@dataclass(frozen=True)
class SeriesColumns:
    """The points of several series (SERIES_COLUMNS), series after series, each in time order."""

    tags: list[dict[str, str]]  # of each series
    sizes: np.ndarray  # how many points each series has
    times: np.ndarray  # int64 ms, of each point
    values: list[str]  # per field, the points' JSON texts joined by \x1f, '' where absent


def _series_of(rows: list[tuple], fields: int) -> SeriesColumns:
    """SeriesColumns of the rows of SERIES_COLUMNS with `fields` value columns (or of
    SERIES_STATES, with none read)."""
    times = ",".join(row[1] for row in rows)
    return SeriesColumns(
        tags=[json.loads(row[0]) for row in rows],
        sizes=np.array([row[1].count(",") + 1 for row in rows], dtype=np.int64),
        times=np.fromstring(times, dtype=np.int64, sep=",") if rows else np.empty(0, np.int64),
        values=["\x1f".join(row[2 + i] for row in rows) for i in range(fields)],
    )


def _field_values(
    text: str, points: int, field: str, numeric: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Which of the points have the field and, when `numeric`, the values of those that do:
    int64 when all are integers, else float64, true and false as 1 and 0 (as SQLite's
    json_extract gives them). Text cannot be aggregated but counted."""
    if points and (not text or text[0] == "\x1f" or text[-1] == "\x1f" or "\x1f\x1f" in text):
        texts = text.split("\x1f")
        has = np.fromiter((t != "" for t in texts), dtype=bool, count=points)
        text = "\x1f".join(t for t in texts if t)
    else:
        has = np.ones(points, dtype=bool)
    if not numeric or not has.any():
        return has, None if not numeric else np.empty(0, dtype=np.int64)
    if NOT_A_NUMBER.search(text) is None:
        floats = "." in text or "e" in text or "E" in text
        values = np.fromstring(
            text.replace("\x1f", ","), dtype=np.float64 if floats else np.int64, sep=","
        )
    else:
        decoded = [_json_value_of(t) for t in text.split("\x1f")]
        if any(isinstance(v, str) for v in decoded):
            raise StoreError(f"field {field} holds text: it can be counted, not aggregated")
        values = np.array([int(v) if isinstance(v, bool) else v for v in decoded])
    if len(values) != has.sum():
        raise StoreError(f"field {field}: a stored value is not JSON")
    return has, values


_json_value_of = functools.lru_cache(maxsize=4096)(json.loads)  # a state field has few values


def _aggregated(
    fn: str, keys: np.ndarray, columns: list[tuple[np.ndarray, np.ndarray | None]]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """`fn` per key of each column (which points count, their values): the keys where any column
    has a value, in order, and each column's (has, result) at those keys."""
    reduced = [_reduce(fn, keys[has], numbers) for has, numbers in columns]
    cells = np.concatenate([k for k, _ in reduced]) if reduced else keys[:0]
    if len(reduced) > 1:
        cells = np.sort(cells)
        cells = cells[np.r_[True, cells[1:] != cells[:-1]]] if len(cells) else cells
    return cells, [_placed(cells, k, result) for k, result in reduced]


def _reduce(fn: str, keys: np.ndarray, values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`fn` of the values of each key: (the distinct keys in order, their results)."""
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else keys[:0]
    sizes = np.diff(np.r_[starts, len(keys)])
    if fn == "count" or not len(keys):
        return keys[starts], sizes
    values = values[order]
    if fn == "mean":
        return keys[starts], np.add.reduceat(values.astype(np.float64), starts) / sizes
    reduce = {"sum": np.add, "max": np.maximum, "min": np.minimum}[fn]
    results = reduce.reduceat(values, starts)
    wraps = fn == "sum" and results.dtype == np.int64  # where SQLite's sum() raises an error
    if wraps and (abs(np.add.reduceat(values.astype(np.float64), starts)) >= 2.0**63).any():
        raise StoreError("a sum does not fit a 64-bit integer")
    return keys[starts], results


def _placed(cells: np.ndarray, keys: np.ndarray, results: np.ndarray) -> tuple[np.ndarray, ...]:
    """The results of `keys` (some of the sorted `cells`) at their cells: (has, values)."""
    has = np.zeros(len(cells), dtype=bool)
    values = np.zeros(len(cells), dtype=results.dtype)
    at = np.searchsorted(cells, keys)
    has[at] = True
    values[at] = results
    return has, values


def _column(has: np.ndarray, values: np.ndarray) -> np.ndarray | list:
    """The values as a frame column, missing where not `has`: what pandas makes of the values,
    None where missing, as rows (NaN in a numeric column, None in a column of nothing)."""
    if has.all():
        return values
    if not has.any():
        return [None] * len(has)
    return np.where(has, values.astype(np.float64), np.nan)


def _point_row(point: Point) -> tuple:
    return (
        point.measurement,
        point.series,
        point.time_ms,
        point.series,
        json.dumps(point.fields, ensure_ascii=False, separators=(",", ":")),
    )


def _frame_rows(columns: FrameColumns) -> tuple[list[tuple], list[tuple]]:
    """The rows `write` would build for the frame's points, and those of them that can change
    `latest`: the newest of each series (all of them if several have its newest time). The
    other rows are older than one of those, so UPSERT_LATEST would end as if they were never
    written."""
    series = _json_objects(columns.tags, len(columns))
    codes, distinct = pd.factorize(series)
    # Series by series, in time order (stable: points written twice keep their order), so the
    # inserts walk each series' pages once instead of hopping between series at every time.
    order = np.lexsort((columns.time_ms, codes))
    series, codes, ts = series[order], codes[order], columns.time_ms[order]
    rows = list(
        zip(
            repeat(columns.measurement),
            series,
            ts.tolist(),
            series,
            _json_objects(columns.fields, len(columns))[order],
            strict=False,
        )
    )
    newest = np.full(len(distinct), np.iinfo(np.int64).min)
    np.maximum.at(newest, codes, ts)
    return rows, [rows[i] for i in np.flatnonzero(ts == newest[codes]).tolist()]


def _json_objects(columns: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """Per row, json.dumps({name: value, …}) as `write` encodes tags (the series) and fields."""
    text = np.full(rows, "{", dtype=object)
    for n, (name, values) in enumerate(columns.items()):
        prefix = ("," if n else "") + _json_value(name) + ":"
        text += encoded(values, lambda v, prefix=prefix: prefix + _json_value(v))
    return text + "}"


_encode_text = json.JSONEncoder(ensure_ascii=False).encode


def _json_value(value: object) -> str:
    """json.dumps(value, ensure_ascii=False) of a name or field value, without building an
    encoder for each value (json writes ints and floats by their repr)."""
    if isinstance(value, str):
        return _encode_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _decode(rows: list[tuple]) -> list[dict]:
    """The rows as points: one json.loads of all their tags and one of all their fields, which
    for thousands of rows is a third cheaper than two per row."""
    tags = json.loads("[" + ",".join(row[1] for row in rows) + "]")
    fields = json.loads("[" + ",".join(row[2] for row in rows) + "]")
    return [{"time": row[0], **t, **f} for row, t, f in zip(rows, tags, fields, strict=True)]


def _event(row: tuple) -> Event:
    return decode_event(dict(zip(EVENT_COLUMNS.split(", "), row, strict=True)))


__all__ = ["SQLiteStore", "StoreError"]
