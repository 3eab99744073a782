"""Retention and rollups (issue 12): old raw points go, the wall's longer views stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from callbacks.queries import PARTS
from layouts import SCREENS
from tests.browser_fixtures import seed
from tests.test_callbacks import settings_for, update_request
from wall.app import create_app
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Point
from wall.store.retention import keep
from wall.store.sqlite import SQLiteStore


def test_wall_maintain_removes_old_raw_points_and_every_screen_still_draws_its_views(tmp_path):
    """`python -m wall maintain --once`, as an operator runs it, on a store of two days of
    WiFi and a day of cameras, keeping one day of raw points: the 48-hour WiFi curve is drawn
    as before, its older half from the rollups."""
    path = tmp_path / "ioc.db"
    now = datetime.now(UTC)
    with SQLiteStore(path) as store:
        seed(store, now)  # WiFi every 7.5 min for 52 h, cameras every 15 min for 26 h
        oldest = store.points("wifi_usage", now - timedelta(days=3), now)["time"].min()
        curve_before = PARTS["wifi_clients_48h"].fetch(store, now, None)
    environ = {
        **os.environ,
        "IOC_STORE": f"sqlite:///{path}",
        "IOC_RETENTION_RAW_DAYS": json.dumps({"wifi_usage": 1, "camera_status": 1}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "wall", "maintain", "--once"],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "retention pass done: raw points removed camera_status" in done.stderr
    assert "Traceback" not in done.stderr
    with SQLiteStore(path) as store:
        kept = store.points("wifi_usage", now - timedelta(days=3), now)["time"]
        assert kept.min() > oldest + timedelta(hours=20), "the older raw points are gone"
        assert kept.min() >= pd.Timestamp(now - timedelta(days=1, hours=1))
        curve_after = PARTS["wifi_clients_48h"].fetch(store, now, None)
    assert curve_after["time"].tolist() == curve_before["time"].tolist()
    assert curve_after["value"].tolist() == pytest.approx(curve_before["value"].tolist())
    app = create_app(settings_for(path, tmp_path / "cache"))
    client = app.server.test_client()
    for screen in SCREENS:
        response = client.post("/_dash-update-component", json=update_request(screen))
        assert response.status_code == 200, screen
        assert "tile--error" not in response.get_data(as_text=True), screen


def clients_frame(
    start: datetime, steps: int, step_ms: int, aps: list[str], cycle: int
) -> pd.DataFrame:
    """`steps` points of each access point from `start`, clients counting up modulo `cycle`."""
    first = int(start.timestamp() * 1000)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(
                np.tile(np.arange(steps) * step_ms + first, len(aps)), unit="ms", utc=True
            ),
            "ap_id": np.repeat(aps, steps),
            "clients": np.arange(steps * len(aps)) % cycle,
        }
    )


@pytest.mark.serial
def test_old_raw_points_go_in_short_steps_while_a_writer_keeps_writing(tmp_path):
    """Three days of a point a minute from 150 access points (648,000 points) leave while a
    feed writes a point every 20 ms: none of its writes fails or waits long."""
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    start = now - timedelta(days=3)
    minutes = 3 * 24 * 60
    aps = [f"ap-{n:03d}" for n in range(150)]
    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.write_frame("wifi_usage", clients_frame(start, minutes, 60_000, aps, 97), ["ap_id"])
        day = now - timedelta(days=2)
        mean_before = store.aggregate(
            "wifi_usage", "clients", "mean", start, day, timedelta(hours=1), ["ap_id"], None
        )
        waits: list[float] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def write() -> None:
            n = 0
            while not stop.is_set():
                point = Point("wifi_usage", {"ap_id": "ap-live"}, {"clients": n}, now)
                began = time.perf_counter()
                try:
                    store.write([point])
                except BaseException as exc:
                    failures.append(exc)
                waits.append(time.perf_counter() - began)
                n += 1
                time.sleep(0.02)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            removed = keep(store, {"wifi_usage": 1}, Settings().rollup_days, now)
        finally:
            stop.set()
            writer.join()
        assert not failures
        assert removed["wifi_usage"] >= 2 * 24 * 60 * 150
        assert store.points("wifi_usage", start, now - timedelta(days=1, hours=1)).empty
        mean_after = store.aggregate(
            "wifi_usage", "clients", "mean", start, day, timedelta(hours=1), ["ap_id"], None
        )
    assert len(mean_after) == len(mean_before) == 24 * 150
    assert mean_after["value"].tolist() == pytest.approx(mean_before["value"].tolist())
    longest = max(waits)
    print(f"writes during the pass: {len(waits)}, the longest {longest * 1000:.0f} ms")
    assert longest < 1.0, f"a write waited {longest:.2f} s"


def test_a_reader_asks_the_marks_once_a_minute_and_its_answers_stay_whole_across_a_pass(
    tmp_path,
):
    """The wall asks several aggregates a tick: the rollup marks are read once, not for each.
    A pass in another process moves the marks while the reader holds the old ones: the raw
    points those promise are still there (a pass removes up to the previous pass's mark)."""
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    start = now - timedelta(days=4)
    minutes = 4 * 24 * 12
    path = tmp_path / "ioc.db"
    with SQLiteStore(path) as maintainer:
        aps = [f"ap-{n:02d}" for n in range(20)]
        maintainer.write_frame(
            "wifi_usage", clients_frame(start, minutes, 300_000, aps, 89), ["ap_id"]
        )
        keep(maintainer, {"wifi_usage": 2}, Settings().rollup_days, now)

        def hourly(store):
            return store.aggregate(
                "wifi_usage", "clients", "mean", start, now, timedelta(hours=1), ["ap_id"]
            )

        with SQLiteStore(path) as reader:
            asked = []
            latest = reader.latest
            reader.latest = lambda m, *a, **k: asked.append(m) or latest(m, *a, **k)
            before = [hourly(reader) for _ in range(5)]
            assert asked.count("rollup_marks") == 1
            # An hour later the next pass moves the marks; the reader still holds the old ones.
            keep(maintainer, {"wifi_usage": 2}, Settings().rollup_days, now + timedelta(hours=1))
            held = hourly(reader)
            assert asked.count("rollup_marks") == 1
        with SQLiteStore(path) as fresh:
            after = hourly(fresh)
    assert len(before[0]) == 4 * 24 * 20
    for answer in (*before, held, after):
        assert answer["value"].tolist() == pytest.approx(before[0]["value"].tolist())
