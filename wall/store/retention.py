"""Retention and rollups (issue 12, "Months without losing a point"), the same on every backend.

A pass (`keep`) per measurement with a raw retention: the whole hours about to leave the raw
retention are rolled up (per series, per 5-minute and hourly window, of each field the parts
that fit it: ROLLUP_PARTS by its type, or those the town's schema names in wall.domain, such as
only the last value of a camera's place) into `<measurement>_5m` and `<measurement>_1h`, written
as points through the store; then a mark says from when raw points are kept
(Store.raw_kept_from), so `aggregate` reads older windows from the rollups; then the raw points
before it are removed in short steps (SQLite), or InfluxDB's retention policies get the
settings' durations (wall.store.policies) and the server removes them.
Rollups are made a day before their raw points go, so points arriving late are in them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from wall.store.base import (
    ROLLUP_MARKS,
    ROLLUP_PARTS,
    ROLLUP_SPANS,
    Point,
    Store,
    from_ms,
    rollup_field,
    rollup_measurement,
    to_ms,
)

HOUR_MS = 3_600_000
ROLLUP_AHEAD = timedelta(days=1)  # rollups are made this long before their raw points go


def roll_up(
    store: Store,
    measurement: str,
    start: datetime,
    end: datetime,
    parts: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Write the rollups of the whole hours between start and end; returns the points written.
    `parts`: of some fields, the parts kept (others: ROLLUP_PARTS of their type). Series
    without one of the measurement's tags are not rolled up."""
    tags, types = store.shape(measurement)
    parts = {f: (parts or {}).get(f, ROLLUP_PARTS[t]) for f, t in types.items()}
    written = 0
    hour = to_ms(start) - to_ms(start) % HOUR_MS
    while hour + HOUR_MS <= to_ms(end):
        for span in ROLLUP_SPANS:
            name = rollup_measurement(measurement, span)
            for frame in _rollup_frames(
                store, measurement, tags, types, parts, from_ms(hour), from_ms(hour + HOUR_MS), span
            ):
                written += store.write_frame(name, frame, tags)
        hour += HOUR_MS
    return written


def _rollup_frames(
    store: Store,
    measurement: str,
    tags: list[str],
    types: dict[str, str],
    parts: Mapping[str, Sequence[str]],
    start: datetime,
    end: datetime,
    span: timedelta,
) -> list[pd.DataFrame]:
    """The rollup points of start <= time < end as frames without missing values: one per set
    of fields present (most often one)."""
    merged = None
    kinds = {}  # the rollup fields holding integers or booleans: their type
    for part in ("sum", "count", "min", "max", "last"):
        fields = [f for f in types if part in parts[f]]
        if not fields:
            continue
        frame = store.aggregate_points(measurement, fields, part, start, end, span, tags)
        frame = frame.rename(columns={f: rollup_field(f, part) for f in fields})
        for f in fields:
            if part == "count" or types[f] == "integer":
                kinds[rollup_field(f, part)] = "int64"
            elif types[f] == "boolean":  # its last value
                kinds[rollup_field(f, part)] = "bool"
        merged = frame if merged is None else merged.merge(frame, on=["time", *tags], how="outer")
    if merged is None or merged.empty:
        return []
    columns = [c for c in merged.columns if c not in ("time", *tags)]
    present = merged[columns].notna().to_numpy()
    patterns = present @ (1 << np.arange(len(columns), dtype=object))
    frames = []
    for pattern in pd.unique(patterns):
        rows = patterns == pattern
        kept = [c for i, c in enumerate(columns) if pattern >> i & 1]
        frame = merged.loc[rows, ["time", *tags, *kept]]
        # A column with gaps is float (or object): integers (below 2**53) come back exact.
        frames.append(frame.astype({c: kinds[c] for c in kept if c in kinds}))
    return frames


def keep(
    store: Store,
    raw_days: Mapping[str, float],
    rollup_days: Mapping[timedelta, float],
    now: datetime,
    parts: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> dict[str, int]:
    """One retention pass; returns the raw points removed per measurement. `rollup_days`: the
    days the rollups of each of ROLLUP_SPANS are kept; `parts`: per measurement, the rollup
    parts of some fields (roll_up)."""
    marks = store.latest(ROLLUP_MARKS, "measurement")
    removed = {}
    for measurement, days in raw_days.items():
        raw_from = _hour(now - timedelta(days=days))
        until = _hour(now - timedelta(days=days) + ROLLUP_AHEAD)
        mine = marks[marks["measurement"] == measurement] if len(marks) else marks
        rolled = int(mine["rolled_until_ms"].iloc[0]) if len(mine) else None
        # Raw points go up to the previous pass's mark: a process reading with that mark (its
        # copy is kept ROLLUP_MARKS_SECONDS, Store.raw_kept_from) still finds them.
        previous = int(mine["raw_from_ms"].iloc[0]) if len(mine) else raw_from
        if rolled is None:
            oldest = now - timedelta(days=max(rollup_days.values()))
            rolled = _first_hour(store, measurement, oldest, until)
        if rolled is not None and rolled < until:
            roll_up(
                store, measurement, from_ms(rolled), from_ms(until), (parts or {}).get(measurement)
            )
        store.write(
            [
                Point(
                    ROLLUP_MARKS,
                    {"measurement": measurement},
                    {"rolled_until_ms": until, "raw_from_ms": raw_from},
                    from_ms(until),
                )
            ]
        )
        store.forget_rollup_marks()
        store.apply_retention(measurement)
        removed[measurement] = store.remove_points_before(
            measurement, from_ms(min(previous, raw_from))
        )
        for span in ROLLUP_SPANS:
            rollups = rollup_measurement(measurement, span)
            store.apply_retention(rollups)
            store.remove_points_before(rollups, now - timedelta(days=rollup_days[span]))
    return removed


def _hour(at: datetime) -> int:
    return to_ms(at) - to_ms(at) % HOUR_MS


def _first_hour(store: Store, measurement: str, start: datetime, end: int) -> int | None:
    """The hour of the measurement's oldest point from `start` on (None: no point)."""
    _, types = store.shape(measurement)
    if not types:
        return None
    days = store.aggregate_points(
        measurement, list(types), "count", start, from_ms(end), timedelta(days=1)
    )
    if days.empty:
        return None
    day = days["time"].iloc[0].to_pydatetime()
    hours = store.aggregate_points(
        measurement, list(types), "count", day, day + timedelta(days=1), timedelta(hours=1)
    )
    return to_ms(hours["time"].iloc[0].to_pydatetime())
