"""Embedded store: one SQLite file in WAL mode, one writer process and any number of readers.

Schema on write, as InfluxDB's: a series (a measurement and its tags) is one row of `series`,
stored once; each measurement has a table of its points keyed by (series, time), with one typed
column per field, added when the field first appears (its type then fixed: a point giving it
another type is refused, as InfluxDB refuses it); a float or text value equal to the previous
point's is not stored again (Column). So a point is a few numbers, not its tags and fields as
text (issue 12: 389 bytes per message before, 52 now; docs/benchmarks.md), and reads build their
frames from typed columns without parsing JSON. A `latest_<n>` table per measurement, kept
by the same transaction that writes a point, answers "newest point of every camera" without
scanning history. The event log refuses UPDATE and DELETE by trigger: it is append-only in fact,
not by convention.

The store records its layout in `PRAGMA user_version` (SCHEMA_VERSION); a store of the earlier
layout (version 1: points as JSON) is rewritten by `python -m wall migrate` (`migrate` below),
never silently, and a store of a later version is refused.

Every process using the store holds a shared lock on `<file>.lock`: a restore or a migration
takes it exclusively, so it never rewrites a store a wall, feed or alert process is using, and a
process starting meanwhile waits for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from wall.settings_core import SettingsError
from wall.store.base import (
    ALL_TIME,
    Aggregate,
    Event,
    FieldFilter,
    FieldValue,
    FrameColumns,
    InvalidPoint,
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
    encoded,
    field_filter_values,
    frame_columns,
    from_ms,
    fsync_path,
    points_frame,
    refused_items,
    tag_filter_values,
    to_ms,
)
from wall.store.reports import refuse_first_shape
from wall.writable import require_writable, require_writable_file

# 1: points and latest as JSON text (up to 2026-12); 2: series, typed columns per measurement.
SCHEMA_VERSION = 2
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS measurements (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE IF NOT EXISTS series (
        id INTEGER PRIMARY KEY,
        measurement TEXT NOT NULL,
        tags TEXT NOT NULL,
        UNIQUE (measurement, tags))""",
    # A field's column in its measurement's tables is f<id>; its type never changes. `bit`: its
    # place in `same` (NULL: never left out; see Column).
    """CREATE TABLE IF NOT EXISTS fields (
        measurement TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        id INTEGER NOT NULL UNIQUE,
        bit INTEGER,
        PRIMARY KEY (measurement, name)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        stream TEXT NOT NULL,
        key TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        origin TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        note TEXT,
        data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS events_by_key ON events (stream, key, time_ns)",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (stream, time_ns)",
    # Each key's state folded from its events (Store.put_key_states): a copy, never the record.
    """CREATE TABLE IF NOT EXISTS key_states (
        stream TEXT NOT NULL,
        key TEXT NOT NULL,
        events INTEGER NOT NULL,
        through_ns INTEGER NOT NULL,
        through_id TEXT NOT NULL,
        open INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (stream, key)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS key_states_open ON key_states (stream, open, through_ns)",
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END""",
]
# The tables of one measurement (id n): every point, and the newest point of each series.
MEASUREMENT_TABLES = [
    """CREATE TABLE points_{n} (
        series_id INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        same INTEGER,
        PRIMARY KEY (series_id, time_ms)) WITHOUT ROWID""",
    "CREATE TABLE latest_{n} (series_id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL)",
]
# Field types as InfluxDB names them, and the SQLite column type of each (true and false are
# stored as 1 and 0 and read back as booleans by the field's type).
COLUMN_TYPES = {"boolean": "INTEGER", "integer": "INTEGER", "float": "REAL", "string": "TEXT"}
# Values of these types take 8 bytes or more: one equal to the previous point's is left out.
REPEATED_TYPES = ("float", "string")
MAX_BITS = 62
# A value is left out only if the previous point is in the same hour (UTC), so a read finds any
# value it must fill in at most an hour before its range.
SAME_SPAN_MS = 3_600_000
EVENT_COLUMNS = "stream, key, time_ns, origin, event_id, kind, actor, note, data"
KEY_STATE_COLUMNS = "key, events, through_ns, through_id, open, data"
KEYS_PER_STATEMENT = 500  # keys named in one `IN (…)`, far below SQLite's variable limit
# The points of one measurement in a range, series after series, each in time order: the series
# table drives (each series is one range of the primary key). Parameters: start, end (ms),
# measurement, *tag filter.
SERIES_POINTS = """
SELECT p.series_id, p.time_ms, p.same{columns} FROM series s CROSS JOIN points_{n} p
    ON p.series_id = s.id AND p.time_ms >= ? AND p.time_ms < ?
WHERE s.measurement = ?{clause}
"""
WRITE_BATCH = 5000
REMOVE_STEP = 2000  # old points removed a statement (bench: the longest step, docs/benchmarks.md)
FRAME_BATCH = 100_000  # rows of a frame per transaction
FRAME_CACHE_KIB = 256 * 1024
FRAME_CHECKPOINT = 65_536  # pages (of 4 KiB): 256 MiB of log
MAX_CACHED_SERIES = 200_000


def field_type(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "float" if isinstance(value, float) else "string"


@dataclass(frozen=True)
class Column:
    """A field's column (f<id>) and type. A float or text field also has a bit (a power of 2;
    0 for none): a point whose value equals that of the series' previous point, in the same
    hour, stores NULL and sets the bit in its `same` column. So a camera's name, latitude and
    longitude are not stored again with every status (the write path compares with the newest
    point, kept in latest_<id>), and reads fill them in from the point before."""

    name: str
    type: str
    bit: int = 0


@dataclass
class Table:
    """A measurement's tables (points_<id>, latest_<id>) and its fields by name."""

    id: int
    fields: dict[str, Column] = field(default_factory=dict)

    def columns(self, names: Sequence[str], prefix: str = "") -> str:
        return "".join(f", {prefix}{self.fields[n].name}" for n in names)

    def bits(self, names: Sequence[str], offset: int) -> list[tuple[int, int]]:
        """(place in a row, bit) of the named fields that have one, their values from `offset`."""
        return [(offset + i, self.fields[n].bit) for i, n in enumerate(names) if self.fields[n].bit]


class Catalog:
    """What one connection knows of the store's measurements, fields and series. Rows of these
    are never changed or removed, so what is known stays true; what is missing is asked again
    inside the write transaction (another process may have added it) and added if still
    missing. After a failed transaction the catalog is dropped (what it added was rolled back)."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.series: dict[tuple[str, str], int] = {}

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Measurements and fields as stored (another process may have added some)."""
        ids = dict(conn.execute("SELECT name, id FROM measurements"))
        self.tables = {name: Table(n) for name, n in ids.items()}
        for measurement, name, type_, n, bit in conn.execute(
            "SELECT measurement, name, type, id, bit FROM fields"
        ):
            self.tables[measurement].fields[name] = _stored_column(type_, n, bit)

    def table(self, conn: sqlite3.Connection, measurement: str) -> Table:
        table = self.tables.get(measurement)
        if table is None:
            n = conn.execute("INSERT INTO measurements (name) VALUES (?)", [measurement]).lastrowid
            for statement in MEASUREMENT_TABLES:
                conn.execute(statement.format(n=n))
            table = self.tables[measurement] = Table(n)
        return table

    def column(
        self, conn: sqlite3.Connection, measurement: str, table: Table, name: str, type_: str
    ) -> str:
        """The field's column, added with `type_` if new; InvalidPoint if it has another type."""
        known = table.fields.get(name)
        if known is None:
            n, bits = conn.execute(
                "SELECT coalesce(max(id), 0) + 1, (SELECT count(bit) FROM fields "
                "WHERE measurement = ?) FROM fields",
                [measurement],
            ).fetchone()
            bit = bits if type_ in REPEATED_TYPES and bits < MAX_BITS else None
            conn.execute(
                "INSERT INTO fields VALUES (?, ?, ?, ?, ?)", [measurement, name, type_, n, bit]
            )
            for kind in ("points", "latest"):
                conn.execute(f"ALTER TABLE {kind}_{table.id} ADD COLUMN f{n} {COLUMN_TYPES[type_]}")
            known = table.fields[name] = _stored_column(type_, n, bit)
        elif known.type != type_:
            raise InvalidPoint(
                f"field {name} of {measurement} holds {known.type} values, not {type_}: "
                "a field keeps the type it was first written with"
            )
        return known.name

    def series_id(self, conn: sqlite3.Connection, measurement: str, tags: str) -> int:
        key = (measurement, tags)
        found = self.series.get(key)
        if found is None:
            if len(self.series) >= MAX_CACHED_SERIES:
                self.series.clear()
            conn.execute(
                "INSERT INTO series (measurement, tags) VALUES (?, ?) ON CONFLICT DO NOTHING", key
            )
            found = self.series[key] = conn.execute(
                "SELECT id FROM series WHERE measurement = ? AND tags = ?", key
            ).fetchone()[0]
        return found


def _upsert_points(table: Table, names: Sequence[str]) -> str:
    """Insert points with these fields; a point already stored for that series and time takes
    their values, keeping its other fields (writing a point again merges, as InfluxDB does)."""
    points = f"points_{table.id}"
    given = sum(table.fields[n].bit for n in names)  # their values are given now: not `same`
    sets = [f"same = nullif(coalesce({points}.same, 0) & ~{given}, 0)"]
    sets += [f"{table.fields[n].name} = excluded.{table.fields[n].name}" for n in names]
    return (
        f"INSERT INTO {points} (series_id, time_ms, same{table.columns(names)}) "
        f"VALUES (?, ?, ?{', ?' * len(names)}) ON CONFLICT (series_id, time_ms) DO UPDATE SET "
        + ", ".join(sets)
    )


def _upsert_latest(table: Table, names: Sequence[str]) -> str:
    """The newest point of each series: a newer point replaces it (fields it lacks are cleared),
    a point of the same time merges into it, an older one changes nothing."""
    latest, given = f"latest_{table.id}", {table.fields[n].name for n in names}
    sets = [f"time_ms = max({latest}.time_ms, excluded.time_ms)"]
    for column in (c.name for c in table.fields.values()):
        if column in given:
            newer = f"excluded.time_ms >= {latest}.time_ms THEN excluded.{column}"
        else:
            newer = f"excluded.time_ms > {latest}.time_ms THEN NULL"
        sets.append(f"{column} = CASE WHEN {newer} ELSE {column} END")
    return (
        f"INSERT INTO {latest} (series_id, time_ms{table.columns(names)}) "
        f"VALUES (?, ?{', ?' * len(names)}) ON CONFLICT (series_id) DO UPDATE SET "
        + ", ".join(sets)
    )


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
            self._open()
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode. Setting the journal mode can answer "database is locked" at
        once, without SQLite's busy wait (seen while another process opened the same file), so
        it is tried again within the store's timeout like any other lock wait."""
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            try:
                return self._connect_once()
            except sqlite3.Error as exc:
                locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
                time.sleep(0.05)

    def _connect_once(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout_seconds, isolation_level=None)
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.SYNCHRONOUS}")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout_seconds * 1000)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def check(self) -> None:
        self._open()
        refuse_first_shape(self)

    def _open(self) -> None:
        """Open the store, creating it if new. A store of another layout version is refused with
        SettingsError (one line, exit 2): run `python -m wall migrate`, or a newer wall. What
        `migrate` and `backup` need of a store whose reports are of the first shape."""
        if self._ready:
            return
        # A folder or file this user may not write is no passing failure: exit 2.
        require_writable(self.path.parent, "IOC_STORE", "keep the store")
        for suffix in ("", "-wal", "-shm", ".lock"):
            file = self.path.with_name(self.path.name + suffix)
            require_writable_file(file, "IOC_STORE", "write the store")
        self._lock_file = _lock(self.path, fcntl.LOCK_SH, self.timeout_seconds)
        conn = self._connect()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                version = _version(conn)
                if version == 1:
                    raise SettingsError(
                        "IOC_STORE",
                        f"{self.path} is a store of version 1 (points as JSON), which this wall "
                        "no longer reads: stop the wall, feeds and alert service, then run "
                        "`python -m wall migrate` (`--dry-run` first shows what it will do)",
                    )
                if version > SCHEMA_VERSION:
                    raise SettingsError(
                        "IOC_STORE",
                        f"{self.path} is a store of version {version}, written by a newer wall; "
                        f"this one reads version {SCHEMA_VERSION}: run the newer wall",
                    )
                _create(conn)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot prepare SQLite store {self.path}: {exc}") from exc
        except SettingsError:
            self.close()
            raise
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

    def _catalog(self) -> Catalog:
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = self._local.catalog = Catalog()
        return catalog

    def write(self, points: Iterable[Point]) -> int:
        points = list(points)
        refused: list[tuple[Point, str]] = []
        for start in range(0, len(points), WRITE_BATCH):
            chunk = points[start : start + WRITE_BATCH]
            try:
                self._write_points(chunk)
            except RequestRefused as refusal:  # rolled back: the others are written again
                found = refused_items(chunk, refusal, self._write_points)
                refused += [(chunk[i], why) for i, why in found]
        if refused:
            raise PointsRefused(refused, len(points) - len(refused))
        return len(points)

    def _write_points(self, batch: Sequence[Point]) -> int:
        return self._write_batch(lambda conn: _point_rows(conn, self._catalog(), batch))

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
                part = columns.rows(start, start + FRAME_BATCH)
                self._write_batch(lambda conn, part=part: _frame_rows(conn, self._catalog(), part))
        finally:
            for name, value in before.items():
                conn.execute(f"PRAGMA {name}={value}")
        return len(columns)

    def _write_batch(
        self,
        rows_of: Callable[[sqlite3.Connection], list[Rows]],
        then: Callable[[sqlite3.Connection], object] | None = None,
    ) -> int:
        """One transaction: `rows_of(conn)` names the series and adds the fields it needs (in
        the transaction, so a refused point leaves nothing behind), then the rows are written,
        then `then(conn)` runs."""
        conn = self._connection()
        written = 0
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                self._catalog().refresh(conn)
                newest: dict[int, dict[int, tuple[int, dict]]] = {}
                for rows in rows_of(conn):
                    _write_rows(conn, rows, newest.setdefault(rows.table.id, {}))
                    written += len(rows.rows)
                if then is not None:
                    then(conn)
        except BaseException as exc:
            self._local.catalog = None
            if isinstance(exc, InvalidPoint):  # a field given another type than it has
                raise RequestRefused(str(exc)) from exc
            if isinstance(exc, sqlite3.IntegrityError):  # a constraint (or trigger) refused a row
                raise RequestRefused(f"SQLite store {self.path} refused the point: {exc}") from exc
            if isinstance(exc, sqlite3.Error):  # disk full, read-only, locked, not a database
                raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
            raise
        return written

    def _table(self, measurement: str) -> Table | None:
        """The measurement's tables and fields as stored now (inside a snapshot)."""
        found = self._execute("SELECT id FROM measurements WHERE name = ?", [measurement])
        if not found:
            return None
        table = Table(found[0][0])
        for name, type_, n, bit in self._execute(
            "SELECT name, type, id, bit FROM fields WHERE measurement = ?", [measurement]
        ):
            table.fields[name] = _stored_column(type_, n, bit)
        return table

    def _range_rows(
        self,
        table: Table,
        names: Sequence[str],
        measurement: str,
        start: datetime,
        end: datetime,
        clause: str,
        params: list,
        extra: str = "",
    ) -> list[tuple]:
        """The points of start <= time < end of the series passing `clause` (on `s.tags`) and
        `extra` (on `p`), series after series in time order: (series id, time ms, same, *values
        of `names`), the values left out as the previous point's filled in."""
        start_ms, bits = to_ms(start), table.bits(names, 3)
        first = start_ms - start_ms % SAME_SPAN_MS if bits else start_ms
        rows = self._execute(
            SERIES_POINTS.format(
                columns=table.columns(names, "p."), n=table.id, clause=clause + extra
            ),
            [first, to_ms(end), measurement, *params],
        )
        return _filled(rows, bits, start_ms) if bits else rows

    def _field_points(
        self,
        table: Table,
        field: str,
        measurement: str,
        start: datetime,
        end: datetime,
        clause: str,
        params: list,
    ) -> list[np.ndarray]:
        """Series ids, times and values of the points of start <= time < end that have the
        field, series after series in time order. A boolean or integer field is read as one
        text a series (group_concat), not one Python row per point: the camera outages of a
        day are 30,000 points of 300 series."""
        column = table.fields[field]
        if column.bit or column.type in REPEATED_TYPES:
            rows = self._range_rows(
                table,
                [field],
                measurement,
                start,
                end,
                clause,
                params,
                f" AND (p.{column.name} IS NOT NULL OR p.same IS NOT NULL)",
            )
            rows = [(row[0], row[1], row[3]) for row in rows if row[3] is not None]
            if not rows:
                return []
            return [np.array(values) for values in zip(*rows, strict=True)]
        # Grouped by tags, the order the series are read in (the index of their names): SQLite
        # sorts nothing.
        rows = self._execute(
            f"SELECT s.id, group_concat(p.time_ms), group_concat(p.{column.name}) "
            f"FROM series s CROSS JOIN points_{table.id} p "
            "ON p.series_id = s.id AND p.time_ms >= ? AND p.time_ms < ? "
            f"WHERE s.measurement = ?{clause} AND p.{column.name} IS NOT NULL GROUP BY s.tags",
            [to_ms(start), to_ms(end), measurement, *params],
        )
        if not rows:
            return []
        sizes = [row[1].count(",") + 1 for row in rows]

        def numbers(at: int) -> np.ndarray:
            return np.fromstring(",".join(row[at] for row in rows), dtype=np.int64, sep=",")

        return [np.repeat(np.array([row[0] for row in rows]), sizes), numbers(1), numbers(2)]

    def _series_tags(self, measurement: str, clause: str, params: list) -> dict[int, str]:
        """The tags (JSON text) of the measurement's series that pass the `clause` on `s.tags`."""
        return dict(
            self._execute(
                f"SELECT s.id, s.tags FROM series s WHERE s.measurement = ?{clause}",
                [measurement, *params],
            )
        )

    def points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        return self._points(measurement, start, end, where)

    def _points(
        self, measurement: str, start: datetime, end: datetime, where: TagFilter | None = None
    ) -> pd.DataFrame:
        clause, params = _tag_clause(where, "s.tags")
        with self._snapshot():
            table = self._table(measurement)
            if table is None:
                return points_frame([])
            names = list(table.fields)
            rows = self._range_rows(table, names, measurement, start, end, clause, params)
            tags = _decoded_tags(self._series_tags(measurement, clause, params))
        return points_frame(_point_dicts(rows, tags, table, names, skip=1))

    def latest(
        self,
        measurement: str,
        entity: str,
        since: datetime | None = None,
        unless: FieldFilter | None = None,
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("entity", entity)
        filters = field_filter_values(unless)
        with self._snapshot():
            table = self._table(measurement)
        if table is not None and entity in table.fields:
            return self._newest_of_field(measurement, entity, since, filters)
        with self._snapshot():
            table = self._table(measurement)
            if table is None:
                return points_frame([], leading=[entity])
            names = list(table.fields)
            of_entities = (
                f"FROM series s CROSS JOIN latest_{table.id} l ON l.series_id = s.id "
                "WHERE s.measurement = ? AND l.time_ms >= ? AND json_extract(s.tags, ?) IS NOT NULL"
            )
            parameters = [measurement, to_ms(since) if since else -(2**62), f"$.{entity}"]
            # An entity's newest point is that of its newest series. Only an entity with several
            # (e.g. a camera that moved ward) needs them all read and compared here; otherwise
            # `unless` leaves rows out in SQL (5,000 reports, most of them closed).
            several_series = self._execute(
                f"SELECT count(*) > count(DISTINCT json_extract(s.tags, ?)) {of_entities}",
                [f"$.{entity}", *parameters],
            )[0][0]
            excluded, values = "", []
            for name, unwanted in filters.items():
                if name in table.fields and not several_series:  # a missing field matches none
                    column = table.fields[name].name
                    excluded += (
                        f" AND coalesce(l.{column} IN ({','.join('?' * len(unwanted))}), 0) = 0"
                    )
                    values += unwanted
            rows = self._execute(
                f"SELECT l.series_id, l.time_ms, s.tags, json_extract(s.tags, ?)"
                f"{table.columns(names, 'l.')} {of_entities}{excluded}",
                [f"$.{entity}", *parameters, *values],
            )
        if several_series:  # of series as new, the first by their tags' text
            rows.sort(key=lambda row: (-row[1], row[2]))
            rows = list({row[3]: row for row in reversed(rows)}.values())
            for name, unwanted in filters.items():  # true and false are stored as 1 and 0
                at = 4 + names.index(name) if name in names else None
                rows = [row for row in rows if at is None or row[at] not in unwanted]
        tags = _decoded_tags({row[0]: row[2] for row in rows})
        return points_frame(_point_dicts(rows, tags, table, names, skip=2), leading=[entity])

    def _newest_of_field(
        self,
        measurement: str,
        entity: str,
        since: datetime | None,
        filters: dict[str, list[FieldValue]],
    ) -> pd.DataFrame:
        """`latest` of an entity that is a field (a report's id): every point since is read,
        the newest of each value picked from the rows, and only those made points."""
        start, end = ALL_TIME
        with self._snapshot():
            table = self._table(measurement)
            if table is None:
                return points_frame([], leading=[entity])
            names = list(table.fields)
            rows = self._range_rows(table, names, measurement, since or start, end, "", [])
            tags = _decoded_tags(self._series_tags(measurement, "", []))
        at = 3 + names.index(entity)  # rows: series id, time ms, same, *values of names
        newest: dict[FieldValue, tuple] = {}
        for row in rows:
            key = row[at]
            if key is not None and (key not in newest or row[1] >= newest[key][1]):
                newest[key] = row
        kept = list(newest.values())
        for name, unwanted in filters.items():  # true and false are stored as 1 and 0
            if name in names:
                column = 3 + names.index(name)
                kept = [row for row in kept if row[column] not in unwanted]
        return points_frame(_point_dicts(kept, tags, table, names, skip=1), leading=[entity])

    def tagged_series_span(self, measurement: str, tag: str) -> tuple[datetime, datetime] | None:
        check_name("measurement", measurement)
        check_name("tag", tag)
        with self._snapshot():
            table = self._table(measurement)
            if table is None:
                return None
            [(first, last)] = self._execute(
                f"SELECT min(p.time_ms), max(p.time_ms) FROM series s CROSS JOIN "
                f"points_{table.id} p ON p.series_id = s.id "
                "WHERE s.measurement = ? AND json_extract(s.tags, ?) IS NOT NULL",
                [measurement, f"$.{tag}"],
            )
        return None if first is None else (from_ms(first), from_ms(last))

    def tagged_series_points(
        self, measurement: str, tag: str, start: datetime, end: datetime
    ) -> list[Point]:
        check_name("measurement", measurement)
        check_name("tag", tag)
        clause, params = " AND json_extract(s.tags, ?) IS NOT NULL", [f"$.{tag}"]
        with self._snapshot():
            table = self._table(measurement)
            if table is None:
                return []
            names = list(table.fields)
            rows = self._range_rows(table, names, measurement, start, end, clause, params)
            tags = _decoded_tags(self._series_tags(measurement, clause, params))
        booleans = {n for n in names if table.fields[n].type == "boolean"}
        points = []
        for series_id, time_ms, _, *values in rows:
            fields = {
                name: bool(value) if name in booleans else value
                for name, value in zip(names, values, strict=True)
                if value is not None
            }
            points.append(Point(measurement, tags[series_id], fields, from_ms(time_ms)))
        return points

    def drop_tagged_series(self, measurement: str, tag: str) -> None:
        check_name("measurement", measurement)
        check_name("tag", tag)
        table = self._table(measurement)
        if table is None:
            return
        conn = self._connection()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                dropped = "SELECT id FROM series WHERE measurement = ? AND "
                dropped += "json_extract(tags, ?) IS NOT NULL"
                for name in (f"points_{table.id}", f"latest_{table.id}"):
                    conn.execute(
                        f"DELETE FROM {name} WHERE series_id IN ({dropped})",
                        [measurement, f"$.{tag}"],
                    )
                conn.execute(
                    f"DELETE FROM series WHERE id IN ({dropped})", [measurement, f"$.{tag}"]
                )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        self._local.catalog = None  # series ids it holds may be gone

    def changes(
        self, measurement: str, field: str, entity: str, start: datetime, end: datetime
    ) -> pd.DataFrame:
        check_name("measurement", measurement)
        check_name("field", field)
        check_name("entity", entity)
        with self._snapshot():
            table = self._table(measurement)
        if table is not None and entity in table.fields:
            return changes_of_field(self._points(measurement, start, end), field, entity)
        of_entities = " AND json_extract(s.tags, ?) IS NOT NULL"
        with self._snapshot():
            table = self._table(measurement)
            known = table is not None and field in table.fields
            columns: list[np.ndarray] = []
            if known:
                column = table.fields[field]
                columns = self._field_points(
                    table, field, measurement, start, end, of_entities, [f"$.{entity}"]
                )
                entity_of = dict(
                    self._execute(
                        f"SELECT s.id, json_extract(s.tags, ?) FROM series s "
                        f"WHERE s.measurement = ?{of_entities}",
                        [f"$.{entity}", measurement, f"$.{entity}"],
                    )
                )
        if not columns or not len(columns[0]):
            return points_frame({"time": [], entity: [], field: []}, leading=[entity, field])
        series, times, values = columns
        names = sorted(set(entity_of.values()))
        codes = {name: code for code, name in enumerate(names)}
        distinct, at = np.unique(series, return_inverse=True)
        entities = np.array([codes[entity_of[s]] for s in distinct.tolist()], np.int64)[at]
        if len(names) < len(distinct):  # e.g. an entity that moved ward
            order = np.lexsort((times, entities))  # stable: ties keep their series' order
            times, entities, values = times[order], entities[order], values[order]
        first_or_new = np.ones(len(times), dtype=bool)
        first_or_new[1:] = (entities[1:] != entities[:-1]) | (values[1:] != values[:-1])
        changed = values[first_or_new].tolist()
        return points_frame(
            {
                "time": times[first_or_new],
                entity: np.array(names, dtype=object)[entities[first_or_new]],
                field: [bool(v) for v in changed] if column.type == "boolean" else changed,
            },
            leading=[entity, field],
        )

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
        """Aggregated in numpy from the fields' typed columns, as SQLite's avg, sum, max, min and
        count would: integers stay integers, true and false count as 1 and 0 (`last` of a
        boolean stays one)."""
        every_ms = check_aggregate(fn, every, combine)
        check_name("measurement", measurement)
        fields, names = aggregated_fields(field)
        by = [check_name("tag", b) for b in by]
        clause, params = _tag_clause(where, "s.tags")
        found: dict[str, tuple[str, list[np.ndarray]]] = {}  # field: (type, points)
        tags: dict[int, dict[str, str]] = {}
        with self._snapshot():
            table = self._table(measurement)
            for name in fields:
                if table is not None and name in table.fields:
                    points = self._field_points(
                        table, name, measurement, start, end, clause, params
                    )
                    if points:
                        found[name] = (table.fields[name].type, points)
            if found:
                tags = _decoded_tags(self._series_tags(measurement, clause, params))
        groups: dict[tuple, int] = {}  # values of the `by` tags: a series without one is left out
        group_of: dict[int, int] = {}  # of each series

        def grouped(series: np.ndarray) -> np.ndarray:
            distinct, at = np.unique(series, return_inverse=True)
            for s in distinct.tolist():
                if s not in group_of:
                    key = tuple(tags[s].get(b) for b in by)
                    group_of[s] = groups.setdefault(key, len(groups)) if None not in key else -1
            return np.array([group_of[s] for s in distinct.tolist()], dtype=np.int64)[at]

        if fn == "last":  # in time order: each key's newest value is its last one (_reduce)
            for name, (type_, (series, t, values)) in found.items():
                order = np.argsort(t, kind="stable")
                values = values[order].astype(bool) if type_ == "boolean" else values[order]
                found[name] = (type_, [series[order], t[order], values])
        # Windows aligned to the epoch as SQL's ts - ts % every (truncated toward zero).
        windows = {name: t - np.fmod(t, every_ms) for name, (_, (_, t, _)) in found.items()}
        first = min((int(w.min()) for w in windows.values()), default=0)
        last = max((int(w.max()) for w in windows.values()), default=first)
        window_count = (last - first) // every_ms + 1
        counted = []  # per field: the key (group, window) of each point counted, its value
        for name in fields:
            if name not in found:
                counted.append((np.empty(0, np.int64), np.empty(0, np.int64)))
                continue
            type_, (series, _, values) = found[name]
            if type_ == "string" and fn not in ("count", "last"):
                raise StoreError(
                    f"field {name} holds text: it can be counted or its last value taken, "
                    "not aggregated"
                )
            groups_of_points = grouped(series)
            keys = groups_of_points * window_count + (windows[name] - first) // every_ms
            in_group = groups_of_points >= 0
            counted.append((keys[in_group], None if fn == "count" else values[in_group]))
        cells, results = _aggregated(fn, counted)
        group_names = list(groups)
        labels = [group_names[g] for g in (cells // window_count).tolist()] if len(cells) else []
        cells = cells % window_count if len(cells) else cells  # the window of each cell
        if combine is not None:
            cells, results = _aggregated(
                combine, [(cells[has], numbers[has]) for has, numbers in results]
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

    def shape(self, measurement: str) -> tuple[list[str], dict[str, str]]:
        check_name("measurement", measurement)
        with self._snapshot():
            tags = self._execute(
                "SELECT DISTINCT j.key FROM series s, json_each(s.tags) j "
                "WHERE s.measurement = ? ORDER BY j.key",
                [measurement],
            )
            table = self._table(measurement)
        types = {} if table is None else {n: c.type for n, c in table.fields.items()}
        return [row[0] for row in tags], dict(sorted(types.items()))

    def remove_points_before(self, measurement: str, before: datetime) -> int:
        """Series after series, at most REMOVE_STEP points a statement (its own transaction), so
        a writer waits for one short step at most. Whole hours only (before the hour `before`
        is in): a kept point may leave out a value of the point before it in its hour."""
        check_name("measurement", measurement)
        with self._snapshot():
            table = self._table(measurement)
        if table is None:
            return 0
        before_ms = to_ms(before) - to_ms(before) % SAME_SPAN_MS
        series = self._execute("SELECT id FROM series WHERE measurement = ?", [measurement])
        removed = 0
        for (series_id,) in series:
            while True:
                conn = self._connection()
                try:
                    gone = conn.execute(
                        f"DELETE FROM points_{table.id} WHERE series_id = ? AND time_ms IN "
                        f"(SELECT time_ms FROM points_{table.id} WHERE series_id = ? "
                        "AND time_ms < ? ORDER BY time_ms LIMIT ?)",
                        [series_id, series_id, before_ms, REMOVE_STEP],
                    ).rowcount
                except sqlite3.Error as exc:
                    raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
                removed += gone
                if gone < REMOVE_STEP:
                    break
        return removed

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
        self._execute_each(
            f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows
        )

    def _execute_each(self, sql: str, rows: list[tuple]) -> None:
        """`sql` for each row, in one transaction."""
        conn = self._connection()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, rows)
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

    def count_events(self, stream: str, keys: Collection[str] | None = None) -> dict[str, int]:
        sql = "SELECT key, count(*) FROM events WHERE stream = ?{keys} GROUP BY key"
        return dict(self._rows_of_keys(sql, [stream], keys))

    def key_states(
        self,
        stream: str,
        keys: Collection[str] | None = None,
        closed_since: datetime | None = None,
    ) -> dict[str, KeyState]:
        sql = f"SELECT {KEY_STATE_COLUMNS} FROM key_states WHERE stream = ?{{keys}}"
        params: list = [stream]
        if closed_since is not None:
            sql += " AND (open = 1 OR through_ns >= ?)"
            params.append(to_ms(closed_since) * 1_000_000)
        columns = KEY_STATE_COLUMNS.split(", ")
        rows = self._rows_of_keys(sql, params, keys)
        states = (decode_key_state(dict(zip(columns, row, strict=True))) for row in rows)
        return {state.key: state for state in states}

    def _rows_of_keys(self, sql: str, params: list, keys: Collection[str] | None) -> list[tuple]:
        """`sql` with `{keys}` as nothing, or as `AND key IN (…)` over `keys` a part at a time
        (the other parameters first)."""
        if keys is None:
            return self._execute(sql.format(keys=""), params)
        if not keys:
            return []
        keys, rows = sorted(keys), []
        for start in range(0, len(keys), KEYS_PER_STATEMENT):
            part = keys[start : start + KEYS_PER_STATEMENT]
            marks = ",".join("?" * len(part))
            rows += self._execute(sql.format(keys=f" AND key IN ({marks})"), [*params, *part])
        return rows

    def put_key_states(self, stream: str, states: Iterable[KeyState]) -> None:
        rows = [
            (
                stream,
                s.key,
                s.events,
                s.through_ns,
                s.through_id,
                int(s.open),
                json.dumps(s.data, ensure_ascii=False),
            )
            for s in states
        ]
        self._execute_each(
            f"INSERT INTO key_states (stream, {KEY_STATE_COLUMNS}) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT (stream, key) DO UPDATE SET events = excluded.events, "
            "through_ns = excluded.through_ns, through_id = excluded.through_id, "
            "open = excluded.open, data = excluded.data "
            "WHERE excluded.events > key_states.events",
            rows,
        )

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
        self._open()
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
            fsync_path(partial)
            os.replace(partial, destination)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot back up {self.path} to {destination}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)


class StoreInUse(StoreError):
    """A restore or migration was asked for a store that running processes use."""


MIGRATE_STEP = 50_000  # points per transaction
# What json_each calls the values of a store of version 1, as field types.
JSON_TYPES = {"true": "boolean", "false": "boolean", "integer": "integer", "real": "float"}
JSON_TYPES["text"] = "string"


def migrate(
    path: Path,
    dry_run: bool = False,
    report: Callable[[str], object] = print,
    step: int = MIGRATE_STEP,
    timeout_seconds: float = 1.0,
) -> None:
    """Rewrite a store of version 1 (points as JSON) into SCHEMA_VERSION, `step` points per
    transaction, each recording how far it got: interrupted, it goes on from there when run
    again; run on a store already rewritten, it does nothing. Takes the store's lock
    exclusively (StoreInUse if a wall, feed or alert process uses it). With `dry_run` it only
    reports what it would do, reading the store without changing it."""
    if dry_run:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            plan = _migration_plan(conn, path)
            if plan is not None:
                report(f"{path}: {plan.text()}; `wall migrate` would rewrite them. {plan.after}")
                report("Nothing was changed (dry run).")
            else:
                report(f"{path} is a store of version {SCHEMA_VERSION}: nothing to migrate")
        return
    lock = _lock(path, fcntl.LOCK_EX, timeout_seconds)
    store = SQLiteStore(path)
    try:
        conn = store._connect()
        store._local.conn, store._ready = conn, True  # the check would refuse version 1
        plan = _migration_plan(conn, path)
        if plan is None:
            report(f"{path} is a store of version {SCHEMA_VERSION}: nothing to migrate")
            return
        report(f"{path}: {plan.text()}; rewriting them")
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            _create(conn, version=False)
            conn.execute("CREATE TABLE IF NOT EXISTS migrated (measurement, series, ts)")
        after = conn.execute("SELECT measurement, series, ts FROM migrated").fetchone()
        done = 0
        if after is not None:
            done = conn.execute(
                "SELECT count(*) FROM points WHERE (measurement, series, ts) <= (?, ?, ?)", after
            ).fetchone()[0]
            report(f"going on after the {done:,} points rewritten before")
        while True:
            rows = conn.execute(
                "SELECT measurement, series, ts, fields FROM points "
                "WHERE (measurement, series, ts) > (?, ?, ?) ORDER BY measurement, series, ts "
                "LIMIT ?",
                [*(after or ("", "", 0)), step],
            ).fetchall()
            if not rows:
                break
            points = [plan.point(*row) for row in rows]
            after = rows[-1][:3]

            def record(conn: sqlite3.Connection, after: tuple = after) -> None:
                conn.execute("DELETE FROM migrated")
                conn.execute("INSERT INTO migrated VALUES (?, ?, ?)", after)

            done += store._write_batch(
                lambda conn, points=points: _point_rows(conn, store._catalog(), points), record
            )
            report(f"rewritten {done:,} of {plan.points:,} points")
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for table in ("points", "latest", "migrated"):
                conn.execute(f"DROP TABLE {table}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        report("compacting the file (VACUUM)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report(f"{path} is now a store of version {SCHEMA_VERSION}")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot migrate {path}: {exc}") from exc
    finally:
        store.close()
        os.close(lock)


@dataclass(frozen=True)
class MigrationPlan:
    points: int
    series: int
    types: dict[tuple[str, str], str]  # (measurement, field): its type in version 2
    widened: int  # integers of float fields, to be written as floats

    def text(self) -> str:
        measurements = len({m for m, _ in self.types})
        return (
            f"store version 1 with {self.points:,} points of {self.series:,} series in "
            f"{measurements} measurements, {len(self.types)} fields"
        )

    @property
    def after(self) -> str:
        widened = (
            f"{self.widened:,} integer values of fields that also hold decimals will be "
            "written as floats (a field has one type from version 2 on). "
            if self.widened
            else ""
        )
        return (
            f"{widened}The old tables are then dropped and the file compacted (VACUUM, which "
            "needs free disk space about the size of the new store)."
        )

    def point(self, measurement: str, series: str, ts: int, fields: str) -> Point:
        values = {
            name: float(value)
            if self.types[measurement, name] == "float" and not isinstance(value, float)
            else value
            for name, value in json.loads(fields).items()
        }
        return Point(measurement, json.loads(series), values, from_ms(ts))


def _migration_plan(conn: sqlite3.Connection, path: Path) -> MigrationPlan | None:
    """What rewriting a store of version 1 involves (None for a store of SCHEMA_VERSION);
    StoreError if it cannot be done: a newer store, or a field whose values cannot share a type."""
    version = _version(conn)
    if version == SCHEMA_VERSION:
        return None
    if version != 1:
        raise StoreError(f"{path} is a store of version {version}, not one this wall can migrate")
    found: dict[tuple[str, str], dict[str, int]] = {}
    for measurement, name, json_type, count in conn.execute(
        "SELECT p.measurement, j.key, j.type, count(*) FROM points p, json_each(p.fields) j "
        "GROUP BY 1, 2, 3"
    ):
        kinds = found.setdefault((measurement, name), {})
        kinds[JSON_TYPES[json_type]] = kinds.get(JSON_TYPES[json_type], 0) + count
    types, widened, mixed = {}, 0, []
    for (measurement, name), kinds in sorted(found.items()):
        if kinds.keys() == {"integer", "float"}:
            types[measurement, name], widened = "float", widened + kinds["integer"]
        elif len(kinds) > 1:
            counts = ", ".join(f"{count:,} {kind}" for kind, count in sorted(kinds.items()))
            mixed.append(f"field {name} of {measurement} holds {counts} values")
        else:
            types[measurement, name] = next(iter(kinds))
    if mixed:
        raise StoreError(
            f"{path} cannot be migrated: {'; '.join(mixed)}, and a field keeps one type "
            "from store version 2 on. Nothing was changed."
        )
    points = conn.execute("SELECT count(*) FROM points").fetchone()[0]
    series = conn.execute("SELECT count(*) FROM latest").fetchone()[0]
    return MigrationPlan(points, series, types, widened)


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
                fsync_path(path)
            finally:
                os.close(lock)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot restore {source} to {path}: {exc}") from exc


def _problems(conn: sqlite3.Connection) -> str:
    """What is wrong with a database that should be this store ("" when nothing)."""
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        version = _version(conn)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    # A backup of a store of version 1 is one too: the wall then asks for `wall migrate`.
    needed = {"points", "latest"} if version == 1 else {"measurements", "series", "fields"}
    missing = sorted({*needed, "events"} - tables)
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
                raise StoreUnavailable(
                    f"{path} is being restored or migrated; try again once that is done"
                ) from None
            time.sleep(0.05)


def _tag_clause(where: TagFilter | None, tags: str = "tags") -> tuple[str, list]:
    clause, params = "", []
    for key, values in tag_filter_values(where).items():
        clause += f" AND json_extract({tags}, '$.{key}') IN ({','.join('?' * len(values))})"
        params.extend(values)
    return clause, params


def _stored_column(type_: str, n: int, bit: int | None) -> Column:
    return Column(f"f{n}", type_, 0 if bit is None else 1 << bit)


def store_version(path: Path) -> int:
    """The layout version of the store at `path`, read without changing it."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return _version(c)


def _version(conn: sqlite3.Connection) -> int:
    """The store's layout version: PRAGMA user_version, or 1 for a store of the first layout
    (which left it 0), or 0 for a new file."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if (
        version == 0
        and conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'points'"
        ).fetchone()
    ):
        return 1
    return version


def _create(conn: sqlite3.Connection, version: bool = True) -> None:
    """The tables of a store of SCHEMA_VERSION, in the caller's transaction; with `version`,
    the store says it is of that version."""
    for statement in SCHEMA:
        conn.execute(statement)
    if version:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@dataclass(frozen=True)
class Rows:
    """Rows (series id, time ms, *values of `fields`) of one measurement's table, and the rows
    that can change its newest points (None: all of them)."""

    table: Table
    fields: tuple[str, ...]
    rows: list[tuple]
    newest: list[tuple] | None = None


def _point_rows(conn: sqlite3.Connection, catalog: Catalog, points: list[Point]) -> list[Rows]:
    """The points as rows, one Rows per measurement and set of fields, adding the series and
    fields they need; InvalidPoint for a field given another type than it has."""
    shapes: dict[tuple[str, tuple[str, ...]], list[tuple]] = {}
    for point in points:
        table = catalog.table(conn, point.measurement)
        fields = point.fields
        for name, value in fields.items():
            catalog.column(conn, point.measurement, table, name, field_type(value))
        series = catalog.series_id(conn, point.measurement, point.series)
        shapes.setdefault((point.measurement, tuple(fields)), []).append(
            (series, point.time_ms, *fields.values())
        )
    return [Rows(catalog.tables[m], names, rows) for (m, names), rows in shapes.items()]


FRAME_TYPES = {"b": "boolean", "i": "integer", "f": "float", "O": "string"}


def _frame_rows(conn: sqlite3.Connection, catalog: Catalog, columns: FrameColumns) -> list[Rows]:
    """The rows `write` would build for the frame's points, and those of them that can change
    the newest points: the newest of each series (all of them if several have its newest time).
    The other rows are older than one of those, so the latest upsert would end as if they were
    never written."""
    table = catalog.table(conn, columns.measurement)
    for name, values in columns.fields.items():
        catalog.column(conn, columns.measurement, table, name, FRAME_TYPES[values.dtype.kind])
    texts = _json_objects(columns.tags, len(columns))
    codes, distinct = pd.factorize(texts)
    ids = np.array(
        [catalog.series_id(conn, columns.measurement, t) for t in distinct.tolist()], np.int64
    )
    # Series by series, in time order (stable: points written twice keep their order), so the
    # inserts walk each series' pages once instead of hopping between series at every time.
    order = np.lexsort((columns.time_ms, codes))
    codes, ts = codes[order], columns.time_ms[order]
    rows = list(
        zip(
            ids[codes].tolist(),
            ts.tolist(),
            *(values[order].tolist() for values in columns.fields.values()),
            strict=True,
        )
    )
    newest = np.full(len(distinct), np.iinfo(np.int64).min)
    np.maximum.at(newest, codes, ts)
    at_newest = [rows[i] for i in np.flatnonzero(ts == newest[codes]).tolist()]
    return [Rows(table, tuple(columns.fields), rows, at_newest)]


def _write_rows(conn: sqlite3.Connection, rows: Rows, newest: dict[int, tuple[int, dict]]) -> None:
    """Write the rows, leaving out a value equal to the series' previous point's (Column).
    `newest`: time and repeatable values of each series' newest point, read from latest_<id>
    and kept up as the rows are written (the caller's, for the whole transaction)."""
    table, names = rows.table, rows.fields
    repeatable = [
        (2 + i, n, table.fields[n].bit) for i, n in enumerate(names) if table.fields[n].bit
    ]
    unknown = list({row[0] for row in rows.rows} - newest.keys())
    if unknown:
        kept = [(n, c.name) for n, c in table.fields.items() if c.bit]
        for series, time_ms, *values in conn.execute(
            f"SELECT series_id, time_ms{''.join(', ' + c for _, c in kept)} FROM latest_{table.id} "
            "WHERE series_id IN (SELECT value FROM json_each(?))",
            [json.dumps(unknown)],
        ):
            newest[series] = (time_ms, {n: v for (n, _), v in zip(kept, values, strict=True)})
    upsert, pending = _upsert_points(table, names), []
    for row in rows.rows:
        series, time_ms = row[0], row[1]
        previous = newest.get(series)
        if previous is None or time_ms > previous[0]:  # the series' newest point
            same, values = 0, list(row[2:])
            if previous is not None and time_ms // SAME_SPAN_MS == previous[0] // SAME_SPAN_MS:
                for at, name, bit in repeatable:
                    if row[at] == previous[1].get(name):
                        same |= bit
                        values[at - 2] = None
            newest[series] = (time_ms, {name: row[at] for at, name, _ in repeatable})
            pending.append((series, time_ms, same or None, *values))
        else:  # older than the newest, or at its time: given in full, its successor too
            if pending:
                conn.executemany(upsert, pending)
                pending = []
            _spell_out_next(conn, table, series, time_ms)
            conn.execute(upsert, (series, time_ms, None, *row[2:]))
            if time_ms == previous[0]:
                previous[1].update({name: row[at] for at, name, _ in repeatable})
    if pending:
        conn.executemany(upsert, pending)
    conn.executemany(
        _upsert_latest(table, names), rows.rows if rows.newest is None else rows.newest
    )


def _spell_out_next(conn: sqlite3.Connection, table: Table, series: int, time_ms: int) -> None:
    """Store in full the values the point after `time_ms` of the series left out: a point
    written before it, or merged into the one before, may change what it repeats."""
    points = f"points_{table.id}"
    after = conn.execute(
        f"SELECT time_ms, same FROM {points} WHERE series_id = ? AND time_ms > ? "
        "ORDER BY time_ms LIMIT 1",
        [series, time_ms],
    ).fetchone()
    if after is None or not after[1]:
        return
    left_out = [c.name for c in table.fields.values() if c.bit & after[1]]
    values = [  # the nearest value before it (all in the same hour: see Column)
        conn.execute(
            f"SELECT {name} FROM {points} WHERE series_id = ? AND time_ms < ? "
            f"AND {name} IS NOT NULL ORDER BY time_ms DESC LIMIT 1",
            [series, after[0]],
        ).fetchone()[0]
        for name in left_out
    ]
    conn.execute(
        f"UPDATE {points} SET same = NULL, {', '.join(f'{n} = ?' for n in left_out)} "
        "WHERE series_id = ? AND time_ms = ?",
        [*values, series, after[0]],
    )


def _filled(rows: list[tuple], bits: list[tuple[int, int]], start_ms: int) -> list[tuple]:
    """The rows (series id, time ms, same, *values; series after series in time order) from
    `start_ms` on, each value left out (its bit in `same`) filled in from the row before."""
    filled, series, last = [], None, {}
    for row in rows:
        if row[0] != series:
            series, last = row[0], {}
        same = row[2]
        if same:
            row = list(row)
            for at, bit in bits:
                if same & bit:
                    row[at] = last.get(at)
        for at, _ in bits:
            last[at] = row[at]
        if row[1] >= start_ms:
            filled.append(row)
    return filled


def _decoded_tags(texts: dict[int, str]) -> dict[int, dict[str, str]]:
    """Tags of each series, in one json.loads of them all (per series, never per point)."""
    decoded = json.loads("[" + ",".join(texts.values()) + "]")
    return dict(zip(texts, decoded, strict=True))


def _point_dicts(
    rows: list[tuple],
    tags: dict[int, dict[str, str]],
    table: Table,
    names: list[str],
    skip: int = 0,
) -> list[dict]:
    """Rows (series id, time ms, `skip` other values, *values of `names`) as points: time,
    tags, present fields."""
    booleans = {i for i, n in enumerate(names) if table.fields[n].type == "boolean"}
    points = []
    for series, time_ms, *values in rows:
        values = values[skip:]
        point = {"time": time_ms, **tags[series]}
        for i, value in enumerate(values):
            if value is not None:
                point[names[i]] = bool(value) if i in booleans else value
        points.append(point)
    return points


def _aggregated(
    fn: str, columns: list[tuple[np.ndarray, np.ndarray | None]]
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """`fn` per key of each column (the key of each value, the values): the keys where any
    column has a value, in order, and each column's (has, result) at those keys."""
    reduced = [_reduce(fn, keys, numbers) for keys, numbers in columns]
    cells = np.concatenate([k for k, _ in reduced]) if reduced else np.empty(0, np.int64)
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
    if fn == "last":  # the values came in time order, which the stable sort kept per key
        return keys[starts], values[np.r_[starts[1:], len(keys)] - 1]
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
    if values.dtype == object or values.dtype == bool:  # text, or `last` of a boolean
        return np.where(has, values.astype(object), None)
    return np.where(has, values.astype(np.float64), np.nan)


def _json_objects(columns: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """Per row, json.dumps({name: value, …}) as Point.series encodes a point's tags."""
    text = np.full(rows, "{", dtype=object)
    for n, (name, values) in enumerate(columns.items()):
        prefix = ("," if n else "") + _encode_text(name) + ":"
        text += encoded(values, lambda v, prefix=prefix: prefix + _encode_text(v))
    return text + "}"


_encode_text = json.JSONEncoder(ensure_ascii=False).encode


def _event(row: tuple) -> Event:
    return decode_event(dict(zip(EVENT_COLUMNS.split(", "), row, strict=True)))


__all__ = ["SQLiteStore", "StoreError"]
