"""Point remembers which shapes (measurement, tag and field names) passed its name checks; a
point of a remembered shape must still be refused for a bad value, and normalised the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from wall.store.base import InvalidPoint, Point

WHEN = datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)


def camera(ward: object = "Hiệp Tân", online: object = True, when: object = WHEN) -> Point:
    return Point("camera_status", {"ward": ward, "camera_id": "cam-1"}, {"online": online}, when)


@pytest.mark.parametrize(
    ("ward", "online", "problem"),
    [
        ("Hiệp\x07Tân", True, "control character"),
        ("", True, "empty"),
        ("x" * 257, True, "longer than 256"),
        ("Hiệp Tân\\", True, "backslash"),
        (7, True, "not text"),
        ("Hiệp Tân", float("nan"), "not a finite number"),
        ("Hiệp Tân", 2**63, "64-bit"),
        ("Hiệp Tân", [1], "not a number, boolean or text"),
    ],
)
def test_a_bad_value_is_refused_after_its_shape_passed(ward, online, problem) -> None:
    camera()  # the shape is now known good
    with pytest.raises(InvalidPoint, match=problem):
        camera(ward, online)


def test_a_point_of_a_known_shape_is_sorted_and_kept_to_the_millisecond() -> None:
    camera()
    saigon = timezone(timedelta(hours=7))
    for when in (
        WHEN.astimezone(saigon),
        WHEN + timedelta(microseconds=456),
        pd.Timestamp(WHEN),
    ):
        point = camera(when=when)
        assert list(point.tags) == ["camera_id", "ward"]
        assert point.time == WHEN and point.time.tzinfo is UTC
        assert type(point.time) is datetime
        assert point.time_ms == 1795680000123


def test_bad_names_are_refused_whatever_came_before() -> None:
    camera()
    with pytest.raises(InvalidPoint, match="reserved"):
        Point("camera_status", {"ward": "a", "camera_id": "c"}, {"value": 1.0}, WHEN)
    with pytest.raises(InvalidPoint, match="both tag and field"):
        Point("camera_status", {"ward": "a"}, {"ward": 1.0}, WHEN)
    with pytest.raises(InvalidPoint, match="no field"):
        Point("camera_status", {"ward": "a"}, {"online": None}, WHEN)
    with pytest.raises(InvalidPoint, match="not a name"):
        Point("camera status", {"ward": "a", "camera_id": "c"}, {"online": True}, WHEN)
