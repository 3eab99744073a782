"""The embedded store with one writer process and several reader processes at once."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest

from wall.settings import Settings
from wall.store import Point, PointsRefused, StoreUnavailable, open_store

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BATCHES, CAMERAS = 40, 50


def write_camera_minutes(url: str) -> None:
    with open_store(Settings(store=url)) as store:
        for minute in range(BATCHES):
            store.write(
                Point(
                    "camera_status",
                    {"camera_id": f"cam-{c}", "ward": "Hiệp Tân"},
                    {"online": True, "minute": minute},
                    T0 + timedelta(minutes=minute),
                )
                for c in range(CAMERAS)
            )


def read_while_written(url: str, results: multiprocessing.Queue) -> None:
    """Read until the writer's last minute is seen; report what each read saw."""
    seen = []
    with open_store(Settings(store=url)) as store:
        for _ in range(2000):
            latest = store.latest("camera_status", "camera_id")
            newest = int(latest["minute"].min()) if len(latest) == CAMERAS else -1
            seen.append(newest)
            if newest == BATCHES - 1:
                break
    results.put(seen)


def test_one_writer_and_several_readers_in_separate_processes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ioc.db'}"
    with open_store(Settings(store=url)) as store:
        store.check()
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    readers = [ctx.Process(target=read_while_written, args=(url, results)) for _ in range(3)]
    writer = ctx.Process(target=write_camera_minutes, args=(url,))
    for p in [*readers, writer]:
        p.start()
    writer.join(60)
    seen = [results.get(timeout=60) for _ in readers]
    for p in readers:
        p.join(10)
    assert writer.exitcode == 0
    assert all(p.exitcode == 0 for p in readers)
    for reads in seen:
        assert reads[-1] == BATCHES - 1  # every reader reached the end
        assert reads == sorted(reads)  # and never saw time go backwards (no torn batch)
    with open_store(Settings(store=url)) as store:
        frame = store.points("camera_status", T0, T0 + timedelta(hours=1))
        assert len(frame) == BATCHES * CAMERAS


def test_the_event_log_refuses_changes_to_past_events(tmp_path) -> None:
    import sqlite3

    from wall.store import Event

    path = tmp_path / "ioc.db"
    with open_store(Settings(store=f"sqlite:///{path}")) as store:
        store.append_events([Event.new("alerts", "k", "raised")])
    conn = sqlite3.connect(path)
    for statement in ("UPDATE events SET kind = 'cleared'", "DELETE FROM events"):
        try:
            conn.execute(statement)
        except sqlite3.DatabaseError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{statement} was allowed")
    assert conn.execute("SELECT kind FROM events").fetchall() == [("raised",)]


def test_a_frame_becomes_the_rows_its_points_would(tmp_path) -> None:
    from tests.test_store_contract import frame_points, tricky_camera_frame
    from wall.store.base import frame_columns
    from wall.store.sqlite import Catalog, _frame_rows, _point_rows

    frame, tags = tricky_camera_frame(), ["ward", "camera_id"]
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        conn = store._connection()
        conn.execute("BEGIN IMMEDIATE")
        catalog = Catalog()
        [framed] = _frame_rows(conn, catalog, frame_columns("camera_status", frame, tags))
        [pointed] = _point_rows(conn, catalog, frame_points("camera_status", frame, tags))
        conn.execute("ROLLBACK")
    # Reordered series by series (the order of rows written twice is kept: the contract test).
    assert framed.fields == pointed.fields
    assert sorted(framed.rows) == sorted(pointed.rows)
    series = {id_: tags for (_, tags), id_ in catalog.series.items()}
    t0 = min(r[1] for r in framed.rows)
    assert sorted((series[r[0]], (r[1] - t0) // 60_000) for r in framed.newest) == [
        ('{"camera_id":"c 3","ward":"Khu\\\\B"}', 3),
        ('{"camera_id":"c 3","ward":"Khu\\\\B"}', 3),
        ('{"camera_id":"c1","ward":"Hiệp Tân"}', 5),
        ('{"camera_id":"c2","ward":"Tòa \\"A\\", tầng=2"}', 5),
    ]


def test_a_sum_of_integers_past_64_bits_is_refused_not_wrapped(tmp_path) -> None:
    from wall.store import StoreError

    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        store.write(
            Point("wifi_usage", {"ap_id": ap}, {"rx_bytes": 2**62}, T0) for ap in ("a", "b")
        )
        end, every = T0 + timedelta(minutes=5), timedelta(minutes=5)
        assert store.aggregate("wifi_usage", "rx_bytes", "max", T0, end, every)[
            "value"
        ].tolist() == [2**62]
        with pytest.raises(StoreError, match="64-bit"):
            store.aggregate("wifi_usage", "rx_bytes", "sum", T0, end, every)


def test_a_field_given_another_type_refuses_that_point_only(tmp_path) -> None:
    """A field keeps the type it was first written with (as in InfluxDB): a point giving it
    another is refused (PointsRefused naming the field), the others of its write are stored."""

    def cam(minute: int, **fields) -> Point:
        return Point("camera_status", {"camera_id": "c1"}, fields, T0 + timedelta(minutes=minute))

    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        store.write([cam(0, online=True, fps=25.0)])
        for minute, wrong in ((2, cam(1, online=1)), (3, cam(1, fps=25)), (4, cam(1, online="x"))):
            with pytest.raises(PointsRefused) as refusal:
                store.write([cam(minute, online=False, note="mới"), wrong])
            assert [p for p, _ in refusal.value.refused] == [wrong]
            assert refusal.value.written == 1
            assert "of camera_status holds" in refusal.value.refused[0][1]
        frame = store.points("camera_status", T0, T0 + timedelta(hours=1))
        assert frame["time"].tolist() == [T0 + timedelta(minutes=m) for m in (0, 2, 3, 4)]
        assert frame["online"].tolist() == [True, False, False, False]
        assert store.changes("camera_status", "online", "camera_id", T0, T0 + timedelta(hours=1))[
            "online"
        ].tolist() == [True, False]


def test_the_feed_path_keeps_the_points_around_one_whose_field_changed_type(tmp_path) -> None:
    """The MQTT and poll workers write through the Ingestor: the store refusing a point of a
    batch for its field's type keeps the others, and only that one is counted rejected."""
    from feeds.ingest import Ingestor

    def cam(camera_id: str, minute: int, fps: float) -> Point:
        return Point(
            "camera_status", {"camera_id": camera_id}, {"fps": fps}, T0 + timedelta(minutes=minute)
        )

    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        store.write([cam("c1", 0, 25.0)])
        ingestor = Ingestor(store, feed="test")
        ingestor.write_points([cam("c1", 1, 24.0), cam("c2", 1, 25), cam("c3", 1, 23.5)])
        ingestor.close()
        assert (ingestor.stats["written"], ingestor.stats["rejected"]) == (2, 1)
        frame = store.points("camera_status", T0, T0 + timedelta(minutes=5))
        assert sorted(zip(frame["camera_id"], frame["fps"], strict=True)) == [
            ("c1", 24.0),
            ("c1", 25.0),
            ("c3", 23.5),
        ]


def test_a_point_a_constraint_refuses_is_refused_alone_and_the_others_are_written(
    tmp_path,
) -> None:
    """A constraint about a row (here a trigger an administrator added) refuses that point only."""
    import sqlite3

    path = tmp_path / "ioc.db"
    with open_store(Settings(store=f"sqlite:///{path}")) as store:
        store.check()
        store.write([Point("wifi_usage", {"ap_id": "ap0"}, {"clients": 0}, T0)])  # its tables
        with sqlite3.connect(path) as conn:
            (table,) = conn.execute("SELECT id FROM measurements WHERE name = 'wifi_usage'")
            (column,) = conn.execute("SELECT id FROM fields WHERE name = 'clients'")
            conn.execute(
                f"CREATE TRIGGER no_negative BEFORE INSERT ON points_{table[0]} "
                f"WHEN NEW.f{column[0]} < 0 "
                "BEGIN SELECT RAISE(ABORT, 'clients cannot be negative'); END"
            )
        points = [
            Point("wifi_usage", {"ap_id": f"ap{i}"}, {"clients": -1 if i == 3 else i}, T0)
            for i in range(8)
        ]
        try:
            store.write(points)
        except PointsRefused as exc:
            assert [(p, "negative" in why) for p, why in exc.refused] == [(points[3], True)]
            assert exc.written == 7
        else:
            raise AssertionError("the trigger's refusal was not reported")
        assert sorted(store.latest("wifi_usage", "ap_id")["ap_id"]) == [
            f"ap{i}" for i in range(8) if i != 3
        ]


def test_a_locked_database_is_a_store_failure_not_a_refused_point(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "ioc.db"
    with open_store(Settings(store=f"sqlite:///{path}", influx_timeout_seconds=0.2)) as store:
        store.check()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match="locked"):
            store.write([Point("wifi_usage", {"ap_id": "ap1"}, {"clients": 1}, T0)])
        other.execute("ROLLBACK")
        assert store.write([Point("wifi_usage", {"ap_id": "ap1"}, {"clients": 1}, T0)]) == 1


def test_a_field_added_by_another_writer_is_cleared_from_the_newest_point_by_a_newer_one(
    tmp_path,
) -> None:
    """Each connection knows the store's fields from its last write; another process may have
    added one since. A newer point without it must still replace the newest point whole."""
    url = f"sqlite:///{tmp_path / 'ioc.db'}"

    def cam(minute: int, **fields) -> Point:
        return Point("camera_status", {"camera_id": "c1"}, fields, T0 + timedelta(minutes=minute))

    with open_store(Settings(store=url)) as first, open_store(Settings(store=url)) as second:
        first.write([cam(0, online=True)])
        second.write([cam(1, online=False, fps=3.0)])  # a field `first` has not seen
        first.write([cam(2, online=True)])
        latest = first.latest("camera_status", "camera_id")
        assert latest.loc[0, "online"] and "fps" not in latest.columns
        assert second.points("camera_status", T0, T0 + timedelta(minutes=5))["fps"].tolist()[
            1
        ] == pytest.approx(3.0)
