"""`python -m wall migrate` on a store whose field reports were written by the feeds of the code
before the bounded shape (one series per report): every report reads as before, on SQLite and
on a real influxd, the old series are gone, and running it again changes nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pandas as pd

from tests.test_store_migration import module_of_commit
from wall.domain import CLOSED_REPORT_STATUSES, report_slot
from wall.settings_core import PROJECT_DIR
from wall.store import Store

# The code of main before the bounded shape: its feeds wrote report_id as a tag.
TAGGED_REPORTS_CODE = "6af050f"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def same_slot_ids() -> tuple[str, str]:
    """Two report ids whose points land in one series of the new shape."""
    first = "PB-0"
    return first, next(
        f"PB-{n}" for n in range(1, 1000) if report_slot(f"PB-{n}") == report_slot(first)
    )


def old_reports() -> list[tuple[str, bytes, datetime]]:
    clash_a, clash_b = same_slot_ids()
    messages = []
    for n in range(40):
        report_id = f"PA-{n + 100}"
        for step, status in enumerate(("new", "assigned", "resolved")[: 1 + n % 3]):
            at = T0 + timedelta(hours=n, minutes=step * 30)
            payload = {
                "category": ("traffic", "flooding")[n % 2],
                "status": status,
                "ward": ("Long Hoa", "Hiệp Tân")[n % 2],
                "title": f"Báo cáo {n}",
                "lat": 11.3,
                "lon": 106.1 + n / 1000,
            }
            messages.append((f"ioc/report/{report_id}", json.dumps(payload), at))
    for report_id in (clash_a, clash_b):  # same ward, category, slot and millisecond
        payload = {"category": "lighting", "status": "new", "ward": "Long Hoa"}
        messages.append((f"ioc/report/{report_id}", json.dumps(payload), T0))
    return [(topic, payload.encode(), at) for topic, payload, at in messages]


def answers(store: Store) -> list[pd.DataFrame]:
    closed = {"status": list(CLOSED_REPORT_STATUSES)}
    end = T0 + timedelta(days=3)
    return [
        store.latest("field_report", "report_id"),
        store.latest("field_report", "report_id", unless=closed),
        store.latest("field_report", "report_id", since=T0 + timedelta(hours=30)),
        store.changes("field_report", "status", "report_id", T0, end),
    ]


def wall(*args: str, store_url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wall", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": store_url},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_migration_rewrites_the_reports_of_todays_feeds_into_bounded_series(
    store: Store, store_url: str
) -> None:
    payloads = module_of_commit(TAGGED_REPORTS_CODE, "feeds/payloads.py", "payloads_tagged")
    points = [p for m in old_reports() for p in payloads.parse_message(*m)]
    assert all("report_id" in p.tags for p in points)  # the shape written until now
    store.write(points)
    before = answers(store)
    assert len(before[0]) == 42

    refused = wall("check", store_url=store_url)  # a wall would not show the old reports
    assert refused.returncode == 2
    assert "field reports of the first shape" in refused.stderr
    assert "python -m wall migrate" in refused.stderr

    dry = wall("migrate", "--dry-run", store_url=store_url)
    assert dry.returncode == 0, dry.stderr
    assert f"{len(points):,} points of 42 field reports" in dry.stdout
    assert "1 a millisecond or more later" in dry.stdout
    assert "Nothing was changed" in dry.stdout
    assert store.tagged_series_span("field_report", "report_id") is not None

    done = wall("migrate", store_url=store_url)
    assert done.returncode == 0, done.stderr
    assert f"rewrote {len(points):,} points of 42 field reports" in done.stdout
    assert store.tagged_series_span("field_report", "report_id") is None
    after = answers(store)
    for old, new in zip(before, after, strict=True):
        new = new.copy()
        shifted = new["report_id"] == same_slot_ids()[1]
        new.loc[shifted, "time"] -= pd.Timedelta(milliseconds=1)  # kept, one ms later
        new = new.sort_values(list(old.columns)).reset_index(drop=True)
        pd.testing.assert_frame_equal(new[old.columns], old, check_dtype=False)
    slots = store.points("field_report", T0, T0 + timedelta(days=3))["report_slot"]
    assert slots.nunique() <= 42 and slots.notna().all()

    assert wall("check", store_url=store_url).returncode == 0

    again = wall("migrate", store_url=store_url)
    assert again.returncode == 0, again.stderr
    assert "field reports: nothing to migrate" in again.stdout
    for old, new in zip(after, answers(store), strict=True):
        pd.testing.assert_frame_equal(new, old, check_dtype=False)


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=PROJECT_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def until(done, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    """Until `done()`; an error naming `what` if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not done():
        assert process.poll() is None, (
            f"{what}: exited {process.returncode}: {process.stderr.read()}"
        )
        assert time.monotonic() < deadline, f"{what}: not started within {timeout} s"
        time.sleep(0.2)


def test_every_command_refuses_first_shape_reports_on_influxdb_in_one_line_until_migrated(
    influxd, mosquitto, tmp_path
) -> None:
    """The feed workers, the alert service, `maintain` and the demo used to start on them (only
    `check` and `serve` refused): the feeds added to the old series the wall does not read."""
    from tests.browser_fixtures import wait_healthy
    from tests.conftest import influx_store_url
    from tests.poll_fixtures import Open311Fixture
    from tests.servers import free_port
    from wall.settings import Settings
    from wall.store import open_store

    url = influx_store_url(influxd)
    payloads = module_of_commit(TAGGED_REPORTS_CODE, "feeds/payloads.py", "payloads_tagged")
    with open_store(Settings(store=url)) as store:
        store.check()
        store.write([p for m in old_reports()[:5] for p in payloads.parse_message(*m)])
    open311 = Open311Fixture().start()
    env = {
        "IOC_STORE": url,
        "IOC_POLL_STATE_DIR": str(tmp_path / "poll"),
        "IOC_INGEST_SPOOL_DIR": str(tmp_path / "spool"),
        "IOC_HEARTBEAT_DIR": str(tmp_path / "heartbeat"),
        "IOC_CACHE_URL": f"file://{tmp_path / 'cache'}",
        "IOC_FEED_HEALTH_SECONDS": "0.5",
        "IOC_ALERT_EVALUATE_SECONDS": "1",
    }
    mqtt = {"IOC_MQTT_URL": f"mqtt://127.0.0.1:{mosquitto.port}", "IOC_MQTT_CLIENT_ID": "old-shape"}
    ports = {"serve": free_port(), "demo": free_port()}
    commands = {
        "check": (["wall", "check"], {}),
        "serve": (["wall", "serve", "--port", str(ports["serve"])], {}),
        "demo": (["wall", "demo", "--port", str(ports["demo"])], {}),
        "alerts": (["wall", "alerts"], {}),
        "maintain": (["wall", "maintain", "--once"], {}),
        "mqtt": (["feeds", "mqtt"], mqtt),
        "poll": (["feeds", "poll", "--once"], {"IOC_OPEN311_URL": open311.endpoint}),
        "simulate": (["feeds", "simulate", "--backfill", "0", "--duration", "3s"], {}),
    }
    try:
        refusing = {n: start(argv, env | extra) for n, (argv, extra) in commands.items()}
        said = {n: (p.wait(120), p.stderr.read().strip().splitlines()) for n, p in refusing.items()}
        for name, (status, lines) in said.items():
            assert status == 2 and len(lines) == 1, (name, status, lines)
            assert "field reports of the first shape" in lines[0], (name, lines)
            assert "python -m wall migrate" in lines[0], (name, lines)
        with open_store(Settings(store=url)) as store:
            feeds = store.latest("feed_health", "feed")
            assert feeds.empty  # no worker wrote anything before stopping

        migrated = wall("migrate", store_url=url)
        assert migrated.returncode == 0, migrated.stderr

        running = {n: start(argv, env | extra) for n, (argv, extra) in commands.items()}
        try:
            for name in ("check", "maintain", "poll", "simulate"):
                assert running[name].wait(120) == 0, (name, running[name].stderr.read())
            for name in ("serve", "demo"):
                wait_healthy(f"http://127.0.0.1:{ports[name]}", running[name], 180)
            heartbeat = tmp_path / "heartbeat" / "alerts"
            until(heartbeat.exists, running["alerts"], "alerts")

            def mqtt_health() -> bool:
                with open_store(Settings(store=url)) as store:
                    return "mqtt:old-shape" in set(store.latest("feed_health", "feed")["feed"])

            until(mqtt_health, running["mqtt"], "mqtt")
        finally:
            for process in running.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for name, process in running.items():
                assert process.wait(60) == 0, (name, process.stderr.read())
    finally:
        open311.stop()
