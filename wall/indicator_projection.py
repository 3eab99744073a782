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

With enough figures the expected end has an 80 % interval (`interval_at_end`): for a trend,
the prediction interval of the least-squares line (Student's t on its residuals); for a running
total, the 10th to 90th percentile of the paces its figures were given at. A figure expected on
the good side of its target whose interval reaches the bad side is at risk, not on track: the
card says the range ("khoảng 88–94").

`judged` turns a figure and its expected end into a state; it takes any expected value, so a
forecast made elsewhere can be judged the same way. Pure: no store, no clock.
"""

from __future__ import annotations

import math
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
INTERVAL_MIN_FIGURES = 4  # fewer say too little of their spread to draw an interval from
# Student's t, 90th percentile (two-sided 80 %), by degrees of freedom; past 30, the normal's.
T90 = (3.078, 1.886, 1.638, 1.533, 1.476, 1.440, 1.415, 1.397, 1.383, 1.372, 1.363, 1.356,
       1.350, 1.345, 1.341, 1.337, 1.333, 1.330, 1.328, 1.325, 1.323, 1.321, 1.319, 1.318,
       1.316, 1.315, 1.314, 1.313, 1.311, 1.310)  # fmt: skip


@dataclass(frozen=True)
class Projection:
    state: str  # STATES
    period: Period
    value: float | None  # the period's latest figure; None: no data
    expected: float | None  # the figure expected at the period's end
    basis: str | None  # BASES; None: no data
    target: float
    direction: str  # higher / lower is better
    low: float | None = None  # the 80 % interval of `expected`; None: too few figures
    high: float | None = None

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


def interval_at_end(
    aggregation: str, period: Period, figures: Sequence[tuple[datetime, float]], zone: ZoneInfo
) -> tuple[float, float] | None:
    """The 80 % interval of `expected_at_end`'s figure, or None with fewer than
    INTERVAL_MIN_FIGURES figures or when that figure is the latest held."""
    figures = sorted(figures, key=lambda f: f[0])
    if len(figures) < INTERVAL_MIN_FIGURES:
        return None
    start, end = period.start(zone), period.end(zone)
    length = (end - start).total_seconds()
    if aggregation == "sum":
        shares = [max(elapsed_share(period, t, zone), 86_400 / length) for t, _ in figures]
        paces = sorted(v / s for (_, v), s in zip(figures, shares, strict=True))
        return _percentile(paces, 0.1), _percentile(paces, 0.9)
    xs = [(t - start).total_seconds() / length for t, _ in figures]
    if max(xs) - min(xs) < TREND_MIN_SHARE:
        return None
    ys = [v for _, v in figures]
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    at_end = mean_y + slope * (1.0 - mean_x)
    residuals = [y - (mean_y + slope * (x - mean_x)) for x, y in zip(xs, ys, strict=True)]
    spread = (sum(r * r for r in residuals) / (n - 2)) ** 0.5
    t = T90[n - 3] if n - 2 <= len(T90) else 1.2816
    half = t * spread * (1 + 1 / n + (1.0 - mean_x) ** 2 / sxx) ** 0.5
    return at_end - half, at_end + half


def _percentile(ordered: Sequence[float], share: float) -> float:
    """Linear between the closest ranks, of values sorted ascending."""
    rank = share * (len(ordered) - 1)
    below = int(rank)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (rank - below)


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
    worst: float | None = None,
) -> str:
    """The state of a figure `value` expected to end the period at `expected`. A period over is
    met or missed by its figure; a running total only grows, so one past its target is met
    (higher is better) or missed (lower is better) already; otherwise the expected end decides:
    on the good side it is met when the figure is there already, else on track; short, at risk.
    `worst`, the bad end of the expected figure's interval, on the bad side: at risk too."""
    good = is_good(value, target, direction)
    if ended:
        return "met" if good else "missed"
    if aggregation == "sum" and direction == "higher" and good:
        return "met"
    if aggregation == "sum" and direction == "lower" and not good:
        return "missed"
    if not is_good(expected, target, direction):
        return "at_risk"
    if worst is not None and not is_good(worst, target, direction):
        return "at_risk"
    return "met" if good and aggregation != "sum" else "on_track"


def possible_range(unit: str, figures: Sequence[tuple[datetime, float]]) -> tuple[float, float]:
    """Where an indicator's figure can lie: a share (`%`) within 0–100, and a figure never
    below 0 (a count, an amount) not below 0, unless its own figures are; else anywhere. A
    trend drawn to the period's end must not say "-28.9 %"."""
    values = [v for _, v in figures]
    low = 0.0 if all(v >= 0 for v in values) else -math.inf
    high = 100.0 if unit.strip() == "%" and all(v <= 100 for v in values) else math.inf
    return low, high


def projection(
    figures: Sequence[tuple[datetime, float]],
    *,
    period: Period,
    target: float,
    direction: str,
    aggregation: str,
    now: datetime,
    zone: ZoneInfo,
    unit: str = "",
) -> Projection:
    """The state of `period` for an indicator given its figures of the period at `now`; the
    expected end and its interval kept within the figure's `possible_range`."""
    if not figures:
        return Projection("no_data", period, None, None, None, target, direction)
    value = max(figures, key=lambda f: f[0])[1]
    ended = now >= period.end(zone)
    interval = None
    if ended:
        expected, basis = value, "final"
    else:
        expected, basis = expected_at_end(aggregation, period, figures, zone)
        interval = interval_at_end(aggregation, period, figures, zone)
        least, most = possible_range(unit, figures)
        expected = min(max(expected, least), most)
        if interval is not None:
            interval = (min(max(interval[0], least), most), min(max(interval[1], least), most))
    worst = None
    if interval is not None:
        worst = interval[1] if direction == "lower" else interval[0]
    state = judged(
        value,
        expected,
        target=target,
        direction=direction,
        aggregation=aggregation,
        ended=ended,
        worst=worst,
    )
    if not ended and aggregation == "sum" and state in ("met", "missed"):
        expected, basis, interval = value, "reached", None
    low, high = interval if interval is not None else (None, None)
    return Projection(state, period, value, expected, basis, target, direction, low, high)
