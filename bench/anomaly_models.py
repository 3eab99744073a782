"""What STL and exponential smoothing (ETS) would cost the `anomaly` rule, against the per-slot
medians and MAD it uses (wall.baselines), measured in the same run: prints figures, asserts
nothing.

    python bench/anomaly_models.py [--series 78] [--write-doc]

SERIES hourly series of 4 weeks (672 values: the quality town of bench/anomalies.py — access
points, sites, wards' reports — Poisson around a daily curve with weekends busier). What a new
hour costs each way, as the rule would pay it on the first tick after the hour ends:
- medians/MAD: `HourlyHistory.add` of the new hour and `usual()` of the next slot, for all the
  series at once (the rule's way), timed over HOURS consecutive hours;
- STL: statsmodels `STL(period=168, robust=True)` fitted again on each series' 4 weeks (a
  decomposition has no update: the new hour changes the loess fits), the forecast of the next
  hour being its trend's last value plus the seasonal value of the same hour a week before;
- ETS: statsmodels `ExponentialSmoothing(seasonal="add", seasonal_periods=168)`, fitted again
  on each series, then `forecast(1)`: with the heuristic initialisation on every series, and
  with the estimated one (168 initial seasonal states optimised too) on ESTIMATED of them.
CPU seconds (`time.process_time`) per series and hour, and extrapolated to a city of 1,000
access points (1,000 APs + 250 sites + 3 wards = 1,253 series), once an hour; the medians are
also measured on 1,253 series directly.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from wall.baselines import HourlyHistory
from wall.city import load_profile

PROFILE = load_profile("hoa-thanh")
ZONE = PROFILE.timezone
WEEKS = 4
PERIOD = 24 * 7
CITY_SERIES = 1000 + 250 + 3  # APs, their sites (4 APs each), wards' reports
HOURS = 24  # consecutive new hours timed for the medians
ESTIMATED = 10  # series fitted with ETS's estimated initialisation


def town_series(count: int, rng: np.random.Generator, end: pd.Timestamp) -> pd.DataFrame:
    """`count` hourly series over WEEKS + HOURS hours before `end`: index time, one column each."""
    times = pd.date_range(
        end - pd.Timedelta(weeks=WEEKS) - pd.Timedelta(hours=HOURS), end, freq="h",
        inclusive="left",
    )  # fmt: skip
    local = times.tz_convert(ZONE)
    hour = local.hour.to_numpy()
    peak = np.where(local.day_of_week.to_numpy() >= 5, 45.0, 30.0)
    curve = (
        4 + peak * np.exp(-(((hour - 14) / 4.0) ** 2)) + 10 * np.exp(-(((hour - 20) / 1.5) ** 2))
    )
    level = rng.uniform(0.5, 1.5, count)
    values = rng.poisson(curve[:, None] * level[None, :]).astype(float)
    return pd.DataFrame(values, index=times, columns=[f"s{n:03d}" for n in range(count)])


def long_frame(wide: pd.DataFrame) -> pd.DataFrame:
    frame = wide.stack().reset_index()
    frame.columns = ["time", "series", "value"]
    return frame


def medians(wide: pd.DataFrame) -> dict:
    """The rule's way: learn 4 weeks once, then each new hour: add it, ask the next slot."""
    history = HourlyHistory(ZONE, PROFILE.festival_days, WEEKS)
    learn = wide.iloc[:-HOURS]
    cpu = time.process_time()
    history.add(long_frame(learn))
    history.usual(wide.index[-HOURS].to_pydatetime())
    first = time.process_time() - cpu
    per_hour = []
    for i in range(HOURS, 0, -1):
        hour = wide.iloc[[-i]]
        cpu = time.process_time()
        history.add(long_frame(hour))
        history.usual((hour.index[0] + pd.Timedelta(hours=1)).to_pydatetime())
        per_hour.append(time.process_time() - cpu)
    return {"first": first, "per_hour": float(np.median(per_hour))}


def stl(wide: pd.DataFrame) -> dict:
    from statsmodels.tsa.seasonal import STL

    window = wide.iloc[:-HOURS] if HOURS else wide
    cpu = time.process_time()
    for column in window.columns:
        values = window[column].to_numpy()
        fit = STL(values, period=PERIOD, robust=True).fit()
        _ = fit.trend[-1] + fit.seasonal[-PERIOD]  # the next hour's forecast
    spent = time.process_time() - cpu
    return {"per_series": spent / len(window.columns), "total": spent}


def ets(wide: pd.DataFrame, initialization: str = "heuristic") -> dict:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    window = wide.iloc[:-HOURS] if HOURS else wide
    if initialization != "heuristic":
        window = window.iloc[:, :ESTIMATED]
    cpu = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on counts near 0 at night
        for column in window.columns:
            model = ExponentialSmoothing(
                window[column].to_numpy(),
                seasonal="add",
                seasonal_periods=PERIOD,
                initialization_method=initialization,
            )
            model.fit().forecast(1)
    spent = time.process_time() - cpu
    return {"per_series": spent / len(window.columns), "total": spent}


def report(
    command: str, count: int, m: dict, city: dict, s: dict, e: dict, e2: dict, seconds: float
) -> str:
    median_per_series = m["per_hour"] / count
    city_medians = city["per_hour"]
    lines = [
        f"Command: `{command}` (one run, {time.strftime('%Y-%m-%d')}, {seconds:.0f} s, the "
        "2-core machine shared with other engineers' runs; statsmodels "
        f"{__import__('statsmodels').__version__}).",
        "",
        f"Hourly series of 4 weeks (672 values each), what a new hour costs each way "
        "(bench/anomaly_models.py docstring); CPU s from `time.process_time`, the medians' "
        f"figure the median over {HOURS} consecutive hours, STL and ETS fitted once per series. "
        f"A city of 1,000 access points watches {CITY_SERIES:,} series: the medians are "
        "measured on that many, STL's and ETS's per-series cost is multiplied by it:",
        "",
        "| method | series fitted | CPU s per series and hour | CPU s per hour, city | "
        "× the medians, city |",
        "|---|---:|---:|---:|---:|",
        f"| per-slot medians/MAD (the rule: add the hour, `usual()` of the next slot, all "
        f"series at once) | {count} | {median_per_series:.6f} | – | – |",
        f"| the same | {CITY_SERIES:,} | {city_medians / CITY_SERIES:.6f} | "
        f"{city_medians:.3f} (measured) | 1 |",
    ]
    for name, fitted, run in (
        ("STL, period 168, robust, refitted", count, s),
        ("ETS, additive weekly season, heuristic start, refitted", count, e),
        ("ETS, the same with its start estimated", min(ESTIMATED, count), e2),
    ):
        city_cost = run["per_series"] * CITY_SERIES
        lines.append(
            f"| {name} | {fitted} | {run['per_series']:.4f} | {city_cost:.1f} (extrapolated) | "
            f"×{city_cost / city_medians:,.0f} |"
        )
    lines += [
        "",
        f"The medians' first pass (learning the 4 weeks of all {count} series and the first "
        f"slot) took {m['first']:.3f} CPU s, of all {CITY_SERIES:,} {city['first']:.3f} CPU s. "
        "The medians are vectorised over the series (their cost per series falls as series are "
        "added); STL and ETS are one fit per series, so their cost grows linearly.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=78, help="how many series (default 78)")
    parser.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    command = f"python bench/anomaly_models.py --series {args.series}" + (
        " --write-doc" if args.write_doc else ""
    )
    started = time.perf_counter()
    wide = town_series(args.series, np.random.default_rng(7), pd.Timestamp("2026-11-16", tz="UTC"))
    m = medians(wide)
    print(f"medians: {m}", flush=True)
    city = medians(
        town_series(CITY_SERIES, np.random.default_rng(8), pd.Timestamp("2026-11-16", tz="UTC"))
    )
    print(f"medians, city: {city}", flush=True)
    s = stl(wide)
    print(f"stl: {s}", flush=True)
    e = ets(wide)
    print(f"ets: {e}", flush=True)
    e2 = ets(wide, "estimated")
    print(f"ets estimated: {e2}", flush=True)
    text = report(command, args.series, m, city, s, e, e2, time.perf_counter() - started)
    print(text)
    if args.write_doc:
        write_section("Anomaly rule: STL and ETS against the per-slot medians, CPU per hour", text)


if __name__ == "__main__":
    main()
