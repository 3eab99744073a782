"""InfluxDB's own retention (issue 12): raw points in policies the server empties, rollups in
long-lived ones, the store's version recorded; a store of another version refused, one of
version 1 migrated. Against a real influxd that checks its policies every second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests

from callbacks.queries import PARTS
from layouts import SCREENS
from tests.browser_fixtures import seed
from tests.servers import Influxd
from tests.test_callbacks import TICK, WHOLE_READS, update_request
from tests.test_store_migration import module_of_commit
from wall.app import create_app
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Point, PointsRefused, open_store

END = datetime(2262, 1, 1, tzinfo=UTC)
# The code before retention policies: every point in the database's default policy.
VERSION_1_CODE = "b0f1c89"


@pytest.fixture
def quick_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """A private influxd removing expired shards every second (30 minutes by default)."""
    server = Influxd(tmp_path_factory.mktemp("quick-influxd"), retention_check="1s")
    server.start()
    yield server
    server.stop()


def wall(*args: str, store_url: str, **environ: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wall", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": store_url, **environ},
        capture_output=True,
        text=True,
        timeout=600,
    )


def history(store, now: datetime) -> list[pd.DataFrame]:
    """The wall's longer reads: the 48 h WiFi curve, and four days of hourly means per AP."""
    start = now - timedelta(days=4)
    return [
        PARTS["wifi_clients_48h"].fetch(store, now, None),
        store.aggregate("wifi_usage", "clients", "mean", start, now, timedelta(hours=1), ["ap_id"]),
        store.aggregate("camera_status", "fps", "max", start, now, timedelta(hours=1)),
    ]


def assert_same(after: list[pd.DataFrame], before: list[pd.DataFrame]) -> None:
    for new, old in zip(after, before, strict=True):
        assert len(new) == len(old) > 0
        assert new.columns.tolist() == old.columns.tolist()
        for column in old.columns:
            if column == "time" or old[column].dtype == object:
                assert new[column].tolist() == old[column].tolist(), column
            else:
                assert new[column].tolist() == pytest.approx(old[column].tolist()), column


def test_influxdb_removes_old_raw_points_by_its_policy_while_rollups_stay_and_screens_draw(
    quick_influxd: Influxd, tmp_path
) -> None:
    """Four days of WiFi and two of cameras in their 15-day raw policies; `wall maintain --once`
    with one day of raw points kept rolls them up and shortens the policies to two days: the
    server itself removes the older raw points, and every read of the wall answers as before."""
    url = f"influxdb://127.0.0.1:{quick_influxd.port}/ioc"
    now = datetime.now(UTC)
    with open_store(Settings(store=url)) as store:
        store.check()
        assert store.policies()["raw_wifi_usage"] == timedelta(days=15)
        assert store.policies()["rollup_1h"] == timedelta(days=1830)
        seed(store, now, history_hours=48)  # WiFi every 15 min for 96 h, cameras for 48 h
        kept_start = now - timedelta(days=1, hours=22)
        raw_before = store.points("wifi_usage", now - timedelta(days=5), now)
        assert raw_before["time"].min() < pd.Timestamp(now - timedelta(days=3, hours=12))
        recent_before = store.points("wifi_usage", kept_start, now)
        before = history(store, now)
    done = wall(
        "maintain",
        "--once",
        store_url=url,
        IOC_RETENTION_RAW_DAYS=json.dumps({"wifi_usage": 1, "camera_status": 1}),
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "retention policy raw_wifi_usage now keeps points 2 days (was 15 days)" in done.stderr
    settings = Settings(store=url, retention_raw_days=(("camera_status", 1.0), ("wifi_usage", 1.0)))
    with open_store(settings) as store:
        store.check()
        deadline = time.monotonic() + 60
        while True:  # the server's retention check, not the wall, removes them
            oldest = store.points("wifi_usage", now - timedelta(days=5), now)["time"].min()
            if oldest > pd.Timestamp(now - timedelta(days=3)) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert oldest > pd.Timestamp(now - timedelta(days=3)), "InfluxDB removed no raw point"
        assert oldest > pd.Timestamp(now - timedelta(days=2, hours=23))  # whole days of shards
        pd.testing.assert_frame_equal(store.points("wifi_usage", kept_start, now), recent_before)
        rollups = store.points("wifi_usage_1h", now - timedelta(days=5), now)
        assert rollups["time"].min() < pd.Timestamp(now - timedelta(days=3, hours=12))
        assert_same(history(store, now), before)
        # A point older than the raw policy is refused for what it is, as a point.
        with pytest.raises(PointsRefused, match="beyond retention policy"):
            store.write(
                [Point("wifi_usage", {"ap_id": "ap-001"}, {"clients": 3}, now - timedelta(days=3))]
            )
    app = create_app(
        Settings(
            store=url,
            cache_url=f"file://{tmp_path / 'cache'}",
            refresh_seconds=TICK,
            first_read_wait_seconds=WHOLE_READS,
            retention_raw_days=settings.retention_raw_days,
        )
    )
    client = app.server.test_client()
    for screen in SCREENS:
        response = client.post("/_dash-update-component", json=update_request(screen))
        assert response.status_code == 200, screen
        assert "tile--error" not in response.get_data(as_text=True), screen


def test_a_store_of_version_1_is_refused_until_migrated_and_then_reads_as_before(
    quick_influxd: Influxd,
) -> None:
    """Points written by the code before retention policies (all in the default policy): the
    wall stops with one line (exit 2) naming `wall migrate`; the dry run changes nothing; the
    migration copies them into their policies and the wall's reads answer as before."""
    url = f"influxdb://127.0.0.1:{quick_influxd.port}/city"
    old = module_of_commit(VERSION_1_CODE, "wall/store/influx.py", "influx_version_1")
    now = datetime.now(UTC)
    with old.InfluxStore(url) as store:
        store.check()
        seed(store, now, history_hours=48, kept_alert_state=False)
        before = history(store, now)
        raw_before = store.points("wifi_usage", now - timedelta(days=5), END)
    refused = wall("check", store_url=url)
    assert refused.returncode == 2, refused.stderr
    problem = refused.stderr.strip().splitlines()[-1]
    assert "holds points of camera_status, wifi_usage in its default policy" in problem
    assert "python -m wall migrate" in problem
    assert "Traceback" not in refused.stderr

    dry = wall("migrate", "--dry-run", store_url=url)
    assert dry.returncode == 0, dry.stderr
    assert "wifi_usage: would copy" in dry.stdout
    assert "Nothing was changed (dry run)." in dry.stdout
    assert wall("check", store_url=url).returncode == 2

    done = wall("migrate", store_url=url)
    assert done.returncode == 0, done.stderr
    assert f"wifi_usage: copied {len(raw_before):,} points" in done.stdout
    assert "is now a store of version 2" in done.stdout
    assert wall("check", store_url=url).returncode == 0
    with open_store(Settings(store=url)) as store:
        store.check()
        assert_same(history(store, now), before)
        pd.testing.assert_frame_equal(
            store.points("wifi_usage", now - timedelta(days=5), END), raw_before
        )
    again = wall("migrate", store_url=url)  # nothing left to do
    assert again.returncode == 0, again.stderr
    assert "no point to move between policies" in again.stdout
    # A move interrupted (its mark says not done): refused, then finished by running it again.
    with open_store(Settings(store=url)) as store:
        store.write_marker("policy_moves", {"done": False}, {"measurement": "wifi_usage"})
    assert wall("check", store_url=url).returncode == 2
    resumed = wall("migrate", store_url=url)
    assert resumed.returncode == 0, resumed.stderr
    assert f"wifi_usage: copied {len(raw_before):,} points" in resumed.stdout
    assert wall("check", store_url=url).returncode == 0


def test_a_store_of_a_newer_version_stops_the_wall_with_one_line(quick_influxd: Influxd) -> None:
    url = f"influxdb://127.0.0.1:{quick_influxd.port}/newer"
    with open_store(Settings(store=url)) as store:
        store.check()
        store.write_marker("store_schema", {"version": 3})
    for command in (("check",), ("serve", "--port", "1")):
        refused = wall(*command, store_url=url)
        assert refused.returncode == 2, refused.stderr
        assert (
            refused.stderr.strip()
            .splitlines()[-1]
            .endswith(
                "is a store of version 3, written by a newer wall; this one reads version 2: "
                "run the newer wall"
            )
        )
        assert "Traceback" not in refused.stderr


def test_a_new_store_records_its_version_and_policies_at_start_with_a_log_line(
    quick_influxd: Influxd,
) -> None:
    url = f"influxdb://127.0.0.1:{quick_influxd.port}/fresh"
    first = wall("check", store_url=url)
    assert first.returncode == 0, first.stderr
    assert "created retention policy raw_camera_status keeping points 15 days" in first.stderr
    assert "created retention policy rollup_5m" in first.stderr
    assert "recorded store version 2" in first.stderr
    second = wall("check", store_url=url)
    assert second.returncode == 0, second.stderr
    assert "created retention policy" not in second.stderr
    assert "recorded store version" not in second.stderr


def test_a_database_dropped_and_recreated_gets_its_policies_again_and_loses_nothing(
    own_influxd: Influxd, tmp_path
) -> None:
    """The raw points' policy goes with a dropped database: the feed holds its points (a store
    problem), the database and its policies are made again, and every message is stored once,
    in its policy."""
    from feeds.ingest import Ingestor
    from tests.test_ingest import camera, stored_cameras, wait_for

    url = f"influxdb://127.0.0.1:{own_influxd.port}/ingest"
    store = open_store(Settings(store=url, influx_retries=0, influx_timeout_seconds=2))
    store.check()
    ingestor = Ingestor(store, feed="test", batch_size=40, spool_dir=tmp_path / "spool")
    for i in range(50):
        ingestor.handle(*camera(i))
    ingestor.flush()
    own_influxd.query("DROP DATABASE ingest")
    for i in range(50, 250):
        ingestor.handle(*camera(i))
    ingestor.flush()
    wait_for(lambda: ingestor.stats["written"] == 250, timeout=30)
    ingestor.close()
    assert ingestor.stats["rejected"] == 0
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(50, 250)]
    assert "raw_camera_status" in store.policies()
    in_policy = requests.post(
        own_influxd.url + "/query",
        data={"db": "ingest", "q": 'SELECT count(fps) FROM "raw_camera_status"."camera_status"'},
        timeout=10,
    ).json()["results"][0]["series"][0]["values"][0][1]
    assert in_policy == 200
