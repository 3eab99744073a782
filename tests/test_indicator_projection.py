"""Where an indicator's figure is heading by its period's end (wall.indicator_projection), and
the projection as the indicators screen words it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from layouts import indicators
from layouts.common import Context
from wall.i18n import Translator
from wall.indicator_projection import expected_at_end, projection
from wall.periods import parse_period

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = parse_period("year", "2026")
MONTH = parse_period("month", "2026-11")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZONE)


def projected(figures, period=YEAR, *, target, direction="higher", aggregation, now, unit=""):
    return projection(
        figures,
        period=period,
        target=target,
        direction=direction,
        aggregation=aggregation,
        now=now,
        zone=ZONE,
        unit=unit,
    )


def test_a_running_total_is_extrapolated_by_the_share_of_the_period_gone_by() -> None:
    # 1 July 00:00 local: 181 of 365 days gone by.
    july = local(2026, 7, 1)
    found = projected([(july, 50.0)], target=95, aggregation="sum", now=july)
    assert found.expected == pytest.approx(50 * 365 / 181)
    assert (found.state, found.basis) == ("on_track", "pace")
    slow = projected([(july, 40.0)], target=95, aggregation="sum", now=july)
    assert slow.expected == pytest.approx(40 * 365 / 181)
    assert slow.state == "at_risk"
    # A total past its target is met already: it only grows.
    done = projected([(july, 96.0)], target=95, aggregation="sum", now=july)
    assert (done.state, done.basis, done.expected) == ("met", "reached", 96.0)


def test_a_running_total_where_lower_is_better() -> None:
    july = local(2026, 7, 1)
    low = projected([(july, 20.0)], target=50, direction="lower", aggregation="sum", now=july)
    assert low.state == "on_track"  # never met before the year is over
    fast = projected([(july, 30.0)], target=50, direction="lower", aggregation="sum", now=july)
    assert fast.state == "at_risk"
    over = projected([(july, 51.0)], target=50, direction="lower", aggregation="sum", now=july)
    assert over.state == "missed"


@pytest.mark.parametrize("aggregation", ["mean", "last"])
def test_a_rate_follows_the_trend_of_its_figures(aggregation) -> None:
    # November: 91 on the 1st, 92 on the 16th (half the month): 93 by the month's end.
    figures = [(local(2026, 11, 1), 91.0), (local(2026, 11, 16), 92.0)]
    now = local(2026, 11, 16, 12)
    found = projected(figures, MONTH, target=95, aggregation=aggregation, now=now)
    assert (found.basis, found.state) == ("trend", "at_risk")
    assert found.expected == pytest.approx(93.0)
    rising = [(local(2026, 11, 1), 90.0), (local(2026, 11, 16), 95.0)]
    found = projected(rising, MONTH, target=97, aggregation=aggregation, now=now)
    assert (found.state, found.expected) == ("on_track", pytest.approx(100.0))
    # Above the target but falling below it by the end: at risk, not met.
    falling = [(local(2026, 11, 1), 99.0), (local(2026, 11, 16), 97.0)]
    assert projected(falling, MONTH, target=96, aggregation=aggregation, now=now).state == (
        "at_risk"
    )
    steady = [(local(2026, 11, 1), 99.0), (local(2026, 11, 16), 99.0)]
    assert projected(steady, MONTH, target=96, aggregation=aggregation, now=now).state == "met"


def test_figures_of_a_few_hours_are_held_rather_than_drawn_to_the_periods_end() -> None:
    figures = [(local(2026, 11, 10, 8), 90.0), (local(2026, 11, 10, 9), 95.0)]
    assert expected_at_end("last", MONTH, figures, ZONE) == (95.0, "held")


def test_a_rate_where_lower_is_better_follows_its_trend() -> None:
    figures = [(local(2026, 11, 1), 17.0), (local(2026, 11, 16), 16.0)]
    now = local(2026, 11, 16, 12)
    found = projected(figures, MONTH, target=15, direction="lower", aggregation="mean", now=now)
    assert (found.state, found.expected) == ("on_track", pytest.approx(15.0))
    found = projected(figures, MONTH, target=14, direction="lower", aggregation="mean", now=now)
    assert found.state == "at_risk"


def test_the_period_ends_at_midnight_in_the_citys_zone() -> None:
    """30 November 17:30 UTC is 1 December 00:30 in Hòa Thành: November is over there."""
    figures = [(local(2026, 11, 30, 20), 94.0)]
    before = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 23:30 local, still November
    after = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    assert projected(figures, MONTH, target=95, aggregation="last", now=before).state == ("at_risk")
    ended = projected(figures, MONTH, target=95, aggregation="last", now=after)
    assert (ended.state, ended.basis) == ("missed", "final")
    met = projected([(local(2026, 11, 30), 95.0)], MONTH, target=95, aggregation="sum", now=after)
    assert met.state == "met"
    # The share of a year gone by is counted in local days: 00:30 on 1 January is 0.
    new_year = datetime(2025, 12, 31, 17, 30, tzinfo=UTC)
    found = expected_at_end("sum", YEAR, [(new_year, 1.0)], ZONE)
    assert found == (pytest.approx(365.0), "pace")  # at least a day's share


def test_no_figure_is_no_data() -> None:
    found = projected([], MONTH, target=95, aggregation="last", now=local(2026, 11, 5))
    assert (found.state, found.value, found.expected) == ("no_data", None, None)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("vi", "Theo nhịp hiện tại, 91/95 vào 31/12"),
        ("en", "At the current pace, 91 of 95 by 31/12"),
    ],
)
def test_the_screen_words_the_projection_in_the_walls_language(lang, expected) -> None:
    now = local(2026, 7, 1)
    found = projected([(now, 91 * 181 / 365)], target=95, aggregation="sum", now=now)
    context = Context(now.astimezone(UTC), ZONE, Translator(lang), 120.0)
    assert indicators.reason(found, "%", context) == expected
    visits = indicators.reason(found, "nghìn lượt", context)
    assert visits.startswith(expected.split(" vào")[0].split(" by")[0] + " nghìn lượt")


def test_the_screen_projects_an_indicator_from_its_daily_figures_of_the_period() -> None:
    """Tiêm chủng (last, monthly) rose from 90 to 92 over the first half of November."""
    now = local(2026, 11, 16, 1)
    kpis = pd.DataFrame(
        [{"time": pd.Timestamp(now), "indicator_id": "tiem_chung", "actual": 92.0,
          "period": "2026-11", "target": 95.0, "direction": "higher"}]
    )  # fmt: skip
    daily = pd.DataFrame(
        {
            "time": [pd.Timestamp(local(2026, 10, 31)), pd.Timestamp(local(2026, 11, 1))],
            "indicator_id": "tiem_chung",
            "value": [10.0, 90.0],  # October's is not November's
        }
    )
    context = Context(now.astimezone(UTC), ZONE, Translator("en"), 120.0)
    (row,) = indicators.assess(kpis, daily, context).to_dict("records")
    assert row["assessment"] == "at_risk"
    assert row["projection"].expected == pytest.approx(94.0, abs=0.1)


def test_a_noisy_trend_whose_range_reaches_below_the_target_is_at_risk_and_says_the_range():
    now = local(2026, 11, 16, 12)
    # Rising on the whole to 97 by the month's end, but the figures jump about: its 80 %
    # range reaches below 95.
    noisy = [(local(2026, 11, d), v) for d, v in ((1, 90.0), (6, 96.0), (11, 91.0), (16, 96.0))]
    found = projected(noisy, MONTH, target=95, aggregation="mean", now=now)
    assert found.expected > 95 and found.low < 95 < found.high
    assert (found.basis, found.state) == ("trend", "at_risk")
    context = Context(now.astimezone(UTC), ZONE, Translator("vi"), 120.0)
    said = indicators.reason(found, "%", context)
    low, high = (indicators.fmt_number(v, "vi") for v in (found.low, found.high))
    assert said.endswith(f"vào 30/11 (khoảng {low}–{high})"), said
    english = Context(now.astimezone(UTC), ZONE, Translator("en"), 120.0)
    assert "(likely " in indicators.reason(found, "%", english)
    # The same rise, steady: a narrow range above the target, on track.
    steady = [(local(2026, 11, d), 90.0 + d * 0.5) for d in (1, 6, 11, 16)]
    found = projected(steady, MONTH, target=99, aggregation="mean", now=now)
    assert found.state == "on_track" and found.low == pytest.approx(found.high)
    # Lower is better: the range's high end is the bad one.
    found = projected(
        [(t, 200 - v) for t, v in noisy],
        MONTH,
        target=105,
        direction="lower",
        aggregation="mean",
        now=now,
    )
    assert found.expected < 105 < found.high and found.state == "at_risk"


def test_a_share_falling_fast_is_not_projected_below_0_nor_its_range_above_100():
    """A share collapsing early in the month would be drawn to -29 % by its month's end; the
    wall said so on a card ("-28,9/98 vào 31/12 (khoảng -104,3–46,4)")."""
    now = local(2026, 11, 10)
    falling = [(local(2026, 11, d), v) for d, v in ((1, 99.0), (4, 90.0), (7, 62.0), (10, 69.0))]
    found = projected(falling, MONTH, target=98, aggregation="mean", now=now, unit="%")
    assert found.expected == 0.0 and found.low == 0.0 and 0.0 < found.high <= 100.0
    assert found.state == "at_risk"
    rising = [(t, 200.0 - v) for t, v in falling]  # 101 … 138 %: a share past 100 is kept
    assert projected(rising, MONTH, target=98, aggregation="mean", now=now, unit="%").high > 100
    tonnes = projected(falling, MONTH, target=98, aggregation="mean", now=now, unit="tấn")
    assert tonnes.expected == 0.0  # an amount never below 0 is not drawn below it either
    signed = [(t, v - 80.0) for t, v in falling]  # a balance that was below 0 may go on
    assert projected(signed, MONTH, target=5, aggregation="mean", now=now).expected < 0


def test_a_running_totals_range_is_the_spread_of_its_paces_and_few_figures_have_none():
    now = local(2026, 7, 1)
    # Paces of 100, 120, 80 and 100 a year (by the share of the year gone by at each figure).
    shares = [(local(2026, 1, 11), 10), (local(2026, 3, 1), 59), (local(2026, 5, 1), 120)]
    figures = [
        (t, pace * days / 365) for (t, days), pace in zip(shares, (100, 120, 80), strict=True)
    ]
    figures.append((now, 100 * 181 / 365))
    found = projected(figures, target=90, aggregation="sum", now=now)
    assert found.basis == "pace" and found.expected == pytest.approx(100)
    assert 80 < found.low < 100 < found.high < 120
    assert found.state == "at_risk"  # 10 % of the paces seen would fall short of 90
    assert projected(figures[-3:], target=90, aggregation="sum", now=now).low is None
    assert projected(figures, target=70, aggregation="sum", now=now).state == "on_track"
