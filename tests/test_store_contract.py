"""One contract, two backends: every test here runs against SQLite and against a real influxd."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wall.domain import CLOSED_REPORT_STATUSES, report_slot
from wall.settings import Settings
from wall.store import Event, InvalidPoint, KeyState, Point, Store, StoreError, open_store
from wall.store.base import to_ms
from wall.store.influx import MAX_SILENT_ENTITIES_ASKED
from wall.store.retention import keep
from wall.store.sqlite import SQLiteStore

# Yesterday 08:00 UTC: inside every retention policy the store keeps raw points in (about two days).
T0 = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) - timedelta(days=1)
WARDS = ["Long Thành Bắc", "Long Thành Trung", "Hiệp Tân", "Phường 1, khu A", "Trường Hòa"]


def cam(camera_id: str, minute: float, online: bool, ward: str = "Hiệp Tân", **fields) -> Point:
    return Point(
        "camera_status",
        {"camera_id": camera_id, "ward": ward},
        {"online": online, **fields},
        T0 + timedelta(minutes=minute),
    )


def test_unicode_and_special_characters_round_trip_exactly(store: Store) -> None:
    tags = {
        "ward": "Long Thành Bắc",
        "site": 'Tòa "Hành chính", tầng=2',
        "zone": r"Khu\B",
        "camera_id": "cam 001",
    }
    fields = {
        "name": 'Ngã tư "Trần Phú" \\ Lê Lợi, cổng=1\nlàn 2',
        "fps": 24.5,
        "frames": 2**40,
        "online": True,
        "empty": "",
    }
    store.write([Point("camera_status", tags, fields, T0)])
    frame = store.points("camera_status", T0, T0 + timedelta(seconds=1))
    assert len(frame) == 1
    row = frame.iloc[0].to_dict()
    assert row["time"] == pd.Timestamp(T0)
    for key, value in {**tags, **fields}.items():
        assert row[key] == value, key
    assert store.points("camera_status", T0, T0 + timedelta(1), where={"ward": "Long Thành Bắc"})[
        "site"
    ].tolist() == ['Tòa "Hành chính", tầng=2']


CONTROL_TEXTS = [
    "Dòng một\nDòng hai",
    "tab\there\r\ncrlf",
    "nul\x00 bell\x07 del\x7f esc\x1b",
    "\ue000 starts with the store's mark",
    "\ue000",
    'quote " backslash \\ and \\n written out',
    "ends with a newline\n",
]


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_field_text_with_control_characters_is_read_back_as_written(
    store: Store, text: str
) -> None:
    """A report's title or an officer's note may hold newlines: stored and read back exactly, in
    points, in the newest point per entity, in changes and in the event log."""
    store.write([cam("c1", 0, True, name=text), cam("c1", 1, False, name="plain")])
    frame = store.points("camera_status", T0, T0 + timedelta(minutes=5))
    assert frame.sort_values("time")["name"].tolist() == [text, "plain"]
    changes = store.changes("report", "title", "camera_id", T0, T0 + timedelta(minutes=5))
    assert changes.empty
    store.write([Point("report", {"report_id": "r1"}, {"title": text}, T0)])
    changed = store.changes("report", "title", "report_id", T0, T0 + timedelta(minutes=5))
    assert changed["title"].tolist() == [text]
    assert store.latest("report", "report_id")["title"].tolist() == [text]
    note = Event.new("alerts", "k1", "noted", actor="an", note=text, data={"text": text}, at=T0)
    store.append_events([note])
    assert store.events("alerts") == [note]


@pytest.mark.parametrize("text", CONTROL_TEXTS)
def test_field_text_goes_out_as_line_protocol_without_raw_control_characters(text: str) -> None:
    from wall.store.base import CONTROL_CHARACTER
    from wall.store.lineprotocol import encode_point, portable_text, read_text

    line = encode_point(cam("c1", 0, True, name=text))
    assert not CONTROL_CHARACTER.search(line)
    assert read_text(portable_text(text)) == text


def test_a_tag_value_starting_with_the_stores_text_mark_is_refused() -> None:
    with pytest.raises(InvalidPoint, match="U\\+E000"):
        Point("camera_status", {"ward": "\ue000x"}, {"online": True}, T0)


@pytest.mark.parametrize(
    "value", ["ends\\", "a\\,b", "a\\\\b", "a\\ b", "x\\=y", "line\nbreak", ""]
)
def test_tag_values_that_cannot_round_trip_are_refused_with_a_reason(value: str) -> None:
    with pytest.raises(InvalidPoint, match="ward"):
        Point("camera_status", {"ward": value}, {"online": True}, T0)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"fps": float("nan")}, "finite"),
        ({"fps": float("inf")}, "finite"),
        ({"fps": [1]}, "not a number"),
        ({"big": 2**63}, "64-bit"),
        ({}, "no field"),
        ({"time": 1}, "reserved"),
    ],
)
def test_fields_that_cannot_be_stored_are_refused(fields: dict, problem: str) -> None:
    with pytest.raises(InvalidPoint, match=problem):
        Point("camera_status", {"camera_id": "c1"}, fields, T0)


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidPoint, match="time zone"):
        Point("camera_status", {"camera_id": "c1"}, {"online": True}, datetime(2026, 1, 1))


def test_writing_the_same_point_twice_leaves_one_point(store: Store) -> None:
    points = [cam(f"c{i}", i, i % 2 == 0, fps=float(i)) for i in range(10)]
    store.write(points)
    store.write(points)
    store.write(points[:3])
    frame = store.points("camera_status", T0, T0 + timedelta(hours=1))
    assert len(frame) == 10
    assert frame["fps"].tolist() == [float(i) for i in range(10)]


def test_a_point_written_again_for_the_same_time_merges_its_fields(store: Store) -> None:
    store.write([cam("c1", 0, True, fps=25.0)])
    store.write([cam("c1", 0, False, bitrate_kbps=900)])
    frame = store.points("camera_status", T0, T0 + timedelta(minutes=1))
    assert len(frame) == 1
    assert frame.loc[0, ["online", "fps", "bitrate_kbps"]].tolist() == [False, 25.0, 900]
    latest = store.latest("camera_status", "camera_id")
    assert latest.loc[0, ["online", "fps", "bitrate_kbps"]].tolist() == [False, 25.0, 900]


def frame_points(measurement: str, frame: pd.DataFrame, tags: list[str]) -> list[Point]:
    """The points a frame stands for, row by row: what `write_frame` must store alike."""
    return [
        Point(
            measurement,
            {t: row[t] for t in tags},
            {k: v for k, v in row.items() if k not in tags and k != "time"},
            row["time"].to_pydatetime(),
        )
        for row in frame.astype(object).to_dict("records")
    ]


def tricky_camera_frame() -> pd.DataFrame:
    """Rows out of time order, a row written twice for one time, text that needs escaping in
    JSON and line protocol, -0.0 and big integers."""
    minutes = [5, 0, 5, 3, 1, 3, 2]
    return pd.DataFrame(
        {
            "time": pd.to_datetime([T0 + timedelta(minutes=m) for m in minutes], utc=True),
            "camera_id": ["c1", "c1", "c2", "c 3", "c2", "c 3", "c1"],
            "ward": [
                "Hiệp Tân",
                "Hiệp Tân",
                'Tòa "A", tầng=2',
                r"Khu\B",
                'Tòa "A", tầng=2',
                r"Khu\B",
                "Hiệp Tân",
            ],
            "name": ['Ngã tư "Trần Phú" \\ Lê Lợi', "", "cổng=1\nlàn 2", "a,b c", "x", "y", "z"],
            "fps": [24.5, -0.0, 0.0, 1e300, 25.0, 12.25, 1 / 3],
            "frames": [2**62, -1, 0, 7, 8, 9, 10],
            "online": [True, False, True, False, True, True, False],
        }
    )


def test_a_frame_is_stored_as_writing_its_points_stores_it(store: Store) -> None:
    frame, tags = tricky_camera_frame(), ["camera_id", "ward"]
    for measurement in ("camera_status", "camera_copy"):
        # Already stored: a newer point of c2 than the frame's, and c1 at 0 with another field.
        store.write(
            [
                Point(
                    measurement,
                    {"camera_id": "c2", "ward": 'Tòa "A", tầng=2'},
                    {"fps": 1.0},
                    T0 + timedelta(minutes=9),
                ),
                Point(measurement, {"camera_id": "c1", "ward": "Hiệp Tân"}, {"note": "trước"}, T0),
            ]
        )
    assert store.write(frame_points("camera_status", frame, tags)) == len(frame)
    assert store.write_frame("camera_copy", frame, tags) == len(frame)
    end = T0 + timedelta(hours=1)
    pd.testing.assert_frame_equal(
        store.points("camera_copy", T0, end), store.points("camera_status", T0, end)
    )
    pd.testing.assert_frame_equal(
        store.latest("camera_copy", "camera_id"), store.latest("camera_status", "camera_id")
    )
    merged = store.points("camera_copy", T0, T0 + timedelta(seconds=1))
    assert merged.loc[0, ["note", "fps", "online"]].tolist() == ["trước", -0.0, False]
    latest = store.latest("camera_copy", "camera_id")
    assert dict(zip(latest["camera_id"], latest["fps"], strict=True)) == {
        "c1": 24.5,
        "c2": 1.0,
        "c 3": 12.25,
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda f: f.assign(fps=[1.0] * 6 + [float("nan")]), "fps has missing values"),
        (lambda f: f.assign(fps=[1.0] * 6 + [float("inf")]), "fps .* not finite"),
        (lambda f: f.assign(frames=[1] * 6 + ["x"]), "frames mixes text"),
        (lambda f: f.assign(ward=["Hiệp Tân"] * 6 + ["ends\\"]), "ward"),
        (lambda f: f.assign(count=1), "reserved"),
        (lambda f: f.assign(time=f["time"].dt.tz_localize(None)), "time zone"),
        (lambda f: f.drop(columns="time"), "no time column"),
        (lambda f: f.drop(columns="ward"), "no column for tags"),
    ],
)
def test_a_frame_with_a_point_that_cannot_be_stored_is_refused_naming_it(
    store: Store, change, problem: str
) -> None:
    with pytest.raises(InvalidPoint, match=problem):
        store.write_frame("camera_status", change(tricky_camera_frame()), ["camera_id", "ward"])
    assert store.points("camera_status", T0, T0 + timedelta(hours=1)).empty


def test_latest_point_per_entity_ignores_write_order(store: Store) -> None:
    points = [cam(f"c{c}", m, m % 2 == 0, fps=float(m)) for c in range(3) for m in range(5)]
    random.Random(7).shuffle(points)
    store.write(points)
    store.write([cam("c0", -30, False)])  # an old point arriving late changes nothing
    latest = store.latest("camera_status", "camera_id")
    assert latest["camera_id"].tolist() == ["c0", "c1", "c2"]
    assert latest["time"].tolist() == [pd.Timestamp(T0 + timedelta(minutes=4))] * 3
    assert latest["fps"].tolist() == [4.0, 4.0, 4.0]
    assert latest["online"].tolist() == [True, True, True]
    assert latest["ward"].tolist() == ["Hiệp Tân"] * 3


def test_latest_since_leaves_out_entities_silent_since_then(store: Store) -> None:
    store.write([cam("quiet", 0, True), cam("busy", 0, True), cam("busy", 30, False)])
    latest = store.latest("camera_status", "camera_id", since=T0 + timedelta(minutes=10))
    assert latest["camera_id"].tolist() == ["busy"]
    assert not latest.loc[0, "online"]


def report(
    report_id: str, minute: float, status: str, category: str = "đèn đường", **fields
) -> Point:
    tags = {"report_id": report_id, "category": category, "ward": "Hiệp Tân"}
    return Point("field_report", tags, {"status": status, **fields}, T0 + timedelta(minutes=minute))


def test_latest_unless_leaves_out_entities_whose_newest_point_matches(store: Store) -> None:
    store.write(
        [
            report("closed-later", 0, "new"),
            report("closed-later", 5, "resolved"),
            report("reopened", 0, "resolved"),
            report("reopened", 5, "assigned"),
            report("open", 1, "new"),
            report("no-status", 2, "new"),
            # The newest point of a report lacks the field: it matches no filtered value.
            Point(
                "field_report",
                {"report_id": "no-status"},
                {"title": "x"},
                T0 + timedelta(minutes=3),
            ),
            report("rejected", 4, "rejected"),
        ]
    )
    closed = {"status": ["resolved", "closed", "rejected"]}
    latest = store.latest("field_report", "report_id", unless=closed)
    assert sorted(latest["report_id"]) == ["no-status", "open", "reopened"]
    assert latest.set_index("report_id").loc["reopened", "status"] == "assigned"
    since = store.latest(
        "field_report", "report_id", since=T0 + timedelta(minutes=2), unless=closed
    )
    assert sorted(since["report_id"]) == ["no-status", "reopened"]
    assert len(store.latest("field_report", "report_id")) == 5


def test_latest_unless_ignores_a_filtered_value_older_than_the_newest_point(store: Store) -> None:
    """A report closed, then updated by a point without a status, is not closed by its newest
    point: asking each report's last status (InfluxQL `last(status)`) would wrongly leave it out."""
    title_only = Point(
        "field_report", {"report_id": "updated"}, {"title": "x"}, T0 + timedelta(minutes=5)
    )
    store.write([report("updated", 0, "resolved"), title_only, report("closed", 0, "closed")])
    latest = store.latest("field_report", "report_id", unless={"status": ["resolved", "closed"]})
    assert latest["report_id"].tolist() == ["updated"]
    assert latest.loc[0, "title"] == "x"


def test_latest_unless_filters_on_numbers_and_booleans(store: Store) -> None:
    store.write([cam("up", 0, True, fps=25.0), cam("down", 0, False, fps=0.0)])
    assert store.latest("camera_status", "camera_id", unless={"online": [False]})[
        "camera_id"
    ].tolist() == ["up"]
    assert store.latest("camera_status", "camera_id", unless={"fps": [25.0]})[
        "camera_id"
    ].tolist() == ["down"]


@pytest.mark.parametrize("unless", [{"status": "resolved"}, {"status": []}, {"bad name": ["x"]}])
def test_latest_unless_refuses_a_malformed_filter(store: Store, unless: dict) -> None:
    with pytest.raises(StoreError, match="field"):
        store.latest("field_report", "report_id", unless=unless)


def test_latest_follows_an_entity_that_moved_ward(store: Store) -> None:
    store.write([cam("c1", 0, True, ward="Hiệp Tân"), cam("c1", 5, False, ward="Trường Hòa")])
    latest = store.latest("camera_status", "camera_id")
    assert latest[["camera_id", "ward", "online"]].values.tolist() == [["c1", "Trường Hòa", False]]


def test_latest_over_the_last_minutes_answers_as_over_any_range(store: Store) -> None:
    """The wall folds forward asking the last few minutes (InfluxDB then reads those points and
    picks each entity's newest itself): write order, a ward move, a point without the entity tag
    and `unless` on the newest point behave as over any range."""
    now = datetime.now(UTC).replace(microsecond=0)

    def ago(minutes: float) -> float:  # `cam`'s minutes after T0
        return (now - T0 - timedelta(minutes=minutes)) / timedelta(minutes=1)

    points = [
        cam("c1", ago(8), False),
        cam("c1", ago(3), True, fps=25.0),
        cam("c1", ago(6), False),
        cam("c2", ago(6), True, ward="Hiệp Tân"),
        cam("c2", ago(4), False, ward="Trường Hòa"),
        cam("c3", ago(20), False),  # silent since before the question's range
        Point("camera_status", {"ward": "Hiệp Tân"}, {"online": False}, now - timedelta(minutes=2)),
    ]
    random.Random(3).shuffle(points)
    store.write(points)
    since = now - timedelta(minutes=10)
    latest = store.latest("camera_status", "camera_id", since=since).set_index("camera_id")
    assert sorted(latest.index) == ["c1", "c2"]
    assert latest.loc["c1", "online"] and latest.loc["c1", "fps"] == 25.0
    assert latest.loc["c1", "time"] == pd.Timestamp(now - timedelta(minutes=3))
    assert latest.loc["c2", ["ward", "online"]].tolist() == ["Trường Hòa", False]
    down = store.latest("camera_status", "camera_id", since=since, unless={"online": [True]})
    assert down["camera_id"].tolist() == ["c2"]
    title_only = Point("field_report", {"report_id": "r1"}, {"title": "x"}, now)
    store.write([report("r1", ago(5), "resolved"), title_only])
    still_open = store.latest(
        "field_report", "report_id", since=since, unless={"status": ["resolved"]}
    )
    assert still_open["report_id"].tolist() == ["r1"]


def days_ago(now: datetime, days: float, camera_id: str, online: bool, **tags_and_fields) -> Point:
    return cam(
        camera_id,
        (now - T0 - timedelta(days=days)) / timedelta(minutes=1),
        online,
        **tags_and_fields,
    )


def test_latest_finds_entities_silent_for_days_with_their_newest_point(store: Store) -> None:
    """The newest point of an entity silent for days is its newest, whatever the store reads
    first (InfluxDB asks the last day, then the entities missing from it)."""
    now = datetime.now(UTC).replace(microsecond=0)
    gate = 'Cổng "A", tầng=2 \\B'  # quotes, comma, space, equals and a backslash in the id
    store.write(
        [
            days_ago(now, 20, "quiet", True, fps=20.0),
            days_ago(now, 10, "quiet", False, fps=3.0),
            days_ago(now, 10, "busy", False, fps=1.0),
            days_ago(now, 1 / 288, "busy", True, fps=25.0),
            days_ago(now, 3, gate, True, fps=12.0),
        ]
    )

    def newest(**kwargs) -> dict[str, tuple[pd.Timestamp, float]]:
        latest = store.latest("camera_status", "camera_id", **kwargs)
        return {row.camera_id: (row.time, row.fps) for row in latest.itertuples()}

    def at(days: float) -> pd.Timestamp:
        return pd.Timestamp(now - timedelta(days=days))

    everything = {"quiet": (at(10), 3.0), "busy": (at(1 / 288), 25.0), gate: (at(3), 12.0)}
    assert newest() == everything
    assert newest(since=now - timedelta(days=15)) == everything
    # Points older than `since` count for nothing, though the entity's id is known to the store.
    assert newest(since=now - timedelta(days=5)) == {k: everything[k] for k in ("busy", gate)}
    # `unless` looks at the newest point only: quiet's older point was online, busy's offline.
    assert newest(unless={"online": [False]}) == {k: everything[k] for k in ("busy", gate)}
    assert newest(since=now - timedelta(days=15), unless={"online": [True]}) == {
        "quiet": everything["quiet"]
    }


def test_latest_of_many_entities_silent_for_days(store: Store) -> None:
    """More entities silent lately than the InfluxDB store asks for by name: the same answer."""
    now = datetime.now(UTC).replace(microsecond=0)
    silent = MAX_SILENT_ENTITIES_ASKED + 1
    store.write(
        [days_ago(now, 3 + 7 * (c % 2), f"c{c}", True, fps=float(c)) for c in range(silent)]
    )
    store.write([days_ago(now, 9, "c0", False), days_ago(now, 0.01, "live", True, fps=-1.0)])
    latest = store.latest("camera_status", "camera_id").set_index("camera_id")
    assert len(latest) == silent + 1
    assert latest.loc["c0", "time"] == pd.Timestamp(now - timedelta(days=3))
    assert latest.loc["c1", "time"] == pd.Timestamp(now - timedelta(days=10))
    assert latest["fps"].sum() == sum(range(silent)) - 1
    since = store.latest("camera_status", "camera_id", since=now - timedelta(days=5))
    assert sorted(since["camera_id"]) == sorted(["live", *(f"c{c}" for c in range(0, silent, 2))])


def test_latest_unless_judges_a_moved_entity_by_its_newest_series(store: Store) -> None:
    """A report re-filed under another category is one report: its newest point, in its newest
    series, decides whether it is left out, whatever its older series says."""
    moved = [
        report("closed-after-move", 0, "new"),
        report("closed-after-move", 5, "resolved", category="cây xanh"),
        report("open-after-move", 0, "resolved"),
        report("open-after-move", 5, "assigned", category="cây xanh"),
        report("stayed", 1, "new"),
    ]
    store.write(moved)
    closed = {"status": ["resolved", "closed", "rejected"]}
    latest = store.latest("field_report", "report_id", unless=closed)
    assert latest[["report_id", "category", "status"]].values.tolist() == [
        ["stayed", "đèn đường", "new"],
        ["open-after-move", "cây xanh", "assigned"],
    ]
    every = store.latest("field_report", "report_id", since=T0 + timedelta(minutes=1))
    assert every["report_id"].tolist() == ["stayed", "closed-after-move", "open-after-move"]


def bounded_report(report_id: str, minute: float, status: str, **fields) -> Point:
    """A report point as the feeds write it: `report_id` a field, `report_slot` a tag."""
    tags = {"category": "lighting", "ward": "Hiệp Tân", "report_slot": report_slot(report_id)}
    fields = {"report_id": report_id, "status": status, **fields}
    return Point("field_report", tags, fields, T0 + timedelta(minutes=minute))


def write_one_by_one(store: Store, points: list[Point], as_frames: bool) -> None:
    """Each point its own write (as messages arrive), with `write` or `write_frame`."""
    for point in points:
        if not as_frames:
            store.write([point])
            continue
        row = {"time": pd.Timestamp(point.time), **point.tags, **point.fields}
        store.write_frame("field_report", pd.DataFrame([row]), list(point.tags))


# Each report's versions in the order they reach the store (minutes: their own times).
ARRIVALS = {
    "older-open-arrives-late": [(10, "resolved"), (0, "new")],
    "older-close-arrives-late": [(10, "assigned"), (5, "resolved")],
    "reopened": [(0, "resolved"), (10, "assigned")],
    "reopened-then-closed": [(0, "new"), (5, "resolved"), (10, "assigned"), (15, "closed")],
    "closed-reopened-late-close": [(0, "closed"), (20, "in_progress"), (12, "rejected")],
    "same-batch-out-of-order": [(20, "in_progress"), (2, "new")],
}
STILL_OPEN = {
    "older-close-arrives-late": "assigned",
    "reopened": "assigned",
    "closed-reopened-late-close": "in_progress",
    "same-batch-out-of-order": "in_progress",
}


@pytest.mark.parametrize("as_frames", [False, True], ids=["write", "write_frame"])
def test_open_reports_follow_each_reports_newest_state_whatever_the_arrival_order(
    store: Store, as_frames: bool
) -> None:
    """An older state arriving after a newer one never reopens (nor closes) a report; a report
    closed, reopened and closed again is closed; the newest state's fields are the ones read."""
    points = [
        bounded_report(report_id, minute, status, title=f"{report_id} {minute}")
        for report_id, versions in ARRIVALS.items()
        for minute, status in versions
    ]
    write_one_by_one(store, points, as_frames)
    closed = {"status": list(CLOSED_REPORT_STATUSES)}
    for since in (None, T0 - timedelta(days=90)):
        still_open = store.latest("field_report", "report_id", since=since, unless=closed)
        newest = still_open.set_index("report_id")
        assert newest["status"].to_dict() == STILL_OPEN
        assert newest.loc["reopened", "title"] == "reopened 10"
        assert newest.loc["reopened", "time"] == pd.Timestamp(T0 + timedelta(minutes=10))
        assert newest.loc["reopened", "report_slot"] == report_slot("reopened")
    every = store.latest("field_report", "report_id").set_index("report_id")["status"]
    assert every.to_dict() == {
        **STILL_OPEN,
        "older-open-arrives-late": "resolved",
        "reopened-then-closed": "closed",
    }
    since = store.latest("field_report", "report_id", since=T0 + timedelta(minutes=11))
    assert sorted(since["report_id"]) == [
        "closed-reopened-late-close",
        "reopened-then-closed",
        "same-batch-out-of-order",
    ]


def test_the_newest_state_of_a_report_has_only_its_own_fields(store: Store) -> None:
    """A newer version without a field an older one had reads without it (InfluxDB merges the
    fields of points written again at one time: the newest state is not such a merge)."""
    write_one_by_one(
        store,
        [
            bounded_report("r1", 0, "new", title="Đèn hỏng", lat=11.31),
            bounded_report("r1", 5, "assigned", lat=11.32),
            bounded_report("r2", 0, "new", title="Ngập"),
            bounded_report("r2", 0, "assigned"),  # the same point again: merged, as stored
        ],
        as_frames=False,
    )
    closed = {"status": list(CLOSED_REPORT_STATUSES)}
    newest = store.latest("field_report", "report_id", unless=closed).set_index("report_id")
    assert pd.isna(newest.loc["r1", "title"]) and newest.loc["r1", "lat"] == 11.32
    assert newest.loc["r2", ["status", "title"]].tolist() == ["assigned", "Ngập"]


def test_reads_of_an_empty_store_or_range_are_empty_frames(store: Store) -> None:
    empty_points = store.points("camera_status", T0, T0 + timedelta(hours=1))
    assert empty_points.empty
    assert "time" in empty_points.columns
    assert store.latest("camera_status", "camera_id").empty
    agg = store.aggregate(
        "camera_status", "fps", "mean", T0, T0 + timedelta(hours=1), timedelta(minutes=5), ["ward"]
    )
    assert agg.empty
    assert agg.columns.tolist() == ["time", "ward", "value"]
    store.write([cam("c1", 0, True, fps=1.0)])
    before = store.points("camera_status", T0 - timedelta(hours=2), T0)
    assert before.empty
    counts = store.count_latest("camera_status", "camera_id", by=["ward"], where={"online": False})
    assert counts.empty
    assert counts.columns.tolist() == ["ward", "count"]


def test_windowed_aggregates_per_tag_with_a_gap(store: Store) -> None:
    points = []
    for ward_index, ward in enumerate(WARDS[:2]):
        for minute in [*range(0, 10), *range(30, 40)]:  # nothing from minute 10 to 30: a gap
            clients = minute + 100 * ward_index
            points.append(
                Point(
                    "wifi_usage",
                    {"ap_id": f"ap{ward_index}", "ward": ward},
                    {"clients": clients, "up": True},
                    T0 + timedelta(minutes=minute),
                )
            )
    store.write(points)
    start, end, every = T0, T0 + timedelta(minutes=40), timedelta(minutes=10)
    mean = store.aggregate("wifi_usage", "clients", "mean", start, end, every, by=["ward"])
    windows = [T0 + timedelta(minutes=m) for m in (0, 30)]
    assert mean["time"].tolist() == [pd.Timestamp(w) for w in windows for _ in range(2)]
    assert mean["ward"].tolist() == sorted(WARDS[:2]) * 2
    by_ward = {(r.time, r.ward): r.value for r in mean.itertuples()}
    assert by_ward[(pd.Timestamp(T0), "Long Thành Bắc")] == pytest.approx(4.5)
    assert by_ward[(pd.Timestamp(windows[1]), "Long Thành Trung")] == pytest.approx(134.5)
    total = store.aggregate("wifi_usage", "clients", "sum", start, end, every)
    assert total["value"].tolist() == [45 + 1045, 345 + 1345]
    count = store.aggregate("wifi_usage", "clients", "count", start, end, timedelta(minutes=5))
    assert count["value"].tolist() == [10, 10, 10, 10]
    peak = store.aggregate(
        "wifi_usage", "clients", "max", start, end, timedelta(hours=1), where={"ward": WARDS[0]}
    )
    assert peak[["time", "value"]].values.tolist() == [[pd.Timestamp(T0), 39]]
    low = store.aggregate("wifi_usage", "clients", "min", start, end, every, by=["ap_id"])
    assert low[low["ap_id"] == "ap1"]["value"].tolist() == [100, 130]


def test_aggregates_combined_across_groups_give_the_towns_total_per_window(store: Store) -> None:
    """The town's clients: each access point's mean per window, summed over the access points."""
    points = [
        Point(
            "wifi_usage",
            {"ap_id": ap, "ward": WARDS[0]},
            {"clients": clients + minute},
            T0 + timedelta(minutes=minute),
        )
        for ap, clients, minutes in (("ap0", 10, range(0, 20, 5)), ("ap1", 100, range(0, 10)))
        for minute in minutes
    ]
    points.append(Point("wifi_usage", {"ward": WARDS[0]}, {"clients": 5000}, T0))  # no ap_id
    store.write(points)
    start, end, every = T0, T0 + timedelta(minutes=20), timedelta(minutes=10)
    town = store.aggregate(
        "wifi_usage", "clients", "mean", start, end, every, ["ap_id"], combine="sum"
    )
    assert town.columns.tolist() == ["time", "value"]
    assert town["time"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + every)]
    # Window 0: ap0 mean(10, 15) + ap1 mean(100..109); window 1: ap0 mean(20, 25) only.
    assert town["value"].tolist() == pytest.approx([12.5 + 104.5, 22.5])
    busiest = store.aggregate(
        "wifi_usage", "clients", "max", start, end, every, ["ap_id"], combine="max"
    )
    assert busiest["value"].tolist() == [109, 25]
    with pytest.raises(StoreError, match="median"):
        store.aggregate("wifi_usage", "clients", "mean", start, end, every, combine="median")


def test_several_fields_are_aggregated_in_one_pass_a_column_each(store: Store) -> None:
    def counters(ap: str, minute: int, **fields) -> Point:
        return Point("wifi_usage", {"ap_id": ap}, fields, T0 + timedelta(minutes=minute))

    store.write(
        [counters("ap0", m, rx_bytes=m, tx_bytes=10 * m) for m in range(10)]
        + [counters("ap1", m, rx_bytes=100 + m, tx_bytes=1000 + m) for m in range(0, 10, 3)]
        + [counters("ap0", 12, rx_bytes=100)]  # a point without tx_bytes
    )
    start, end, every = T0, T0 + timedelta(minutes=20), timedelta(minutes=10)
    both = store.aggregate(
        "wifi_usage", ["rx_bytes", "tx_bytes"], "max", start, end, every, ["ap_id"]
    )
    assert both.columns.tolist() == ["time", "ap_id", "rx_bytes", "tx_bytes"]
    rows = [(r.ap_id, r.rx_bytes, r.tx_bytes) for r in both.itertuples()]
    assert rows[:2] == [("ap0", 9, 90), ("ap1", 109, 1009)]
    assert rows[2][:2] == ("ap0", 100) and pd.isna(rows[2][2])
    for name in ("rx_bytes", "tx_bytes"):
        alone = store.aggregate("wifi_usage", name, "max", start, end, every, ["ap_id"])
        assert both.dropna(subset=[name])[name].tolist() == alone["value"].tolist()
    town = store.aggregate(
        "wifi_usage", ["rx_bytes", "tx_bytes"], "max", start, end, every, ["ap_id"], combine="sum"
    )
    assert town.values.tolist() == [
        [pd.Timestamp(T0), 118, 1099],
        [pd.Timestamp(T0 + every), 100, pytest.approx(float("nan"), nan_ok=True)],
    ]
    with pytest.raises(StoreError, match="several different"):
        store.aggregate("wifi_usage", ["rx_bytes", "rx_bytes"], "max", start, end, every)


def test_aggregate_windows_align_to_the_epoch_not_the_range_start(store: Store) -> None:
    store.write([cam("c1", m, True, fps=float(m)) for m in range(0, 20)])
    agg = store.aggregate(
        "camera_status",
        "fps",
        "max",
        T0 + timedelta(minutes=3),
        T0 + timedelta(minutes=20),
        timedelta(minutes=10),
    )
    assert agg["time"].tolist() == [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=10))]
    assert agg["value"].tolist() == [9.0, 19.0]


def test_aggregates_of_large_integers_are_exact(store: Store) -> None:
    """Byte counters pass 2**53, where a float64 no longer holds every integer: max, min and sum
    of integers stay integers."""
    big = 2**60
    store.write(
        Point("wifi_usage", {"ap_id": ap}, {"rx_bytes": big + n}, T0 + timedelta(minutes=n))
        for n, ap in enumerate(["ap0", "ap1", "ap0"])
    )
    end, every = T0 + timedelta(minutes=10), timedelta(minutes=10)
    peak = store.aggregate("wifi_usage", "rx_bytes", "max", T0, end, every, ["ap_id"])
    assert peak["value"].tolist() == [big + 2, big + 1]
    low = store.aggregate("wifi_usage", "rx_bytes", "min", T0, end, every)
    assert low["value"].tolist() == [big]
    town = store.aggregate(
        "wifi_usage", "rx_bytes", "max", T0, end, every, ["ap_id"], combine="sum"
    )
    assert town["value"].tolist() == [2 * big + 3]


def test_aggregate_skips_points_without_the_field_and_series_without_the_group_tag(
    store: Store,
) -> None:
    store.write(
        [
            Point("wifi_usage", {"ap_id": "ap0", "ward": WARDS[0]}, {"clients": 4}, T0),
            # Only `up` in the second window: no clients there, so no such window.
            Point(
                "wifi_usage",
                {"ap_id": "ap0", "ward": WARDS[0]},
                {"up": True},
                T0 + timedelta(minutes=10),
            ),
            Point("wifi_usage", {"ap_id": "ap1"}, {"clients": 6}, T0),  # no ward
            Point("wifi_usage", {"ap_id": "ap2", "ward": WARDS[1]}, {"clients": 9}, T0),
            Point(
                "wifi_usage",
                {"ap_id": "ap3", "ward": WARDS[1]},
                {"clients": 1},
                T0 + timedelta(minutes=10),
            ),
        ]
    )
    end, every = T0 + timedelta(minutes=20), timedelta(minutes=10)
    by_ward = store.aggregate("wifi_usage", "clients", "sum", T0, end, every, ["ward"])
    assert by_ward.values.tolist() == [
        [pd.Timestamp(T0), WARDS[0], 4],
        [pd.Timestamp(T0), WARDS[1], 9],
        [pd.Timestamp(T0 + every), WARDS[1], 1],
    ]
    counted = store.aggregate(
        "wifi_usage", "clients", "count", T0, end, every, ["ward"], {"ward": WARDS[0]}, "sum"
    )
    assert counted.values.tolist() == [[pd.Timestamp(T0), 1]]


def test_a_text_field_is_counted_but_not_averaged(store: Store) -> None:
    store.write([report("a", 0, "new"), report("b", 1, "closed"), report("a", 2, "resolved")])
    end, every = T0 + timedelta(minutes=10), timedelta(minutes=10)
    counted = store.aggregate("field_report", "status", "count", T0, end, every)
    assert counted.values.tolist() == [[pd.Timestamp(T0), 3]]
    for fn in ("mean", "max", "min", "sum"):
        with pytest.raises(StoreError):
            store.aggregate("field_report", "status", fn, T0, end, every)


def test_count_of_entities_by_tags_from_their_latest_state(store: Store) -> None:
    def report(report_id: str, minute: int, status: str, category: str, ward: str) -> Point:
        return Point(
            "field_report",
            {"report_id": report_id, "category": category, "ward": ward},
            {"status": status},
            T0 + timedelta(minutes=minute),
        )

    store.write(
        [
            report("r1", 0, "new", "traffic", WARDS[0]),
            report("r1", 10, "resolved", "traffic", WARDS[0]),
            report("r2", 0, "new", "traffic", WARDS[0]),
            report("r3", 0, "new", "lighting", WARDS[0]),
            report("r3", 5, "in_progress", "lighting", WARDS[0]),
            report("r4", 0, "assigned", "traffic", WARDS[2]),
            report("r5", 1, "closed", "flooding", WARDS[2]),
        ]
    )
    open_statuses = ["new", "assigned", "in_progress"]
    counts = store.count_latest(
        "field_report", "report_id", by=["category", "ward"], where={"status": open_statuses}
    )
    assert counts.values.tolist() == [
        ["lighting", WARDS[0], 1],
        ["traffic", WARDS[2], 1],
        ["traffic", WARDS[0], 1],
    ]
    total = store.count_latest("field_report", "report_id", by=[], where={"status": open_statuses})
    assert total["count"].tolist() == [3]


def test_changes_give_each_cameras_first_point_and_the_points_where_it_went_off_or_back(
    store: Store,
) -> None:
    store.write(
        [
            cam("c1", 0, True),
            cam("c1", 5, True),
            cam("c1", 10, False),
            cam("c1", 15, False),
            cam("c1", 20, True),
            cam("c2", 5, False),
            cam("c2", 10, False),
            Point("camera_status", {"camera_id": "c2", "ward": "Hiệp Tân"}, {"fps": 1.0}, T0),
            Point("camera_status", {"ward": "Hiệp Tân"}, {"online": False}, T0),  # no camera_id
            cam("c3", -5, False),  # before the range
            cam("c3", 0, False),
            cam("c3", 30, True),  # at its end: outside
        ]
    )
    changes = store.changes("camera_status", "online", "camera_id", T0, T0 + timedelta(minutes=30))
    assert changes.columns.tolist() == ["time", "camera_id", "online"]
    assert [
        (int((t - pd.Timestamp(T0)).total_seconds() // 60), c, bool(o))
        for t, c, o in changes.itertuples(index=False)
    ] == [(0, "c1", True), (0, "c3", False), (5, "c2", False), (10, "c1", False), (20, "c1", True)]
    assert changes["online"].map(type).eq(bool).all()
    empty = store.changes(
        "camera_status", "online", "camera_id", T0 - timedelta(days=2), T0 - timedelta(days=1)
    )
    assert empty.empty and empty.columns.tolist() == ["time", "camera_id", "online"]


def test_changes_follow_the_entity_across_its_series_and_agree_with_its_points(
    store: Store,
) -> None:
    """A camera whose ward changes back and forth is one camera: its changes run across its
    series in time order, exactly as read from all of its points."""
    rng = random.Random(11)
    points = [
        cam(f"c{n}", minute, rng.random() < 0.3, ward=rng.choice(WARDS[:2]))
        for minute in range(0, 600, 2)
        for n in range(8)
    ]
    store.write(points)
    start, end = T0 + timedelta(minutes=40), T0 + timedelta(minutes=560)
    every = store.points("camera_status", start, end)
    expected = []
    for camera_id, rows in every.sort_values("time", kind="stable").groupby("camera_id"):
        previous = None
        for row in rows.itertuples(index=False):
            if row.online != previous:
                expected.append((row.time, camera_id, bool(row.online)))
                previous = row.online
    changes = store.changes("camera_status", "online", "camera_id", start, end)
    assert list(changes.itertuples(index=False, name=None)) == sorted(expected)


def test_hundred_thousand_points_are_all_read_back(store: Store) -> None:
    cameras, minutes = 200, 500
    store.write(
        Point(
            "camera_status",
            {"camera_id": f"cam-{c:04d}", "ward": WARDS[c % len(WARDS)]},
            {"online": (c + m) % 7 != 0, "fps": float((c * m) % 30)},
            T0 + timedelta(minutes=m),
        )
        for c in range(cameras)
        for m in range(minutes)
    )
    end = T0 + timedelta(minutes=minutes)
    frame = store.points("camera_status", T0, end)
    assert len(frame) == cameras * minutes
    assert frame["camera_id"].nunique() == cameras
    assert frame["fps"].sum() == sum(
        float((c * m) % 30) for c in range(cameras) for m in range(minutes)
    )
    count = store.aggregate("camera_status", "online", "count", T0, end, timedelta(days=1))
    assert count["value"].tolist() == [cameras * minutes]
    assert len(store.latest("camera_status", "camera_id")) == cameras


def test_event_log_appends_and_gives_the_latest_event_per_key(store: Store) -> None:
    first = Event.new("alerts", "camera_offline:c1", "raised", data={"severity": "high"}, at=T0)
    ack = Event.new(
        "alerts",
        "camera_offline:c1",
        "acknowledged",
        actor="an",
        note="Đã gọi đội",
        at=T0 + timedelta(minutes=1),
    )
    other = Event.new("alerts", "ward_outage:Hiệp Tân", "raised", at=T0 + timedelta(minutes=2))
    store.append_events([first, ack, other])
    store.append_events([ack])  # a retried append is not a second event
    events = store.events("alerts")
    assert [e.event_id for e in events] == [first.event_id, ack.event_id, other.event_id]
    assert events[1] == ack
    assert events[0].data == {"severity": "high"}
    assert store.events("alerts", key="camera_offline:c1") == [first, ack]
    assert store.events("alerts", since=T0 + timedelta(seconds=30)) == [ack, other]
    latest = store.latest_events("alerts")
    assert latest == {"camera_offline:c1": ack, "ward_outage:Hiệp Tân": other}
    assert store.events("other_stream") == []
    assert store.latest_events("other_stream") == {}


def test_key_states_keep_the_one_folding_most_events_and_read_back_as_written(
    store: Store,
) -> None:
    keys = ["ward_cameras_offline:Hòa Thành", "a,b=c d:\\x", "camera_offline:c1"]
    events = [Event.new("alerts", key, "raised", at=T0) for key in keys for _ in range(2)]
    store.append_events(events)
    assert store.count_events("alerts") == dict.fromkeys(keys, 2)
    assert store.count_events("alerts", keys=keys[:1]) == {keys[0]: 2}
    assert store.count_events("alerts", keys=[]) == {} == store.count_events("other")

    def state(key: str, events: int, open_: bool, at: datetime) -> KeyState:
        data = {"state": f"{events} sự kiện", "note": 'hai\ndòng "x"'}
        return KeyState(key, events, to_ms(at) * 1_000_000, f"e{events}", open_, data)

    old = [state(keys[0], 2, True, T0), state(keys[1], 1, False, T0)]
    store.put_key_states("alerts", [*old, state(keys[2], 1, False, T0 + timedelta(days=9))])
    newer = state(keys[1], 2, False, T0 + timedelta(days=8))
    store.put_key_states("alerts", [newer])
    store.put_key_states("alerts", old)  # folding fewer events (or as many): nothing changes
    kept = store.key_states("alerts")
    assert kept == {keys[0]: old[0], keys[1]: newer, keys[2]: kept[keys[2]]}
    assert store.key_states("alerts", keys=keys[1:2]) == {keys[1]: newer}
    assert store.key_states("alerts", keys=[]) == {} == store.key_states("other")
    recent = store.key_states("alerts", closed_since=T0 + timedelta(days=8, hours=12))
    assert set(recent) == {keys[0], keys[2]}  # open, or closed with an event since
    assert set(store.key_states("alerts", closed_since=T0 + timedelta(days=7))) == set(keys)


def test_two_acknowledgements_at_the_same_instant_are_both_kept(store: Store) -> None:
    key = "camera_offline:c9"
    acks = [Event.new("alerts", key, "acknowledged", actor=who, at=T0) for who in ("an", "bình")]
    threads = [threading.Thread(target=store.append_events, args=([a],)) for a in acks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = store.events("alerts", key=key)
    assert sorted(e.actor for e in kept) == ["an", "bình"]
    assert store.latest_events("alerts")[key] == max(acks, key=lambda e: e.order)


def test_both_backends_give_the_same_answers(influxd, tmp_path) -> None:
    from tests.conftest import influx_store_url

    rng = random.Random(42)
    points = [
        Point(
            "wifi_usage",
            {"ap_id": f"ap{rng.randrange(30)}", "ward": rng.choice(WARDS)},
            {
                "clients": rng.randrange(0, 200),
                "up": rng.random() > 0.1,
                "rx_bytes": rng.random() * 1e9,
            },
            T0 + timedelta(seconds=rng.randrange(0, 6 * 3600)),
        )
        for _ in range(5000)
    ]
    answers = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", influx_store_url(influxd)):
        with open_store(Settings(store=url)) as store:
            store.check()
            store.write(points)
            end = T0 + timedelta(hours=6)
            answers.append(
                [
                    store.points("wifi_usage", T0, end),
                    store.latest("wifi_usage", "ap_id"),
                    *(
                        store.aggregate(
                            "wifi_usage", f, fn, T0, end, timedelta(minutes=15), ["ward"]
                        )
                        for f, fn in [
                            ("clients", "mean"),
                            ("clients", "sum"),
                            ("rx_bytes", "max"),
                            ("up", "count"),
                        ]
                    ),
                    store.count_latest("wifi_usage", "ap_id", by=["ward"], where={"up": True}),
                    store.aggregate(
                        "wifi_usage",
                        "clients",
                        "mean",
                        T0,
                        end,
                        timedelta(minutes=15),
                        ["ap_id"],
                        combine="sum",
                    ),
                ]
            )
    for sqlite_frame, influx_frame in zip(*answers, strict=True):
        pd.testing.assert_frame_equal(sqlite_frame, influx_frame, check_dtype=False)


def test_points_written_in_any_order_read_back_as_written_in_any_range(store: Store) -> None:
    """Values repeated point after point (a camera's name), points written late, twice, merged
    or without a field, across hour boundaries: every range reads back what was written, as do
    changes and aggregates of the repeated field."""
    rng = random.Random(5)
    written: list[tuple[int, int, dict]] = []
    for c in range(3):
        for minute in range(0, 150, 5):
            fields = {
                "name": f"Cam {c}" if minute < 100 else f"Cam {c} mới",
                "fps": rng.choice([25.0, 12.5]),
                "online": rng.random() < 0.8,
            }
            if rng.random() < 0.15:
                del fields["name"]
            written.append((c, minute, fields))
    in_order, late = written[: len(written) * 2 // 3], written[len(written) * 2 // 3 :]
    rng.shuffle(late)
    again = [(c, m, {"name": "đổi tên", "note": "x"}) for c, m, _ in rng.sample(written, 15)]
    expected: dict[tuple[str, int], dict] = {}
    for batch in (in_order, late, again, rng.sample(written, 10)):
        store.write(
            Point(
                "camera_status",
                {"camera_id": f"c{c}", "ward": "Hiệp Tân"},
                fields,
                T0 + timedelta(minutes=minute),
            )
            for c, minute, fields in batch
        )
        for c, minute, fields in batch:
            expected.setdefault((f"c{c}", minute), {}).update(fields)

    def read(start: int, end: int) -> set[tuple]:
        frame = store.points(
            "camera_status", T0 + timedelta(minutes=start), T0 + timedelta(minutes=end)
        )
        return {
            (
                row["camera_id"],
                int((row["time"] - pd.Timestamp(T0)).total_seconds() // 60),
                tuple(
                    sorted(
                        (k, v)
                        for k, v in row.items()
                        if k in ("name", "fps", "online", "note") and not pd.isna(v)
                    )
                ),
            )
            for row in frame.to_dict("records")
        }

    for start, end in [(0, 150), (37, 150), (61, 64), (95, 121), (60, 120)]:
        assert read(start, end) == {
            (camera, minute, tuple(sorted(fields.items())))
            for (camera, minute), fields in expected.items()
            if start <= minute < end
        }, (start, end)
    start, end = T0 + timedelta(minutes=62), T0 + timedelta(minutes=150)
    names = store.changes("camera_status", "name", "camera_id", start, end)
    previous: dict[str, str] = {}
    changed = []
    for (camera, minute), fields in sorted(
        expected.items(), key=lambda item: (item[0][1], item[0][0])
    ):
        if 62 <= minute < 150 and "name" in fields and previous.get(camera) != fields["name"]:
            changed.append((camera, minute, fields["name"]))
            previous[camera] = fields["name"]
    assert sorted(
        (c, int((t - pd.Timestamp(T0)).total_seconds() // 60), n)
        for t, c, n in names.itertuples(index=False)
    ) == sorted(changed)
    counted = store.aggregate("camera_status", "name", "count", start, end, timedelta(hours=1))
    assert counted["value"].sum() == sum(
        "name" in f for (_, m), f in expected.items() if 62 <= m < 150
    )


def test_latest_of_a_field_entity_answers_as_of_a_tag_entity(store: Store) -> None:
    """A report's id kept as a field (series bounded by ward and category) reads as when it
    was a tag: the newest point of each report, `unless` judged on that point, `since`. (Two
    reports' points of one series and one millisecond are one point: distinct times here.)"""
    versions = [
        ("closed-later", 0, {"status": "new"}),
        ("closed-later", 5, {"status": "resolved"}),
        ("reopened", 0.1, {"status": "resolved"}),
        ("reopened", 5.1, {"status": "assigned", "title": "lại"}),
        ("open", 1, {"status": "new", "lat": 11.3}),
        ("updated", 2, {"status": "closed"}),
        ("updated", 3, {"title": "x"}),  # newest point without a status: not closed by it
        ("same-minute", 5.2, {"status": "new"}),
    ]
    random.Random(3).shuffle(versions)
    for shape in ("tagged", "fielded"):
        store.write(
            Point(
                f"report_{shape}",
                {"ward": "Hiệp Tân", **({"report_id": r} if shape == "tagged" else {})},
                {**fields, **({"report_id": r} if shape == "fielded" else {})},
                T0 + timedelta(minutes=minute),
            )
            for r, minute, fields in versions
        )
    no_id = Point("report_fielded", {"ward": "Hiệp Tân"}, {"status": "new"}, T0 + timedelta(1))
    store.write([no_id])
    closed = {"status": ["resolved", "closed", "rejected"]}
    for since, unless in ((None, None), (None, closed), (T0 + timedelta(minutes=2), closed)):
        tagged = store.latest("report_tagged", "report_id", since, unless)
        fielded = store.latest("report_fielded", "report_id", since, unless)
        pd.testing.assert_frame_equal(fielded, tagged[fielded.columns], check_dtype=False)
    pd.testing.assert_frame_equal(
        store.changes("report_fielded", "status", "report_id", T0, T0 + timedelta(minutes=5.1)),
        store.changes("report_tagged", "status", "report_id", T0, T0 + timedelta(minutes=5.1)),
        check_dtype=False,
    )
    open_now = store.latest("report_fielded", "report_id", unless=closed)
    assert open_now["report_id"].tolist() == ["open", "updated", "reopened", "same-minute"]
    assert open_now.set_index("report_id").loc["reopened", "title"] == "lại"


def wifi_hours(hours: int) -> list[Point]:
    """Three access points of two wards, a point a minute (clients, a float load, up)."""
    rng = random.Random(12)
    return [
        Point(
            "wifi_usage",
            {"ap_id": f"ap{ap}", "ward": WARDS[ap % 2]},
            {"clients": rng.randrange(0, 300), "load": rng.random() * 100, "up": True},
            T0 + timedelta(minutes=minute),
        )
        for ap in range(3)
        for minute in range(0, hours * 60)
        if not (ap == 2 and 70 <= minute < 100)  # ap2 silent for half an hour
    ]


HISTORY_READS = [  # (field, fn, every, by, combine): as the screens ask them, and more
    ("clients", "mean", timedelta(minutes=30), ["ap_id"], "sum"),
    ("clients", "mean", timedelta(minutes=5), ["ward"], None),
    (["clients", "load"], "max", timedelta(hours=1), ["ap_id"], None),
    ("load", "min", timedelta(minutes=15), [], None),
    ("clients", "sum", timedelta(hours=2), ["ward"], None),
    ("up", "count", timedelta(minutes=10), ["ap_id"], "sum"),
    ("load", "mean", timedelta(days=1), [], None),
    ("up", "last", timedelta(minutes=10), ["ap_id"], None),  # rolled up: a boolean's last
]


def test_rollups_answer_the_aggregates_the_raw_points_gave_once_retention_removed_them(
    store: Store,
) -> None:
    store.write(wifi_hours(4))
    start, end = T0, T0 + timedelta(hours=4)

    def answers() -> list[pd.DataFrame]:
        return [
            store.aggregate("wifi_usage", f, fn, start, end, every, by, combine=combine)
            for f, fn, every, by, combine in HISTORY_READS
        ]

    before = answers()
    # Two days after the data, with one day of raw points kept: all four hours leave.
    removed = keep(store, {"wifi_usage": 1}, Settings().rollup_days, now=end + timedelta(days=2))
    assert store.raw_kept_from("wifi_usage") > to_ms(end)
    if isinstance(store, SQLiteStore):  # InfluxDB removes them by its retention policy
        assert removed == {"wifi_usage": len(wifi_hours(4))}
        assert store.points("wifi_usage", start, end).empty
    after = answers()
    for (f, fn, *_), old, new in zip(HISTORY_READS, before, after, strict=True):
        assert new.columns.tolist() == old.columns.tolist(), (f, fn)
        assert len(new) == len(old) > 0, (f, fn)
        for column in old.columns:
            if column == "time" or old[column].dtype == object:
                assert new[column].tolist() == old[column].tolist(), (f, fn, column)
            else:
                assert new[column].tolist() == pytest.approx(old[column].tolist()), (f, fn)
    # A second pass finds nothing more to do and changes no answer.
    keep(store, {"wifi_usage": 1}, Settings().rollup_days, now=end + timedelta(days=2))
    assert [len(a) for a in answers()] == [len(a) for a in before]


def test_last_is_the_newest_value_of_each_window_whatever_its_type(store: Store) -> None:
    """`last` (a rollup part of booleans and text, wall.store.retention): written out of order,
    read as the value of the window's newest point; it does not combine groups."""
    statuses = ["ok", "slow", "down", "ok", "down"]
    points = [
        Point(
            "camera_status",
            {"camera_id": camera},
            {"status": statuses[(n + i) % 5], "online": (n + i) % 2 == 0, "fps": float(n)},
            T0 + timedelta(minutes=n * 2),
        )
        for i, camera in enumerate(("cam-1", "cam-2"))
        for n in range(10)
    ]
    store.write(reversed(points))
    read = store.aggregate(
        "camera_status",
        ["status", "online", "fps"],
        "last",
        T0,
        T0 + timedelta(minutes=20),
        timedelta(minutes=5),
        ["camera_id"],
    )
    newest = {}
    for p in points:  # the last point of each camera and window wins
        window = T0 + timedelta(minutes=5) * ((p.time - T0) // timedelta(minutes=5))
        newest[(window, p.tags["camera_id"])] = p.fields
    assert len(read) == len(newest) == 8
    for row in read.itertuples():
        fields = newest[(row.time.to_pydatetime(), row.camera_id)]
        assert (row.status, row.online, row.fps) == (
            fields["status"],
            fields["online"],
            fields["fps"],
        )
        assert type(row.online) in (bool, np.bool_)
    with pytest.raises(StoreError, match="cannot be combined by `last`"):
        store.aggregate(
            "camera_status", "fps", "mean", T0, T0 + timedelta(hours=1), timedelta(hours=1),
            ["camera_id"], combine="last",
        )  # fmt: skip
