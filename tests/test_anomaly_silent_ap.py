"""An access point failing silently (up, 0 clients at every reading) on a seeded store, through
the real evaluator tick by tick: raised once its silence has lasted `silent_minutes` where an
hour at 0 is rare for it, whatever its band says; never where an hour at 0 is common; cleared
once when its users come back; explained in both languages."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from tests.test_anomaly_series import Run
from wall.alerts.model import STREAM, fold
from wall.alerts.text import alert_title
from wall.city import load_profile
from wall.store import Store
from wall.store.sqlite import SQLiteStore

PROFILE = dataclasses.replace(load_profile("hoa-thanh"), festival_days=frozenset())
ZONE = PROFILE.timezone
TAGS = ["ap_id", "ward", "site"]
EVERY = "10min"  # how often an AP reports


def local_day(weekday: int | None = None) -> pd.Timestamp:
    """Midnight of today in the city's zone (or of the last `weekday` up to today), as UTC."""
    day = pd.Timestamp(datetime.now(UTC)).tz_convert(ZONE).normalize()
    if weekday is not None:
        day -= pd.Timedelta(days=(day.weekday() - weekday) % 7)
    return day.tz_convert("UTC")


def write(store: Store, ap: dict, times, clients) -> None:
    frame = pd.DataFrame({"time": times, "clients": clients, "up": True, "capacity": 100})
    store.write_frame("wifi_usage", frame.assign(**ap), TAGS)


def seed(
    store: Store, ap: dict, at: pd.Timestamp, usual, days: int = 21, seed: int = 5
) -> pd.Series:
    """`days` of the AP's readings before `at`, every EVERY: `usual(local time, rng)`; returned
    by local time."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(at - pd.Timedelta(days=days), at, freq=EVERY, inclusive="left")
    clients = [usual(t.tz_convert(ZONE), rng) for t in times]
    write(store, ap, times, clients)
    return pd.Series(clients, index=times.tz_convert(ZONE))


def hourly_range(readings: pd.Series, weekday: int, hour: int) -> tuple[int, int]:
    """The least and most of the AP's hourly means at that weekday and hour, whole users."""
    means = readings.resample("h").mean()
    slot = means[(means.index.day_of_week == weekday) & (means.index.hour == hour)]
    return round(slot.min()), round(slot.max())


def morning(local: pd.Timestamp, rng) -> int:
    """A market's AP as the simulator draws it: a morning peak near 7:30 (about 35 users), a
    noon one; at 08:00–10:00 the usual falls steeply."""
    hour = local.hour + local.minute / 60

    def bump(centre: float, width: float, height: float) -> float:
        return height * math.exp(-((abs(hour - centre) / width) ** 2))

    load = 0.06 + bump(7.5, 1.2, 0.30) + bump(12, 1.5, 0.40) + bump(20, 2.0, 0.55)
    return max(0, round(100 * load * rng.lognormal(0, 0.15)))


def three_to_ten(local: pd.Timestamp, rng) -> int:
    """A health station's AP: 3–10 users by day, 0–2 at night."""
    return int(rng.integers(3, 11)) if 7 <= local.hour < 20 else int(rng.integers(0, 3))


def quiet_nights(local: pd.Timestamp, rng) -> int:
    """A school's AP: 0–1 users at night, a whole hour at 0 on about half the nights' hours
    (a night's hour is quiet or not as a whole), 20–30 by day."""
    if 1 <= local.hour < 6:
        night = np.random.default_rng(local.normalize().value + local.hour)
        return 0 if night.random() < 0.5 else int(rng.integers(0, 2))
    return int(rng.integers(20, 31))


def run_silent(store: Store, ap: dict, at: pd.Timestamp, usual, silent: int, total: int) -> Run:
    """From `at`, the AP reports every 10 minutes: 0 for `silent` minutes, then as usual."""
    run = Run(store, at, PROFILE)
    rng = np.random.default_rng(11)

    def report(minute: int, now: pd.Timestamp) -> None:
        if minute % 10 == 0:
            value = 0 if minute < silent else usual(now.tz_convert(ZONE), rng)
            write(store, ap, [now], [value])

    run.minutes(total, step=5, each=report)
    return run


MARKET = {"ap_id": "ap-market", "ward": "Long Hoa", "site": "Chợ Trường Tây"}
STATION = {"ap_id": "ap-station", "ward": "Long Hoa", "site": "Trạm y tế Long Thành Bắc"}
SCHOOL = {"ap_id": "ap-school", "ward": "Hòa Thành", "site": "Trường THCS Hiệp Tân"}


def test_a_busy_ap_silent_as_its_usual_falls_is_raised_within_the_hour_and_cleared_once(tmp_path):
    """Silent from 08:00 as its usual falls from about 30 to 10 users: the band of each minute,
    widened on the fall, holds 0 (before, found only after 200 min in the simulator's town);
    raised once at 60 min, cleared once 15 min after its users are back at 11:00."""
    at = local_day() + pd.Timedelta(hours=8)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, MARKET, at, morning)
        run = run_silent(store, MARKET, at, morning, silent=180, total=240)
    key = "anomaly:ap:ap-market"
    raised = [e for e in run.events if e.kind == "raised"]
    cleared = [e for e in run.events if e.kind == "cleared"]
    assert [e.key for e in raised] == [key]
    assert timedelta(minutes=60) <= raised[0].time - at.to_pydatetime() <= timedelta(minutes=65)
    assert raised[0].data["facts"]["silent_minutes"] >= 60
    assert [e.key for e in cleared] == [key]
    back = at.to_pydatetime() + timedelta(minutes=180)
    assert back < cleared[0].time <= back + timedelta(minutes=25)


def test_the_3_to_10_users_case_is_raised_and_explained_in_both_languages(tmp_path):
    """The simulator's ap-057 case: usually 3–10 users on a Saturday afternoon, 0 from 13:00.
    0 is inside its band and under the rule's 5 users' least difference: before, never raised."""
    at = local_day(weekday=5) + pd.Timedelta(hours=13)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        readings = seed(store, STATION, at, three_to_ten)
        run = run_silent(store, STATION, at, three_to_ten, silent=120, total=120)
        alerts = fold(store.events(STREAM))
    assert run.of("raised") == ["anomaly:ap:ap-station"]
    alert = alerts["anomaly:ap:ap-station"]
    assert alert.raised_at - at.to_pydatetime() <= timedelta(minutes=65)
    assert alert.ward == "Long Hoa"
    minutes = alert.facts["silent_minutes"]
    assert 60 <= minutes <= 65
    # What is usual: the least and most of its hourly means of the Saturdays learned, 14:00.
    low, high = hourly_range(readings, 5, 14)
    assert 3 <= low < high <= 10
    assert alert_title(alert, "vi") == (
        f"Điểm WiFi ap-station (Trạm y tế Long Thành Bắc): 0 người dùng suốt {minutes} phút; "
        f"bình thường thứ Bảy 14:00 là {low}–{high}"
    )
    assert alert_title(alert, "en") == (
        f"WiFi access point ap-station (Trạm y tế Long Thành Bắc): 0 users for {minutes} min; "
        f"usual for a Saturday at 14:00 is {low}–{high}"
    )


def test_a_quiet_ap_at_its_usual_zero_hours_is_never_raised(tmp_path):
    """0 from 01:00 to 06:00 at a school whose nights' hours are at 0 on about half the days:
    nothing is raised, though it has read 0 for five hours."""
    at = local_day() + pd.Timedelta(hours=1)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, SCHOOL, at, quiet_nights)
        run = run_silent(store, SCHOOL, at, quiet_nights, silent=300, total=300)
    assert run.of("raised") == []


def test_an_evaluator_restarted_during_a_silence_does_not_wait_for_a_whole_one_again(tmp_path):
    """Silent from 13:00; an evaluator started at 14:20 knows from the AP's hourly history and
    its readings since 14:00 that it has read 0 since 13:00: raised at its first pass."""
    at = local_day(weekday=5) + pd.Timedelta(hours=13)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, STATION, at, three_to_ten)
        quiet = pd.date_range(at, at + pd.Timedelta(minutes=80), freq=EVERY)
        write(store, STATION, quiet, [0] * len(quiet))
        run = Run(store, at + pd.Timedelta(minutes=80), PROFILE)
        run.minutes(5)
    raised = [e for e in run.events if e.kind == "raised"]
    assert [e.key for e in raised] == ["anomaly:ap:ap-station"]
    assert raised[0].data["facts"]["silent_minutes"] == 80
