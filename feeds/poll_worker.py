"""`python -m feeds poll`: polls the Open311 endpoint and the HTTP status sources on their own
schedules and writes what they return into the store.

Each source runs on its own thread with its own interval and backoff, so a slow or failing
source (an Open311 server taking its whole timeout) never delays or fails another.

A poll that fails (no answer, HTTP error, not JSON, store down) writes nothing and commits
nothing: the source is asked again after an exponential backoff (or the server's Retry-After),
starting from the same cursor, so a failure delays data but never loses it. Polled sources are
their own durable buffer, so no spool is needed here.

"Store down" is any store failure about the store itself (StoreUnavailable: unreachable,
database missing, may not write, a size limit). Points the store refuses for what they are
(PointsRefused) do not fail the poll: the others are stored and committed, the refused ones
counted, logged and kept in the dead-letter file (feeds.dead_letters) before the commit, and
the worker moves on.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import requests

from feeds.dead_letters import FILE_NAME, DeadLetters
from feeds.http_sources import Batch, HttpStatusSource, RepeatFilter, SourceError
from feeds.ingest import point_json
from feeds.known_values import KnownValues, town_values
from feeds.open311 import SOURCE_NAME, Open311Config, Open311Source
from wall.domain import FEED_HEALTH
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store import Point, PointsRefused, Store, StoreError, open_store
from wall.writable import require_writable

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class Source(Protocol):
    name: str
    interval: float

    def fetch(self, received_at: datetime) -> Batch: ...

    def commit(self, batch: Batch) -> None: ...


def backoff_delay(
    failures: int, interval: float, backoff_max: float, retry_after: float | None = None
) -> float:
    """Wait before the next try after `failures` failures in a row.

    The server's Retry-After is obeyed as given (it knows its own load). Otherwise the wait
    starts at the source's interval and doubles up to `backoff_max`, less up to 20 % so that
    workers restarted together do not retry together.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER_SECONDS)
    delay = min(backoff_max, interval * 2 ** min(failures - 1, 30))
    return max(delay * random.uniform(0.8, 1.0), min(interval, backoff_max))


@dataclass
class SourceHealth:
    received: int = 0
    written: int = 0
    rejected: int = 0
    unknown_values: int = 0  # tag values stored as "unknown" (feeds.known_values)
    failures: int = 0  # failed polls in a row
    last_success: float | None = None  # time.monotonic()
    store_problem: str = ""  # why the store did not take the last poll's points ("" if it did)


class PollWorker:
    """Runs each source's poll when it is due, each source on its own thread (the store serves
    several threads), and writes a `feed_health` point per source after every poll."""

    def __init__(
        self,
        store: Store,
        sources: Sequence[Source],
        dead_letters: DeadLetters,
        *,
        backoff_max: float = 600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        known: KnownValues | None = None,
        health_every: float = 10.0,
    ):
        """`known`: the values of bounded tags the town knows (default: those of the settings'
        inventory). `health_every`: seconds between two feed_health points of a source that
        waits for its next poll (a heartbeat: fresh health means a live worker)."""
        names = [s.name for s in sources]
        if duplicate := next((n for n in names if names.count(n) > 1), None):
            raise SettingsError("poll_sources", f"two sources are named {duplicate!r}")
        self.store = store
        self.dead_letters = dead_letters
        self.known = known or town_values()
        self.sources = list(sources)
        self.backoff_max = backoff_max
        self.health_every = health_every
        self.clock = clock
        self.health = {s.name: SourceHealth() for s in sources}
        self.started = time.monotonic()
        self.refusals = RepeatFilter()

    def poll(self, source: Source) -> float:
        """Poll one source once; returns the seconds until it is due again."""
        health = self.health[source.name]
        received_at = self.clock()
        try:
            batch = source.fetch(received_at)
            points, unknown = self.known.bound(batch.points)
            refused = self._write(source, points)
        except SourceError as exc:
            return self._failed(source, exc.problem, exc.retry_after)
        except (StoreError, SettingsError) as exc:  # about the store: nothing is committed
            health.store_problem = str(exc)
            return self._failed(source, f"store did not take the points: {exc}", None)
        except OSError as exc:  # the refused points could not be kept: commit nothing
            where = self.dead_letters.path
            return self._failed(source, f"cannot keep refused points in {where}: {exc}", None)
        except Exception as exc:  # a bug must not stop the other sources: log it, back off
            log.exception("%s: poll failed unexpectedly", source.name)
            return self._failed(source, f"unexpected {type(exc).__name__}: {exc}", None)
        source.commit(batch)
        written, rejected = len(batch.points) - refused, batch.rejected + refused
        health.received += batch.received
        health.written += written
        health.rejected += rejected
        health.unknown_values += unknown
        health.failures = 0
        health.last_success = time.monotonic()
        health.store_problem = ""
        log.log(
            logging.INFO if batch.points or rejected else logging.DEBUG,
            "%s: %d items, %d points written, %d rejected",
            source.name,
            batch.received,
            written,
            rejected,
        )
        self._write_health(source)
        return source.interval

    def _write(self, source: Source, points: list[Point]) -> int:
        """Write the poll's points; returns how many the store refused for what they are (the
        others are stored; the refused ones dead-lettered). Store failures about the store
        itself, and a dead-letter file that cannot be written (OSError), propagate."""
        try:
            self.store.write(points)
        except PointsRefused as exc:
            self.dead_letters.append(source.name, exc.refused)
            for point, reason in exc.refused:
                if self.refusals.should_log(source.name, reason):
                    log.warning(
                        "%s: the store refused a point, kept in %s: %s; the point: %s",
                        source.name,
                        self.dead_letters.path,
                        reason,
                        point_json(point).decode(),
                    )
            return len(exc.refused)
        return 0

    def _failed(self, source: Source, problem: str, retry_after: float | None) -> float:
        health = self.health[source.name]
        health.failures += 1
        delay = backoff_delay(health.failures, source.interval, self.backoff_max, retry_after)
        log.warning(
            "%s: %s; try %d failed, next in %.1f s%s",
            source.name,
            problem,
            health.failures,
            delay,
            " (the server's Retry-After)" if retry_after is not None else "",
        )
        self._write_health(source)
        return delay

    def _write_health(self, source: Source) -> None:
        health = self.health[source.name]
        since = health.last_success if health.last_success is not None else self.started
        point = Point(
            FEED_HEALTH.name,
            {"feed": source.name},
            {
                "received": health.received,
                "written": health.written,
                "rejected": health.rejected,
                "unknown_values": health.unknown_values,
                # Nothing waits in a spool: what a failed poll missed is asked for again.
                "spooled": 0,
                "last_message_age_s": round(time.monotonic() - since, 3),
                "lag_s": 0.0,
                "store_problem": health.store_problem,
            },
            self.clock(),
        )
        try:
            self.store.write([point])
        except StoreError as exc:
            log.debug("%s: feed health not written: %s", source.name, exc)

    def run(self, stop: threading.Event, polls_each: int | None = None) -> None:
        """Poll every source on its own schedule until `stop` is set (or each source was
        polled `polls_each` times)."""
        threads = [
            threading.Thread(
                target=self._run_source,
                args=(source, stop, polls_each),
                name=f"poll-{source.name}",
                daemon=True,
            )
            for source in self.sources
        ]
        if polls_each is None:
            threads.append(
                threading.Thread(
                    target=self._heartbeat, args=(stop,), name="poll-health", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.health_every):
            for source in self.sources:
                self._write_health(source)

    def _run_source(self, source: Source, stop: threading.Event, polls: int | None) -> None:
        done = 0
        while not stop.is_set():
            try:
                delay = self.poll(source)
            except Exception as exc:  # saving its state failed (a full disk), or a bug: the
                # source goes on after a backoff, as after a failed fetch, never stops silently
                log.exception("%s: poll failed after its fetch", source.name)
                delay = self._failed(source, f"unexpected {type(exc).__name__}: {exc}", None)
            done += 1
            if done == polls or stop.wait(delay):
                return


def feed_names(settings: Settings) -> list[str]:
    """The feeds of the sources the settings name, as their feed_health points call them."""
    return [SOURCE_NAME] * bool(settings.open311_url) + [s["name"] for s in settings.poll_sources]


def build_sources(settings: Settings, session: requests.Session | None = None) -> list[Source]:
    """The sources the settings name: the Open311 endpoint (if set) and every poll_sources."""
    session = session or requests.Session()
    session.headers["User-Agent"] = "ioc-wall-poll"
    sources: list[Source] = []
    if settings.open311_url:
        sources.append(
            Open311Source(
                Open311Config.from_settings(settings),
                state_dir=Path(settings.poll_state_dir),
                timeout=settings.poll_timeout_seconds,
                session=session,
            )
        )
    for config in settings.poll_sources:
        if config["name"] == SOURCE_NAME:
            raise SettingsError("poll_sources", f"the name {SOURCE_NAME!r} is the Open311 feed's")
        sources.append(
            HttpStatusSource(config, timeout=settings.poll_timeout_seconds, session=session)
        )
    return sources


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--once",
        action="store_true",
        help="poll every source once, then exit (status 1 if a poll failed): for cron or a test",
    )
    p.add_argument(
        "--replay-dead-letters",
        action="store_true",
        help="write the points the store refused (the dead-letter file in the poll state folder) "
        "into the store again, keep those it still refuses, then exit (status 1 if any is left)",
    )


def dead_letters(settings: Settings) -> DeadLetters:
    """The poller's dead-letter file, in its state folder (checked writable: exit 2 if not)."""
    folder = Path(settings.poll_state_dir)
    require_writable(folder, "IOC_POLL_STATE_DIR", "keep the poll state and dead letters")
    return DeadLetters(folder / FILE_NAME, settings.poll_dead_letter_max_bytes)


def poll_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry of `python -m feeds poll`."""
    letters = dead_letters(settings)
    if args.replay_dead_letters:
        try:
            with open_store(settings) as store:
                store.check()
                written, left = letters.replay(store)
        except (StoreError, ValueError) as exc:  # nothing was removed from the file
            print(f"feeds: dead letters not replayed: {exc}", file=sys.stderr)
            return 1
        print(f"{written} dead-lettered point(s) written, {left} still refused ({letters.path})")
        return 1 if left else 0
    sources = build_sources(settings)
    if not sources:
        raise SettingsError(
            "IOC_OPEN311_URL", "is empty and no [[poll_sources]] are set: nothing to poll"
        )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with open_store(settings) as store:
        try:
            store.check()
        except StoreError as exc:  # not fatal: each poll tries the store again
            log.warning("store not reachable yet: %s", exc)
        worker = PollWorker(
            store,
            sources,
            letters,
            backoff_max=settings.poll_backoff_max_seconds,
            known=town_values(settings),
            health_every=settings.feed_health_seconds,
        )
        log.info("polling %s", ", ".join(f"{s.name} every {s.interval:g} s" for s in sources))
        if not args.once:
            worker.run(stop)
            return 0
        worker.run(stop, polls_each=1)
    failed = [name for name, health in worker.health.items() if health.failures]
    return 1 if failed else 0


COMMAND = (
    "poll the Open311 endpoint and the HTTP status sources into the store",
    add_arguments,
    poll_command,
)
