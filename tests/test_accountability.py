"""Who is late: indicators' due days across period ends in the city's zone, reports' handling
units and on-time figures, and the alerts grouped per responsible unit (pure, clock injected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from wall.accountability import handling_unit, indicators_due, standings
from wall.alerts.model import Alert
from wall.alerts.rules import CityNow, check_rules, conditions_now
from wall.alerts.text import alert_title
from wall.city import load_profile

PROFILE = load_profile("hoa-thanh")
ZONE = ZoneInfo(PROFILE.timezone)  # Asia/Ho_Chi_Minh, UTC+7
# An injected clock: half an hour into 1 December in the town, still 30 November in UTC.
NOW = datetime(2026, 12, 1, 0, 30, tzinfo=ZONE).astimezone(UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE)


def values(*rows: tuple) -> pd.DataFrame:
    """(indicator, period, first submitted[, corrected at]) as wall.submissions.latest_values."""
    return pd.DataFrame(
        [
            {
                "indicator_id": i,
                "period": p,
                "submitted_at": pd.Timestamp(t),
                "time": pd.Timestamp(corrected[0] if corrected else t),
            }
            for i, p, t, *corrected in rows
        ],
        columns=["indicator_id", "period", "submitted_at", "time"],
    )


def state_of(indicator_id: str, found) -> tuple[str, str]:
    d = next(d for d in found if d.indicator.indicator_id == indicator_id)
    return d.period, d.state


def test_the_period_due_is_the_one_ended_in_the_citys_zone_not_in_utc() -> None:
    # In UTC October would be the month just ended; in the town November has ended.
    found = indicators_due(PROFILE, values(), NOW, ZONE)
    assert state_of("hs_dung_han", found) == ("2026-11", "pending")  # due by end of 5 Dec
    assert state_of("thu_ngan_sach", found) == ("2026-Q3", "missing")  # Q3 due by 10 Oct
    assert state_of("dn_thanh_lap", found) == ("2025", "missing")


def test_on_time_late_and_missing_at_the_due_days_end_in_local_time() -> None:
    last_minute = local(2026, 12, 5, 23, 59)
    a_minute_late = local(2026, 12, 6, 0, 1)  # 17:01 UTC on 5 December: still the 5th in UTC
    later = local(2026, 12, 6, 8, 0).astimezone(UTC)
    found = indicators_due(
        PROFILE,
        values(
            ("hs_dung_han", "2026-11", last_minute), ("dvc_toan_trinh", "2026-11", a_minute_late)
        ),
        later,
        ZONE,
    )
    assert state_of("hs_dung_han", found) == ("2026-11", "on_time")
    assert state_of("dvc_toan_trinh", found) == ("2026-11", "late")
    assert state_of("phan_anh_dung_han", found) == ("2026-11", "missing")
    # Corrected after the due day: still on time, as its first value was.
    found = indicators_due(
        PROFILE, values(("hs_dung_han", "2026-11", last_minute, a_minute_late)), later, ZONE
    )
    assert state_of("hs_dung_han", found) == ("2026-11", "on_time")
    # A value for another period counts for nothing here.
    found = indicators_due(PROFILE, values(("hs_dung_han", "2026-10", last_minute)), later, ZONE)
    assert state_of("hs_dung_han", found) == ("2026-11", "missing")


def test_a_report_goes_to_the_agency_it_names_else_to_its_categorys_unit() -> None:
    assert handling_unit(PROFILE, "Phong kinh te, ha tang va do thi", "environment") == "qlđt"
    assert handling_unit(PROFILE, "moi-truong", "traffic") == "moi-truong"
    assert handling_unit(PROFILE, "UBND Hiệp Tân", "environment") == "moi-truong"  # not a unit
    assert handling_unit(PROFILE, None, "urban_order") == "ubnd-phuong"  # stored before agency
    assert handling_unit(PROFILE, None, "unknown") is None


def report(rid: str, category: str, status: str, created: datetime, hours: float, **more):
    return {
        "time": pd.Timestamp(created + timedelta(hours=hours)),
        "report_id": rid,
        "category": category,
        "status": status,
        "created": created.isoformat(),
        "updated": (created + timedelta(hours=hours)).isoformat(),
        **more,
    }


def seeded_reports() -> pd.DataFrame:
    start = NOW - timedelta(days=10)
    rows = [
        # qlđt handles lighting (48 h): 10, 20, 50, 60 h → 2 of 4 on time, median 35 h.
        report("l1", "lighting", "closed", start, 10),
        report("l2", "lighting", "resolved", start, 20),
        report("l3", "lighting", "closed", start, 50),
        report("l4", "lighting", "closed", start, 60),
        # … and traffic (4 h): two open past it, the older the one named.
        report("t1", "traffic", "assigned", NOW - timedelta(hours=9), 1),
        report("t2", "traffic", "new", NOW - timedelta(hours=30), 1),
        report("t3", "traffic", "new", NOW - timedelta(hours=2), 1),  # within its 4 h
        # The environment board: one closed in 12 of 72 h; one it was named for by the source.
        report("e1", "environment", "closed", start, 12),
        report("e2", "traffic", "closed", start, 3, agency="Ban quản lý dịch vụ công ích"),
        # Urban order, to the ward committee: open past 24 h.
        report("u1", "urban_order", "in_progress", NOW - timedelta(hours=25), 1),
    ]
    earlier = {**rows[0], "status": "new", "time": rows[0]["time"] - timedelta(hours=5)}
    return pd.DataFrame([earlier, *rows])  # an older version of l1 counts for nothing


def test_on_time_percent_median_and_overdue_per_unit_with_known_figures() -> None:
    table = {s.unit: s for s in standings(PROFILE, values(), seeded_reports(), NOW, ZONE)}
    works = table["qlđt"]
    assert (works.reports, works.handled, works.handled_on_time) == (7, 4, 2)
    assert works.on_time_percent == 50.0
    assert works.median_hours == 35.0
    assert works.overdue_now == 2
    assert works.oldest_overdue == NOW - timedelta(hours=26)
    board = table["moi-truong"]
    assert (board.handled, board.on_time_percent, board.median_hours) == (2, 100.0, 7.5)
    assert (table["ubnd-phuong"].overdue_now, table["ubnd-phuong"].on_time_percent) == (1, None)


def test_the_league_table_puts_the_unit_handling_more_on_time_first() -> None:
    order = [s.unit for s in standings(PROFILE, values(), seeded_reports(), NOW, ZONE)]
    assert order.index("moi-truong") < order.index("qlđt") < order.index("ubnd-phuong")


def city(reports: pd.DataFrame, submissions: pd.DataFrame | None) -> CityNow:
    empty = pd.DataFrame()
    return CityNow(
        now=NOW,
        cameras=empty,
        aps=empty,
        reports=reports,
        feed_times={},
        health=empty,
        deadlines={c.code: c.deadline_hours for c in PROFILE.categories},
        profile=PROFILE,
        zone=ZONE,
        submissions=submissions,
    )


def test_overdue_reports_raise_one_alert_per_handling_unit_with_count_and_oldest() -> None:
    found = conditions_now(city(seeded_reports(), None), check_rules({}), set())
    overdue = {c.entity: c for c in found.values() if c.rule == "report_overdue"}
    assert set(overdue) == {"qlđt", "ubnd-phuong"}
    assert (overdue["qlđt"].facts["count"], overdue["qlđt"].facts["oldest"]) == (2, "t2")
    alert = Alert(
        key="report_overdue:qlđt",
        rule="report_overdue",
        entity="qlđt",
        severity="medium",
        title="",
        state="active_unack",
        raised_at=NOW,
        alert_id="a1",
        facts=overdue["qlđt"].facts,
    )
    assert alert_title(alert, "vi") == (
        "Phòng Kinh tế, Hạ tầng và Đô thị: 2 phản ánh quá hạn xử lý, lâu nhất t2 (4 giờ)"
    )
    assert alert_title(alert, "en").startswith("Economy, Infrastructure and Urban Office: 2 ")


def test_indicators_late_per_unit_and_quiet_without_submissions() -> None:
    rules = check_rules({})
    reports = pd.DataFrame()
    assert conditions_now(city(reports, None), rules, set()) == {}
    assert conditions_now(city(reports, values()), rules, set()) == {}
    submitted = values(("thu_ngan_sach", "2026-Q3", local(2026, 10, 2, 9, 0)))
    found = conditions_now(city(reports, submitted), rules, set())
    late = {c.entity: c.facts for c in found.values() if c.rule == "indicators_late"}
    # November's monthly values are not due before 5 December: only quarters and years are late.
    assert late["qlđt"]["count"] == 3  # giai_ngan_dtc (Q3), dn_thanh_lap, nuoc_sach (2025)
    assert late["qlđt"]["oldest"] == "dn_thanh_lap"  # due 15 January, nuoc_sach the 30th
    assert "tt-hcc" not in late
    assert set(late) == {"qlđt", "vh-xh"}


def test_a_unit_that_only_reports_figures_ranks_by_them_not_below_those_handling_reports():
    """A unit with no field reports to handle (the office reporting its indicators) is ranked
    by its indicators' on-time share beside the others' report shares, not put after them."""
    due = indicators_due(PROFILE, values(), NOW, ZONE)
    office = [d for d in due if d.indicator.responsible_unit == "van-phong"]
    given = values(
        *((d.indicator.indicator_id, d.period, d.due - timedelta(days=2)) for d in office)
    )
    table = standings(PROFILE, given, seeded_reports(), NOW, ZONE)
    by_unit = {s.unit: s for s in table}
    assert by_unit["van-phong"].on_time_percent is None  # no report is its to handle
    assert by_unit["van-phong"].indicator_percent == 100.0
    assert by_unit["qlđt"].on_time_percent == 50.0
    order = [s.unit for s in table]
    assert order.index("van-phong") < order.index("qlđt"), order


def test_a_long_league_keeps_its_best_and_worst_and_says_the_middle_in_one_line() -> None:
    """Thirty units cannot all be read on one 1080p panel: the first and last are drawn, the
    middle is one line saying how many and which ranks, and the list is drawn tighter."""
    from dash import html

    from layouts.accountability import ROWS_SHOWN, fitted

    def more(count: int, first: int, last: int):
        return html.Div(f"{count} more, {first}-{last}")

    rows = [html.Div(f"rank {n}") for n in range(1, 31)]
    shown = fitted(rows, more)
    texts = [r.children for r in shown.children]
    assert len(texts) == ROWS_SHOWN
    assert texts[:8] == [f"rank {n}" for n in range(1, 9)]
    assert texts[8] == "15 more, 9-23"
    assert texts[9:] == [f"rank {n}" for n in range(24, 31)]
    assert "acc-list--dense" in shown.className
    few = fitted(rows[:5], more)
    assert [r.children for r in few.children] == [f"rank {n}" for n in range(1, 6)]
    assert "dense" not in few.className
