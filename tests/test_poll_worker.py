"""The polling worker's schedule, backoff and failure handling, with real HTTP servers, a real
unreachable store and both store backends."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from feeds.http_sources import Batch, HttpStatusSource
from feeds.open311 import Open311Config, Open311Source
from feeds.poll_worker import PollWorker, backoff_delay
from tests.poll_fixtures import JsonServer, Open311Fixture, Reply, dead_letters
from tests.servers import free_port
from tests.test_open311 import reports, request
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR
from wall.store import Store, open_store


def open311_source(server: Open311Fixture, state_dir: Path, interval: float = 0.05):
    config = Open311Config(url=server.endpoint, interval=interval)
    return Open311Source(config, state_dir=state_dir, timeout=2, session=requests.Session())


def test_backoff_doubles_from_the_interval_up_to_the_maximum_and_obeys_retry_after() -> None:
    delays = [backoff_delay(n, interval=10, backoff_max=100) for n in range(1, 7)]
    assert delays[0] == 10  # never sooner than the normal interval
    assert all(8 * 2 ** (n - 1) <= d <= 10 * 2 ** (n - 1) for n, d in enumerate(delays[:4], 1))
    assert 80 <= delays[4] <= 100 and 80 <= delays[5] <= 100
    assert backoff_delay(1, interval=10, backoff_max=100, retry_after=250) == 250
    assert backoff_delay(9, interval=10, backoff_max=100, retry_after=0) == 0


def test_the_worker_waits_for_the_servers_retry_after_before_asking_again(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = Open311Fixture().start()
    server.requests = [request(31, 1)]
    caplog.set_level(logging.WARNING)
    try:
        source = open311_source(server, tmp_path)
        source.load_services()
        server.fail_next(Reply(429, "slow down", headers={"Retry-After": "1"}))
        PollWorker(store, [source], dead_letters(tmp_path)).run(threading.Event(), polls_each=2)
    finally:
        server.stop()
    first, second = list(server.request_queries())
    assert second.at - first.at >= 1.0  # the interval is 0.05 s: only Retry-After explains it
    assert [r["report_id"] for r in reports(store)] == ["31"]
    assert any(
        "open311: HTTP 429 from" in m and "next in 1.0 s (the server's Retry-After)" in m
        for m in caplog.messages
    )


def status_source(name: str, kind: str, server: JsonServer) -> HttpStatusSource:
    fields = {"online": "online"} if kind == "camera" else {"up": "up", "clients": "clients"}
    entry = {"name": name, "kind": kind, "url": server.url, "interval_seconds": 0.1}
    entry |= {"id": "id", "fields": fields}
    (config,) = load_settings(environ={"IOC_POLL_SOURCES": json.dumps([entry])}).poll_sources
    return HttpStatusSource(config, timeout=2, session=requests.Session())


def test_a_slow_open311_server_delays_no_camera_poll_and_a_failing_source_fails_no_other(
    store: Store, tmp_path: Path
) -> None:
    """Open311 takes its whole timeout on every request (its first poll: 2 × 2 s); the VMS is
    polled every 0.1 s all the same, and the WiFi controller's HTTP 500s touch nobody else."""
    slow = JsonServer(lambda *_: Reply(body=[], delay=3.0)).start()
    vms = JsonServer(lambda *_: Reply(body=[{"id": "cam-ht-001", "online": True}])).start()
    wlc = JsonServer(lambda *_: Reply(500, "controller restarting")).start()
    open311 = Open311Source(
        Open311Config(url=f"{slow.url}/open311/v2", interval=0.1),
        state_dir=tmp_path,
        timeout=2,
        session=requests.Session(),
    )
    sources = [open311, status_source("vms", "camera", vms), status_source("wlc", "wifi", wlc)]
    worker = PollWorker(store, sources, dead_letters(tmp_path), backoff_max=0.5)
    stop = threading.Event()
    running = threading.Thread(target=worker.run, args=(stop,))
    started = time.monotonic()
    try:
        running.start()
        time.sleep(1.5)
        stop.set()
        running.join(10)
    finally:
        for server in (slow, vms, wlc):
            server.stop()
    assert not running.is_alive()
    camera_polls = [s.at - started for s in vms.seen if s.at - started < 1.5]
    assert len(camera_polls) >= 5, camera_polls  # old: none before Open311's 4 s were over
    assert camera_polls[0] < 0.5
    health = worker.health
    assert health["vms"].failures == 0 and health["vms"].written >= 5
    assert health["wlc"].failures >= 2 and health["open311"].failures == 1
    now = datetime.now(UTC)
    cameras = store.points("camera_status", now - timedelta(minutes=1), now)
    assert len(cameras) == health["vms"].written


def test_a_store_that_cannot_be_reached_loses_nothing_the_next_poll_writes_it_all(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = Open311Fixture().start()
    server.requests = [request(41, 3), request(42, 2)]
    nothing_listens = f"influxdb://127.0.0.1:{free_port()}/ioc"
    caplog.set_level(logging.WARNING)
    try:
        source = open311_source(server, tmp_path)
        with open_store(Settings(store=nothing_listens, influx_retries=0)) as down:
            worker = PollWorker(down, [source], dead_letters(tmp_path))
            worker.poll(source)
        assert "open311: store did not take the points" in "\n".join(caplog.messages)
        assert not (tmp_path / "open311.json").exists()  # nothing committed

        worker.store = store  # the store is back
        worker.poll(source)
    finally:
        server.stop()
    assert sorted(r["report_id"] for r in reports(store)) == ["41", "42"]
    saved = json.loads((tmp_path / "open311.json").read_text())
    assert sorted(saved["versions"]) == ["41", "42"]


def test_a_point_the_store_refuses_is_dead_lettered_and_the_poll_commits_the_rest(
    influxd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without this, the same refused point failed every poll forever and nothing after it
    was ever written; then, it was left out with only a log line to show for it."""
    from tests.conftest import influx_store_url
    from wall.store import Point

    server = Open311Fixture().start()
    server.requests = [request(61, 3, lat=None, long=None), request(62, 2), request(63, 1)]
    caplog.set_level(logging.WARNING)
    with open_store(Settings(store=influx_store_url(influxd))) as store:
        store.check()  # a report whose latitude was once stored as text: numbers now conflict
        store.write([Point("field_report", {}, {"report_id": "0", "lat": "?"}, datetime.now(UTC))])
        try:
            source = open311_source(server, tmp_path)
            worker = PollWorker(store, [source], dead_letters(tmp_path))
            worker.poll(source)
            worker.poll(source)  # moves on: nothing new, nothing failing
        finally:
            server.stop()
        stored = sorted(r["report_id"] for r in reports(store))
        health = worker.health["open311"]
        now = datetime.now(UTC)
        health_rows = store.points("feed_health", now - timedelta(minutes=1), now).to_dict(
            "records"
        )
    assert stored == ["0", "61"]  # 62 and 63 carry a numeric latitude
    assert (health.written, health.rejected, health.failures) == (1, 2, 0)
    assert health_rows[-1]["rejected"] == 2 and health_rows[-1]["store_problem"] == ""
    assert sorted(json.loads((tmp_path / "open311.json").read_text())["versions"]) == [
        "61",
        "62",
        "63",
    ]
    letters = [
        json.loads(line) for line in (tmp_path / "dead-letters.jsonl").read_text().splitlines()
    ]
    assert sorted(letter["point"]["fields"]["report_id"] for letter in letters) == ["62", "63"]
    assert all(letter["source"] == "open311" for letter in letters)
    assert all("field type conflict" in letter["reason"] for letter in letters)
    assert letters[0]["point"]["measurement"] == "field_report"
    refused = [m for m in caplog.messages if "the store refused a point" in m]
    assert len(refused) == 1 and "field type conflict" in refused[0]  # once per reason
    assert str(tmp_path / "dead-letters.jsonl") in refused[0]


def test_python_m_feeds_poll_replays_the_dead_letters_keeping_those_still_refused(
    influxd, tmp_path: Path
) -> None:
    from tests.conftest import influx_store_url
    from wall.store import Point

    conflicting, fixed = influx_store_url(influxd), influx_store_url(influxd)
    now = datetime.now(UTC).replace(microsecond=0)
    with open_store(Settings(store=conflicting)) as store:
        store.check()
        store.write([Point("camera_status", {"camera_id": "c1"}, {"fps": "?"}, now)])
    letters = dead_letters(tmp_path / "state")
    point = Point("camera_status", {"camera_id": "c1"}, {"fps": 24.5}, now + timedelta(seconds=1))
    letters.append("vms", [(point, "an older reason")])

    still = run_poll(tmp_path, {"IOC_STORE": conflicting}, "--replay-dead-letters")
    assert still.wait(30) == 1, still.stderr.read()
    assert still.stdout.read().startswith("0 dead-lettered point(s) written, 1 still refused")
    (kept,) = [json.loads(line) for line in letters.path.read_text().splitlines()]
    assert "field type conflict" in kept["reason"] and kept["source"] == "vms"

    done = run_poll(tmp_path, {"IOC_STORE": fixed}, "--replay-dead-letters")
    assert done.wait(30) == 0, done.stderr.read()
    assert done.stdout.read().startswith("1 dead-lettered point(s) written, 0 still refused")
    assert letters.path.read_text() == ""
    with open_store(Settings(store=fixed)) as store:
        (row,) = store.points("camera_status", now, now + timedelta(seconds=2)).to_dict("records")
    assert row["fps"] == 24.5 and row["camera_id"] == "c1"

    letters.path.write_text('{"point": "edited by hand"}\n')
    edited = run_poll(tmp_path, {"IOC_STORE": fixed}, "--replay-dead-letters")
    assert edited.wait(30) == 1
    (error,) = edited.stderr.read().splitlines()
    assert (
        error.startswith("feeds: dead letters not replayed: line 1 of") and "Traceback" not in error
    )
    assert letters.path.read_text() == '{"point": "edited by hand"}\n'  # nothing removed


def test_the_dead_letter_file_is_bounded_keeping_one_older_file(tmp_path: Path) -> None:
    from feeds.dead_letters import DeadLetters
    from wall.store import Point

    letters = DeadLetters(tmp_path / "dead-letters.jsonl", max_bytes=1000)
    for n in range(30):
        point = Point("kpi", {"indicator_id": f"k{n}"}, {"actual": n}, datetime.now(UTC))
        letters.append("vms", [(point, "refused")])
    assert letters.path.stat().st_size <= 1000 and letters.older.stat().st_size <= 1000
    kept = [
        json.loads(line)["point"]["tags"]["indicator_id"]
        for path in (letters.older, letters.path)
        for line in path.read_text().splitlines()
    ]
    assert kept[-1] == "k29" and kept == [f"k{n}" for n in range(30 - len(kept), 30)]


def test_each_poll_writes_the_sources_health_so_the_wall_sees_a_quiet_feed(
    store: Store, tmp_path: Path
) -> None:
    server = Open311Fixture().start()
    server.requests = [request(51, 1), request(52, 1, status="gone")]
    try:
        source = open311_source(server, tmp_path)
        worker = PollWorker(store, [source], dead_letters(tmp_path))
        worker.poll(source)
        server.fail_next(Reply(503, "down for maintenance"))
        worker.poll(source)
    finally:
        server.stop()
    now = datetime.now(UTC)
    health = store.points("feed_health", now - timedelta(minutes=1), now + timedelta(seconds=1))
    rows = health[health["feed"] == "open311"].to_dict("records")
    assert len(rows) == 2
    assert (rows[-1]["received"], rows[-1]["written"], rows[-1]["rejected"]) == (2, 1, 1)
    assert rows[-1]["last_message_age_s"] > 0  # the failed poll: time since the last success


def test_a_source_waiting_for_its_next_poll_still_writes_its_health_every_interval(
    store: Store, tmp_path: Path
) -> None:
    """The poll worker's heartbeat (`python -m wall health poll` reads it): fresh feed_health
    points between two polls an hour apart, each telling how long ago the poll was."""
    server = Open311Fixture().start()
    server.requests = [request(61, 1)]
    stop = threading.Event()
    worker = PollWorker(
        store,
        [open311_source(server, tmp_path, interval=3600)],
        dead_letters(tmp_path),
        health_every=0.2,
    )
    running = threading.Thread(target=worker.run, args=(stop,))
    try:
        running.start()
        time.sleep(1.5)
    finally:
        stop.set()
        running.join(10)
        server.stop()
    assert not running.is_alive()
    now = datetime.now(UTC)
    health = store.points("feed_health", now - timedelta(minutes=1), now + timedelta(seconds=1))
    rows = health[health["feed"] == "open311"].to_dict("records")
    assert len(list(server.request_queries())) == 1  # one poll
    assert len(rows) >= 4, rows  # its own point, then one every 0.2 s
    assert rows[-1]["written"] == 1 and rows[-1]["last_message_age_s"] >= 0.6


def run_poll(tmp_path: Path, env: dict, *args: str, **kwargs) -> subprocess.Popen:
    environ = {
        **os.environ,
        "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}",
        "IOC_POLL_STATE_DIR": str(tmp_path / "state"),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "poll", *args],
        cwd=PROJECT_DIR,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_python_m_feeds_poll_once_writes_the_reports_and_says_when_a_poll_failed(
    tmp_path: Path,
) -> None:
    server = Open311Fixture(jurisdiction="hoathanh").start()
    server.requests = [request(61, 2), request(62, 1)]
    env = {"IOC_OPEN311_URL": server.endpoint, "IOC_OPEN311_JURISDICTION_ID": "hoathanh"}
    try:
        done = run_poll(tmp_path, env, "--once")
        assert done.wait(30) == 0, done.stderr.read()
        wrong = run_poll(tmp_path, {**env, "IOC_OPEN311_JURISDICTION_ID": "elsewhere"}, "--once")
        assert wrong.wait(30) == 1
        assert "jurisdiction_id was not provided" in wrong.stderr.read()
    finally:
        server.stop()
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        assert sorted(r["report_id"] for r in reports(store)) == ["61", "62"]


def test_python_m_feeds_poll_runs_until_sigterm_and_refuses_bad_settings_in_one_line(
    tmp_path: Path,
) -> None:
    server = Open311Fixture().start()
    try:
        worker = run_poll(tmp_path, {"IOC_OPEN311_URL": server.endpoint})
        deadline = time.monotonic() + 20
        while not list(server.request_queries()) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0
        assert "Traceback" not in worker.stderr.read()
    finally:
        server.stop()
    bad = run_poll(tmp_path, {"IOC_POLL_SOURCES": '[{"name": "VMS"}]'})
    assert bad.wait(30) == 2
    error = bad.stderr.read().strip()
    assert error.startswith("feeds: bad setting IOC_POLL_SOURCES: source 1 ('VMS'): key")
    assert len(error.splitlines()) == 1


def test_a_state_folder_that_cannot_be_written_is_a_bad_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    bad = run_poll(
        tmp_path,
        {"IOC_OPEN311_URL": "http://127.0.0.1:1/open311/v2", "IOC_POLL_STATE_DIR": str(blocker)},
    )
    assert bad.wait(30) == 2
    assert bad.stderr.read().startswith(
        f"feeds: bad setting IOC_POLL_STATE_DIR: cannot keep the poll state and dead letters in "
        f"'{blocker}'"
    )


class SourceWhoseFirstCommitFails:
    """A source whose state cannot be saved once (a bug, or a disk that refuses it)."""

    name, interval = "flaky_state", 0.01

    def __init__(self) -> None:
        self.fetches = 0

    def fetch(self, received_at: datetime) -> Batch:
        self.fetches += 1
        return Batch(received=1)

    def commit(self, batch: Batch) -> None:
        if self.fetches == 1:
            raise RuntimeError("state not saved")


def test_a_source_whose_poll_fails_after_its_fetch_is_polled_again_not_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = SourceWhoseFirstCommitFails()
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        worker = PollWorker(store, [source], dead_letters(tmp_path), backoff_max=0.05)
        worker.run(threading.Event(), polls_each=3)
    assert source.fetches == 3
    assert worker.health["flaky_state"].failures == 0  # the later polls succeeded
    assert any("poll failed after its fetch" in m for m in caplog.messages)
