"""The one validation-and-write path of the feeds: messages in, batches of points into the store.

The simulator's in-process mode calls `Ingestor.handle` for each message, the MQTT worker
`Ingestor.handle_batch` for each batch its receiver process hands over. Validation runs on the
caller's thread (it is pure and fast); everything slow (store writes, spool fsyncs,
replays) runs on one background writer thread, batch after batch, so `on_durable` callbacks fire
in the order messages arrived. When the store fails for a reason about itself (unreachable,
database missing, may not write, a size limit: StoreUnavailable), batches go to the on-disk spool
and are replayed, oldest first, before anything newer once the store takes writes again. When the
spool is full, `handle` and `handle_batch` block: the caller stops reading rather than dropping
data. Only the points the store refuses for what they are (PointsRefused) are dropped: counted,
logged and dead-lettered, the rest of their batch stored.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.known_values import KnownValues, town_values
from feeds.payloads import RejectedMessage, parse_message
from feeds.spool import Spool, SpoolFull
from wall.settings_core import SettingsError
from wall.store import Point, PointsRefused, Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
REJECT_LOG_SECONDS = 60.0
RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 15.0
MAX_REJECT_REASONS = 1000


class RejectLog:
    """At most one log line per reason per `interval` seconds, counting the lines held back."""

    def __init__(self, interval: float = REJECT_LOG_SECONDS):
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def reject(self, topic: str, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._last) > MAX_REJECT_REASONS:  # reasons quoting values: stay bounded
                self._last.clear()
                self._suppressed.clear()
            last = self._last.get(reason)
            if last is not None and now - last < self.interval:
                self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
                return
            self._last[reason] = now
            held_back = self._suppressed.pop(reason, 0)
        more = (
            f" (and {held_back} more like it in the last {self.interval:g} s)" if held_back else ""
        )
        log.warning("rejected message on %s: %s%s", topic, reason, more)


@dataclass
class _Item:
    points: Sequence[Point]
    on_durable: Callable[[], None] | None
    arrived: float  # time.monotonic()


class Ingestor:
    """Validates messages and writes their points in batches; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        feed: str,
        batch_size: int = 1000,
        batch_seconds: float = 0.5,
        spool_dir: Path | None = None,
        spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
        dead_letter: Callable[[str, bytes, str], None] | None = None,
        batch_idle_seconds: float = 0.05,
        reject_log_seconds: float = REJECT_LOG_SECONDS,
        known: KnownValues | None = None,
    ):
        """`batch_idle_seconds`: a batch is also written when no message came for that long, so
        a sender that waits for acknowledgements (an MQTT broker's in-flight window) is not held
        up for `batch_seconds`. `known`: the values of bounded tags the town knows (default:
        those of the settings' inventory)."""
        self.store = store
        self.known = known or town_values()
        self.feed = feed
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.batch_idle_seconds = min(batch_idle_seconds, batch_seconds)
        self.max_pending = max(4 * batch_size, 1000)
        self.dead_letter = dead_letter
        self.rejects = RejectLog(reject_log_seconds)
        self.spool = Spool(spool_dir, spool_max_bytes) if spool_dir is not None else None

        self._cond = threading.Condition()
        self._pending: deque[_Item] = deque()
        self._pending_points = 0
        self._last_arrival = 0.0
        self._writing_since: float | None = None  # arrival of the oldest item being written
        self._enqueued = 0  # items ever enqueued
        self._durable = 0  # items ever made durable (in order)
        self._flush_requested = 0
        self._closing = False
        self._abandon = False
        self._store_up = True
        self._store_problem = ""  # why the store does not take writes ("" while it does)
        self._store_checked = False  # check() creates the database: at start, and after outages
        self._next_retry = 0.0
        self._retry_delay = RETRY_MIN_SECONDS
        self._spool_full_logged = False

        self.received = 0
        self.rejected = 0
        self.unknown_values = 0  # tag values stored as "unknown" (feeds.known_values)
        self.written = 0
        self.spooled_total = 0
        self.last_message_time: datetime | None = None

        self._writer = threading.Thread(target=self._run, name=f"ingest-{feed}", daemon=True)
        self._writer.start()

    # -- caller side -----------------------------------------------------------------------

    def handle(
        self,
        topic: str,
        payload: bytes,
        received_at: datetime | None = None,
        on_durable: Callable[[], None] | None = None,
    ) -> bool:
        """Validate one message and queue its points; False when it was rejected.

        `on_durable` is called on the writer thread once the points are in the store or the
        spool; for a rejected message, once every earlier message is (a rejected message is dealt
        with for good: acknowledging it stops a broker from sending it again and again). Blocks
        while the queue is full (back-pressure). Never raises on data.
        """
        received_at = received_at or datetime.now(UTC)
        points = self._validate(topic, payload, received_at)
        with self._cond:
            self.received += 1
            self.last_message_time = received_at
        self._enqueue(points or [], on_durable)
        return points is not None

    def handle_batch(
        self,
        messages: Sequence[tuple[str, bytes, datetime]],
        on_durable: Callable[[], None] | None = None,
    ) -> None:
        """`handle` for (topic, payload, received at) messages in arrival order, with one
        `on_durable` for them all: called once every point of the batch is durable."""
        points: list[Point] = []
        for topic, payload, received_at in messages:
            points.extend(self._validate(topic, payload, received_at) or ())
        with self._cond:
            self.received += len(messages)
            if messages:
                self.last_message_time = messages[-1][2]
        self._enqueue(points, on_durable)

    def _validate(self, topic: str, payload: bytes, received_at: datetime) -> list[Point] | None:
        """The message's points, or None when it was rejected (counted, logged, dead-lettered)."""
        try:
            points, unknown = self.known.bound(parse_message(topic, payload, received_at))
        except RejectedMessage as exc:
            self._reject(topic, payload, exc.reason)
            return None
        except Exception as exc:  # a bug in validation must not stop the feed
            log.exception("validation failed unexpectedly on %s", topic)
            self._reject(topic, payload, f"internal validation error: {exc!r}")
            return None
        if unknown:
            with self._cond:
                self.unknown_values += unknown
        return points

    def write_points(
        self, points: Sequence[Point], on_durable: Callable[[], None] | None = None
    ) -> None:
        """Queue points built elsewhere (feed health) on the same batched, spooled path."""
        self._enqueue(points, on_durable)

    def flush(self) -> None:
        """Write everything queued so far; returns once it is durable."""
        with self._cond:
            target = self._enqueued
            self._flush_requested = target
            self._cond.notify_all()
            while self._durable < target and self._writer.is_alive():
                self._cond.wait(0.5)

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the writer. After `timeout` seconds (store down and spool full) the
        rest is abandoned: those messages were never reported durable, so a broker sends them
        again to the next worker."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join(timeout)
        gave_up = self._writer.is_alive()
        with self._cond:
            self._abandon = True  # also releases callers blocked on a full queue
            self._cond.notify_all()
        if gave_up:
            log.error(
                "gave up on %d queued messages: the store is down and the spool is full",
                len(self._pending),
            )
            self._writer.join()
        if self.spool is not None:
            self.spool.close()

    @property
    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._cond:
            oldest = self._writing_since
            if oldest is None and self._pending:
                oldest = self._pending[0].arrived
            return {
                "received": self.received,
                "written": self.written,
                "rejected": self.rejected,
                "unknown_values": self.unknown_values,
                "spooled": self.spool.points if self.spool else 0,
                "spooled_total": self.spooled_total,
                "spool_bytes": self.spool.size_bytes if self.spool else 0,
                "pending": self._pending_points,
                "store_up": self._store_up,
                "store_problem": self._store_problem,
                "last_message_time": self.last_message_time,
                "lag_s": round(now - oldest, 3) if oldest is not None else 0.0,
            }

    def _reject(self, topic: str, payload: bytes, reason: str) -> None:
        with self._cond:
            self.rejected += 1
        self.rejects.reject(topic, reason)
        if self.dead_letter is not None:
            try:
                self.dead_letter(topic, payload, reason)
            except Exception:
                log.exception("could not dead-letter a message from %s", topic)

    def _enqueue(self, points: Sequence[Point], on_durable: Callable[[], None] | None) -> None:
        with self._cond:
            while (
                self._pending_points >= self.max_pending or len(self._pending) >= self.max_pending
            ) and not self._abandon:  # items count too: rejected messages carry no points
                self._cond.wait(0.5)
            if self._abandon:
                return  # closed: never durable, so never acknowledged
            now = time.monotonic()
            self._pending.append(_Item(points, on_durable, now))
            self._pending_points += len(points)
            self._enqueued += 1
            self._last_arrival = now
            if len(self._pending) == 1 or self._pending_points >= self.batch_size:
                self._cond.notify_all()  # the writer starts a batch's timers, or writes it

    # -- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self._write(batch)
            elif self.spool is not None and not self.spool.empty:
                self._replay()

    def _next_batch(self) -> list[_Item] | None:
        """Wait for a batch to be due; [] when only a spool replay is due; None to stop."""
        with self._cond:
            while True:
                if self._abandon or (self._closing and not self._pending):
                    return None
                now = time.monotonic()
                if self._pending and (
                    self._pending_points >= self.batch_size
                    or self._closing
                    or self._flush_requested > self._durable
                    or now - self._pending[0].arrived >= self.batch_seconds
                    or now - self._last_arrival >= self.batch_idle_seconds
                ):
                    return self._take_batch()
                waits = []
                if self._pending:
                    waits.append(self._pending[0].arrived + self.batch_seconds - now)
                    waits.append(self._last_arrival + self.batch_idle_seconds - now)
                if self.spool is not None and not self.spool.empty:
                    if now >= self._next_retry:
                        return []
                    waits.append(self._next_retry - now)
                self._cond.wait(max(0.001, min(waits)) if waits else None)

    def _take_batch(self) -> list[_Item]:
        batch, points = [], 0
        while self._pending and (
            not batch or points + len(self._pending[0].points) <= self.batch_size
        ):
            item = self._pending.popleft()
            batch.append(item)
            points += len(item.points)
        self._pending_points -= points
        self._writing_since = batch[0].arrived
        self._cond.notify_all()  # room in the queue for blocked callers
        return batch

    def _write(self, batch: list[_Item]) -> None:
        points = [p for item in batch for p in item.points]
        if points and not self._make_durable(points):
            return  # abandoned at close: never reported durable
        with self._cond:
            self._durable += len(batch)
            self._writing_since = None
            self._cond.notify_all()
        for item in batch:
            if item.on_durable is not None:
                try:
                    item.on_durable()
                except Exception:
                    log.exception("on_durable callback of feed %s failed", self.feed)

    def _make_durable(self, points: list[Point]) -> bool:
        """Into the store, or the spool when the store is down; blocks while the spool is full.
        False only when the writer was told to give up (close with a timeout)."""
        while not self._abandon:
            if self.spool is None or self.spool.empty or self._replay():
                if self._store_up or time.monotonic() >= self._next_retry:
                    try:
                        self._store_write(points)
                        self._store_answered()
                        return True
                    except (StoreError, SettingsError) as exc:
                        self._store_failed(exc)
                if self.spool is None:
                    self._pause(self._next_retry - time.monotonic())
                    continue
            try:
                self.spool.append(points)
            except SpoolFull as exc:
                if not self._spool_full_logged:
                    log.error("%s: holding back new messages until the store answers", exc)
                    self._spool_full_logged = True
                self._pause(self._next_retry - time.monotonic())
                continue
            except OSError as exc:  # a full disk: hold back new messages, as for a full spool
                if not self._spool_full_logged:
                    log.error(
                        "cannot write to spool %s (%s): holding back new messages until the "
                        "store or the spool takes them",
                        self.spool.folder,
                        exc,
                    )
                    self._spool_full_logged = True
                self._pause(min(self._next_retry - time.monotonic(), RETRY_MAX_SECONDS))
                continue
            with self._cond:
                self.spooled_total += len(points)
            self._spool_full_logged = False
            return True
        return False

    def _replay(self) -> bool:
        """Try to empty the spool into the store; True when it is empty."""
        assert self.spool is not None
        if not self._store_up and time.monotonic() < self._next_retry:
            return False
        try:
            replayed = self.spool.replay(self._store_write)
        except (StoreError, SettingsError) as exc:
            self._store_failed(exc)
            return False
        if replayed:  # an empty segment (left by a full disk) asked nothing of the store
            log.info("store answers again: replayed %d spooled points", replayed)
            self._store_answered()
        return True

    def _store_write(self, points: list[Point]) -> None:
        """Write into the store; raises StoreError or SettingsError when it failed for a reason
        about itself (nothing of the batch may be dropped then). Points the store refuses for
        what they are are rejected here, and the rest of the batch counts as written."""
        try:
            if not self._store_checked:
                self.store.check()
                self._store_checked = True
            written = self.store.write(points)
        except PointsRefused as exc:
            written = exc.written
            for point, reason in exc.refused:
                self._reject(point.measurement, point_json(point), f"store refused: {reason}")
        except (StoreError, SettingsError):
            raise
        except Exception as exc:  # a bug must not kill the writer: keep the data, retry later
            log.exception("unexpected error from the store")
            raise StoreUnavailable(f"unexpected error from the store: {exc!r}") from exc
        with self._cond:
            self.written += written

    def _store_answered(self) -> None:
        if not self._store_up:
            log.info("store %s takes writes again", type(self.store).__name__)
        self._store_up = True
        self._store_problem = ""
        self._retry_delay = RETRY_MIN_SECONDS

    def _store_failed(self, exc: Exception) -> None:
        """The outage path, whatever the reason: keep everything, retry with backoff, log the
        reason when it changes (not at every retry)."""
        problem = str(exc) or type(exc).__name__
        if problem != self._store_problem:
            where = f"spooling to {self.spool.folder}" if self.spool else "holding messages"
            log.error("store does not take writes (%s): %s until it does", problem, where)
        self._store_up = False
        self._store_problem = problem
        self._store_checked = False
        self._next_retry = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_SECONDS)

    def _pause(self, seconds: float) -> None:
        """Wait on the writer thread; close() with a timeout cuts it short."""
        with self._cond:
            if not self._abandon:
                self._cond.wait(max(0.01, seconds))


def point_record(point: Point) -> dict[str, Any]:
    """A point as JSON data, its time in ISO 8601: what a person reads in a dead letter."""
    return {
        "measurement": point.measurement,
        "tags": dict(point.tags),
        "fields": dict(point.fields),
        "time": point.time.isoformat(),
    }


def point_json(point: Point) -> bytes:
    """A point the store refused, as the JSON text dead-lettered in place of its message."""
    return json.dumps(point_record(point), ensure_ascii=False).encode()
