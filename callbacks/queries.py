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
from wall.domain import CLOSED_REPORT_STATUSES, FIELD_REPORT, is_open_report
from wall.settings import Settings
from wall.store import Store, open_store
from wall.store.newest import REFOLD_EVERY, Previous, newest

REPORTS_KEPT = timedelta(days=90)
# The screens draw the open reports of any age and count those created or closed in 24 h.
REPORTS_RECENT = timedelta(hours=24)
REPORT = FIELD_REPORT.entity
ALERT_HISTORY = timedelta(days=7)
COUNTERS_HISTORY = timedelta(hours=3)
PREVIOUS_KEPT_SECONDS = 3600


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


def _open_reports_and_recent(store: Store, now: datetime) -> list[pd.DataFrame]:
    """A city's 90 days hold tens of thousands of closed reports: ask only for the open ones,
    and for everything changed in the last 24 h (the screens count those)."""
    closed = {"status": CLOSED_REPORT_STATUSES}
    return [
        store.latest(FIELD_REPORT.name, REPORT, now - REPORTS_KEPT, unless=closed),
        store.latest(FIELD_REPORT.name, REPORT, now - REPORTS_RECENT),
    ]


def open_or_recent(reports: pd.DataFrame, now: datetime) -> pd.Series:
    return is_open_report(reports) | (reports["time"] >= now - REPORTS_RECENT)


def _alerts(store: Store, now: datetime, _: object) -> pd.DataFrame:
    """Alerts folded from the log: the last week of events, plus the whole history of any key
    whose current episode began before that week (its newest event says it may still be on)."""
    since = now - ALERT_HISTORY
    latest = store.latest_events(ALERT_STREAM)
    events = {e.event_id: e for e in store.events(ALERT_STREAM, since=since)}
    raised_lately = {e.key for e in events.values() if e.kind == "raised"}
    for key, last_event in latest.items():
        if key not in raised_lately and (last_event.kind != "cleared" or last_event.time >= since):
            events.update((e.event_id, e) for e in store.events(ALERT_STREAM, key=key))
    return alerts_frame(fold(events.values()))


PARTS: dict[str, Part] = {
    "cameras": Part(newest("camera_status", "camera_id"), incremental=True),
    "wifi": Part(newest("wifi_usage", "ap_id"), incremental=True),
    "reports": Part(
        newest(FIELD_REPORT.name, REPORT, _open_reports_and_recent, open_or_recent),
        incremental=True,
    ),
    "kpi": Part(newest("kpi", "indicator_id"), incremental=True),
    "feeds": Part(newest("feed_health", "feed"), incremental=True),
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
