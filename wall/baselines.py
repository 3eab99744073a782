"""What is usual for a series at a day of the week and hour of the day: robust per-slot baselines,
learned one hour at a time.

A series (the WiFi clients of an access point or a site, the new field reports of a ward or a
category, the cameras down in a ward, an operating indicator's value) is kept as one value per
hour over the last `weeks` weeks. What is usual at an instant is the median of the values of the
same slot (day of the week × hour of the day, in the city's zone, so a profile in a zone with
summer time keeps 10:00 at 10:00); with fewer than MIN_VALUES of them (a new device, a short
history) the median of the same hour of every day, then of every hour; with fewer than
MIN_ALL_VALUES hours in all, nothing. The spread is the median absolute deviation (MAD) of the
same hour's values, never below what counting noise alone gives (√median) nor a tenth of the
median; of a measured figure (an indicator's value, `counts=False`), never below a hundredth of
the median. The city profile's festival days and public holidays are known exceptions, never
learned from: a value above the band on a festival day is no anomaly where a crowd is expected to
raise it (wall.alerts.rules.anomaly); a public holiday, a day off, is judged as a Sunday.
What is usual at an instant inside the hour (`usual_at`, of a value read now, not a count over
an hour): each slot's median stands at its half hour, the centre and sigma at the instant lie
on the line between the two slots around it, and the band is widened by RAMP_SHARE of the
largest change between the instant's slot and the slots on either side (the curve may bend or
step within the hour, where no line between hourly means follows it).
Why medians and not seasonal decomposition or exponential smoothing: docs/analytics.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

HOUR_MS = 3_600_000
MIN_VALUES = 3  # of a slot, before its median is trusted
MIN_HOUR_VALUES = 5  # days with that hour, before the spread of the hour is
MIN_ALL_VALUES = 72  # hours of a series (three days) before anything is said of it
MAD_TO_SIGMA = 1.4826  # the MAD of normal noise times this is its standard deviation
MEASURED_FLOOR = 0.01  # a measured figure's spread is never below this share of its median
POISSON_UP_TO = 400.0  # centres of counts up to this get count_high; above, normal is close
LEVELS = ("weekday_hour", "hour", "all")  # the slots a centre may come from, most specific first
# Of the largest change between neighbouring slots' medians, what widens the band at an instant
# (`usual_at`): a curve that steps on the hour (an opening time) is off the line between the
# two half hours by up to half the step; the smooth daily curves of the simulator's APs by at
# most 0.33 of that change (docs/analytics.md).
RAMP_SHARE = 0.5


@dataclass(frozen=True)
class Usual:
    """What is usual for each series at one instant (a row per series, by name)."""

    weekday: int  # 0 = Monday, local
    hour: int  # local
    festival: bool  # the instant falls on one of the profile's festival days
    frame: pd.DataFrame  # index: series; columns: level, centre, sigma

    counts: bool = True  # counts never go below 0; a measured figure may
    minute: int = 0  # local, of an instant inside the hour (`usual_at`); 0 of a clock hour
    holiday: bool = False  # a public holiday: `weekday` is Sunday's, whose slots it is judged by

    def band(self, deviations: float) -> pd.DataFrame:
        """low, high (never below 0 for counts) of `deviations` sigmas around the centre, widened
        by the frame's `slack` where it has one (`usual_at`); of counts, high is never below
        what counting noise alone reaches (count_high)."""
        f = self.frame
        centre, sigma = f["centre"].to_numpy(float), f["sigma"].to_numpy(float)
        slack = f["slack"].to_numpy(float) if "slack" in f.columns else 0.0
        low = centre - deviations * sigma - slack
        high = centre + deviations * sigma + slack
        if self.counts:
            low, high = np.fmax(low, 0.0), np.fmax(high, count_high(centre, deviations))
        return pd.DataFrame({"low": low, "high": high}, index=f.index)


class HourlyHistory:
    """One value per hour of many series over the last `weeks` weeks, kept as a matrix (series ×
    hours) so the usual values of a thousand access points are a few vectorised medians. Hours are
    added as they end (`add`); the oldest beyond the window go."""

    def __init__(
        self,
        timezone: str,
        festival_days: Iterable[date] = (),
        weeks: float = 4.0,
        counts: bool = True,
        holidays: Iterable[date] = (),
    ):
        self.zone = ZoneInfo(timezone)
        self.counts = counts  # counts of things (users, reports): counting noise is the floor
        self.festival_days = frozenset(festival_days)
        self.holidays = frozenset(holidays)
        self.window_ms = int(weeks * 7 * 24 * HOUR_MS)
        self.names: list[str] = []
        self._row: dict[str, int] = {}
        self.hours = np.empty(0, dtype=np.int64)  # epoch ms of each column's hour start
        self.values = np.empty((0, 0))
        self._weekday = np.empty(0, dtype=np.int8)
        self._hour = np.empty(0, dtype=np.int8)
        self._learned = np.empty(0, dtype=bool)  # not a festival day nor a public holiday
        self._cache: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
        self._zero_cache: dict[tuple[int, int], pd.DataFrame] = {}

    @property
    def until(self) -> datetime | None:
        """The end of the newest hour held."""
        if not len(self.hours):
            return None
        return datetime.fromtimestamp((int(self.hours[-1]) + HOUR_MS) / 1000, UTC)

    def add(self, frame: pd.DataFrame) -> None:
        """Fold in hourly values (columns time: the hour's start, series, value) of hours after
        the newest held; older hours are left out (they are held already)."""
        if frame.empty:
            return
        ms = pd.to_datetime(frame["time"], utc=True).dt.as_unit("ms").astype("int64").to_numpy()
        ms = ms - ms % HOUR_MS
        keep = ms > (self.hours[-1] if len(self.hours) else np.iinfo(np.int64).min)
        if not keep.any():
            return
        series = frame["series"].to_numpy()[keep]
        values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(float)[keep]
        ms = ms[keep]
        for name in pd.unique(series):
            if name not in self._row:
                self._row[name] = len(self.names)
                self.names.append(name)
        new_hours = np.unique(ms)
        block = np.full((len(self.names), len(new_hours)), np.nan)
        block[[self._row[s] for s in series], np.searchsorted(new_hours, ms)] = values
        old = self.values
        grown = np.full((len(self.names), old.shape[1]), np.nan)
        grown[: old.shape[0]] = old
        self.values = np.concatenate([grown, block], axis=1)
        self.hours = np.concatenate([self.hours, new_hours])
        local = pd.to_datetime(new_hours, unit="ms", utc=True).tz_convert(self.zone)
        self._weekday = np.concatenate([self._weekday, local.day_of_week.to_numpy(np.int8)])
        self._hour = np.concatenate([self._hour, local.hour.to_numpy(np.int8)])
        exception = self.festival_days | self.holidays
        known = np.array([d in exception for d in local.date], dtype=bool)
        self._learned = np.concatenate([self._learned, ~known])
        kept = self.hours > self.hours[-1] - self.window_ms
        if not kept.all():
            self.values, self.hours = self.values[:, kept], self.hours[kept]
            self._weekday, self._hour = self._weekday[kept], self._hour[kept]
            self._learned = self._learned[kept]
        self._cache.clear()
        self._zero_cache.clear()

    def slot(self, at: datetime) -> tuple[int, int, bool, bool]:
        """weekday (a public holiday's: Sunday's), hour, festival day, public holiday."""
        local = at.astimezone(self.zone)
        day = local.date()
        holiday = day in self.holidays
        return 6 if holiday else local.weekday(), local.hour, day in self.festival_days, holiday

    def usual(self, at: datetime) -> Usual:
        """Centre and sigma of every series with enough history at `at`'s slot."""
        weekday, hour, festival, holiday = self.slot(at)
        level, centre, sigma = self._stats(weekday, hour)
        known = level >= 0
        frame = pd.DataFrame(
            {
                "level": np.array(LEVELS, dtype=object)[level[known]],
                "centre": centre[known],
                "sigma": sigma[known],
            },
            index=pd.Index(np.array(self.names, dtype=object)[known], name="series"),
        )
        return Usual(weekday, hour, festival, frame, self.counts, holiday=holiday)

    def usual_at(self, at: datetime) -> Usual:
        """What is usual at the instant `at` (a value read now, not a count over an hour): the
        centre and sigma on the line between the half hours of the slots around it (06:45:
        three quarters of 06:00's, a quarter of 07:00's), the band widened (`slack`) by RAMP_SHARE
        of the largest change from `at`'s slot to the slot before or after it. The level is
        the less specific of the two slots'. A slot a series has no usual value for: the
        other's alone, unwidened by it. Three cached slots: no more medians than `usual`."""
        weekday, hour, festival, holiday = self.slot(at)
        local = at.astimezone(self.zone)
        into = (local.minute * 60 + local.second + local.microsecond / 1e6) / 3600.0
        level, centre, sigma = self._stats(weekday, hour)
        before = self._stats(*self.slot(at - timedelta(hours=1))[:2])
        after = self._stats(*self.slot(at + timedelta(hours=1))[:2])
        other, weight = (before, 0.5 - into) if into < 0.5 else (after, into - 0.5)
        known = level >= 0
        both = known & (other[0] >= 0)
        mixed_centre = np.where(both, (1.0 - weight) * centre + weight * other[1], centre)
        mixed_sigma = np.where(both, (1.0 - weight) * sigma + weight * other[2], sigma)
        mixed_level = np.where(both, np.maximum(level, other[0]), level)
        changes = [np.where(n[0] >= 0, np.abs(n[1] - centre), 0.0) for n in (before, after)]
        slack = RAMP_SHARE * np.fmax(*changes)
        frame = pd.DataFrame(
            {
                "level": np.array(LEVELS, dtype=object)[mixed_level[known]],
                "centre": mixed_centre[known],
                "sigma": mixed_sigma[known],
                "slack": slack[known],
            },
            index=pd.Index(np.array(self.names, dtype=object)[known], name="series"),
        )
        return Usual(weekday, hour, festival, frame, self.counts, local.minute, holiday)

    def zero_hours(self, at: datetime) -> pd.DataFrame:
        """How often each series was 0 for a whole hour at `at`'s local hour (a mean of counts
        is 0 only when every reading of the hour was): index series; columns days (learned days
        with a value at that hour), zero_share (of those days, the share at 0), centre (the slot's
        usual, as `usual`), low and high (the least and most of the hourly values of `at`'s
        weekday and hour, or of the hour on every day where that slot has fewer than MIN_VALUES),
        level (which of the two). Computed once an hour, of every series."""
        weekday, hour = self.slot(at)[:2]
        key = (weekday, hour)
        if key not in self._zero_cache:
            self._zero_cache[key] = self._zero_stats(weekday, hour)
        return self._zero_cache[key]

    def _zero_stats(self, weekday: int, hour: int) -> pd.DataFrame:
        same_hour = self._learned & (self._hour == hour)
        of_hour = self.values[:, same_hour]
        slot = self.values[:, same_hour & (self._weekday == weekday)]
        days = np.sum(~np.isnan(of_hour), axis=1)
        zeros = np.sum(of_hour == 0.0, axis=1)
        share = np.where(days > 0, zeros / np.fmax(days, 1), np.nan)
        by_slot = np.sum(~np.isnan(slot), axis=1) >= MIN_VALUES
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row of only gaps: NaN, as meant
            low = np.where(by_slot, _nanreduce(np.nanmin, slot), _nanreduce(np.nanmin, of_hour))
            high = np.where(by_slot, _nanreduce(np.nanmax, slot), _nanreduce(np.nanmax, of_hour))
        level, centre, _ = self._stats(weekday, hour)
        return pd.DataFrame(
            {
                "days": days,
                "zero_share": share,
                "centre": np.where(level >= 0, centre, np.nan),
                "low": low,
                "high": high,
                "level": np.where(by_slot, LEVELS[0], LEVELS[1]),
            },
            index=pd.Index(np.array(self.names, dtype=object), name="series"),
        )

    def zero_run(self) -> pd.Series:
        """Of each series, how many of the newest hours held were 0 in a row (a gap ends the
        run): index series."""
        if not self.values.size:
            return pd.Series(0, index=pd.Index(self.names, dtype=object), dtype=int)
        nonzero = ~(self.values == 0.0)  # NaN too
        last = nonzero[:, ::-1].argmax(axis=1)  # the first non-zero hour from the newest back
        run = np.where(nonzero.any(axis=1), last, self.values.shape[1])
        return pd.Series(run, index=pd.Index(self.names, dtype=object), dtype=int)

    def _stats(self, weekday: int, hour: int) -> tuple[np.ndarray, ...]:
        """level, centre, sigma of every series at a slot, computed once an hour."""
        key = (weekday, hour)
        if key not in self._cache:
            self._cache[key] = self._slot_stats(weekday, hour)
        return self._cache[key]

    def _slot_stats(self, weekday: int, hour: int) -> tuple[np.ndarray, ...]:
        n = len(self.names)
        level = np.full(n, -1)
        centre = np.full(n, np.nan)
        if not n:
            return level, centre, centre.copy()
        same_hour = self._learned & (self._hour == hour)
        chosen = (same_hour & (self._weekday == weekday), same_hour, self._learned)
        wanted = (MIN_VALUES, MIN_VALUES, MIN_ALL_VALUES)
        spreads = []
        for index in range(len(LEVELS) - 1, -1, -1):  # the most specific level that has enough
            values = self.values[:, chosen[index]]
            count = np.sum(~np.isnan(values), axis=1)
            median = _nanmedian(values)
            enough = count >= wanted[index]
            level = np.where(enough, index, level)
            centre = np.where(enough, median, centre)
            if index > 0:  # the hour's and the whole series' spread
                mad = _nanmedian(np.abs(values - median[:, None]))
                spreads.append(
                    np.where(count >= (MIN_HOUR_VALUES if index == 1 else 1), mad, np.nan)
                )
        whole, of_hour = spreads
        # Nothing is said of a series with less than MIN_ALL_VALUES hours (three days), though
        # some of its hours may have been seen three times already.
        young = np.sum(~np.isnan(self.values[:, self._learned]), axis=1) < MIN_ALL_VALUES
        level = np.where(young, -1, level)
        mad = np.where(np.isnan(of_hour) | (level == 2), whole, of_hour)
        if self.counts:
            floor = np.fmax(np.sqrt(np.fmax(centre, 1.0)), 0.1 * centre)
        else:  # a measured figure (an indicator's value): no counting noise, any scale
            floor = np.fmax(MEASURED_FLOOR * np.abs(centre), 1e-9)
        sigma = np.fmax(MAD_TO_SIGMA * mad, floor)
        return level, centre, sigma


def count_high(centre: np.ndarray, deviations: float) -> np.ndarray:
    """The highest count that counting noise alone (Poisson around `centre`) exceeds no more
    often than a normal value exceeds `deviations` sigmas (4: 3 in 100,000). A few reports an
    hour have a longer upper tail than centre + 4 √centre: of a category with 3 an hour, 0.36 %
    of normal hours rose past that band (tests/test_baselines.py). NaN where the centre is NaN;
    centres above POISSON_UP_TO are left to the normal band (-inf), close enough there."""
    centre = np.asarray(centre, dtype=float)
    tail = 0.5 * math.erfc(deviations / math.sqrt(2.0))
    small = np.isfinite(centre) & (centre <= POISSON_UP_TO)
    lam = np.where(small, np.fmax(centre, 0.0), 0.0)
    pmf = np.exp(-lam)
    cdf = pmf.copy()
    high = np.where(small, np.nan, -np.inf)
    high = np.where(np.isnan(centre), np.nan, high)
    k = 0
    while True:
        found = small & np.isnan(high) & (1.0 - cdf <= tail)  # P(count > k) small enough
        high = np.where(found, float(k), high)
        if not (small & np.isnan(high)).any():
            return high
        k += 1
        pmf = pmf * lam / k
        cdf = cdf + pmf


def _nanmedian(values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row of only gaps: NaN, as meant
        return np.nanmedian(values, axis=1)


def _nanreduce(reduce, values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    return reduce(values, axis=1)


def last_hour_end(now: datetime) -> datetime:
    """The end of the last whole UTC hour before `now`."""
    return pd.Timestamp(now).floor("h").to_pydatetime()


def usual_band(
    history: HourlyHistory, series: str, instants: Iterable[datetime], deviations: float
) -> pd.DataFrame:
    """What is usual for one series at each of `instants` (past or ahead of now), as the anomaly
    rule judges a value read then (`usual_at`: between the slots around it, widened on a ramp):
    time, centre, low, high (never below 0 for counts), level. An instant the series has no
    usual value for is left out. Ahead of now this is the forecast: the usual day of the week and
    time of day."""
    rows = []
    for at in instants:
        usual = history.usual_at(at)
        if series not in usual.frame.index:
            continue
        row = usual.frame.loc[series]
        band = usual.band(deviations).loc[series]
        rows.append(
            {
                "time": pd.Timestamp(at),
                "centre": float(row["centre"]),
                "low": float(band["low"]),
                "high": float(band["high"]),
                "level": row["level"],
            }
        )
    if not rows:
        return pd.DataFrame(
            {
                "time": pd.Series(dtype="datetime64[ns, UTC]"),
                **{c: pd.Series(dtype=float) for c in ("centre", "low", "high")},
                "level": pd.Series(dtype=object),
            }
        )
    frame = pd.DataFrame(rows)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame
