"""Embedded store: one SQLite file in WAL mode, one writer process and any number of readers.

Points keep tags and fields as JSON; a `latest` table, kept by the same transaction that writes a
point, answers "newest point of every camera" without scanning history. The event log refuses
UPDATE and DELETE by trigger: it is append-only in fact, not by convention.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
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

# The points of one measurement in a time range, series by series: each series' points are one
# range of the primary key, read in order, where the time index would look each point up apart.
# Parameters: start, end (ms), measurement.
SERIES_SCAN = """(SELECT l.series, p.ts, p.tags, p.fields FROM latest l CROSS JOIN points p
    ON p.measurement = l.measurement AND p.series = l.series AND p.ts >= ? AND p.ts < ?
    WHERE l.measurement = ?)"""
SQL_AGGREGATES = {"mean": "avg", "max": "max", "min": "min", "sum": "sum", "count": "count"}
WRITE_BATCH = 5000
FRAME_BATCH = 100_000  # rows of a frame per transaction
FRAME_CACHE_KIB = 256 * 1024
FRAME_CHECKPOINT = 65_536  # pages (of 4 KiB): 256 MiB of log


class SQLiteStore(Store):
    def __init__(self, path: str | Path, timeout_seconds: float = 10.0):
        self.path = Path(path)
        self.timeout_seconds = timeout_seconds
        self._local = threading.local()
        self._ready = False

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
            conn.execute("PRAGMA synchronous=NORMAL")
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

    def write(self, points: Iterable[Point]) -> int:
        conn = self._connection()
        written = 0
        batch: list[tuple] = []
        for point in points:
            batch.append(_point_row(point))
            if len(batch) >= WRITE_BATCH:
                written += self._write_batch(conn, batch)
                batch = []
        if batch:
            written += self._write_batch(conn, batch)
        return written

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
        except sqlite3.OperationalError as exc:
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
        rows = self._execute(
            f"""
            SELECT ts, tags, fields FROM (
                SELECT ts, tags, fields, row_number() OVER (
                    PARTITION BY json_extract(tags, ?) ORDER BY ts DESC, series) AS newest
                FROM latest
                WHERE measurement = ? AND ts >= ? AND json_extract(tags, ?) IS NOT NULL)
            WHERE newest = 1{excluded}
            """,
            [path, measurement, to_ms(since) if since else -(2**62), path, *parameters],
        )
        return points_frame(_decode(rows), leading=[entity])

    def changes(
        self, measurement: str, field: str, entity: str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("field", field)
        check_name("tag", entity)
        # One row per series with its times and values in time order (the scan reads each series
        # along its key, and GROUP BY keeps that order without a sort): comparing neighbours here
        # is several times cheaper than SQLite's lag() window, which sorts every point.
        # `->` gives each value as JSON text: true and 1 stay apart, and no JSON text holds \x1f.
        rows = self._execute(
            f"""
            SELECT json_extract(tags, ?), group_concat(ts), group_concat(value, char(31)) FROM (
                SELECT series, ts, tags, fields -> ? AS value FROM {SERIES_SCAN})
            WHERE value IS NOT NULL GROUP BY series
            """,
            [f"$.{entity}", f"$.{field}", to_ms(start), to_ms(end), measurement],
        )
        per_entity: dict[str, list[tuple[np.ndarray, list[str]]]] = {}
        for key, times, values in rows:
            if key is not None:  # else a series without the entity tag
                per_entity.setdefault(str(key), []).append(
                    (np.fromstring(times, dtype=np.int64, sep=","), values.split("\x1f"))
                )
        decode = functools.lru_cache(maxsize=4096)(json.loads)  # a state field has few values
        changed = []
        for key, runs in per_entity.items():
            times, values = runs[0]
            if len(runs) > 1 or (np.diff(times) < 0).any():  # e.g. an entity that moved ward
                times = np.concatenate([run[0] for run in runs])
                order = np.argsort(times, kind="stable")
                every = [value for run in runs for value in run[1]]
                times, values = times[order], [every[i] for i in order]
            changed += [
                {"time": int(times[i]), entity: key, field: decode(values[i])}
                for i in range(len(values))
                if i == 0 or values[i] != values[i - 1]
            ]
        return points_frame(changed, leading=[entity, field])

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
        every_ms = check_aggregate(fn, every, combine)
        check_name("measurement", measurement)
        fields, names = aggregated_fields(field)
        by = [check_name("tag", b) for b in by]
        clause, params = _tag_clause(where)
        group_columns = "".join(f", json_extract(tags, '$.{b}') AS {b}" for b in by)
        group_by = "".join(f", {b}" for b in by)
        values = "".join(f", json_extract(fields, ?) AS v{i}" for i in range(len(fields)))
        windows = f"""
            SELECT window{group_by},
                {", ".join(f"{SQL_AGGREGATES[fn]}(v{i}) AS v{i}" for i in range(len(fields)))}
            FROM (
                SELECT ts - (ts % ?) AS window{group_columns}{values}
                FROM {SERIES_SCAN} WHERE 1{clause})
            WHERE ({" OR ".join(f"v{i} IS NOT NULL" for i in range(len(fields)))})
                {"".join(f" AND {b} IS NOT NULL" for b in by)}
            GROUP BY window{group_by}
            """
        params = [
            every_ms,
            *(f"$.{f}" for f in fields),
            to_ms(start),
            to_ms(end),
            measurement,
            *params,
        ]
        if combine is not None:
            combined = ", ".join(f"{SQL_AGGREGATES[combine]}(v{i})" for i in range(len(fields)))
            rows = self._execute(
                f"SELECT window, {combined} FROM ({windows}) GROUP BY window", params
            )
            by = []
        else:
            rows = self._execute(windows, params)
        return points_frame(
            (
                {
                    "time": r[0],
                    **dict(zip(by, r[1 : 1 + len(by)], strict=True)),
                    **dict(zip(names, r[1 + len(by) :], strict=True)),
                }
                for r in rows
            ),
            leading=[*by, *names],
        )

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


def _tag_clause(where: TagFilter | None) -> tuple[str, list]:
    clause, params = "", []
    for key, values in tag_filter_values(where).items():
        clause += f" AND json_extract(tags, '$.{key}') IN ({','.join('?' * len(values))})"
        params.extend(values)
    return clause, params


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


def _decode(rows: Iterable[tuple]) -> Iterable[dict]:
    for ts, tags, fields in rows:
        yield {"time": ts, **json.loads(tags), **json.loads(fields)}


def _event(row: tuple) -> Event:
    return decode_event(dict(zip(EVENT_COLUMNS.split(", "), row, strict=True)))


__all__ = ["SQLiteStore", "StoreError"]
