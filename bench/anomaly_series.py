"""What the `anomaly` rule's newer series (field reports per category, cameras down per ward, each
operating indicator) add to an evaluator tick at city scale: prints figures, asserts nothing.

    python bench/anomaly_series.py [--ticks 40]

One SQLite store of 4 weeks up to now: 1,000 access points' clients and 2,000 cameras' status
every 15 minutes (bench/seed_city's town: its outages, about one a camera a month), 50,000 field
reports over 30 days (bench/seed_city.report_frame) and the city profile's indicators every 10
minutes (as its simulator sends them), copied three times. Three evaluators with every rule on,
each on its own copy, ticks interleaved a minute apart over an hour boundary (each minute's AP
and camera points, and every 10 minutes the indicators', written to every copy before the
ticks): the anomaly rule watching every series; watching only the series it watched before
(WiFi per AP and site, new reports per ward); and off. CPU time (`time.process_time`, SQLite in
the process) of the first pass (the rule learns its 4 weeks then) and of each later tick.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_city import CAMERAS, City, camera_frame, camera_outages, report_frame
from wall.alerts.anomaly import UsualReader
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.city import load_profile
from wall.domain import FIELD_REPORT, report_slot
from wall.store.sqlite import SQLiteStore

PROFILE = load_profile("hoa-thanh")
WEEKS = 4
STEP = pd.Timedelta(minutes=15)
AP_TAGS = ["ap_id", "ward", "site"]
CAMERA_TAGS = ["camera_id", "ward"]
KPI_TAGS = ["indicator_id", "sector"]
RUNS = {
    "every series": None,
    "only the former series (WiFi, reports per ward)": ("wifi", "reports"),
    "reference: anomaly rule off": (),
}


def wifi(city: City, times: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    hour = times.tz_convert(PROFILE.timezone).hour.to_numpy()
    daytime = np.maximum(0.05, 1 - np.abs(hour - 15) / 10)
    aps = len(city.ap_ids)
    clients = rng.poisson(city.ap_capacity[None, :] * daytime[:, None] * 0.5)
    ap = np.tile(np.arange(aps), len(times))
    return pd.DataFrame(
        {
            "time": np.repeat(times, aps),
            "ap_id": city.ap_ids[ap],
            "ward": city.ap_wards[ap],
            "site": np.array([f"Điểm {n // 4:03d}" for n in range(aps)], dtype=object)[ap],
            "up": True,
            "clients": clients.ravel(),
            "capacity": city.ap_capacity[ap],
        }
    )


def cameras(city: City, times: pd.DatetimeIndex, online: np.ndarray) -> pd.DataFrame:
    return camera_frame(city, times.as_unit("ms").asi8, online)


def kpi(times: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for indicator in PROFILE.indicators:
        noise = rng.normal(0, 0.005 * max(abs(indicator.level), 1.0), len(times))
        rows.append(
            pd.DataFrame(
                {
                    "time": times,
                    "indicator_id": indicator.indicator_id,
                    "sector": indicator.sector,
                    "actual": np.round(indicator.level + noise, 1),
                    "target": float(indicator.target),
                    "unit": indicator.unit,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def seed(path: Path, now: pd.Timestamp, rng: np.random.Generator) -> tuple[int, City, np.ndarray]:
    city = City.build(rng)
    times = pd.date_range(now - pd.Timedelta(weeks=WEEKS), now, freq=STEP, inclusive="left")
    online = camera_outages(len(times) - 1, rng)
    points = 0
    with SQLiteStore(path) as store:
        for start in range(0, len(times), 96):  # a day at a time
            part = times[start : start + 96]
            points += store.write_frame("wifi_usage", wifi(city, part, rng), AP_TAGS)
            frame = cameras(city, part, online[start : start + 96])
            points += store.write_frame("camera_status", frame, CAMERA_TAGS)
        reports, _ = report_frame(int(now.value // 1_000_000), rng, 50_000)
        reports["report_slot"] = reports["report_id"].map(report_slot)
        points += store.write_frame(FIELD_REPORT.name, reports, list(FIELD_REPORT.tags))
        ten = pd.date_range(now - pd.Timedelta(weeks=WEEKS), now, freq="10min", inclusive="left")
        points += store.write_frame("kpi", kpi(ten, rng), KPI_TAGS)
    return points, city, online[-1]


def evaluator(store: SQLiteStore, watch: tuple[str, ...] | None, clock) -> AlertEvaluator:
    rules = check_rules({"anomaly": {"enabled": watch != ()}})
    ev = AlertEvaluator(store, rules, clock=clock, profile=PROFILE)
    if watch:  # the rule's reader with fewer series (no setting for it: a measurement only)
        ev._read_city._usual = UsualReader(PROFILE, rules["anomaly"]["weeks"], watch)
    return ev


def measure(folder: Path, ticks: int) -> dict:
    rng = np.random.default_rng(2026)
    now = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(minutes=ticks // 2)
    started = time.perf_counter()
    points, city, online = seed(folder / "0.db", now, rng)
    seeded = time.perf_counter() - started
    for n in range(1, len(RUNS)):
        shutil.copy(folder / "0.db", folder / f"{n}.db")
    clock = [now.to_pydatetime()]
    stores = [SQLiteStore(folder / f"{n}.db") for n in range(len(RUNS))]
    runs = {}
    try:
        evaluators = [
            evaluator(store, watch, lambda: clock[0])
            for store, watch in zip(stores, RUNS.values(), strict=True)
        ]
        for name, ev in zip(RUNS, evaluators, strict=True):
            cpu = time.process_time()
            ev.evaluate()
            runs[name] = {"first": time.process_time() - cpu, "ticks": []}
        for tick in range(ticks):
            at = now + pd.Timedelta(minutes=tick + 1)
            clock[0] = at.to_pydatetime()
            fresh = [
                ("wifi_usage", wifi(city, pd.DatetimeIndex([at]), rng), AP_TAGS),
                ("camera_status", cameras(city, pd.DatetimeIndex([at]), online[None, :]), None),
            ]
            if at.minute % 10 == 0:
                fresh.append(("kpi", kpi(pd.DatetimeIndex([at]), rng), KPI_TAGS))
            for name, store, ev in zip(RUNS, stores, evaluators, strict=True):
                for measurement, frame, tags in fresh:
                    store.write_frame(measurement, frame, tags or CAMERA_TAGS)
                cpu = time.process_time()
                ev.evaluate()
                runs[name]["ticks"].append(time.process_time() - cpu)
    finally:
        for store in stores:
            store.close()
    return {"points": points, "seeded": seeded, "runs": runs, "ticks": ticks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=40, help="ticks measured, a minute apart")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-anomaly-series-") as tmp:
        m = measure(Path(tmp), args.ticks)
    print(
        f"python bench/anomaly_series.py --ticks {args.ticks}: {m['points']:,} points "
        f"({len(PROFILE.indicators)} indicators, {CAMERAS:,} cameras), seeded in "
        f"{m['seeded']:.0f} s; CPU s per evaluator tick, every rule on"
    )
    print("| anomaly rule | first pass | tick, median | tick, max (the hour's fold) |")
    print("|---|---:|---:|---:|")
    for name, run in m["runs"].items():
        print(
            f"| {name} | {run['first']:.2f} | {statistics.median(run['ticks']):.3f} | "
            f"{max(run['ticks']):.3f} |"
        )


if __name__ == "__main__":
    main()
