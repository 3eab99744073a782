"""Usual values per day of the week and hour (wall.baselines) and the anomaly rule's words."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wall.alerts.model import Alert
from wall.alerts.text import alert_title
from wall.baselines import HourlyHistory

# A Monday 00:00 UTC some weeks back, derived from now.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = NOW - timedelta(days=NOW.weekday() + 35, hours=NOW.hour)


def daily(hours: pd.DatetimeIndex, zone: str, weekend_extra: float = 0.0) -> np.ndarray:
    local = hours.tz_convert(zone)
    base = 20 + 20 * np.exp(-(((local.hour - 10) / 2.0) ** 2))
    return np.asarray(base + weekend_extra * (local.day_of_week >= 5), dtype=float)


def frame(hours: pd.DatetimeIndex, series: str, values) -> pd.DataFrame:
    return pd.DataFrame({"time": hours, "series": series, "value": values})


def test_a_slot_is_the_median_of_its_weekday_and_hour_despite_gaps_and_an_outlier():
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    values = daily(hours, "Asia/Ho_Chi_Minh", weekend_extra=15.0)
    values[100] = 900.0  # one wild hour
    values[200:260] = np.nan  # the feed was down for 60 hours
    history = HourlyHistory("Asia/Ho_Chi_Minh", weeks=4)
    history.add(frame(hours, "site:Chợ", values))
    saturday_10 = pd.Timestamp(START).tz_convert("Asia/Ho_Chi_Minh").normalize() + pd.Timedelta(
        days=5 + 28, hours=10
    )
    usual = history.usual(saturday_10.to_pydatetime())
    row = usual.frame.loc["site:Chợ"]
    assert (usual.weekday, usual.hour, row["level"]) == (5, 10, "weekday_hour")
    assert abs(row["centre"] - 55.0) < 1.0  # 40 at 10:00 plus the weekend's 15
    band = usual.band(4.0).loc["site:Chợ"]
    assert band["low"] < 55 < band["high"] < 200


def test_a_new_device_falls_back_to_its_hour_of_day_then_says_nothing():
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    history = HourlyHistory("Asia/Ho_Chi_Minh", weeks=4)
    history.add(frame(hours, "ap:old", daily(hours, "Asia/Ho_Chi_Minh")))
    history.add(  # the new AP: five days, then two hours only for the newest
        frame(hours[-5 * 24 :], "ap:new", daily(hours[-5 * 24 :], "Asia/Ho_Chi_Minh")).iloc[:0]
    )
    later = pd.date_range(hours[-1] + pd.Timedelta(hours=1), periods=5 * 24, freq="h", tz="UTC")
    history.add(
        pd.concat(
            [
                frame(later, "ap:old", daily(later, "Asia/Ho_Chi_Minh")),
                frame(later, "ap:new", daily(later, "Asia/Ho_Chi_Minh")),
                frame(later[-2:], "ap:newest", [5.0, 5.0]),
            ]
        )
    )
    usual = history.usual(later[-1].to_pydatetime() + timedelta(hours=1)).frame
    assert usual.loc["ap:old", "level"] == "weekday_hour"
    assert usual.loc["ap:new", "level"] == "hour"
    assert "ap:newest" not in usual.index  # two hours: nothing is said of it yet


def test_festival_days_are_not_learned_from_and_flagged():
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    values = daily(hours, "Asia/Ho_Chi_Minh")
    local = hours.tz_convert("Asia/Ho_Chi_Minh")
    festival = local[24 * 7 + 12].date()  # the second Monday (local)
    values[local.date == festival] = 500.0
    history = HourlyHistory("Asia/Ho_Chi_Minh", festival_days={festival}, weeks=4)
    history.add(frame(hours, "site:Tòa Thánh", values))
    at = datetime.combine(festival, datetime.min.time()).replace(tzinfo=local.tz) + timedelta(
        days=21, hours=10
    )
    assert history.usual(at).frame.loc["site:Tòa Thánh", "centre"] < 60
    assert history.usual(at - timedelta(days=21)).festival


def test_a_public_holiday_is_judged_as_a_sunday_and_not_learned_from():
    """A Thursday off (Tết, 2/9) looks like a Sunday: its usual is Sunday's, its own quiet day
    does not lower the Thursdays after it, and the words say it is a holiday."""
    zone = "Asia/Ho_Chi_Minh"
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    local = hours.tz_convert(zone)
    values = np.where(local.day_of_week == 6, 15.0, daily(hours, zone))  # Sundays are quiet
    thursdays = sorted({d for d in local.date if d.weekday() == 3})
    past_holiday, holiday = thursdays[1], thursdays[-1]
    values[np.isin(local.date, [past_holiday, holiday])] = 15.0  # days off, like Sundays
    history = HourlyHistory(zone, weeks=4, holidays={past_holiday, holiday})
    history.add(frame(hours, "site:Chợ", values))
    ten = pd.Timedelta(hours=10)
    on_holiday = history.usual((pd.Timestamp(holiday, tz=zone) + ten).to_pydatetime())
    assert on_holiday.holiday and on_holiday.weekday == 6
    assert on_holiday.frame.loc["site:Chợ", "centre"] == 15.0  # Sunday's, not a Thursday's 40
    ordinary = history.usual((pd.Timestamp(thursdays[-2], tz=zone) + ten).to_pydatetime())
    assert not ordinary.holiday and ordinary.weekday == 3
    # The two ordinary Thursdays (40 at 10:00) are too few for a Thursday's slot: every day's
    # 10:00 but the days off says 40. Learned from, the days off would make Thursday's 27.5.
    assert ordinary.frame.loc["site:Chợ", "centre"] == pytest.approx(40.0)
    assert ordinary.frame.loc["site:Chợ", "level"] == "hour"
    facts = {"kind": "site", "name": "Chợ", "site": "Chợ", "value": 90, "low": 0, "high": 40}
    facts |= {"level": "weekday_hour", "weekday": 6, "hour": 10, "holiday": True}
    assert alert_title(anomaly_alert(facts), "vi") == (
        "Chợ: 90 người dùng lúc này; bình thường ngày nghỉ lễ 10:00 là 0–40"
    )
    assert alert_title(anomaly_alert(facts), "en") == (
        "Chợ: 90 users now; usual for a public holiday at 10:00 is 0–40"
    )


def test_slots_follow_the_local_clock_across_a_change_of_summer_time():
    zone = "Europe/Berlin"  # a profile in a zone with summer time; 2026-10-25 ends it
    hours = pd.date_range("2026-09-28", "2026-11-09", freq="h", tz="UTC", inclusive="left")
    history = HourlyHistory(zone, weeks=6)
    history.add(frame(hours, "x", daily(hours, zone)))
    after = pd.Timestamp("2026-11-09 10:00", tz=zone).to_pydatetime()
    usual = history.usual(after)
    assert usual.hour == 10
    assert abs(usual.frame.loc["x", "centre"] - 40.0) < 0.5  # not 10:00 summer time's 11:00


def anomaly_alert(facts: dict) -> Alert:
    return Alert(
        key="anomaly:site:Chợ Long Hoa",
        rule="anomaly",
        entity="site:Chợ Long Hoa",
        severity="medium",
        title="anomaly:site:Chợ Long Hoa",
        state="active_unack",
        raised_at=NOW,
        alert_id="e1",
        facts=facts,
    )


def test_the_explanation_in_both_languages():
    facts = {"kind": "site", "name": "Chợ Long Hoa", "site": "Chợ Long Hoa", "value": 400}
    facts |= {"low": 25, "high": 40, "level": "weekday_hour", "weekday": 4, "hour": 10}
    alert = anomaly_alert(facts)
    assert alert_title(alert, "vi") == (
        "Chợ Long Hoa: 400 người dùng lúc này; bình thường thứ Sáu 10:00 là 25–40"
    )
    assert alert_title(alert, "en") == (
        "Chợ Long Hoa: 400 users now; usual for a Friday at 10:00 is 25–40"
    )
    reports = anomaly_alert({**facts, "kind": "reports", "name": "Long Hoa", "level": "hour"})
    assert alert_title(reports, "en") == (
        "Long Hoa: 400 new field reports in the last hour; usual at 10:00 is 25–40"
    )


def test_an_injected_crowd_raises_one_anomaly_alert_that_clears_once(tmp_path):
    """Three weeks of a site's usual day in the store, then 400 users at its 10:00: one alert,
    explained, raised after the hold and cleared once the crowd is gone."""
    from wall.alerts.evaluator import AlertEvaluator
    from wall.alerts.rules import check_rules
    from wall.city import load_profile
    from wall.store.sqlite import SQLiteStore

    # Without the profile's festival days and holidays: a weekday whose last three weeks held
    # one (Monday 2026-12-07: the festival of 2026-11-23) is judged by its hour alone.
    profile = dataclasses.replace(load_profile(), festival_days=frozenset(), holidays=frozenset())
    zone = profile.timezone
    today = pd.Timestamp(NOW).tz_convert(zone).normalize()
    at = (today + pd.Timedelta(hours=10)).tz_convert("UTC")
    hours = pd.date_range(at - pd.Timedelta(days=21), at, freq="h", inclusive="left")
    history = pd.DataFrame(
        {
            "time": hours,
            "ap_id": "ap-crowd",
            "ward": "Long Hoa",
            "site": "Chợ Long Hoa",
            "up": True,
            "clients": np.round(daily(hours, zone)).astype(int),
        }
    )
    off = {name: {"enabled": False} for name in check_rules({}) if name != "anomaly"}
    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.write_frame("wifi_usage", history, ["ap_id", "ward", "site"])
        now = [at.to_pydatetime()]
        ev = AlertEvaluator(store, check_rules(off), clock=lambda: now[0], profile=profile)
        raised, cleared = [], []
        for minute in range(60):
            crowd = 400 if minute < 25 else 40
            point = history.iloc[[-1]].assign(time=pd.Timestamp(now[0]), clients=crowd)
            store.write_frame("wifi_usage", point, ["ap_id", "ward", "site"])
            for event in ev.evaluate():
                (raised if event.kind == "raised" else cleared).append(event)
            now[0] += timedelta(minutes=1)
    keys = {e.key for e in raised}
    assert keys == {"anomaly:site:Chợ Long Hoa", "anomaly:ap:ap-crowd"}
    assert len(raised) == 2 and len(cleared) == 2
    site = next(e for e in raised if e.key == "anomaly:site:Chợ Long Hoa")
    assert site.time - at.to_pydatetime() >= timedelta(minutes=15)
    facts = site.data["facts"]
    assert facts["value"] == 400 and facts["high"] < 100 and facts["level"] == "weekday_hour"


def test_a_few_counts_an_hour_of_normal_noise_stay_inside_the_band():
    """A category with 3 reports an hour, Poisson, for four weeks: at any slot, a normal hour is
    above the band (4 sigmas) less than once in a thousand hours — not the 1 % that the median
    of four values plus 4 √median gave (4 false alarms a week in bench/anomalies.py)."""
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    history = HourlyHistory("Asia/Ho_Chi_Minh", weeks=4)
    history.add(frame(hours, "category:x", rng.poisson(3.0, len(hours))))
    after = hours[-1] + pd.Timedelta(hours=1)
    tails = []
    for at in pd.date_range(after, periods=7 * 24, freq="h"):
        high = history.usual(at.to_pydatetime()).band(4.0).loc["category:x", "high"]
        k = np.arange(int(high) + 1)
        pmf = np.exp(-3.0) * 3.0**k / np.array([math.factorial(int(n)) for n in k])
        tails.append(1.0 - pmf.sum())  # P(count > high)
    assert np.mean(tails) < 1e-3, np.mean(tails)


def test_what_is_usual_at_an_instant_lies_between_the_slots_around_it():
    """A site at 10 an hour until 17:00 and 250 from 18:00, 130 on average in between (climbing
    each day through that hour): at 17:45 the centre is three quarters of 17:00's and a quarter
    of 18:00's (160), the band widened by half the largest change to a neighbouring slot (60)
    so the 190 of a normal 17:45 is inside it (36–284) where the clock hour's band (78–182)
    was not, and 600 is still far above it."""
    hours = pd.date_range(START, periods=28 * 24, freq="h", tz="UTC")
    local = hours.tz_convert("Asia/Ho_Chi_Minh").hour
    values = np.where(local == 17, 130.0, np.where((local >= 18) & (local < 20), 250.0, 10.0))
    history = HourlyHistory("Asia/Ho_Chi_Minh", weeks=4)
    history.add(frame(hours, "site:Sân lễ", values))
    day = pd.Timestamp(hours[-1]).tz_convert("Asia/Ho_Chi_Minh").normalize() + pd.Timedelta(days=1)
    at = (day + pd.Timedelta(hours=17, minutes=45)).to_pydatetime()
    clock_hour = history.usual(at).band(4.0).loc["site:Sân lễ"]
    assert clock_hour["high"] < 190
    usual = history.usual_at(at)
    row = usual.frame.loc["site:Sân lễ"]
    assert (usual.hour, usual.minute, row["level"]) == (17, 45, "weekday_hour")
    assert row["centre"] == pytest.approx(0.75 * 130 + 0.25 * 250)
    assert row["slack"] == pytest.approx(60.0)
    band = usual.band(4.0).loc["site:Sân lễ"]
    assert (band["low"], band["high"]) == (pytest.approx(36.0), pytest.approx(284.0))
    # At a slot's half hour the centre is the slot's own; on a flat stretch nothing widens it.
    half_past = history.usual_at(at - timedelta(minutes=15)).frame.loc["site:Sân lễ"]
    assert half_past["centre"] == pytest.approx(130.0)
    flat = history.usual_at(at - timedelta(hours=4)).frame.loc["site:Sân lễ"]
    assert (flat["centre"], flat["slack"]) == (pytest.approx(10.0), 0.0)
