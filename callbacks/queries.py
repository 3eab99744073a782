"""The store questions the screens ask, each answered through the shared cache.

A part is one question (e.g. "newest point of every camera"); screens list the parts they draw
from, and two screens (or fifty kiosks) asking for the same part in one tick share one answer.
Live parts are held for one refresh tick, history parts for `history_refresh_seconds`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from layouts.alerts import alerts_frame
from layouts.cameras import HISTORY as CAMERA_HISTORY
from layouts.cameras import fold_outages
from layouts.indicators import TREND_POINTS
from layouts.wifi import CURVE_WINDOW, THROUGHPUT_WINDOW, throughput_series
from wall.alerts.model import STREAM as ALERT_STREAM
from wall.alerts.model import fold
from wall.cache import remember, remembered, shared
from wall.domain import CLOSED_REPORT_STATUSES, FIELD_REPORT, OPEN_REPORT_STATUSES
from wall.settings import Settings
from wall.store import Store, open_store

REPORTS_KEPT = timedelta(days=90)
# The screens draw the open reports of any age and count those created or closed in 24 h.
REPORTS_RECENT = timedelta(hours=24)
# A poll writes a request's version at its `updated_datetime`, which may be a poll or more old.
REPORTS_LATE = timedelta(minutes=15)
REPORT = FIELD_REPORT.entity
ALERT_HISTORY = timedelta(days=7)
COUNTERS_HISTORY = timedelta(hours=3)
PREVIOUS_KEPT_SECONDS = 3600


# (asked up to, answer, when last folded from scratch) of an incremental part.
Previous = tuple[datetime, pd.DataFrame, datetime]
# Points that reach the store late (a feed replaying its spool) are older than the last fold:
# an incremental answer is rebuilt from the whole history this often, so none is missed longer.
REFOLD_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Part:
    """One question. An incremental one gets its previous Previous and returns the next; the
    screens see only its answer."""

    fetch: Callable[[Store, datetime, Previous | None], pd.DataFrame | Previous]
    history: bool = False  # held for history_refresh_seconds instead of one tick
    incremental: bool = False


def _wifi_throughput(store: Store, now: datetime, _: object) -> pd.DataFrame:
    """The town's throughput per window, from each AP's counter values at the end of each
    window (max of a rising counter), both counters read in one pass."""
    counters = store.aggregate(
        "wifi_usage",
        ["rx_bytes", "tx_bytes"],
        "max",
        now - COUNTERS_HISTORY,
        now,
        THROUGHPUT_WINDOW,
        ["ap_id"],
    )
    return throughput_series(counters)


def _camera_outages(store: Store, now: datetime, previous: Previous | None) -> Previous:
    """Outages folded forward from the previous answer with only the points since then, and of
    those only the ones where a camera went offline or came back (`Store.changes`)."""
    since, spans, born = now - CAMERA_HISTORY, None, now
    if previous is not None and previous[0] > since and now - previous[2] < REFOLD_EVERY:
        since, spans, born = previous
    changes = store.changes("camera_status", "online", "camera_id", since, now)
    return now, fold_outages(spans, changes, now), born


def _reports(store: Store, now: datetime, previous: Previous | None) -> Previous:
    """Open reports of any age and every report changed in the last 24 h. Folded from scratch
    each REFOLD_EVERY; between folds only the reports changed since the last one are read, so
    a tick does not ask about 90 days of a city's closed reports."""
    if previous is not None and now - previous[2] < REFOLD_EVERY:
        asked, reports, born = previous
        changed = [reports, store.latest(FIELD_REPORT.name, REPORT, asked - REPORTS_LATE)]
    else:
        born = now
        closed = {"status": CLOSED_REPORT_STATUSES}
        changed = [
            store.latest(FIELD_REPORT.name, REPORT, now - REPORTS_KEPT, unless=closed),
            store.latest(FIELD_REPORT.name, REPORT, now - REPORTS_RECENT),
        ]
    return now, newest_open_or_recent([f for f in changed if not f.empty], now), born


def newest_open_or_recent(frames: list[pd.DataFrame], now: datetime) -> pd.DataFrame:
    """The newest row of each report among `frames`, keeping those open or changed lately."""
    if not frames:
        return pd.DataFrame(columns=["time", REPORT])
    newest = frames[0]  # one frame is already one row per report: a quiet tick sorts nothing
    if len(frames) > 1:
        merged = pd.concat(frames, ignore_index=True).sort_values(["time", REPORT], kind="stable")
        newest = merged.drop_duplicates(REPORT, keep="last")
    status = newest["status"] if "status" in newest.columns else pd.Series("", index=newest.index)
    keep = status.isin(OPEN_REPORT_STATUSES) | (newest["time"] >= now - REPORTS_RECENT)
    return newest[keep].reset_index(drop=True)


def _alerts(store: Store, now: datetime, _: object) -> pd.DataFrame:
    """Alerts folded from the log: the last week of events, plus the whole history of any key
    whose current episode began before that week (its newest event says it may still be on)."""
    since = now - ALERT_HISTORY
    latest = store.latest_events(ALERT_STREAM)
    events = {e.event_id: e for e in store.events(ALERT_STREAM, since=since)}
    raised_lately = {e.key for e in events.values() if e.kind == "raised"}
    for key, newest in latest.items():
        if key not in raised_lately and (newest.kind != "cleared" or newest.time >= since):
            events.update((e.event_id, e) for e in store.events(ALERT_STREAM, key=key))
    return alerts_frame(fold(events.values()))


PARTS: dict[str, Part] = {
    "cameras": Part(lambda s, now, _: s.latest("camera_status", "camera_id")),
    "wifi": Part(lambda s, now, _: s.latest("wifi_usage", "ap_id")),
    "reports": Part(_reports, incremental=True),
    "kpi": Part(lambda s, now, _: s.latest("kpi", "indicator_id")),
    "feeds": Part(lambda s, now, _: s.latest("feed_health", "feed")),
    "alerts": Part(_alerts),
    "camera_outages": Part(_camera_outages, history=True, incremental=True),
    "wifi_clients_48h": Part(
        lambda s, now, _: s.aggregate(
            "wifi_usage",
            "clients",
            "mean",
            now - timedelta(days=2),
            now,
            CURVE_WINDOW,
            ["ap_id"],
            combine="sum",
        ),
        history=True,
    ),
    "wifi_throughput_3h": Part(_wifi_throughput, history=True),
    "kpi_daily": Part(
        lambda s, now, _: s.aggregate(
            "kpi",
            "actual",
            "mean",
            now - timedelta(days=TREND_POINTS),
            now,
            timedelta(days=1),
            ["indicator_id"],
        ),
        history=True,
    ),
}


class Queries:
    """Answers parts through the cache; one store per process, opened on first use."""

    def __init__(self, settings: Settings, store: Store | None = None):
        self.settings = settings
        self._store = store
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    def part(self, name: str) -> pd.DataFrame:
        spec = PARTS[name]
        timeout = (
            self.settings.history_refresh_seconds if spec.history else self.settings.refresh_seconds
        )

        def compute() -> pd.DataFrame:
            now = datetime.now(UTC)
            if not spec.incremental:
                return spec.fetch(self.store, now, None)
            state = spec.fetch(self.store, now, remembered(f"previous:{name}"))
            # Kept past one refresh, so the next fold only reads the points since this one.
            remember(f"previous:{name}", state, PREVIOUS_KEPT_SECONDS)
            return state[1]

        return shared(f"part:{name}", timeout, compute)

    def parts(self, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
        return {name: self.part(name) for name in names}
