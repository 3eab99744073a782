"""How well the `anomaly` rule finds what it is for, and what it costs: prints figures, asserts
nothing.

    python bench/anomalies.py [--write-doc]

Quality (a town of SITES sites, 4 access points each, in the city profile's three wards; seeded):
four weeks of history, then two weeks evaluated tick by tick (every TICK, an injected clock) by
wall.alerts.evaluator.AlertEvaluator with the anomaly rule alone and its default parameters, the
points of each tick written through a real SQLite store before the tick, as the feeds would.
Users of an access point: Poisson around a daily curve (weekends busier), with a level of its
own and a day-to-day swing of ±10 %; new field reports: Poisson per ward, more in the day, at
the same rate an hour in the history (written every 15 min) as in the ticks.
- week 1 is a normal week: every alert raised is a false alarm (per day, and per watched series
  and day);
- week 2 holds INCIDENTS, each twice (other place, other day): a festival crowd at a site (its
  access points ×4 for 4 h), a ward's power cut (every access point of the ward down 2 h: the
  cameras are not simulated, they are the ward_cameras_offline rule's), a surge of field
  reports in a ward (+12 an hour for 2 h), an access point that says it is up and has 0 users
  for 10 h. An incident is found when an alert is raised on one of its series from its start to
  an hour after its end; recall = incidents found / incidents; precision = raises on an
  incident's series in its time / all raises of week 2.

Cost at city scale (the issue's city: 2,000 cameras and 1,000 access points, 4 weeks of their
status and clients every 15 min, the cameras' outages as bench/seed_city.camera_outages makes
them; 50,000 field reports over 30 days from bench/seed_city.report_frame): CPU time of
`AlertEvaluator.evaluate` with every rule on, against the reference in the same run, the same
evaluator without the anomaly rule on a copy of the same store, ticks interleaved over an hour
boundary (each minute's 2,000 camera and 1,000 AP points written to both stores before the
ticks); and the first pass apart (the rule learns its 4 weeks then).

`--part quality` or `--part cost` runs one part (each writes its own section of
docs/benchmarks.md with --write-doc); the quality part takes ~15 min on a loaded machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import CAMERAS, City, camera_frame, camera_outages, report_frame
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.city import load_profile
from wall.domain import CAMERA_STATUS, FIELD_REPORT, report_slot
from wall.store.sqlite import SQLiteStore

PROFILE = load_profile("hoa-thanh")
ZONE = PROFILE.timezone
WARDS = list(PROFILE.unit_names)
SITES, APS_PER_SITE = 15, 4
TICK = timedelta(minutes=5)
HISTORY = timedelta(weeks=4)
# Monday 2026-11-02 00:00 local: no festival day of the profile in the six weeks before
# 2026-11-16 (the festival of 23–25 November is after).
WEEK_1 = pd.Timestamp("2026-11-02", tz=ZONE).tz_convert("UTC")
WEEK = pd.Timedelta(weeks=1)
AP_TAGS = ["ap_id", "ward", "site"]
CITY_APS = 1000
CAMERA_TAGS = list(CAMERA_STATUS.tags)


@dataclass(frozen=True)
class Incident:
    kind: str
    start: pd.Timestamp  # UTC
    hours: float
    where: str  # a site, a ward or an access point
    series: frozenset[str]  # the watched series an alert on which finds it

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(hours=self.hours)


class Town:
    """The quality run's access points and wards, and their usual behaviour."""

    def __init__(self, rng: np.random.Generator):
        self.aps = pd.DataFrame(
            {
                "ap_id": [f"ap-{n:03d}" for n in range(SITES * APS_PER_SITE)],
                "site": [f"Điểm {n // APS_PER_SITE:02d}" for n in range(SITES * APS_PER_SITE)],
                "ward": [
                    WARDS[(n // APS_PER_SITE) % len(WARDS)] for n in range(SITES * APS_PER_SITE)
                ],
            }
        )
        self.level = rng.uniform(0.5, 1.5, len(self.aps))  # each AP's own crowd
        self.rng = rng
        self.day_swing: dict[pd.Timestamp, float] = {}

    def mean_clients(self, at: pd.Timestamp) -> np.ndarray:
        local = at.tz_convert(ZONE)
        hour = local.hour + local.minute / 60
        weekend = local.day_of_week >= 5
        peak = 45.0 if weekend else 30.0
        curve = (
            4
            + peak * np.exp(-(((hour - 14) / 4.0) ** 2))
            + 10 * np.exp(-(((hour - 20) / 1.5) ** 2))
        )
        day = local.normalize()
        if day not in self.day_swing:
            self.day_swing[day] = float(self.rng.uniform(0.9, 1.1))
        return curve * self.level * self.day_swing[day]

    def report_rate(self, at: pd.Timestamp) -> float:
        """New reports per ward per hour: about 1 in the day, 0.1 at night."""
        hour = at.tz_convert(ZONE).hour
        return 1.0 if 7 <= hour < 20 else 0.1


def incidents(town: Town) -> list[Incident]:
    aps = town.aps
    week2 = WEEK_1 + WEEK

    def at(day: int, hour: int) -> pd.Timestamp:
        return (week2.tz_convert(ZONE) + pd.Timedelta(days=day, hours=hour)).tz_convert("UTC")

    def site_series(site: str) -> frozenset[str]:
        return frozenset({f"site:{site}", *("ap:" + aps.loc[aps["site"] == site, "ap_id"])})

    found = []
    for day, hour, site in ((5, 16, "Điểm 03"), (2, 18, "Điểm 10")):  # Saturday, Wednesday
        found.append(
            Incident("festival crowd at a site", at(day, hour), 4, site, site_series(site))
        )
    for day, hour, ward in ((1, 10, WARDS[0]), (4, 15, WARDS[1])):
        sites = aps.loc[aps["ward"] == ward, "site"].unique()
        series = frozenset(f"site:{s}" for s in sites)
        found.append(Incident("ward power cut (its APs down)", at(day, hour), 2, ward, series))
    for day, hour, ward in ((3, 9, WARDS[2]), (6, 14, WARDS[0])):
        found.append(
            Incident("surge of field reports in a ward", at(day, hour), 2, ward,
                     frozenset({f"reports:{ward}"}))
        )  # fmt: skip
    for day, hour, ap in ((2, 8, "ap-021"), (5, 7, "ap-046")):
        site = aps.loc[aps["ap_id"] == ap, "site"].iloc[0]
        found.append(
            Incident("AP silent at 0 users", at(day, hour), 10, ap,
                     frozenset({f"ap:{ap}", f"site:{site}"}))
        )  # fmt: skip
    return found


def town_points(
    town: Town,
    at: pd.Timestamp,
    happening: list[Incident],
    counter: list[int],
    step: timedelta = TICK,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The access points' points and the new reports of the `step` ending at `at` (the reports
    of a step, so the history written every 15 min holds as many an hour as the ticks do)."""
    aps = town.aps
    mean = town.mean_clients(at)
    up = np.ones(len(aps), dtype=bool)
    extra_reports: dict[str, float] = {}
    for incident in happening:
        if incident.kind.startswith("festival"):
            mean = np.where(aps["site"] == incident.where, mean * 4, mean)
        elif incident.kind.startswith("ward power"):
            up &= (aps["ward"] != incident.where).to_numpy()
        elif incident.kind.startswith("surge"):
            extra_reports[incident.where] = 12.0
    clients = town.rng.poisson(mean)
    for incident in happening:
        if incident.kind.startswith("AP silent"):
            clients = np.where(aps["ap_id"] == incident.where, 0, clients)
    wifi = aps.assign(time=at, up=up, clients=np.where(up, clients, 0), capacity=250)
    rows = []
    seconds = int(step.total_seconds()) - 1
    for ward in WARDS:
        rate = (town.report_rate(at) + extra_reports.get(ward, 0.0)) * step / timedelta(hours=1)
        for _ in range(town.rng.poisson(rate)):
            counter[0] += 1
            rid = f"pa-{counter[0]:06d}"
            rows.append(
                {
                    "time": at - pd.Timedelta(seconds=int(town.rng.integers(1, seconds))),
                    "category": "urban_order",
                    "ward": ward,
                    "report_slot": report_slot(rid),
                    "report_id": rid,
                    "status": "new",
                    "title": "Phản ánh",
                }
            )
    return wifi, pd.DataFrame(rows)


def write_tick(store: SQLiteStore, wifi: pd.DataFrame, reports: pd.DataFrame) -> None:
    store.write_frame("wifi_usage", wifi, AP_TAGS)
    if len(reports):
        store.write_frame(FIELD_REPORT.name, reports, list(FIELD_REPORT.tags))


def quality(folder: Path) -> dict:
    rng = np.random.default_rng(18)
    town = Town(rng)
    planned = incidents(town)
    counter = [0]
    started = time.perf_counter()
    rules = {name: {"enabled": False} for name in check_rules({}) if name != "anomaly"}
    raised = []
    with SQLiteStore(folder / "quality.db") as store:
        # History: 4 weeks before week 1, every 15 minutes (the rule learns hourly means).
        frames, reports = [], []
        step = timedelta(minutes=15)
        for at in pd.date_range(WEEK_1 - HISTORY, WEEK_1, freq=step, inclusive="left"):
            wifi, new = town_points(town, at, [], counter, step)
            frames.append(wifi)
            reports.append(new)
        write_tick(store, pd.concat(frames), pd.concat(reports))
        seeded = time.perf_counter() - started
        clock = [WEEK_1.to_pydatetime()]
        evaluator = AlertEvaluator(
            store, check_rules(rules), clock=lambda: clock[0], profile=PROFILE
        )
        ticks = 0
        evaluated = time.perf_counter()
        for at in pd.date_range(WEEK_1, WEEK_1 + 2 * WEEK, freq=TICK, inclusive="left"):
            happening = [i for i in planned if i.start <= at < i.end]
            write_tick(store, *town_points(town, at, happening, counter))
            clock[0] = at.to_pydatetime()
            raised += [e for e in evaluator.evaluate() if e.kind == "raised"]
            ticks += 1
        evaluated = time.perf_counter() - evaluated
    # APs, sites, new reports per ward and per category of the profile (all "urban_order" here).
    watched = len(town.aps) + SITES + len(WARDS) + len(PROFILE.category_codes)
    normal = [e for e in raised if e.time < (WEEK_1 + WEEK).to_pydatetime()]
    week2 = [e for e in raised if e.time >= (WEEK_1 + WEEK).to_pydatetime()]
    grace = pd.Timedelta(hours=1)
    per_incident = []
    for incident in planned:
        hits = [
            e
            for e in week2
            if e.key.removeprefix("anomaly:") in incident.series
            and incident.start <= pd.Timestamp(e.time) < incident.end + grace
        ]
        first = min((pd.Timestamp(e.time) for e in hits), default=None)
        per_incident.append(
            (incident, len(hits), None if first is None else (first - incident.start))
        )
    matched = {
        e.event_id
        for e in week2
        for incident in planned
        if e.key.removeprefix("anomaly:") in incident.series
        and incident.start <= pd.Timestamp(e.time) < incident.end + grace
    }
    return {
        "watched": watched,
        "ticks": ticks,
        "seeded_s": seeded,
        "evaluated_s": evaluated,
        "normal_raises": len(normal),
        "normal_keys": sorted({e.key for e in normal}),
        "week2_raises": len(week2),
        "week2_matched": len(matched),
        "per_incident": per_incident,
        "unmatched": sorted({e.key for e in week2 if e.event_id not in matched}),
    }


def city_wifi(now: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """1,000 APs' clients every 15 minutes over HISTORY up to `now`."""
    times = pd.date_range(now - HISTORY, now, freq="15min", inclusive="left")
    hour = (times.hour.to_numpy() + 7) % 24
    daytime = np.maximum(0.05, 1 - np.abs(hour - 15) / 10)
    capacity = rng.choice([100, 150, 250], CITY_APS)
    clients = rng.poisson(capacity[None, :] * daytime[:, None] * 0.5)
    ap = np.tile(np.arange(CITY_APS), len(times))
    return pd.DataFrame(
        {
            "time": np.repeat(times, CITY_APS),
            "ap_id": np.array([f"ap-{n:04d}" for n in range(CITY_APS)], dtype=object)[ap],
            "ward": np.array(WARDS, dtype=object)[ap % len(WARDS)],
            "site": np.array([f"Điểm {n // 4:03d}" for n in range(CITY_APS)], dtype=object)[ap],
            "up": True,
            "clients": clients.ravel(),
            "capacity": capacity[ap],
        }
    )


CAMERA_UP = np.ones((1, CAMERAS), dtype=bool)
CAMERA_UP[0, ::50] = False  # one camera in fifty down now, as in the history's end


def city_cameras(store: SQLiteStore, now: pd.Timestamp, rng: np.random.Generator) -> int:
    """2,000 cameras' status every 15 min over HISTORY up to `now`, a day at a time; returns how
    many points were written."""
    city = City.build(np.random.default_rng(1))
    times = pd.date_range(now - HISTORY, now, freq="15min", inclusive="left")
    online = camera_outages(len(times) - 1, rng)
    ms = times.as_unit("ms").asi8
    written = 0
    for start in range(0, len(times), 96):
        frame = camera_frame(city, ms[start : start + 96], online[start : start + 96])
        store.write_frame("camera_status", frame, CAMERA_TAGS)
        written += len(frame)
    return written


def cost(folder: Path, ticks: int) -> dict:
    rng = np.random.default_rng(2026)
    now = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(minutes=ticks // 2)
    started = time.perf_counter()
    with SQLiteStore(folder / "city.db") as store:
        wifi = city_wifi(now, rng)
        for start in range(0, len(wifi), 500_000):
            store.write_frame("wifi_usage", wifi.iloc[start : start + 500_000], AP_TAGS)
        reports, _ = report_frame(int(now.value // 1_000_000), rng, 50_000)
        reports["report_slot"] = reports["report_id"].map(report_slot)
        store.write_frame(FIELD_REPORT.name, reports, list(FIELD_REPORT.tags))
        points = len(wifi) + len(reports) + city_cameras(store, now, rng)
    seeded = time.perf_counter() - started
    shutil.copy(folder / "city.db", folder / "reference.db")
    last = wifi[wifi["time"] == wifi["time"].max()]
    cameras_now = camera_frame(City.build(np.random.default_rng(1)), np.array([0]), CAMERA_UP)
    clock = [now.to_pydatetime()]
    runs = {}
    with SQLiteStore(folder / "city.db") as with_rule, SQLiteStore(folder / "reference.db") as ref:
        evaluators = {
            "with the anomaly rule": AlertEvaluator(
                with_rule, check_rules({}), clock=lambda: clock[0], profile=PROFILE
            ),
            "reference: without it": AlertEvaluator(
                ref, check_rules({"anomaly": {"enabled": False}}), clock=lambda: clock[0],
                profile=PROFILE,
            ),
        }  # fmt: skip
        stores = {"with the anomaly rule": with_rule, "reference: without it": ref}
        for name, evaluator in evaluators.items():
            cpu, wall = time.process_time(), time.perf_counter()
            evaluator.evaluate()
            runs[name] = {
                "first_cpu": time.process_time() - cpu,
                "first_wall": time.perf_counter() - wall,
                "cpu": [],
            }
        for tick in range(ticks):
            clock[0] = (now + pd.Timedelta(minutes=tick + 1)).to_pydatetime()
            fresh = last.assign(
                time=pd.Timestamp(clock[0]), clients=rng.poisson(last["clients"].to_numpy())
            )
            status = cameras_now.assign(time=pd.Timestamp(clock[0]))
            for name, evaluator in evaluators.items():
                stores[name].write_frame("wifi_usage", fresh, AP_TAGS)
                stores[name].write_frame("camera_status", status, CAMERA_TAGS)
                cpu = time.process_time()
                evaluator.evaluate()
                runs[name]["cpu"].append(time.process_time() - cpu)
    return {
        "points": points,
        "seeded_s": seeded,
        "runs": runs,
        "ticks": ticks,
        "now": now,
        "total_s": time.perf_counter() - started,
    }


def fmt_delta(delta) -> str:
    return "–" if delta is None else f"{delta.total_seconds() / 60:.0f} min"


QUALITY = "Anomaly rule: precision, recall and false alarms on synthetic series"
COST = "Anomaly rule: CPU per evaluator tick at city scale"


def report_quality(command: str, q: dict) -> str:
    found = sum(1 for _, hits, _ in q["per_incident"] if hits)
    total = len(q["per_incident"])
    precision = q["week2_matched"] / q["week2_raises"] if q["week2_raises"] else float("nan")
    lines = [
        f"Command: `{command}` (one run, {time.strftime('%Y-%m-%d')}, the 2-core machine shared "
        "with other engineers' runs).",
        "",
        "What the `anomaly` rule finds (bench/anomalies.py docstring: a town of "
        f"{q['watched']} watched series — {SITES * APS_PER_SITE} access points, {SITES} sites, "
        f"{len(WARDS)} wards' and {len(PROFILE.category_codes)} categories' new reports —, 4 "
        "weeks of seeded history (its reports at the ticks' rate an hour), then "
        f"{q['ticks']:,} ticks of 5 min through `AlertEvaluator.evaluate` on SQLite, the rule's "
        "default parameters: ±4 sigmas, 3 to clear, 5 users or reports away at least, 15 min "
        "held):",
        "",
        "| measured | value |",
        "|---|---:|",
        f"| false alarms in the normal week (alerts raised / 7 days) | "
        f"{q['normal_raises'] / 7:.2f} per day ({q['normal_raises']} alerts) |",
        f"| false alarms per watched series and day | "
        f"{q['normal_raises'] / 7 / q['watched']:.4f} |",
        f"| recall: incidents with an alert on their series (start to end + 1 h) | "
        f"{found}/{total} ({found / total:.0%}) |",
        f"| precision in the incident week: raises on an incident's series in its time / all | "
        f"{q['week2_matched']}/{q['week2_raises']} ({precision:.0%}) |",
        "",
        "| incident (week 2) | where | hours | alerts raised on its series | first after |",
        "|---|---|---:|---:|---:|",
    ]
    for incident, hits, first in q["per_incident"]:
        lines.append(
            f"| {incident.kind} | {incident.where} | {incident.hours:g} | {hits} | "
            f"{fmt_delta(first)} |"
        )
    lines += [
        "",
        f"False alarms of the normal week on: {', '.join(q['normal_keys']) or 'none'}. Raises of "
        f"week 2 on no incident: {', '.join(q['unmatched']) or 'none'}. Seeding the history "
        f"took {q['seeded_s']:.0f} s, the {q['ticks']:,} ticks {q['evaluated_s']:.0f} s.",
    ]
    return "\n".join(lines)


def report_cost(command: str, c: dict) -> str:
    lines = [
        f"Command: `{command}` (one run, {time.strftime('%Y-%m-%d')}, {c['total_s']:.0f} s in "
        "all, the 2-core machine shared with other engineers' runs).",
        "",
        f"CPU time of one evaluator tick at city scale ({CAMERAS:,} cameras and {CITY_APS:,} "
        "access points, 4 weeks of their status and clients every 15 min, and 50,000 field "
        f"reports: {c['points']:,} points in SQLite, "
        f"seeded in {c['seeded_s']:.0f} s; every rule on, against the reference in the same run: "
        f"the same evaluator with the anomaly rule off, on a copy of the store; {c['ticks']} "
        "ticks a minute apart over an hour boundary, each writing the minute's camera and AP "
        "points to both stores first, interleaved, `time.process_time`, SQLite in the process):",
        "",
        "| evaluator | first pass (learns 4 weeks) CPU s | first pass wall s | "
        "tick CPU s, median | tick CPU s, max (the hour's fold) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in c["runs"].items():
        lines.append(
            f"| {name} | {run['first_cpu']:.2f} | {run['first_wall']:.2f} | "
            f"{statistics.median(run['cpu']):.3f} | {max(run['cpu']):.3f} |"
        )
    with_rule, ref = c["runs"]["with the anomaly rule"], c["runs"]["reference: without it"]
    tick, ref_tick = statistics.median(with_rule["cpu"]), statistics.median(ref["cpu"])
    first = with_rule["first_cpu"] - ref["first_cpu"]
    lines += [
        "",
        f"The anomaly rule adds {tick - ref_tick:.3f} CPU s to a tick (median; "
        f"×{tick / ref_tick:.2f} the reference) and {first:.1f} "
        "CPU s to the first pass, where it reads its 4 weeks of hourly means once.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ticks", type=int, default=40, help="city-scale ticks measured")
    parser.add_argument("--part", choices=("all", "quality", "cost"), default="all")
    parser.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    command = "python bench/anomalies.py" + (f" --part {args.part}" if args.part != "all" else "")
    command += " --write-doc" if args.write_doc else ""
    sections = []
    with tempfile.TemporaryDirectory(prefix="bench-anomalies-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        if args.part in ("all", "quality"):
            sections.append((QUALITY, report_quality(command, quality(folder))))
            print(f"quality: {time.perf_counter() - started:.0f} s", flush=True)
        if args.part in ("all", "cost"):
            sections.append((COST, report_cost(command, cost(folder, args.ticks))))
        print(f"total: {time.perf_counter() - started:.0f} s", flush=True)
    for heading, text in sections:
        print(f"## {heading}\n\n{text}\n")
        if args.write_doc:
            write_section(heading, text)


if __name__ == "__main__":
    main()
