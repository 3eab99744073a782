"""The ingest path on the real store backends, and through a real influxd going down and up."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from feeds.ingest import Ingestor
from feeds.inventory import town_inventory
from feeds.known_values import KnownValues
from tests.conftest import ADMIN, influx_store_url
from tests.servers import Influxd
from wall.settings import Settings
from wall.store import Point, Store, open_store
from wall.store.influx import InfluxStore

NOW = datetime.now(UTC).replace(microsecond=0)


def camera(i: int) -> tuple[str, bytes]:
    ts = NOW - timedelta(seconds=60) + timedelta(milliseconds=i)
    payload = {"online": i % 3 != 0, "fps": 25, "ward": "Hiệp Tân", "ts": ts.isoformat()}
    return f"ioc/camera/cam-{i:05d}/status", json.dumps(payload).encode()


def stored_cameras(store: Store) -> list[str]:
    frame = store.points("camera_status", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    return sorted(frame["camera_id"]) if not frame.empty else []


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


BAD = [
    ("ioc/camera/cam-x/status", b"{not json"),
    ("ioc/camera/cam-x/status", b"[1, 2]"),
    ("ioc/camera/cam-x/status", b'{"online": "yes"}'),
    ("ioc/wifi/ap-1/usage", b'{"up": true}'),
    ("ioc/elevator/e1/status", b'{"online": true}'),
    ("ioc/camera/cam x/status", b'{"online": true}'),
    ("ioc/camera/cam-x/status", b'{"online": true, "name": "' + b"x" * 20_000 + b'"}'),
    ("ioc/camera/cam-x/status", b"\xff\xfe"),
]


def test_good_messages_land_and_bad_ones_are_counted_around_them(store: Store) -> None:
    durable: list[int] = []
    ingestor = Ingestor(store, feed="test", batch_size=50, batch_seconds=0.2)
    results = []
    for i in range(100):
        results.append(ingestor.handle(*camera(i), on_durable=lambda i=i: durable.append(i)))
        if i % 10 == 0:
            results.append(ingestor.handle(*BAD[i // 10 % len(BAD)]))
    ingestor.close()
    assert results.count(False) == 10 and results.count(True) == 100
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(100)]
    assert durable == list(range(100))  # each once, in arrival order
    stats = ingestor.stats
    assert (stats["received"], stats["rejected"], stats["written"]) == (110, 10, 100)
    assert stats["last_message_time"] is not None


def test_a_batch_is_durable_once_all_its_good_messages_are_stored_and_bad_ones_counted(
    store: Store,
) -> None:
    durable: list[tuple[int, list[str]]] = []
    ingestor = Ingestor(store, feed="test", batch_size=50, batch_seconds=0.1)
    for n in range(3):  # batches of 40 good messages with bad ones among them
        batch = []
        for i in range(n * 40, n * 40 + 40):
            batch.append((*camera(i), NOW))
            if i % 10 == 0:
                batch.append((*BAD[i // 10 % len(BAD)], NOW))
        ingestor.handle_batch(
            batch, on_durable=lambda n=n: durable.append((n, stored_cameras(store)))
        )
    ingestor.close()
    assert [n for n, _ in durable] == [0, 1, 2]  # each batch once, in arrival order
    for n, seen in durable:
        assert {f"cam-{i:05d}" for i in range(n * 40 + 40)} <= set(seen)
    stats = ingestor.stats
    assert (stats["received"], stats["rejected"], stats["written"]) == (132, 12, 120)
    assert stats["last_message_time"] == NOW


def test_on_durable_is_called_only_once_the_points_can_be_read_back(store_url: str) -> None:
    settings = Settings(store=store_url)
    with open_store(settings) as writer, open_store(settings) as reader:
        writer.check()
        seen_in_store: list[bool] = []
        ingestor = Ingestor(writer, feed="test", batch_size=7, batch_seconds=0.1)
        for i in range(20):
            ingestor.handle(
                *camera(i),
                on_durable=lambda i=i: seen_in_store.append(
                    f"cam-{i:05d}" in stored_cameras(reader)
                ),
            )
        ingestor.close()
    assert seen_in_store == [True] * 20


def test_batches_are_written_by_size_and_the_rest_by_time(store: Store) -> None:
    durable: list[int] = []
    wait = 1.5
    ingestor = Ingestor(
        store, feed="test", batch_size=10, batch_seconds=wait, batch_idle_seconds=wait
    )
    start = time.monotonic()
    for i in range(25):
        ingestor.handle(*camera(i), on_durable=lambda i=i: durable.append(i))
    wait_for(lambda: len(durable) >= 20)
    assert len(durable) == 20  # two full batches, the last five wait for the time trigger
    assert time.monotonic() - start < wait
    wait_for(lambda: len(durable) == 25, timeout=5)
    assert time.monotonic() - start >= wait
    ingestor.close()
    assert len(stored_cameras(store)) == 25


def test_a_lone_message_is_written_without_waiting_for_more(store: Store) -> None:
    durable: list[int] = []
    ingestor = Ingestor(store, feed="test", batch_size=1000, batch_seconds=0.3)
    ingestor.handle(*camera(7), on_durable=lambda: durable.append(7))
    wait_for(lambda: durable == [7], timeout=3)
    assert stored_cameras(store) == ["cam-00007"]
    ingestor.close()


def test_rejects_are_logged_naming_topic_and_reason_at_most_once_per_interval(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ingestor = Ingestor(store, feed="test", reject_log_seconds=0.5)
    dead: list[tuple[str, bytes, str]] = []
    ingestor.dead_letter = lambda *message: dead.append(message)
    with caplog.at_level(logging.WARNING, logger="feeds.ingest"):
        for _ in range(30):
            ingestor.handle("ioc/wifi/ap-7/usage", b'{"up": true}')
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1
        assert "ioc/wifi/ap-7/usage" in lines[0] and "clients" in lines[0]
        time.sleep(0.6)
        ingestor.handle("ioc/wifi/ap-8/usage", b'{"up": true}')
        lines = [r.getMessage() for r in caplog.records]
    ingestor.close()
    assert len(lines) == 2 and "29 more" in lines[1] and "ioc/wifi/ap-8/usage" in lines[1]
    assert len(dead) == 31 and dead[0][0] == "ioc/wifi/ap-7/usage" and "clients" in dead[0][2]
    assert ingestor.stats["rejected"] == 31


# -- store down and back: a private influxd, so the shared one is never disturbed --------------


def influx(server: Influxd) -> InfluxStore:
    store = InfluxStore(f"influxdb://127.0.0.1:{server.port}/ingest", timeout_seconds=2, retries=0)
    store.check()
    return store


def test_store_down_spools_then_replays_everything_when_it_is_back(
    own_influxd: Influxd, tmp_path: Path
) -> None:
    store = influx(own_influxd)
    ingestor = Ingestor(store, feed="test", batch_size=40, spool_dir=tmp_path / "spool")
    for i in range(50):
        ingestor.handle(*camera(i))
    ingestor.flush()
    own_influxd.stop()
    durable: list[int] = []
    for i in range(50, 250):
        ingestor.handle(*camera(i), on_durable=lambda i=i: durable.append(i))
    ingestor.flush()  # durable in the spool while the store is down
    assert durable == list(range(50, 250))
    assert ingestor.stats["spooled"] == 200 and not ingestor.stats["store_up"]
    assert list((tmp_path / "spool").glob("*.spool"))
    own_influxd.start()
    for i in range(250, 300):  # new ones queue behind the spool, none is lost
        ingestor.handle(*camera(i))
    wait_for(lambda: ingestor.stats["written"] == 300, timeout=20)
    ingestor.close()
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(300)]
    assert ingestor.stats["spooled"] == 0 and not list((tmp_path / "spool").glob("*.spool"))


def test_spool_left_by_a_stopped_process_is_replayed_by_the_next(
    own_influxd: Influxd, tmp_path: Path
) -> None:
    store = influx(own_influxd)
    own_influxd.stop()
    first = Ingestor(store, feed="test", spool_dir=tmp_path / "spool")
    for i in range(100):
        first.handle(*camera(i))
    first.close()
    assert first.stats["written"] == 0
    own_influxd.start()
    second = Ingestor(store, feed="test", spool_dir=tmp_path / "spool")
    wait_for(lambda: len(stored_cameras(store)) == 100, timeout=15)
    second.close()


def test_full_spool_blocks_the_caller_instead_of_dropping(
    own_influxd: Influxd, tmp_path: Path
) -> None:
    store = influx(own_influxd)
    own_influxd.stop()
    ingestor = Ingestor(
        store, feed="test", batch_size=50, spool_dir=tmp_path / "spool", spool_max_bytes=20_000
    )
    handled = []

    def publish() -> None:
        for i in range(3000):
            ingestor.handle(*camera(i))
            handled.append(i)

    sender = threading.Thread(target=publish, daemon=True)
    sender.start()
    time.sleep(2)
    assert sender.is_alive() and len(handled) < 3000  # held back, not dropped
    assert 0 < ingestor.stats["spool_bytes"] <= 20_000
    own_influxd.start()
    sender.join(20)
    assert not sender.is_alive()
    ingestor.close()
    assert len(stored_cameras(store)) == 3000


def test_a_down_store_never_slows_the_caller_and_shows_as_lag(
    own_influxd: Influxd,
) -> None:
    store = InfluxStore(
        f"influxdb://127.0.0.1:{own_influxd.port}/ingest", timeout_seconds=2, retries=2
    )
    own_influxd.stop()
    durable: list[int] = []
    ingestor = Ingestor(store, feed="test", batch_size=10, batch_seconds=0.05)  # no spool
    for i in range(30):  # well under the queue bound: handle must return at once
        ingestor.handle(*camera(i), on_durable=lambda i=i: durable.append(i))
    assert ingestor.stats["received"] == 30 and durable == []  # the writer is stuck, not us
    time.sleep(1)
    assert ingestor.stats["lag_s"] >= 1 and not ingestor.stats["store_up"]
    own_influxd.start()
    wait_for(lambda: len(durable) == 30, timeout=20)
    assert ingestor.stats["lag_s"] == 0
    ingestor.close()
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(30)]


def test_an_unexpected_store_error_keeps_the_data_for_a_retry(store: Store, tmp_path: Path) -> None:
    """A store failing in a way nobody foresaw (here: a bug raising TypeError on the first
    write) must neither stop the writer nor lose the batch."""
    real_write = store.write
    calls = []

    def write_with_a_bug_once(points):
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("unforeseen")
        return real_write(points)

    store.write = write_with_a_bug_once
    ingestor = Ingestor(store, feed="test", spool_dir=tmp_path / "spool")
    for i in range(20):
        ingestor.handle(*camera(i))
    ingestor.flush()
    wait_for(lambda: len(stored_cameras(store)) == 20, timeout=10)
    ingestor.close()
    assert len(calls) >= 2


# -- what the store refuses: about the points (rejected) or about the store (held back) --------


def named_camera(i: int) -> tuple[str, bytes]:
    topic, payload = camera(i)
    return topic, json.dumps({**json.loads(payload), "name": "Cổng chợ Long Hoa"}).encode()


def test_a_point_the_store_refuses_is_rejected_and_dead_lettered_and_its_batch_kept(
    influxd: Influxd,
) -> None:
    with open_store(Settings(store=influx_store_url(influxd))) as store:
        store.check()  # a camera's name stored as a number once: text names now conflict
        store.write([Point("camera_status", {"camera_id": "cam-seed"}, {"name": 5}, NOW)])
        dead: list[tuple[str, bytes, str]] = []
        ingestor = Ingestor(
            store, feed="test", batch_size=100, dead_letter=lambda *m: dead.append(m)
        )
        ingestor.handle_batch(
            [(*(named_camera(i) if i in (10, 35) else camera(i)), NOW) for i in range(60)]
        )
        ingestor.close()
        assert stored_cameras(store) == sorted(
            ["cam-seed", *(f"cam-{i:05d}" for i in range(60) if i not in (10, 35))]
        )
    assert [(topic, json.loads(payload)["tags"]["camera_id"]) for topic, payload, _ in dead] == [
        ("camera_status", "cam-00010"),
        ("camera_status", "cam-00035"),
    ]
    assert all("field type conflict" in reason for _, _, reason in dead)
    stats = ingestor.stats
    assert (stats["rejected"], stats["written"], stats["store_problem"]) == (2, 58, "")


def test_a_database_dropped_mid_stream_holds_the_points_until_it_is_back(
    own_influxd: Influxd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """404 `database not found` is about the store: nothing is rejected. The writer's retry
    creates the database again (as at start, where the user may) and replays the spool."""
    store = influx(own_influxd)
    ingestor = Ingestor(store, feed="test", batch_size=40, spool_dir=tmp_path / "spool")
    for i in range(50):
        ingestor.handle(*camera(i))
    ingestor.flush()
    own_influxd.query("DROP DATABASE ingest")
    durable: list[int] = []
    with caplog.at_level(logging.ERROR, logger="feeds.ingest"):
        for i in range(50, 250):
            ingestor.handle(*camera(i), on_durable=lambda i=i: durable.append(i))
        ingestor.flush()
        assert durable == list(range(50, 250))
        wait_for(lambda: ingestor.stats["written"] == 250)
    ingestor.close()
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(50, 250)]
    assert sum("database not found" in m for m in caplog.messages) == 1  # once, not per retry
    assert ingestor.stats["rejected"] == 0 and ingestor.stats["spooled"] == 0
    frame = store.points("camera_status", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert len(frame) == 200  # each message once


def test_a_user_that_may_not_write_holds_everything_back_until_it_may(
    secured_influxd: Influxd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secured_influxd.query("CREATE DATABASE ingest", ADMIN)
    secured_influxd.query("CREATE USER feeder WITH PASSWORD 'f'", ADMIN)
    secured_influxd.query("GRANT READ ON ingest TO feeder", ADMIN)
    store = InfluxStore(
        f"influxdb://feeder:f@127.0.0.1:{secured_influxd.port}/ingest", timeout_seconds=2, retries=0
    )
    ingestor = Ingestor(store, feed="test", batch_size=40, spool_dir=tmp_path / "spool")
    with caplog.at_level(logging.ERROR, logger="feeds.ingest"):
        for i in range(100):
            ingestor.handle(*camera(i))
        ingestor.flush()  # durable: in the spool
        time.sleep(2)  # retries at 0.5 and 1.5 s, refused again
    stats = ingestor.stats
    assert (stats["rejected"], stats["written"], stats["spooled"]) == (0, 0, 100)
    assert not stats["store_up"] and "not authorized" in stats["store_problem"]
    assert sum("not authorized" in m for m in caplog.messages) == 1  # once, not per retry
    secured_influxd.query("GRANT ALL ON ingest TO feeder", ADMIN)  # read and write
    wait_for(lambda: ingestor.stats["written"] == 100, timeout=30)
    ingestor.close()
    assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(100)]
    assert ingestor.stats["store_problem"] == ""


def test_batches_over_the_servers_request_limit_are_split_not_rejected(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = Influxd(tmp_path_factory.mktemp("small-requests"), max_body_size=2000)
    server.start()
    try:
        store = influx(server)
        ingestor = Ingestor(store, feed="test", batch_size=1000)
        ingestor.handle_batch([(*camera(i), NOW) for i in range(1000)])
        ingestor.close()
        assert stored_cameras(store) == [f"cam-{i:05d}" for i in range(1000)]
    finally:
        server.stop()
    assert ingestor.stats["rejected"] == 0
    assert store.lines_per_request < 1000  # smaller requests, not one per point


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real file system of 1 MiB (tmpfs), grown later by a remount: a disk that fills up."""
    import subprocess

    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)

    try:
        yield folder, grow
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_holds_back_new_messages_and_loses_nothing_acknowledged(
    small_disk, caplog: pytest.LogCaptureFixture
) -> None:
    """The store and the spool on one disk that fills up: the worker stops taking messages
    (the broker keeps them), says why once, and writes everything once there is room."""
    folder, grow = small_disk
    caplog.set_level(logging.INFO)
    store = open_store(Settings(store=f"sqlite:///{folder / 'ioc.db'}"))
    ingestor = Ingestor(store, feed="test", batch_size=100, spool_dir=folder / "spool")
    acknowledged: list[int] = []
    handled: list[int] = []

    def publish() -> None:
        for i in range(20_000):
            ingestor.handle(*camera(i), on_durable=lambda i=i: acknowledged.append(i))
            handled.append(i)

    sender = threading.Thread(target=publish, daemon=True)
    sender.start()
    wait_for(lambda: any("holding back new messages" in m for m in caplog.messages), 60)
    time.sleep(1)
    held_at = len(handled)
    time.sleep(1)
    assert sender.is_alive() and len(handled) == held_at < 20_000  # not taking, not dropping
    acknowledged_while_full = set(acknowledged)
    grow()
    sender.join(60)
    assert not sender.is_alive()
    ingestor.close()
    assert stored_cameras(store) == sorted(f"cam-{i:05d}" for i in range(20_000))
    assert acknowledged_while_full <= set(acknowledged) == set(range(20_000))
    full = [m for m in caplog.messages if "holding back new messages" in m]
    assert len(full) == 1, full  # once, not at every retry
    down = [m for m in caplog.messages if "store does not take writes" in m]
    assert len(down) == 1, down  # no flapping between "full" and "takes writes again"
    assert not [r for r in caplog.records if r.exc_info]
    store.close()


def garbled(i: int) -> list[tuple[str, bytes, datetime]]:
    """A misbehaving device's messages: a new ward, site and category in every one."""
    at = NOW - timedelta(seconds=30) + timedelta(milliseconds=i)
    wifi = {"up": True, "clients": 3, "ward": f"phuong-{i}", "site": f"site {i}"}
    report = {"status": "new", "category": f"cat_{i}", "ward": "Long Hoa"}
    return [
        (f"ioc/wifi/ap-{i % 7:03d}/usage", json.dumps(wifi).encode(), at),
        (f"ioc/report/r-{i % 7}", json.dumps(report).encode(), at),
    ]


def test_tag_values_the_town_does_not_know_are_stored_as_unknown_with_the_original_kept(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ingestor = Ingestor(store, feed="test", known=KnownValues.of(town_inventory(Settings())))
    for _ in range(3):  # the same unknown values again: logged once each
        ingestor.handle_batch(garbled(1))
    known = {"up": True, "clients": 5, "ward": "Long Hoa", "site": "Chợ Long Hoa"}
    ingestor.handle("ioc/wifi/ap-100/usage", json.dumps(known).encode(), NOW)
    ingestor.close()
    wifi = store.points("wifi_usage", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    rows = {row.ap_id: row for row in wifi.itertuples()}
    assert (rows["ap-001"].ward, rows["ap-001"].ward_given) == ("unknown", "phuong-1")
    assert (rows["ap-001"].site, rows["ap-001"].site_given) == ("unknown", "site 1")
    assert (rows["ap-100"].ward, rows["ap-100"].site) == ("Long Hoa", "Chợ Long Hoa")
    assert pd.isna(rows["ap-100"].ward_given)
    [report] = store.points("field_report", NOW - timedelta(hours=1), NOW).itertuples()
    assert (report.category, report.category_given, report.ward) == ("unknown", "cat_1", "Long Hoa")
    assert ingestor.stats["unknown_values"] == 9 and ingestor.stats["rejected"] == 0
    told = [m for m in caplog.messages if "is not one the town knows" in m]
    assert sorted(told) == sorted(
        f"{tag} {value!r} is not one the town knows: stored as 'unknown', the original in "
        f"{tag}_given"
        for tag, value in (("ward", "phuong-1"), ("site", "site 1"), ("category", "cat_1"))
    )


def test_a_device_sending_new_wards_adds_no_tag_values_past_the_servers_limit(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = Influxd(tmp_path_factory.mktemp("few-tag-values"), max_values_per_tag=20)
    server.start()
    try:
        store = influx(server)
        ingestor = Ingestor(store, feed="test", batch_size=40)
        for start in range(0, 200, 20):  # several writes: a write is checked against the last
            ingestor.handle_batch([m for i in range(start, start + 20) for m in garbled(i)])
            ingestor.flush()
        ingestor.close()
        wifi = store.points("wifi_usage", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    finally:
        server.stop()
    assert ingestor.stats["rejected"] == 0 and ingestor.stats["written"] == 400
    assert len(wifi) == 200 and set(wifi["ward"]) == {"unknown"}
    assert set(wifi["ward_given"]) == {f"phuong-{i}" for i in range(200)}


def test_a_worker_whose_store_refuses_its_writes_says_so_in_its_health_while_it_lasts(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Its data waits in the spool; its health point does not, or the wall would learn of the
    refusal only once it is over (and see a feed merely gone quiet meanwhile)."""
    from feeds.health import HealthReporter

    server = Influxd(tmp_path_factory.mktemp("few-camera-ids"), max_values_per_tag=3)
    server.start()
    try:
        store = influx(server)
        ingestor = Ingestor(store, feed="mqtt:test", batch_size=10, spool_dir=tmp_path)
        reporter = HealthReporter(ingestor, "mqtt:test", interval=3600)
        cameras = [
            (f"ioc/camera/cam-{n}/status", b'{"online": true}', NOW + timedelta(seconds=n))
            for n in range(6)
        ]
        for start in (0, 3):  # three ids stored: a write of new ones passes the limit of 3
            ingestor.handle_batch(cameras[start : start + 3])
            ingestor.flush()
        assert "max-values-per-tag" in ingestor.stats["store_problem"]
        assert ingestor.stats["spooled"] == 3
        reporter.report()
        health = store.latest("feed_health", "feed").to_dict("records")
        ingestor.close(timeout=1)
    finally:
        server.stop()
    [row] = health
    assert row["feed"] == "mqtt:test" and row["spooled"] == 3
    assert "max-values-per-tag limit exceeded" in row["store_problem"]


def test_many_thousand_reports_are_taken_by_an_influxd_allowing_few_tag_values(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A report's id is a field: 5,000 reports add no tag values past a limit of 100 (a city's
    two months against the default limit of 100,000, when each report was a series)."""
    server = Influxd(tmp_path_factory.mktemp("few-tag-values-reports"), max_values_per_tag=100)
    server.start()
    try:
        store = influx(server)
        ingestor = Ingestor(store, feed="test", batch_size=1000)
        messages = []
        for n in range(5000):
            payload = {
                "category": "traffic",
                "status": ("new", "closed")[n % 2],
                "ward": "Long Hoa",
            }
            at = NOW - timedelta(minutes=n % 600, milliseconds=n)
            messages.append((f"ioc/report/PA-{n:05d}", json.dumps(payload).encode(), at))
        for start in range(0, 5000, 500):  # several writes: each is checked against the last
            ingestor.handle_batch(messages[start : start + 500])
            ingestor.flush()
        ingestor.close()
        latest = store.latest("field_report", "report_id")
        still_open = store.latest("field_report", "report_id", unless={"status": ["closed"]})
    finally:
        server.stop()
    assert ingestor.stats["rejected"] == 0 and ingestor.stats["written"] == 5000
    assert ingestor.stats["store_problem"] == ""
    assert sorted(latest["report_id"]) == [f"PA-{n:05d}" for n in range(5000)]
    assert len(still_open) == 2500 and set(still_open["status"]) == {"new"}
