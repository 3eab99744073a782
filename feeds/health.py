"""Feed health: each worker writes its own counters as `feed_health` points, so the wall can
show a feed that went quiet, fell behind or is spooling because the store is down.

Counters (received, written, rejected, unknown_values: tag values the town does not know, stored
as "unknown") count from the worker's start; `spooled` is what waits in
the spool now; `last_message_age_s` is the time since the last message arrived; `lag_s` is how
long the oldest message not yet durably written has been waiting (0 when none is);
`store_problem` is why the store does not take the worker's writes ("" while it does): the
worker is unhealthy, holding everything back, until it is empty again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from feeds.ingest import Ingestor
from wall.domain import FEED_HEALTH
from wall.settings_core import SettingsError
from wall.store import Point, StoreError

log = logging.getLogger(__name__)


def health_point(feed: str, stats: dict, started: float, now: datetime) -> Point:
    """`started`: time.monotonic() of the worker's start, the age before any message came."""
    last = stats["last_message_time"]
    since = (now - last).total_seconds() if last is not None else time.monotonic() - started
    return Point(
        FEED_HEALTH.name,
        {"feed": feed},
        {
            "received": stats["received"],
            "written": stats["written"],
            "rejected": stats["rejected"],
            "unknown_values": stats["unknown_values"],
            "spooled": stats["spooled"],
            "last_message_age_s": round(max(0.0, since), 3),
            "lag_s": float(stats["lag_s"]),
            "store_problem": stats["store_problem"],
        },
        now,
    )


class HealthReporter:
    """Every `interval` seconds, a feed_health point through the ingestor's own write path (so
    it is batched like the data it describes). While the store refuses the worker's writes the
    point goes straight to the store first: in the spool it would reach the wall only once the
    refusal is over, and a store refusing some series (a tag-value limit) still takes it. One
    the store refuses too waits in the spool with the data, so the refusal stays on record."""

    def __init__(self, ingestor: Ingestor, feed: str, interval: float):
        self.ingestor = ingestor
        self.feed = feed
        self.interval = interval
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"health-{feed}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def report(self) -> None:
        stats = self.ingestor.stats
        point = health_point(self.feed, stats, self.started, datetime.now(UTC))
        if stats["store_problem"]:
            try:
                self.ingestor.store.write([point])
                return
            except (StoreError, SettingsError) as exc:  # refused too: kept with the data
                log.debug("%s: feed health not written past the spool: %s", self.feed, exc)
        self.ingestor.write_points([point])

    def stop(self) -> None:
        """Stop and write one last point (queued: the ingestor's close makes it durable)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.report()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()
