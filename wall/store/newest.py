"""The newest point of each entity, kept current by reading only what changed since.

"The newest point of every entity" over a month of a city's history is slow to ask (on InfluxDB
1.6 the open field reports of 90 days, one series each, take ~7 s; the last 15 minutes ~0.1 s).
The wall's screens and the alert evaluator both ask it every few seconds, so they read it whole
once per REFOLD_EVERY and in between fold the last minutes forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from wall.store.base import Store

# (asked up to, answer, when last folded from scratch) of an incremental question.
Previous = tuple[datetime, pd.DataFrame, datetime]
# Points that reach the store late (a feed replaying its spool) are older than the last fold:
# an incremental answer is rebuilt from the whole history this often, so none is missed longer.
REFOLD_EVERY = timedelta(hours=1)
# Points reach the store a little after their time (a worker's batch; an Open311 poll writes a
# request's version at its `updated_datetime`): each fold reads again this much before the last.
LATE = timedelta(minutes=15)


@dataclass(frozen=True)
class Incremental:
    """A question answered from scratch (`scratch(store, now)`) or folded forward from its
    previous answer with only the points since (`fold(store, now, previous)`). Called as
    `fetch(store, now, previous)` it does whichever is due: the wall's screens instead fold even
    when a refold is due and read from scratch in the background (callbacks.queries)."""

    scratch: Callable[[Store, datetime], Previous]
    fold: Callable[[Store, datetime, Previous], Previous]

    def __call__(self, store: Store, now: datetime, previous: Previous | None) -> Previous:
        if previous is None or refold_due(previous, now):
            return self.scratch(store, now)
        return self.fold(store, now, previous)


def refold_due(previous: Previous, now: datetime) -> bool:
    return now - previous[2] >= REFOLD_EVERY


def newest(
    measurement: str,
    entity: str,
    from_scratch: Callable[[Store, datetime], list[pd.DataFrame]] | None = None,
    keep: Callable[[pd.DataFrame, datetime], pd.Series] | None = None,
) -> Incremental:
    """The newest point of each entity: read whole (with `from_scratch`, or `latest`), or the
    previous answer with the points since folded in; `keep` leaves out the rows no reader
    needs."""

    def answer(frames: list[pd.DataFrame], now: datetime) -> pd.DataFrame:
        merged = newest_per_entity([f for f in frames if not f.empty], entity)
        if keep is not None and not merged.empty:
            merged = merged[keep(merged, now)].reset_index(drop=True)
        return merged

    def scratch(store: Store, now: datetime) -> Previous:
        frames = (from_scratch or (lambda s, _: [s.latest(measurement, entity)]))(store, now)
        return now, answer(frames, now), now

    def fold(store: Store, now: datetime, previous: Previous) -> Previous:
        asked, frame, born = previous
        return now, answer([frame, store.latest(measurement, entity, asked - LATE)], now), born

    return Incremental(scratch, fold)


def newest_per_entity(frames: list[pd.DataFrame], entity: str) -> pd.DataFrame:
    """The newest row of each entity among frames of newest points, ordered as the store orders
    them (time, then entity)."""
    if not frames:
        return pd.DataFrame(columns=["time", entity])
    if len(frames) == 1:  # already one row per entity: a quiet tick sorts nothing
        return frames[0]
    merged = pd.concat(frames, ignore_index=True).sort_values(["time", entity], kind="stable")
    return merged.drop_duplicates(entity, keep="last").reset_index(drop=True)
