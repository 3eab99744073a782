"""The brief's data section names the hours a source sent nothing, in a city of any UTC offset."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from wall.brief import data_gaps


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Asia/Kolkata", "Asia/Kathmandu"])
def test_a_day_of_hourly_windows_has_no_gap_and_three_silent_hours_are_one(zone) -> None:
    """The store's hourly windows start on the UTC hour; a day of Lakeside (UTC+5:30) starts at
    18:30 UTC: every hour of it was read as missing, and the brief said there was no camera
    data for a day it had drawn the cameras of."""
    start = datetime(2026, 12, 5, tzinfo=ZoneInfo(zone))
    end = start + timedelta(days=1)
    windows = pd.date_range(
        pd.Timestamp(start).tz_convert("UTC").floor("h"),
        pd.Timestamp(end).tz_convert("UTC"),
        freq="1h",
        inclusive="left",
    )
    assert data_gaps("cameras", pd.DataFrame({"time": windows, "value": 1.0}), start, end) == []
    silent = windows[(windows >= windows[5]) & (windows < windows[8])]
    gaps = data_gaps("cameras", pd.DataFrame({"time": windows.difference(silent)}), start, end)
    assert len(gaps) == 1, gaps
    source, began, ended = gaps[0]
    assert source == "cameras" and ended - began == timedelta(hours=3)
    assert silent[0] <= pd.Timestamp(began) < silent[0] + timedelta(hours=1)
    assert data_gaps("cameras", pd.DataFrame(columns=["time"]), start, end) == [
        ("cameras", start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC")))
    ]
