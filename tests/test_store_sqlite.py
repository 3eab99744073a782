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


def test_a_frame_becomes_the_rows_its_points_would() -> None:
    from tests.test_store_contract import frame_points, tricky_camera_frame
    from wall.store.base import frame_columns
    from wall.store.sqlite import _frame_rows, _point_row

    frame, tags = tricky_camera_frame(), ["ward", "camera_id"]
    rows, newest = _frame_rows(frame_columns("camera_status", frame, tags))
    points = frame_points("camera_status", frame, tags)
    # Reordered series by series (the order of rows written twice is kept: the contract test).
    assert sorted(rows) == sorted(_point_row(p) for p in points)
    t0 = min(r[2] for r in rows)
    assert sorted((r[1], (r[2] - t0) // 60_000) for r in newest) == [
        ('{"camera_id":"c 3","ward":"Khu\\\\B"}', 3),
        ('{"camera_id":"c 3","ward":"Khu\\\\B"}', 3),
        ('{"camera_id":"c1","ward":"Hiệp Tân"}', 5),
        ('{"camera_id":"c2","ward":"Tòa \\"A\\", tầng=2"}', 5),
    ]


def test_a_sum_of_integers_past_64_bits_is_refused_not_wrapped(tmp_path) -> None:
    import pytest

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


def test_changes_of_a_boolean_found_in_the_text_agree_with_its_parsed_values(tmp_path) -> None:
    """changes() reads a boolean field from the stored JSON text without parsing it: a text
    field that quotes it, a point merged from two writes and an older point where the field
    is a number must not mislead it."""

    def cam(minute: int, **fields) -> Point:
        return Point("camera_status", {"camera_id": "c1"}, fields, T0 + timedelta(minutes=minute))

    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        store.write(
            [
                cam(0, online=True),
                cam(1, online=False, name='"online":true, "online":true'),
                cam(2, fps=1.0),  # without the field
                cam(3, online=False),
                cam(3, fps=2.0),  # merged into the point of minute 3
                cam(4, online=True, name='x", "online": false'),
            ]
        )

        def changes(start: int) -> list[tuple]:
            frame = store.changes(
                "camera_status",
                "online",
                "camera_id",
                T0 + timedelta(minutes=start),
                T0 + timedelta(minutes=10),
            )
            return [
                (int((t - T0).total_seconds() // 60), v)
                for t, v in zip(frame["time"], frame["online"], strict=True)
            ]

        assert changes(0) == [(0, True), (1, False), (4, True)]
        store.write([cam(-1, online=1)])  # a number once: 1 and true are different values
        assert [(m, type(v)) for m, v in changes(-1)] == [
            (-1, int),
            (0, bool),
            (1, bool),
            (4, bool),
        ]


def test_a_point_a_constraint_refuses_is_refused_alone_and_the_others_are_written(
    tmp_path,
) -> None:
    """A constraint about a row (here a trigger an administrator added) refuses that point only."""
    import sqlite3

    path = tmp_path / "ioc.db"
    with open_store(Settings(store=f"sqlite:///{path}")) as store:
        store.check()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER no_negative BEFORE INSERT ON points "
                "WHEN json_extract(NEW.fields, '$.clients') < 0 "
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
