"""The demo's units' submissions of the periods just ended: a mix a league table can rank."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from feeds.simulated_submissions import simulate_submissions
from wall.accountability import indicators_due
from wall.city import load_profile
from wall.submissions import latest_values

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PROFILE = load_profile("hoa-thanh")


def test_the_demo_opens_on_units_on_time_late_and_missing_once(store) -> None:
    now = datetime(2026, 12, 20, 9, 0, tzinfo=ZONE)  # past every November due day
    written = simulate_submissions(store, PROFILE, now, ZONE)
    values = latest_values(store)
    assert written == len(values) and 0 < written < len(PROFILE.indicators)
    states = Counter(d.state for d in indicators_due(PROFILE, values, now, ZONE))
    assert states["on_time"] > states["late"] > 0 and states["missing"] > 0, states
    assert set(values["path"]) <= {"console", "file", "api"}
    assert (values["submitted_at"] <= now).all()
    assert simulate_submissions(store, PROFILE, now, ZONE) == 0  # a restarted demo adds none
    assert len(latest_values(store)) == written


def test_before_the_due_day_nothing_is_late(store) -> None:
    now = datetime(2026, 12, 3, 9, 0, tzinfo=ZONE)  # November's values are due from the 5th
    simulate_submissions(store, PROFILE, now, ZONE)
    due = indicators_due(PROFILE, latest_values(store), now, ZONE)
    monthly = Counter(d.state for d in due if d.indicator.period == "month")
    assert set(monthly) == {"on_time", "pending"}, monthly
    assert all(d.submitted <= now for d in due if d.submitted is not None)
