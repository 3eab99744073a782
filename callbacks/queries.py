"""The store questions the screens ask, each answered through the shared cache.

A part is one question (e.g. "newest point of every camera"); screens list the parts they draw
from, and two screens (or fifty kiosks) asking for the same part in one tick share one answer.
Live parts are held for one refresh tick, history parts for `history_refresh_seconds`.

A screen's parts are asked at once. A tick waits for a live part this process has answered
before (a fold of the last few seconds). A part it has no answer for yet (a cold cache: a first
read of days of history), or a history part due again, is waited for the setting
`first_read_wait_seconds` at most; past that the tick is drawn with that part's last answer
(this process's, or the one kept in the shared cache for an hour: a restarted or newly asked
wall process shows what the others showed), or shows it as loading, and the read goes on for the
ticks after it: a cold wall answers at once and fills in, instead of holding every kiosk for the
slowest read. An incremental part (wall.store.newest) is folded forward each tick; the tick that
finds its hourly read from scratch due still folds, and that read runs in the background, once
at a time across the wall's processes, for the ticks after it to fold from.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import pandas as pd
from flask import current_app

from layouts.alerts import alerts_frame
from layouts.cameras import HISTORY as CAMERA_HISTORY
from layouts.cameras import fold_outages
from layouts.common import Parts
from layouts.indicators import TREND_POINTS
from layouts.wifi import (
    CURVE_WINDOW,
    THROUGHPUT_WINDOW,
    throughput_series,
    usual_town_band,
)
from wall.alerts.rules import check_rules
from wall.alerts.state import alerts_changed_since
from wall.baselines import last_hour_end
from wall.cache import in_background, remember, remembered, shared
from wall.city import load_profile
from wall.domain import CLOSED_REPORT_STATUSES, FIELD_REPORT, is_open_report
from wall.settings import Settings
from wall.store import Store, open_store
from wall.store.newest import Incremental, Previous, newest, refold_due
from wall.submissions import latest_values, sent_shared

log = logging.getLogger(__name__)
REPORTS_KEPT = timedelta(days=90)
# The screens draw the open reports of any age and count those created or closed in 24 h.
REPORTS_RECENT = timedelta(hours=24)
REPORT = FIELD_REPORT.entity
ALERT_HISTORY = timedelta(days=7)
COUNTERS_HISTORY = timedelta(hours=3)
PREVIOUS_KEPT_SECONDS = 3600
# A read from scratch in the background keeps others from starting one this long at most, should
# the wall process die while reading (a city's InfluxDB took 6-25 s on a busy 2-core machine).
REFOLD_HELD_SECONDS = 600


@dataclass(frozen=True)
class Part:
    """One question: asked whole each time, or (an `Incremental`) folded forward from its
    previous answer, of which the screens see only the frame."""

    # (store, now, the wall's settings: None in tests that ask a part without a wall)
    fetch: Callable[[Store, datetime, Settings | None], pd.DataFrame] | Incremental
    history: bool = False  # held for history_refresh_seconds instead of one tick
    hold_seconds: float | None = None  # held this long instead (periods aligned to the clock)


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
    return throughput_series(counters, now)


def _outages_from_scratch(store: Store, now: datetime) -> Previous:
    changes = store.changes("camera_status", "online", "camera_id", now - CAMERA_HISTORY, now)
    return now, fold_outages(None, changes, now), now


def _outages_folded(store: Store, now: datetime, previous: Previous) -> Previous:
    """Outages folded forward from the previous answer with only the points since then, and of
    those only the ones where a camera went offline or came back (`Store.changes`)."""
    since, spans, born = previous
    if since <= now - CAMERA_HISTORY:
        return _outages_from_scratch(store, now)
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


def _kpi_sent(store: Store, now: datetime, settings: Settings) -> pd.DataFrame:
    return sent_shared(store, settings.profile, now, settings.tz)


def _alerts(store: Store, now: datetime, _: object) -> pd.DataFrame:
    """The alerts not closed, and those closed with an event in the last week, from the state
    the store keeps (wall.alerts.state): one question, however long the log."""
    return alerts_frame(alerts_changed_since(store, now - ALERT_HISTORY))


def _wifi_usual(store: Store, now: datetime, settings: Settings | None) -> pd.DataFrame:
    """The town's usual clients per curve window, a day back and FORECAST ahead (layouts.wifi.
    usual_town_band), from one aggregate: the town's clients per whole hour over the anomaly
    rule's `weeks` (answered from the hourly rollups past the raw points kept). Held an hour:
    what is usual changes when an hour ends, not at each tick."""
    profile = settings.profile if settings is not None else load_profile()
    rules = (settings.alert_rules if settings is not None else None) or check_rules({})
    anomaly = rules["anomaly"]
    end = last_hour_end(now)
    hourly = store.aggregate(
        "wifi_usage",
        "clients",
        "mean",
        end - timedelta(weeks=anomaly["weeks"]),
        end,
        timedelta(hours=1),
        ["ap_id"],
        combine="sum",
    )
    return usual_town_band(
        hourly,
        now,
        profile.timezone,
        profile.festival_days,
        anomaly["deviations"],
        anomaly["weeks"],
        profile.holidays,
    )


REPORTS_HANDLED = timedelta(days=30)

PARTS: dict[str, Part] = {
    "cameras": Part(newest("camera_status", "camera_id")),
    "wifi": Part(newest("wifi_usage", "ap_id")),
    "reports": Part(newest(FIELD_REPORT.name, REPORT, _open_reports_and_recent, open_or_recent)),
    "kpi": Part(newest("kpi", "indicator_id")),
    "kpi_submitted": Part(lambda s, now, _: latest_values(s)),
    # When the automated sources sent each indicator's period just ended (a day's precision).
    "kpi_sent": Part(_kpi_sent, history=True),
    # Each report changed within the accountability screen's window: its on-time figures.
    "reports_handled": Part(
        lambda s, now, _: s.latest(FIELD_REPORT.name, REPORT, now - REPORTS_HANDLED)
    ),
    "feeds": Part(newest("feed_health", "feed")),
    "alerts": Part(_alerts),
    "camera_outages": Part(Incremental(_outages_from_scratch, _outages_folded), history=True),
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
    "wifi_usual": Part(_wifi_usual, history=True, hold_seconds=3600.0),
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
        self._reading: dict[str, Future[pd.DataFrame]] = {}  # at most one read a part
        self._last: dict[str, pd.DataFrame] = {}  # each part's last answer in this process

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings)
            return self._store

    def _held_seconds(self, name: str) -> float:
        if PARTS[name].hold_seconds is not None:
            return PARTS[name].hold_seconds
        history = PARTS[name].history
        return self.settings.history_refresh_seconds if history else self.settings.refresh_seconds

    def part(self, name: str) -> pd.DataFrame:
        spec = PARTS[name]

        def compute() -> pd.DataFrame:
            now = datetime.now(UTC)
            if not isinstance(spec.fetch, Incremental):
                answer = spec.fetch(self.store, now, self.settings)
                remember(f"last:{name}", answer, PREVIOUS_KEPT_SECONDS)  # see _answer_kept
                return answer
            previous = self._previous(name, now)
            if previous is None:  # nothing to fold forward from
                state = spec.fetch.scratch(self.store, now)
            else:
                if refold_due(previous, now):
                    self._refold_behind(name, spec.fetch)
                state = spec.fetch.fold(self.store, now, previous)
            # Kept past one refresh, so the next fold only reads the points since this one.
            remember(f"previous:{name}", state, PREVIOUS_KEPT_SECONDS)
            return state[1]

        return shared(f"part:{name}", self._held_seconds(name), compute)

    def _previous(self, name: str, now: datetime) -> Previous | None:
        """The last tick's answer, or once that is due for a read from scratch the background
        read's answer if there is one: a tick that folded the older answer forward while that
        read ran must not put the read aside."""
        previous = remembered(f"previous:{name}")
        if previous is not None and not refold_due(previous, now):
            return previous
        kept = (previous, remembered(f"refolded:{name}"))
        return max((p for p in kept if p is not None), key=lambda p: p[2], default=None)

    def _refold_behind(self, name: str, question: Incremental) -> None:
        """Read the part whole in the background (once at a time across the wall's processes);
        the ticks after it fold forward from that answer."""

        def refold() -> None:
            state = question.scratch(self.store, datetime.now(UTC))
            remember(f"refolded:{name}", state, PREVIOUS_KEPT_SECONDS)

        in_background(f"refold:{name}", REFOLD_HELD_SECONDS, refold)

    def parts(self, names: tuple[str, ...]) -> Parts:
        """The parts this tick can draw: each asked in a thread of the pool, with the app (the
        cache) the caller has. A part that fails raises here as if asked alone; one not read in
        time (see the module's docstring) is its last answer, or left out: loading."""
        deadline = time.monotonic() + self.settings.first_read_wait_seconds
        reads = {name: self._read(name) for name in names}
        ready = [
            read for name, read in reads.items() if name in self._last and not PARTS[name].history
        ]
        wait(ready)
        # Of a part this process never answered, another process may have: looked up while the
        # reads run, to show should its read not end in time.
        last = {
            name: self._answer_kept(name)
            for name, read in reads.items()
            if name not in self._last and not read.done()
        }
        last.update(self._last)
        wait(reads.values(), timeout=max(0.0, deadline - time.monotonic()))
        answers = Parts()
        for name, read in reads.items():
            if read.done():
                answers[name] = read.result()  # a failure raises here, and the screen says so
                continue
            if last.get(name) is not None:
                answers[name] = last[name]
            if not hasattr(read, "passed_over"):  # no tick will see how it ends: log a failure
                read.passed_over = True
                read.add_done_callback(partial(_log_failure, name))
        return answers

    def _answer_kept(self, name: str) -> pd.DataFrame | None:
        """The part's last answer in the shared cache, from whichever process read it: an
        incremental part's previous state holds it; the others are kept on their own."""
        if isinstance(PARTS[name].fetch, Incremental):
            previous = remembered(f"previous:{name}")
            return None if previous is None else previous[1]
        return remembered(f"last:{name}")

    def wait_for_reads(self, timeout: float | None = None) -> bool:
        """Whether the reads under way in this process (those a tick did not wait for) ended
        within `timeout`: a kiosk's next tick then draws every part."""
        with self._lock:
            underway = list(self._reading.values())
        return not wait(underway, timeout=timeout).not_done

    def _read(self, name: str) -> Future[pd.DataFrame]:
        """The read of `name` under way in this process, or a new one."""
        app = current_app._get_current_object()

        def read() -> pd.DataFrame:
            with app.app_context():
                answer = self.part(name)
            self._last[name] = answer
            return answer

        with self._lock:
            underway = self._reading.get(name)
            if underway is None or underway.done():
                underway = self._reading[name] = _in_daemon_thread(f"part-{name}", read)
            return underway


def _in_daemon_thread(name: str, work: Callable[[], pd.DataFrame]) -> Future[pd.DataFrame]:
    """`work` in a thread of its own (at most one a part: one part's long first read never holds
    up another), a daemon: a wall process that stops does not wait for a read no tick will see
    (a gunicorn worker still reading past `graceful_timeout` is killed, and says so)."""
    future: Future[pd.DataFrame] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work())
        except BaseException as exc:  # raised to whoever asks the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _log_failure(name: str, read: Future[pd.DataFrame]) -> None:
    if read.exception() is not None:
        log.warning("part %s: %s", name, read.exception())
