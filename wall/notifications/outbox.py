"""The outbox: alert events in, messages out, at least once, each channel on its own thread.

The alert log (stream `alerts`) is the source. What each channel was sent is recorded through
the store in the stream `notifications` (key: the channel's name), append-only:
- `opened`: the channel's first start; events before it are not notified;
- `queued`: a message formed (its notices), before it is first sent;
- `delivered` / `dropped` (with the endpoint's reason): the message is done.
A restart loads these records: a queued message not done is sent again, with the same
idempotency key and body; an alert event that is in no queued message (the service stopped
between the raise and the queueing) is read again from the log, looking back LOOKBACK before
the newest queued notice. A message is sent twice only when the endpoint took it but the
service stopped before `delivered` was recorded (or the answer was lost): receivers can tell by
the idempotency key.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from wall.alerts.model import STREAM as ALERTS
from wall.notifications.messages import Message, Notice, notices, routed
from wall.notifications.senders import Refused, Send, Unavailable
from wall.notifications.settings import NOTIFIED_EVENTS, Channel
from wall.store import Event, Store, StoreError

log = logging.getLogger(__name__)
RECORDS = "notifications"
LOOKBACK = timedelta(minutes=10)  # an event is in the log within this of its own time
MAX_NOTICES_PER_MESSAGE = 200
MAX_RECORD_BYTES = 32_000  # of a queued message's notices (a note alone is at most 1000 characters)
BACKOFF_FIRST, BACKOFF_MOST = 1.0, 300.0  # seconds; doubled after each failure


@dataclass
class ChannelStatus:
    """What `python -m wall health alerts` shows of a channel."""

    pending: int = 0  # messages queued and not done
    waiting: int = 0  # notices not yet in a message
    delivered: int = 0  # since this service started
    dropped: int = 0  # ever (from the records)
    last_drop: str | None = None
    failing_since: str | None = None
    last_error: str | None = None
    last_delivered_at: str | None = None


def fitting_notices(notices: Sequence[Notice]) -> list[Notice]:
    """The first notices whose record fits MAX_RECORD_BYTES (at least one): a queued record is
    one text field of the store, and InfluxDB documents 64 KB as the limit of one."""
    taken, size = [], 0
    for notice in notices:
        size += len(json.dumps(asdict(notice), ensure_ascii=False).encode())
        if taken and size > MAX_RECORD_BYTES:
            break
        taken.append(notice)
    return taken


def _record(channel: str, kind: str, data: dict, at: datetime) -> Event:
    return Event.new(RECORDS, channel, kind, actor="notifier", data=data, at=at)


class ChannelWorker:
    """One channel: groups waiting notices into at most one message per `group_seconds`, sends
    the oldest queued message until it is done, backing off while the endpoint fails."""

    def __init__(self, channel: Channel, send: Send, store: Store, clock, on_change):
        self.channel, self.send, self.store, self.clock = channel, send, store, clock
        self.on_change = on_change
        self.status = ChannelStatus()
        self.opened_at: datetime | None = None
        self.pending: list[Message] = []
        self.waiting: list[Notice] = []
        self.seen: dict[str, datetime] = {}  # event ids queued or waiting, with their time
        self.newest_queued: datetime | None = None
        self._last_formed = -float("inf")  # time.monotonic() of the last message formed
        self._changed = threading.Condition()

    def load(self, records: Sequence[Event]) -> None:
        done: dict[str, str] = {}
        queued: dict[str, Message] = {}
        for record in records:
            if record.kind == "opened" and self.opened_at is None:
                self.opened_at = record.time
            elif record.kind == "queued":
                queued[record.data["message_id"]] = Message.from_record(
                    self.channel.name, record.data
                )
            elif record.kind in ("delivered", "dropped"):
                done[record.data["message_id"]] = record.kind
                if record.kind == "dropped":
                    self.status.dropped += 1
                    self.status.last_drop = record.data.get("reason")
        for message in queued.values():
            self.seen.update((n.event_id, n.time) for n in message.notices)
            newest = max(n.time for n in message.notices)
            self.newest_queued = max(self.newest_queued or newest, newest)
            if message.message_id not in done:
                self.pending.append(message)

    def resume_from(self) -> datetime:
        """Where the alert log is read from for this channel after a start."""
        assert self.opened_at is not None
        if self.newest_queued is None:
            return self.opened_at
        return max(self.opened_at, self.newest_queued - LOOKBACK)

    def offer(self, offered: Sequence[Notice], tz: ZoneInfo) -> None:
        with self._changed:
            for notice in offered:
                if (
                    notice.event_id not in self.seen
                    and notice.time >= self.opened_at
                    and routed(self.channel.routing, notice, tz)
                ):
                    self.seen[notice.event_id] = notice.time
                    self.waiting.append(notice)
            self._changed.notify()

    def forget_before(self, when: datetime) -> None:
        """Events older than what the reader reads are never offered again (until a restart,
        which loads `seen` from the records)."""
        with self._changed:
            self.seen = {i: t for i, t in self.seen.items() if t >= when}

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            message = self._next(stop)
            if message is None:
                continue
            try:
                self.send(message)
            except Refused as exc:
                log.error(
                    "notification %s to %s dropped: %s", message.message_id, self.channel.name, exc
                )
                self._done(message, "dropped", {"reason": str(exc)}, stop)
                self.status.dropped += 1
                self.status.last_drop = str(exc)
                failures = 0
            except Unavailable as exc:
                failures += 1
                delay = min(BACKOFF_MOST, BACKOFF_FIRST * 2 ** (failures - 1))
                if self.status.last_error != str(exc):
                    log.warning(
                        "channel %s failing (%s); retrying in %g s", self.channel.name, exc, delay
                    )
                self.status.failing_since = self.status.failing_since or self.clock().isoformat()
                self.status.last_error = str(exc)
                self.on_change()
                stop.wait(delay)
            except Exception:  # a bug must not end the channel; the message stays queued
                log.exception("channel %s: sending failed", self.channel.name)
                stop.wait(BACKOFF_MOST)
            else:
                failures = 0
                self._done(message, "delivered", {}, stop)
                self.status.delivered += 1
                self.status.failing_since = self.status.last_error = None
                self.status.last_delivered_at = self.clock().isoformat()
            self.on_change()

    def _next(self, stop: threading.Event) -> Message | None:
        """The oldest queued message, else a new one from the waiting notices when due."""
        with self._changed:
            if not self.pending and self.waiting:
                wait = self._last_formed + self.channel.group_seconds - time.monotonic()
                if wait > 0:
                    self._changed.wait(min(wait, 1.0))
                    return None
            elif not self.pending:
                self._changed.wait(1.0)
                return None
        if self.pending:
            return self.pending[0]
        with self._changed:
            taken = fitting_notices(self.waiting[:MAX_NOTICES_PER_MESSAGE])
        message = Message.of(self.channel.name, taken)
        record = _record(self.channel.name, "queued", message.record(), self.clock())
        if not self._append(record, stop):
            return None
        with self._changed:
            del self.waiting[: len(taken)]
            self.pending.append(message)
            self._last_formed = time.monotonic()
        newest = max(n.time for n in taken)
        self.newest_queued = max(self.newest_queued or newest, newest)
        return message

    def _done(self, message: Message, kind: str, data: dict, stop: threading.Event) -> None:
        record = _record(
            self.channel.name, kind, {"message_id": message.message_id, **data}, self.clock()
        )
        while not self._append(record, stop):  # sent: only the record is tried again
            if stop.wait(BACKOFF_FIRST):
                return
        self.pending.remove(message)

    def _append(self, record: Event, stop: threading.Event) -> bool:
        try:
            self.store.append_events([record])
        except StoreError as exc:
            log.warning("channel %s: cannot record %s (%s)", self.channel.name, record.kind, exc)
            stop.wait(BACKOFF_FIRST)
            return False
        return True

    def snapshot(self) -> ChannelStatus:
        self.status.pending, self.status.waiting = len(self.pending), len(self.waiting)
        return self.status


@dataclass
class Outbox:
    """The channels' workers and the reader that hands them the alert log's new events. Runs
    beside the evaluator, never in its pass: `wake()` only sets a flag."""

    store: Store
    channels: Sequence[tuple[Channel, Send]]
    tz: ZoneInfo
    every_seconds: float = 5.0
    status_path: Path | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self.workers = [
            ChannelWorker(c, send, self.store, self.clock, self._write_status)
            for c, send in self.channels
        ]
        self._stop = threading.Event()
        self._woken = threading.Event()
        self._threads: list[threading.Thread] = []
        self._read_ids: dict[str, datetime] = {}  # alert event ids handed over, with their time
        self._read_from: datetime | None = None
        self._status_lock = threading.Lock()
        self._started = self.clock()

    def start(self) -> None:
        reader = threading.Thread(target=self._read_loop, name="notify-reader", daemon=True)
        self._threads = [reader]
        reader.start()

    def wake(self) -> None:
        self._woken.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._woken.set()
        for thread in self._threads:
            thread.join(timeout)

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self._read_from is None:
                    self._open()
                self.read_once()
            except StoreError as exc:
                log.warning("notifications: the store does not answer (%s); trying again", exc)
            except Exception:  # a bug must not end the notifications; the log has the trace
                log.exception("notifications: reading the alert log failed")
            self._woken.wait(self.every_seconds)
            self._woken.clear()

    def _open(self) -> None:
        """Load the records, mark new channels opened, then start the channels' threads."""
        records = self.store.events(RECORDS)
        now = self._started  # what the evaluator raised since this service started is told
        for worker in self.workers:
            worker.load([r for r in records if r.key == worker.channel.name])
            if worker.opened_at is None:
                self.store.append_events([_record(worker.channel.name, "opened", {}, now)])
                worker.opened_at = now
        self._read_from = min((w.resume_from() for w in self.workers), default=now)
        for worker in self.workers:
            thread = threading.Thread(
                target=worker.run,
                args=(self._stop,),
                name=f"notify-{worker.channel.name}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()
        self._write_status()

    def read_once(self) -> None:
        events = self.store.events(ALERTS, since=self._read_from)
        new = [e for e in events if e.kind in NOTIFIED_EVENTS and e.event_id not in self._read_ids]
        if new:
            new_ids = {e.event_id for e in new}
            found = [
                n
                for key in sorted({e.key for e in new})
                for n in notices(self.store.events(ALERTS, key=key))
                if n.event_id in new_ids
            ]
            for worker in self.workers:
                worker.offer(found, self.tz)
            self._read_ids.update((e.event_id, e.time) for e in new)
        if events:
            self._read_from = max(self._read_from, max(e.time for e in events) - LOOKBACK)
        self._read_ids = {i: t for i, t in self._read_ids.items() if t >= self._read_from}
        for worker in self.workers:
            worker.forget_before(self._read_from)
        self._write_status()

    def _write_status(self) -> None:
        if self.status_path is None:
            return
        shown = {w.channel.name: vars(w.snapshot()) for w in self.workers}
        with self._status_lock:
            part = self.status_path.with_suffix(".part")
            try:
                part.write_text(json.dumps(shown, ensure_ascii=False, indent=1))
                os.replace(part, self.status_path)
            except OSError as exc:
                log.warning("notifications: status not written to %s: %s", self.status_path, exc)


@dataclass(frozen=True)
class Delivery:
    """A message done: delivered to (or dropped by) a channel, with the alert events it told."""

    at: datetime
    channel: str
    outcome: str  # delivered, dropped
    events: tuple[tuple[str, str], ...]  # (event_id, event kind) of its notices
    reason: str | None = None  # why it was dropped


def deliveries(records: Sequence[Event]) -> list[Delivery]:
    """The messages done among the outbox's records (stream RECORDS), oldest first: what an
    alert's timeline shows as notified."""
    queued: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    done = []
    for record in sorted(records, key=lambda r: r.order):
        message_id = record.data.get("message_id")
        if record.kind == "queued":
            notices = record.data.get("notices") or []
            queued[(record.key, message_id)] = tuple((n["event_id"], n["event"]) for n in notices)
        elif record.kind in ("delivered", "dropped") and (record.key, message_id) in queued:
            events = queued[(record.key, message_id)]
            reason = record.data.get("reason")
            done.append(Delivery(record.time, record.key, record.kind, events, reason))
    return done
