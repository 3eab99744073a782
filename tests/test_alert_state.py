"""The alerts' kept state (wall.alerts.state) on both real backends: what a tick costs with a long
history, and that the state is always the event log folded from scratch, with several processes
writing at once."""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from callbacks.queries import PARTS
from wall.alerts import service, state
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import STREAM, fold
from wall.alerts.rules import check_rules
from wall.alerts.state import alert_from_data, open_alerts, rebuild, record
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Store, open_store

ASKED = ("events", "latest_events", "key_states", "count_events")


class Counted:
    """A real store that counts the questions about alerts it is asked."""

    def __init__(self, real: Store):
        self.real = real
        self.asked: list[str] = []

    def __getattr__(self, name: str):
        answer = getattr(self.real, name)
        if name not in ASKED:
            return answer

        def counted(*args, **kwargs):
            self.asked.append(name)
            return answer(*args, **kwargs)

        return counted


def closed_history(store: Store, now: datetime, alerts: int) -> None:
    """`alerts` alerts raised a month ago, cleared, then acknowledged (closed on an
    acknowledgement, not on a clear), and one still active."""
    events = []
    for n in range(alerts):
        key = f"camera_offline:cam-{n:04d}"
        data = {"rule": "camera_offline", "entity": f"cam-{n:04d}", "severity": "high"}
        start = now - timedelta(days=30, minutes=n)
        events += [
            Event.new(STREAM, key, "raised", actor="system", data=data, at=start),
            Event.new(STREAM, key, "cleared", actor="system", at=start + timedelta(hours=1)),
            Event.new(STREAM, key, "acknowledged", actor="an", at=start + timedelta(hours=2)),
        ]
    data = {"rule": "ap_down", "entity": "ap-1", "severity": "medium"}
    events.append(Event.new(STREAM, "ap_down:ap-1", "raised", data=data, at=now))
    record(store, events)


def test_an_alerts_tick_asks_once_however_many_alerts_closed_before(store: Store) -> None:
    """Issue 16: 300 alerts cleared then acknowledged made every alerts tick read each one's
    whole history (301 questions); the screens', the evaluator's and the console's read of the
    alerts is now one question, whose answer holds the open alerts only."""
    now = datetime.now(UTC)
    closed_history(store, now, 300)
    counted = Counted(store)
    frame = PARTS["alerts"].fetch(counted, now, None)
    assert counted.asked == ["key_states"]
    assert list(frame["key"]) == ["ap_down:ap-1"]

    counted.asked.clear()
    assert list(open_alerts(counted)) == ["ap_down:ap-1"]
    assert counted.asked == ["key_states"]

    rules = {name: {"enabled": False} for name in check_rules({})}
    evaluator = AlertEvaluator(counted, check_rules(rules), clock=lambda: now)
    counted.asked.clear()
    assert evaluator.evaluate() == []
    assert counted.asked == ["key_states", "key_states"]  # before and after its transitions


def random_events(
    seed: int, keys: int, count: int, start: datetime, late: bool = True
) -> list[Event]:
    """Every kind of alert event, on a few keys, in any order; with `late`, some dated before
    events already written (a writer whose clock is behind, or whose append was slow)."""
    rng = random.Random(seed)
    kinds = ["raised"] * 4 + ["cleared"] * 3 + ["acknowledged"] * 2
    kinds += ["shelved", "unshelved", "escalated", "noted"]
    events = []
    for n in range(count):
        key = f"camera_offline:cam-{rng.randrange(keys)}"
        at = start + timedelta(seconds=n * 30 - (rng.choice([0, 0, 0, 45, 600]) if late else 0))
        kind = rng.choice(kinds)
        data: dict = {}
        if kind == "raised":
            data = {"severity": rng.choice(["critical", "high"]), "facts": {"n": n}}
        if kind == "shelved":
            data = {"until": (at + timedelta(minutes=rng.choice([5, 60]))).isoformat()}
        note = f"ghi chú {n}" if kind in ("noted", "shelved") else None
        events.append(Event.new(STREAM, key, kind, actor=f"w{seed}", note=note, data=data, at=at))
    return events


def kept_alerts(store: Store) -> dict:
    states = store.key_states(STREAM)
    return {key: alert_from_data(s.data) for key, s in states.items() if s.data is not None}


def write_randomly(url: str, seed: int, start: datetime, go_at: float) -> None:
    """One writer process: random alert events, one or a few at a time, from `go_at` on (the
    writers start together once each has imported and opened the store)."""
    with open_store(Settings(store=url)) as store:
        store.check()
        events = random_events(seed, keys=3, count=60, start=start, late=seed % 2 == 0)
        rng = random.Random(seed)
        time.sleep(max(0.0, go_at - time.time()))
        while events:
            size = rng.choice([1, 1, 3])
            record(store, events[:size])
            events = events[size:]


def test_the_kept_state_is_the_log_folded_from_scratch_with_writers_at_once(
    store: Store, store_url: str
) -> None:
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    go_at = time.time() + 8  # imports take a few seconds on a busy machine
    spawn = multiprocessing.get_context("spawn")  # no store connection crosses a fork
    writers = [
        spawn.Process(target=write_randomly, args=(store_url, seed, start, go_at))
        for seed in range(4)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    events = store.events(STREAM)
    assert len(events) == 4 * 60
    folded = fold(events)
    assert len({a.state for a in folded.values()}) >= 2  # not all alike
    assert kept_alerts(store) == folded
    assert store.count_events(STREAM) == {
        key: s.events for key, s in store.key_states(STREAM).items()
    }


def test_events_appended_without_their_state_are_folded_by_a_rebuild(
    store: Store, monkeypatch
) -> None:
    """A store written before the state was kept, or a writer stopped between appending and
    folding: `rebuild` (the alert service's start) folds those keys again, and only those, a
    few keys at a time."""
    monkeypatch.setattr(state, "REBUILD_KEYS", 2)
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    events = random_events(7, keys=5, count=40, start=start)
    record(store, events[:20])
    assert kept_alerts(store) == fold(store.events(STREAM))
    store.append_events(events[20:])  # as an older wall, or a writer killed, left them
    assert kept_alerts(store) != fold(store.events(STREAM))
    behind, keys = rebuild(store)
    assert 0 < behind <= keys == 5
    assert kept_alerts(store) == fold(store.events(STREAM))
    assert rebuild(store) == (0, 5)


def test_a_state_folding_fewer_events_never_replaces_the_kept_one(store: Store) -> None:
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    events = random_events(3, keys=1, count=6, start=start)
    record(store, events[:3])
    older = store.key_states(STREAM)
    record(store, events[3:])
    newer = store.key_states(STREAM)
    store.put_key_states(STREAM, older.values())  # a slow writer's state arriving last
    assert store.key_states(STREAM) == newer
    assert kept_alerts(store) == fold(store.events(STREAM))


def test_the_alert_service_folds_a_log_written_without_state_at_start(tmp_path, caplog) -> None:
    """A store written before the state was kept: `python -m wall alerts` folds it at start and
    says so in one line; the wall then shows its alerts."""
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'ioc.db'}",
        heartbeat_dir=str(tmp_path / "heartbeat"),
        alert_evaluate_seconds=0.2,
    )
    with open_store(settings) as store:
        events = random_events(11, keys=4, count=30, start=datetime(2026, 11, 20, tzinfo=UTC))
        store.append_events(events)  # as the wall before this version wrote them
        assert kept_alerts(store) == {}
        stop = threading.Event()
        worker = threading.Thread(target=service.run, args=(settings, stop))
        with caplog.at_level(logging.INFO, logger="wall.alerts.evaluator"):
            worker.start()
            try:
                deadline = time.monotonic() + 30
                while kept_alerts(store) != fold(store.events(STREAM)):
                    assert time.monotonic() < deadline, "the log was not folded"
                    time.sleep(0.1)
            finally:
                stop.set()
                worker.join(10)
    assert "alert state: 4 of 4 alerts folded again from the event log" in caplog.messages


def test_wall_migrate_folds_the_alerts_of_a_store_written_before_the_state_was_kept(
    tmp_path,
) -> None:
    """Upgrading, a person runs `python -m wall migrate` (README): the wall and the console then
    show the store's alerts before the alert service has run once."""
    settings = Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")
    with open_store(settings) as store:
        events = random_events(5, keys=3, count=20, start=datetime(2026, 11, 20, tzinfo=UTC))
        store.append_events(events)  # as the wall before this version wrote them
        assert kept_alerts(store) == {}

    def migrate(*options: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "wall", "migrate", *options],
            cwd=PROJECT_DIR,
            env={**os.environ, "IOC_STORE": settings.store},
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = migrate("--dry-run")
    assert dry.returncode == 0, dry.stderr
    with open_store(settings) as store:
        assert kept_alerts(store) == {}  # a dry run changes nothing
    done = migrate()
    assert done.returncode == 0, done.stderr
    assert "alert state: 3 of 3 alerts folded from the event log" in done.stdout
    with open_store(settings) as store:
        assert kept_alerts(store) == fold(store.events(STREAM))
