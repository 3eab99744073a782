"""Where an indicator's figure is heading by the end of its period, and whether it makes its
target: met, on track, at risk, missed or no data.

A period's figures are its values as of their times (an automated source's messages, a unit's
submissions), each the period's figure so far formed as the catalogue says: for `sum` the
running total (visits to date), for `mean` the mean so far, for `last` the latest reading.
The figure expected at the period's end (`expected_at_end`):

- `sum`: the running total at the current pace, i.e. divided by the share of the period
  elapsed when it was given (in the city's zone);
- `mean`, `last`: the straight line through the period's figures (least squares), read at the
  period's end, when they span at least TREND_MIN_SHARE of the period; else the latest
  figure held.

`judged` turns a figure and its expected end into a state; it takes any expected value, so a
forecast made elsewhere can be judged the same way. Pure: no store, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from wall.periods import Period

STATES = ("met", "on_track", "at_risk", "missed", "no_data")
# How the expected end figure was found: the period is over (`final`), a total already past
# its target (`reached`), the pace of a total, the trend of the figures, the latest held.
BASES = ("final", "reached", "pace", "trend", "held")
TREND_MIN_SHARE = 0.1  # a trend through figures of a few hours says nothing of a year


@dataclass(frozen=True)
class Projection:
    state: str  # STATES
    period: Period
    value: float | None  # the period's latest figure; None: no data
    expected: float | None  # the figure expected at the period's end
    basis: str | None  # BASES; None: no data
    target: float
    direction: str  # higher / lower is better

    def last_day(self) -> date:
        """The period's last day (its end is midnight after it, in the city's zone)."""
        return self.period.next_first_day - timedelta(days=1)


def elapsed_share(period: Period, moment: datetime, zone: ZoneInfo) -> float:
    """The share of `period` gone by at `moment`, 0 to 1."""
    start, end = period.start(zone), period.end(zone)
    return min(1.0, max(0.0, (moment - start) / (end - start)))


def expected_at_end(
    aggregation: str, period: Period, figures: Sequence[tuple[datetime, float]], zone: ZoneInfo
) -> tuple[float, str]:
    """The figure expected at the period's end and how it was found (`pace`, `trend`, `held`);
    `figures` are (time, value) of the period, at least one."""
    figures = sorted(figures, key=lambda f: f[0])
    latest_time, latest = figures[-1]
    start, end = period.start(zone), period.end(zone)
    length = (end - start).total_seconds()
    if aggregation == "sum":
        # At least a day gone by: a total given at the first minute is no pace yet.
        share = max(elapsed_share(period, latest_time, zone), 86_400 / length)
        return latest / share, "pace"
    xs = [(t - start).total_seconds() / length for t, _ in figures]
    if max(xs) - min(xs) < TREND_MIN_SHARE:
        return latest, "held"
    ys = [v for _, v in figures]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return mean_y + slope * (1.0 - mean_x), "trend"


def is_good(value: float, target: float, direction: str) -> bool:
    return value <= target if direction == "lower" else value >= target


def judged(
    value: float,
    expected: float,
    *,
    target: float,
    direction: str,
    aggregation: str,
    ended: bool,
) -> str:
    """The state of a figure `value` expected to end the period at `expected`. A period over is
    met or missed by its figure; a running total only grows, so one past its target is met
    (higher is better) or missed (lower is better) already; otherwise the expected end decides:
    on the good side it is met when the figure is there already, else on track; short, at risk."""
    good = is_good(value, target, direction)
    if ended:
        return "met" if good else "missed"
    if aggregation == "sum" and direction == "higher" and good:
        return "met"
    if aggregation == "sum" and direction == "lower" and not good:
        return "missed"
    if not is_good(expected, target, direction):
        return "at_risk"
    return "met" if good and aggregation != "sum" else "on_track"


def projection(
    figures: Sequence[tuple[datetime, float]],
    *,
    period: Period,
    target: float,
    direction: str,
    aggregation: str,
    now: datetime,
    zone: ZoneInfo,
) -> Projection:
    """The state of `period` for an indicator given its figures of the period at `now`."""
    if not figures:
        return Projection("no_data", period, None, None, None, target, direction)
    value = max(figures, key=lambda f: f[0])[1]
    ended = now >= period.end(zone)
    if ended:
        expected, basis = value, "final"
    else:
        expected, basis = expected_at_end(aggregation, period, figures, zone)
    state = judged(
        value, expected, target=target, direction=direction, aggregation=aggregation, ended=ended
    )
    if not ended and aggregation == "sum" and state in ("met", "missed"):
        expected, basis = value, "reached"
    return Projection(state, period, value, expected, basis, target, direction)
