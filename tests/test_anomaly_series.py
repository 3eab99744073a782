"""The anomaly rule's newer series on a seeded store, through the real evaluator tick by tick:
field reports per category, cameras down per ward, each operating indicator; their words in
both languages, on the alerts screen and in the officers' console."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import STREAM, fold
from wall.alerts.rules import check_rules
from wall.alerts.text import alert_title
from wall.city import CityProfile, load_profile
from wall.domain import report_slot
from wall.store import Store
from wall.store.sqlite import SQLiteStore

PROFILE = dataclasses.replace(
    load_profile("hoa-thanh"), festival_days=frozenset(), holidays=frozenset()
)
ZONE = PROFILE.timezone
# Cameras of each ward (today's units' names, as the store keeps them).
CAMERAS = {"Long Hoa": 12, "Hòa Thành": 6, "Thanh Điền": 6}
INDICATOR = next(i for i in PROFILE.indicators if not i.from_cameras and i.unit == "%")
CATEGORY = PROFILE.categories[1]  # the surge's
CAMERA_TAGS = ["camera_id", "ward"]
REPORT_TAGS = ["category", "ward", "report_slot"]
KPI_TAGS = ["indicator_id", "sector"]


def ten_o_clock() -> pd.Timestamp:
    """Today's 10:00 in the city's zone, as UTC: the instant each test starts at."""
    today = pd.Timestamp(datetime.now(UTC)).tz_convert(ZONE).normalize()
    return (today + pd.Timedelta(hours=10)).tz_convert("UTC")


def camera_ids(ward: str) -> list[str]:
    return [f"cam-{PROFILE.unit_of(ward) or ward}-{n}" for n in range(CAMERAS[ward])]


def seed(store: Store, at: pd.Timestamp, days: float = 21, seed: int = 7) -> None:
    """`days` of a normal town before `at`, an hour at a time: every camera online (one of
    Thanh Điền's down a tenth of the hours), a few new reports of each category in each ward,
    the indicator near its level."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(at - pd.Timedelta(days=days), at, freq="h", inclusive="left")
    cams = [(cid, ward) for ward in CAMERAS for cid in camera_ids(ward)]
    frame = pd.DataFrame(
        [
            {"time": h, "camera_id": cid, "ward": ward, "online": True, "name": cid}
            for h in hours
            for cid, ward in cams
        ]
    )
    flaky = frame["camera_id"] == camera_ids("Thanh Điền")[0]
    frame.loc[flaky, "online"] = rng.random(int(flaky.sum())) > 0.1
    store.write_frame("camera_status", frame, CAMERA_TAGS)
    reports = []
    for h in hours:
        day = 8 <= h.tz_convert(ZONE).hour < 20
        for category in PROFILE.categories:
            for ward in CAMERAS:
                for _ in range(rng.poisson(0.5 if day else 0.1)):
                    reports.append(
                        report(h + pd.Timedelta(minutes=rng.integers(60)), ward, category.code)
                    )
    store.write_frame("field_report", pd.DataFrame(reports), REPORT_TAGS)
    kpi = pd.DataFrame(
        {
            "time": hours,
            "actual": np.round(INDICATOR.level + rng.normal(0, 0.4, len(hours)), 1),
        }
    )
    write_kpi(store, kpi)


def report(time: pd.Timestamp, ward: str, category: str) -> dict:
    rid = f"r-{time.value}-{ward}-{category}-{np.random.default_rng().integers(1 << 40)}"
    return {
        "time": time,
        "category": category,
        "ward": ward,
        "report_slot": report_slot(rid),
        "report_id": rid,
        "status": "new",
        "created": time.isoformat(),
    }


def write_kpi(store: Store, frame: pd.DataFrame) -> None:
    store.write_frame(
        "kpi",
        frame.assign(indicator_id=INDICATOR.indicator_id, sector=INDICATOR.sector, unit="%"),
        KPI_TAGS,
    )


def cameras_now(store: Store, now: pd.Timestamp, ward: str, online: bool) -> None:
    ids = camera_ids(ward)
    frame = pd.DataFrame({"time": now, "camera_id": ids, "ward": ward, "online": online})
    store.write_frame("camera_status", frame.assign(name=ids), CAMERA_TAGS)


class Run:
    """The real evaluator on `store` with an injected clock from `at`, every `step` minutes."""

    def __init__(self, store: Store, at: pd.Timestamp, profile: CityProfile = PROFILE, **on):
        rules = {name: {"enabled": name in on or name == "anomaly"} for name in check_rules({})}
        self.store, self.now = store, at.to_pydatetime()
        self.ev = AlertEvaluator(store, check_rules(rules), clock=lambda: self.now, profile=profile)
        self.events: list = []

    def minutes(self, minutes: int, step: int = 5, each=None) -> None:
        for minute in range(0, minutes, step):
            if each is not None:
                each(minute, pd.Timestamp(self.now))
            self.events += self.ev.evaluate()
            self.now += timedelta(minutes=step)

    def of(self, kind: str) -> list[str]:
        return [e.key for e in self.events if e.kind == kind]


def test_a_category_surge_is_raised_once_and_cleared_once_and_the_rest_stay_quiet(tmp_path):
    at = ten_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, at)
        run = Run(store, at)
        wards = list(CAMERAS)

        def surge(minute, now):  # 18 reports of one category in half an hour, 6 in each ward
            if minute < 30:
                rows = [report(now, ward, CATEGORY.code) for ward in wards]
                store.write_frame("field_report", pd.DataFrame(rows), REPORT_TAGS)

        run.minutes(150, each=surge)
        key = f"anomaly:category:{CATEGORY.code}"
        # No other category, no ward (6 more reports each is within their usual), no camera, no
        # indicator.
        assert run.of("raised") == [key]
        assert run.of("cleared") == [key]
        raised = next(e for e in run.events if e.kind == "raised")
        assert raised.time - at.to_pydatetime() >= timedelta(minutes=15)
        alert = fold(store.events(STREAM))[key]
        facts = alert.facts
        assert facts["value"] >= 15 and facts["high"] < 10 and facts["level"] == "weekday_hour"
        weekday = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
        day = weekday[at.tz_convert(ZONE).weekday()]
        assert alert_title(alert, "vi") == (
            f"Lĩnh vực {CATEGORY.label_vi}: {facts['value']} phản ánh mới trong 1 giờ qua; "
            f"bình thường {day} 09:00 là {facts['low']}–{facts['high']}"
        )
        assert alert_title(alert, "en").startswith(
            f"Category {CATEGORY.label_en}: {facts['value']} new field reports in the last hour;"
            " usual for a "
        )


def test_a_ward_power_cut_is_one_anomaly_for_the_ward_not_one_per_camera(tmp_path):
    at = ten_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, at)
        run = Run(store, at, ward_cameras_offline=True, camera_offline=True)

        def power_cut(minute, now):
            if minute in (0, 40):
                cameras_now(store, now, "Long Hoa", online=minute == 40)

        run.minutes(90, step=1, each=power_cut)
        anomalies = [k for k in run.of("raised") if k.startswith("anomaly:")]
        assert anomalies == ["anomaly:cameras:Long Hoa"]
        assert run.of("cleared").count("anomaly:cameras:Long Hoa") == 1
        assert not [k for k in run.of("raised") if k.startswith("camera_offline:")]
        assert "ward_cameras_offline:Long Hoa" in run.of("raised")  # the grouped outage too
        alert = fold(store.events(STREAM))["anomaly:cameras:Long Hoa"]
        assert alert.ward == "Long Hoa"
        assert (alert.facts["value"], alert.facts["low"]) == (12, 0)
        raised_at = alert.raised_at.astimezone(PROFILE_ZONE())
        day = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
        days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        high = alert.facts["high"]
        assert high <= 5
        assert alert_title(alert, "vi") == (
            f"Long Hoa: 12 camera mất kết nối lúc này; bình thường {day[raised_at.weekday()]} "
            f"10:00 là 0–{high}"
        )
        assert alert_title(alert, "en") == (
            f"Long Hoa ward: 12 cameras offline now; usual for a {days[raised_at.weekday()]} "
            f"at 10:00 is 0–{high}"
        )


def test_on_a_public_holiday_a_power_cut_is_told_against_a_sundays_usual(tmp_path):
    at = ten_o_clock()
    holiday = dataclasses.replace(PROFILE, holidays=frozenset({at.tz_convert(ZONE).date()}))
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, at)
        run = Run(store, at, profile=holiday)

        def power_cut(minute, now):
            if minute == 0:
                cameras_now(store, now, "Long Hoa", online=False)

        run.minutes(30, each=power_cut)
        assert "anomaly:cameras:Long Hoa" in run.of("raised")
        alert = fold(store.events(STREAM))["anomaly:cameras:Long Hoa"]
        assert alert.facts["holiday"] is True and alert.facts["weekday"] == 6
        high = alert.facts["high"]
        assert alert_title(alert, "vi") == (
            f"Long Hoa: 12 camera mất kết nối lúc này; bình thường ngày nghỉ lễ 10:00 là 0–{high}"
        )
        assert alert_title(alert, "en").endswith(f"usual for a public holiday at 10:00 is 0–{high}")


def PROFILE_ZONE():
    from zoneinfo import ZoneInfo

    return ZoneInfo(ZONE)


def test_an_indicator_out_of_its_band_is_raised_once_and_cleared_once(tmp_path):
    at = ten_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, at)
        run = Run(store, at)
        low = round(INDICATOR.level - 25, 1)

        def figures(minute, now):  # its source sends every 10 minutes; 50 minutes far too low
            if minute % 10 == 0:
                value = low if minute < 50 else INDICATOR.level
                write_kpi(store, pd.DataFrame({"time": [now], "actual": [value]}))

        run.minutes(180, each=figures)
        key = f"anomaly:indicator:{INDICATOR.indicator_id}"
        assert run.of("raised") == [key] and run.of("cleared") == [key]
        alert = fold(store.events(STREAM))[key]
        facts = alert.facts
        assert facts["low"] > INDICATOR.level - 5 and facts["value"] < facts["low"]
        assert isinstance(facts["low"], float)  # a tenth of the indicator's unit
        vi, en = alert_title(alert, "vi"), alert_title(alert, "en")
        number = r"\d+(,\d)?"
        assert re.fullmatch(
            rf"{re.escape(INDICATOR.name_vi)}: {number} % \(trung bình 1 giờ qua\); "
            rf"bình thường (thứ \w+|Chủ nhật) 09:00 là {number}–{number}",
            vi,
        ), vi
        assert re.fullmatch(
            rf"{re.escape(INDICATOR.name_en)}: \d+(\.\d)? % \(mean of the last hour\); "
            r"usual for a \w+ at 09:00 is \d+(\.\d)?–\d+(\.\d)?",
            en,
        ), en


def test_a_share_near_100_percent_is_told_with_a_band_that_ends_at_100(tmp_path):
    """A share is never over 100 %: its usual band in words must not say "97–101 %"."""
    at = ten_o_clock()
    rng = np.random.default_rng(3)
    hours = pd.date_range(at - pd.Timedelta(days=21), at, freq="h", inclusive="left")
    with SQLiteStore(tmp_path / "ioc.db") as store:
        usual = np.minimum(100.0, np.round(99.2 + rng.normal(0, 0.5, len(hours)), 1))
        write_kpi(store, pd.DataFrame({"time": hours, "actual": usual}))
        run = Run(store, at)

        def figures(minute, now):
            if minute % 10 == 0:
                write_kpi(store, pd.DataFrame({"time": [now], "actual": [80.0]}))

        run.minutes(60, each=figures)
        alert = fold(store.events(STREAM))[f"anomaly:indicator:{INDICATOR.indicator_id}"]
        assert alert.facts["high"] == 100.0 and 95 < alert.facts["low"] < 100
        assert alert_title(alert, "vi").endswith("–100"), alert_title(alert, "vi")
        assert alert_title(alert, "en").endswith("–100"), alert_title(alert, "en")


def test_on_a_festival_day_a_report_surge_is_expected_and_a_power_cut_is_not(tmp_path):
    """The same hour twice: on an ordinary day the surge raises its category and ward; on a
    festival day of the profile only the cameras down are raised (a crowd takes no camera
    down)."""
    at = ten_o_clock()
    festival = dataclasses.replace(PROFILE, festival_days=frozenset({at.tz_convert(ZONE).date()}))
    raised = {}
    for name, profile in (("ordinary", PROFILE), ("festival", festival)):
        with SQLiteStore(tmp_path / f"{name}.db") as store:
            seed(store, at)
            run = Run(store, at, profile=profile)

            def crowd_and_cut(minute, now, store=store):
                rows = [report(now, "Hòa Thành", CATEGORY.code) for _ in range(6)]
                store.write_frame("field_report", pd.DataFrame(rows), REPORT_TAGS)
                if minute == 0:
                    cameras_now(store, now, "Hòa Thành", online=False)

            run.minutes(40, each=crowd_and_cut)
            raised[name] = sorted(run.of("raised"))
    cut = "anomaly:cameras:Hòa Thành"
    surge = [f"anomaly:category:{CATEGORY.code}", "anomaly:reports:Hòa Thành"]
    assert raised["ordinary"] == sorted([cut, *surge])
    assert raised["festival"] == [cut]


def test_quiet_with_less_than_three_days_of_history(tmp_path):
    at = ten_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, at, days=2.5)
        run = Run(store, at)

        def everything(minute, now):
            if minute == 0:
                cameras_now(store, now, "Long Hoa", online=False)
            rows = [report(now, "Long Hoa", CATEGORY.code) for _ in range(6)]
            store.write_frame("field_report", pd.DataFrame(rows), REPORT_TAGS)
            write_kpi(store, pd.DataFrame({"time": [now], "actual": [1.0]}))

        run.minutes(40, each=everything)
        assert run.events == []


@pytest.fixture
def raised_store(tmp_path):
    """A store holding a raised camera anomaly of Long Hoa (the real evaluator's)."""
    at = ten_o_clock()
    store = SQLiteStore(tmp_path / "ioc.db")
    seed(store, at)
    run = Run(store, at)
    run.minutes(30, each=lambda m, now: m or cameras_now(store, now, "Long Hoa", online=False))
    assert run.of("raised") == ["anomaly:cameras:Long Hoa"]
    yield store, run.now
    store.close()


def test_the_alerts_screen_lists_it_with_its_explanation(raised_store):
    from layouts.alerts import alert_list, alerts_frame
    from layouts.common import Context
    from wall.alerts.state import open_alerts
    from wall.i18n import Translator

    store, now = raised_store
    frame = alerts_frame(open_alerts(store))
    for lang, words in (("vi", "12 camera mất kết nối lúc này"), ("en", "12 cameras offline now")):
        ctx = Context(now, PROFILE_ZONE(), Translator(lang), 120.0, profile=PROFILE)
        text = str(alert_list({"alerts": frame}, ctx))
        assert words in text and ("bình thường" if lang == "vi" else "usual for") in text


def test_the_officers_console_lists_it_with_its_explanation(raised_store, tmp_path):
    from flask import Flask

    from wall.cache import init_cache
    from wall.officer_console import register
    from wall.officers import add_officer
    from wall.settings import Settings

    store, _ = raised_store
    settings = Settings(
        store="sqlite:///unused.db",
        cache_url=f"file://{tmp_path / 'cache'}",
        secret_key_file=str(tmp_path / "secret_key"),
    )
    server = Flask(__name__)
    init_cache(server, settings)
    register(server, settings, store)
    add_officer(store, "nguyen.an", "ca trực đêm 2026")
    client = server.test_client()
    page = client.get("/officer/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"name": "nguyen.an", "password": "ca trực đêm 2026", "csrf_token": token}
    client.post("/officer/signin", data=form)
    vi = client.get("/officer?lang=vi").get_data(as_text=True)
    en = client.get("/officer?lang=en").get_data(as_text=True)
    assert "Long Hoa: 12 camera mất kết nối lúc này; bình thường " in vi
    assert "Long Hoa ward: 12 cameras offline now; usual for a " in en


def test_the_hourly_history_reads_the_same_from_either_store(store: Store):
    """The new series' first read (cameras' last status of each hour, indicators' hourly
    means, reports per category) on SQLite and on a real influxd."""
    from wall.alerts.anomaly import camera_hours, indicator_hours, report_hours

    at = ten_o_clock()
    seed(store, at, days=1)
    start, end = (at - pd.Timedelta(days=1)).to_pydatetime(), at.to_pydatetime()
    cameras = camera_hours(store, start, end, PROFILE).set_index(["time", "series"])["value"]
    assert len(cameras) == 24 * 3
    flaky = cameras.xs("cameras:Thanh Điền", level="series")
    assert set(flaky) <= {0.0, 1.0} and cameras.xs("cameras:Long Hoa", level="series").eq(0).all()
    kpi = indicator_hours(store, start, end, PROFILE)
    assert len(kpi) == 24 and set(kpi["series"]) == {f"indicator:{INDICATOR.indicator_id}"}
    assert kpi["value"].between(INDICATOR.level - 3, INDICATOR.level + 3).all()
    reports, since = report_hours(store, start, end, PROFILE)
    per_category = reports[reports["series"].str.startswith("category:")]
    assert len(per_category) == 24 * len(PROFILE.categories)
    assert since is not None and since >= start


def test_the_last_hour_is_held_against_both_clock_hours_it_overlaps():
    """Reports pick up at 07:00 (none at 06:00, 6 an hour from 07:00): at 07:20 the last hour
    (06:20–07:20) usually holds 2, not the 06:00 slot's 0 (a surge to the wall at each morning's
    rise) nor 07:00's 6."""
    from wall.alerts.anomaly import last_hour_usual
    from wall.baselines import HourlyHistory

    hours = pd.date_range(ten_o_clock() - pd.Timedelta(days=21), periods=21 * 24, freq="h")
    local = hours.tz_convert(ZONE).hour
    values = np.where(local >= 7, 6.0, 0.0)
    history = HourlyHistory(ZONE, weeks=4)
    history.add(pd.DataFrame({"time": hours, "series": "category:x", "value": values}))
    today = pd.Timestamp(hours[-1]).tz_convert(ZONE).normalize() + pd.Timedelta(days=1)
    usual = last_hour_usual(history, (today + pd.Timedelta(hours=7, minutes=20)).to_pydatetime())
    assert usual.hour == 6  # the hour it covers most names it
    assert usual.frame.loc["category:x", "centre"] == pytest.approx(2.0)


RAMP_AP = {"ap_id": "ap-ramp", "ward": "Hòa Thành", "site": "Sân lễ"}


def ramp_clients(at: pd.Timestamp) -> float:
    """The gathering place's clients: 10 until 17:00, climbing evenly to 250 at 18:00, 250 until
    20:00, then 10 again; every day alike."""
    local = at.tz_convert(ZONE)
    hours = local.hour + local.minute / 60
    if 17 <= hours < 18:
        return 10 + 240 * (hours - 17)
    return 250.0 if 18 <= hours < 20 else 10.0


def write_clients(store: Store, times, values) -> None:
    clients = [round(v) for v in values]  # as an AP sends them
    frame = pd.DataFrame({"time": times, "clients": clients, "up": True, "capacity": 300})
    store.write_frame("wifi_usage", frame.assign(**RAMP_AP), ["ap_id", "ward", "site"])


def seed_ramp(store: Store, at: pd.Timestamp) -> None:
    """Three weeks of the ramp before `at`, a point every 5 minutes, a little noise."""
    rng = np.random.default_rng(3)
    times = pd.date_range(at - pd.Timedelta(days=21), at, freq="5min", inclusive="left")
    values = [max(0.0, round(ramp_clients(t) + rng.normal(0, 2))) for t in times]
    write_clients(store, times, values)


def five_o_clock() -> pd.Timestamp:
    return ten_o_clock() + pd.Timedelta(hours=7)


def test_wifi_climbing_steeply_as_every_day_is_not_raised(tmp_path):
    """Clients climbing from 10 to 250 within 17:00–18:00, as on every day before: judged
    against the 17:00 slot's mean (130, band about 78–182) 17:00–17:15 and 17:45–18:00 fell
    outside; against what is usual at the minute, nothing is raised."""
    at = five_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed_ramp(store, at)
        run = Run(store, at)
        run.minutes(90, each=lambda m, now: write_clients(store, [now], [ramp_clients(now)]))
        assert run.of("raised") == []


def test_a_crowd_on_the_steep_climb_is_still_raised_with_the_band_of_its_minute(tmp_path):
    at = five_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed_ramp(store, at)
        run = Run(store, at)

        def crowd(minute, now):  # from 17:30, 600 where about 130–250 is usual
            write_clients(store, [now], [600 if minute >= 30 else ramp_clients(now)])

        run.minutes(60, each=crowd)
        raised = [e for e in run.events if e.kind == "raised"]
        assert {e.key for e in raised} == {"anomaly:ap:ap-ramp", "anomaly:site:Sân lễ"}
        alert = fold(store.events(STREAM))["anomaly:ap:ap-ramp"]
        facts = alert.facts
        local = pd.Timestamp(alert.raised_at).tz_convert(ZONE)
        assert local.hour == 17 and local.minute >= 45
        # The band of that minute: the usual 190–250 of 17:45–18:00 inside it, 600 far above.
        assert facts["low"] <= ramp_clients(pd.Timestamp(alert.raised_at)) <= facts["high"] < 600
        assert (facts["hour"], facts["minute"]) == (17, local.minute)
        assert alert_title(alert, "en").endswith(
            f"usual for a {local:%A} at 17:{local.minute:02d} is {facts['low']}–{facts['high']}"
        )
        assert f"17:{local.minute:02d} là {facts['low']}–{facts['high']}" in alert_title(
            alert, "vi"
        )


def running_total_profile():
    """The town with its indicator sent as a running total restarting each month."""
    total = dataclasses.replace(INDICATOR, aggregation="sum", period="month")
    others = tuple(i for i in PROFILE.indicators if i.indicator_id != INDICATOR.indicator_id)
    return dataclasses.replace(PROFILE, indicators=(total, *others)), total


def month_start(moment: pd.Timestamp) -> pd.Timestamp:
    return moment.tz_convert(ZONE).normalize().replace(day=1).tz_convert("UTC")


def running_total(times: pd.DatetimeIndex, per_hour: float = 30.0) -> np.ndarray:
    """Visits to date of the month each time is in: `per_hour` an hour since its first day."""
    since = [(t - month_start(t)).total_seconds() / 3600.0 for t in times]
    return np.round(np.array(since) * per_hour, 1)


def test_a_running_totals_hours_are_its_rises_and_a_new_month_is_no_fall():
    from wall.alerts.anomaly import hourly_rises, indicators_now, running_totals

    profile, total = running_total_profile()
    first = pd.Timestamp("2026-12-01", tz=ZONE).tz_convert("UTC")  # 1 December, local midnight
    hours = pd.date_range(first - pd.Timedelta(hours=5), first + pd.Timedelta(hours=5), freq="h")
    lasts = pd.DataFrame(
        {
            "time": hours,
            "indicator_id": total.indicator_id,
            # The hour's last value, 10 min before its end.
            "value": running_total(hours + pd.Timedelta(minutes=50)),
        }
    )
    rises = hourly_rises(lasts.drop(index=8), running_totals(profile))  # a gap at first + 3 h
    by_hour = rises.set_index("time")["value"]
    assert (by_hour.loc[: first - pd.Timedelta(hours=1)] == 30.0).all()
    # The month's first hour rose by its 25 to 10 to 1:00, not fell by November's total.
    assert by_hour.loc[first] == pytest.approx(25.0)
    # No value in the hour from first + 3 h: neither it nor the next hour's rise is known.
    assert {first + pd.Timedelta(hours=h) for h in (3, 4)}.isdisjoint(by_hour.index)
    assert by_hour.loc[first + pd.Timedelta(hours=5)] == pytest.approx(30.0)
    # Now, 20 minutes into the month: the last hour's rise is what came since it began.
    now = first + pd.Timedelta(minutes=20)
    sent = pd.date_range(now - pd.Timedelta(hours=2), now, freq="10min")
    kpi = pd.DataFrame(
        {"time": sent, "indicator_id": total.indicator_id, "actual": running_total(sent)}
    )
    current = indicators_now(kpi, profile, now.to_pydatetime()).set_index("series")
    row = current.loc[f"indicator:{total.indicator_id}"]
    assert row["value"] == pytest.approx(10.0) and row["rise"]
    later = first + pd.Timedelta(hours=3)  # inside the month: newest less an hour ago's
    sent = pd.date_range(later - pd.Timedelta(hours=2), later, freq="10min")
    kpi = pd.DataFrame(
        {"time": sent, "indicator_id": total.indicator_id, "actual": running_total(sent)}
    )
    current = indicators_now(kpi, profile, later.to_pydatetime()).set_index("series")
    assert current.loc[f"indicator:{total.indicator_id}", "value"] == pytest.approx(30.0)


def test_a_running_total_rising_far_faster_than_usual_is_raised_in_words_of_its_rise(tmp_path):
    profile, total = running_total_profile()
    at = ten_o_clock()
    with SQLiteStore(tmp_path / "ioc.db") as store:
        sent = pd.date_range(at - pd.Timedelta(days=21), at, freq="10min", inclusive="left")
        write_kpi(store, pd.DataFrame({"time": sent, "actual": running_total(sent)}))
        run = Run(store, at, profile=profile)
        rush = {"extra": 0.0}

        def visitors(minute, now):
            if minute >= 30:
                rush["extra"] += 100.0  # 100 more every 5 minutes: 1,200 an hour, not 30
            actual = float(running_total(pd.DatetimeIndex([now]))[0]) + rush["extra"]
            write_kpi(store, pd.DataFrame({"time": [now], "actual": [actual]}))

        run.minutes(30, each=visitors)
        assert run.of("raised") == []  # growing as usual: quiet, a running total's rise
        run.minutes(60, each=visitors)
        key = f"anomaly:indicator:{total.indicator_id}"
        assert key in run.of("raised")
        alert = fold(store.events(STREAM))[key]
        assert alert.facts["rise"] is True and alert.facts["value"] > 200
        vi, en = alert_title(alert, "vi"), alert_title(alert, "en")
        assert vi.startswith(f"{total.name_vi}: tăng ") and "% trong 1 giờ qua; " in vi, vi
        assert en.startswith(f"{total.name_en}: up ") and "% in the last hour; " in en, en
