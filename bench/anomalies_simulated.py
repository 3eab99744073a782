"""How well the `anomaly` rule finds the simulator's own injected events: prints figures, asserts
nothing.

    python bench/anomalies_simulated.py [--tick 10] [--status 12] [--write-doc]

The `hoa-thanh` city profile's town (its inventory's cameras and access points, its wards,
categories and festival days) simulated by feeds.simulator over six weeks — four weeks of
history, a normal week, then a week with injected events (feeds.sim_events) — every message
through feeds.ingest.Ingestor into a real SQLite store, as the feeds write it. From the normal
week on, `wall.alerts.evaluator.AlertEvaluator` with the anomaly rule alone (its default
parameters) is run every TICK on an injected clock, the simulator advanced to the tick first.
The simulator's own random power cuts are off (the events are the only outages), everything
else of its town is as usual (flapping cameras, rebooting APs, festival days).

The event week (from Monday 23 November 2026, the profile's first festival days after the
history in it) holds
three events of each kind, the places picked by position in the profile's and inventory's lists
(no name in this file): festival crowds at the gathering place on two ordinary days (anomalies)
and on two of the festival days (expected: an alert on them is a false alarm), ward power cuts,
surges of one category's reports in a ward, APs up with 0 clients. The simulator writes the
ground truth (`SimEvent`s); an alert matches an event when it names the event's place — the
gathering place's site or one of its APs for a crowd; the ward's cameras down
(`anomaly:cameras:<ward>`) or the WiFi of its APs and sites for a power cut;
the ward's reports for a surge; the AP or its site for a silent AP — and is raised from the
event's start to an hour after its end.
- recall per kind: events with a matching alert / events (anomalies only);
- precision: alerts of the event week matching an anomalous event / all alerts of that week;
- false alarms per day in the normal week: every alert raised there.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from feeds.ingest import Ingestor
from feeds.inventory import Inventory, load_inventory
from feeds.known_values import KnownValues
from feeds.sim_events import EVENT_KINDS, EventPicker, SimEvent, crowd_access_points
from feeds.simulator import CitySimulator, SimOptions
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.city import load_profile
from wall.store.sqlite import SQLiteStore

PROFILE = load_profile("hoa-thanh")
ZONE = PROFILE.timezone
NORMAL_WEEK = pd.Timestamp("2026-11-16", tz=ZONE)  # Monday; the festival days follow it
EVENT_WEEK = NORMAL_WEEK + pd.Timedelta(weeks=1)
HISTORY = pd.Timedelta(weeks=4)
GRACE = timedelta(hours=1)


def inventory() -> Inventory:
    return load_inventory(PROFILE.inventory_path, PROFILE)


def schedule(inv: Inventory) -> list[SimEvent]:
    """Three events of each kind in the event week (local day, hour, hours), places by index."""
    picker = EventPicker(inv)
    rng = random.Random(23)
    wards = sorted(inv.wards)
    site = sorted(crowd_access_points(inv))[0]
    crowd = set(crowd_access_points(inv)[site])
    aps = [a for a in sorted(inv.access_points, key=lambda a: a.ap_id) if a.ap_id not in crowd]
    category = PROFILE.category_codes
    festival = sorted(d for d in PROFILE.festival_days if d >= EVENT_WEEK.date())[:3]
    ordinary = [d for d in pd.date_range(EVENT_WEEK, periods=7).date if d not in festival]

    def at(day, hour: float) -> pd.Timestamp:
        return pd.Timestamp(day).tz_localize(ZONE) + pd.Timedelta(hours=hour)

    plan = [
        ("festival_crowd", at(ordinary[0], 14), 4, {"site": site}),
        ("festival_crowd", at(ordinary[2], 9), 4, {"site": site}),
        ("festival_crowd", at(festival[0], 15), 4, {"site": site}),
        ("festival_crowd", at(festival[1], 9), 4, {"site": site}),
        ("power_cut", at(ordinary[0], 10), 2, {"ward": wards[0]}),
        ("power_cut", at(ordinary[1], 19), 1.5, {"ward": wards[1]}),
        ("power_cut", at(ordinary[3], 9), 1, {"ward": wards[2]}),
        ("report_surge", at(ordinary[0], 9), 1, {"ward": wards[2], "category": category[1]}),
        ("report_surge", at(ordinary[2], 15), 1, {"ward": wards[0], "category": category[4]}),
        ("report_surge", at(ordinary[3], 16), 1, {"ward": wards[1], "category": category[2]}),
        ("ap_silent", at(ordinary[1], 8), 6, {"ap_id": aps[len(aps) // 5].ap_id}),
        ("ap_silent", at(ordinary[2], 13), 5, {"ap_id": aps[len(aps) // 2].ap_id}),
        ("ap_silent", at(ordinary[3], 7), 8, {"ap_id": aps[4 * len(aps) // 5].ap_id}),
    ]
    return [
        picker.make(kind, start.to_pydatetime(), hours, rng, **where)
        for kind, start, hours, where in plan
    ]


@dataclass(frozen=True)
class Raised:
    time: pd.Timestamp
    series: str  # ap:…, site:…, reports:…
    ward: str
    site: str


def matches(alert: Raised, event: SimEvent) -> bool:
    if not (event.start <= alert.time.to_pydatetime() < event.end + GRACE):
        return False
    kind, _, name = alert.series.partition(":")
    if event.kind == "festival_crowd":
        return (kind == "site" and name == event.site) or (kind == "ap" and name in event.aps)
    if event.kind == "power_cut":  # the ward's cameras down, or the WiFi of its sites
        if kind == "cameras":
            return name == event.ward or alert.ward == event.ward
        return alert.ward == event.ward and kind in ("ap", "site")
    if event.kind == "report_surge":
        return kind.startswith("reports") and alert.ward == event.ward
    return (kind == "ap" and name in event.aps) or (kind == "site" and name == event.site)


def run(folder: Path, tick: timedelta, status: timedelta) -> dict:
    inv = inventory()
    events = schedule(inv)
    start = (NORMAL_WEEK - HISTORY).tz_convert("UTC").to_pydatetime()
    options = SimOptions(
        status_interval=status,
        backfill_status_interval=status,
        power_cut_every=timedelta(days=3650),
        events=tuple(events),
    )
    sim = CitySimulator(inv, seed=2026, start=start, options=options)
    rules = {name: {"enabled": False} for name in check_rules({}) if name != "anomaly"}
    raised: list[Raised] = []
    messages = 0
    started = time.perf_counter()
    with SQLiteStore(folder / "simulated.db") as store:
        ingestor = Ingestor(store, feed="simulator", batch_size=5000, known=KnownValues.of(inv))
        try:
            for m in sim.advance(NORMAL_WEEK.tz_convert("UTC").to_pydatetime()):
                ingestor.handle(m.topic, m.payload, received_at=m.time)
                messages += 1
            ingestor.flush()
            seeded = time.perf_counter() - started
            print(f"history: {messages:,} messages in {seeded:.0f} s", flush=True)
            clock = [NORMAL_WEEK.tz_convert("UTC").to_pydatetime()]
            evaluator = AlertEvaluator(
                store, check_rules(rules), clock=lambda: clock[0], profile=PROFILE
            )
            ticks, cpu = 0, 0.0
            evaluated = time.perf_counter()
            end = (EVENT_WEEK + pd.Timedelta(weeks=1)).tz_convert("UTC")
            for at in pd.date_range(NORMAL_WEEK.tz_convert("UTC"), end, freq=tick)[1:]:
                for m in sim.advance(at.to_pydatetime()):
                    ingestor.handle(m.topic, m.payload, received_at=m.time)
                    messages += 1
                ingestor.flush()
                clock[0] = at.to_pydatetime()
                before = time.process_time()
                for e in evaluator.evaluate():
                    if e.kind == "raised":
                        data = e.data or {}
                        raised.append(
                            Raised(
                                pd.Timestamp(e.time),
                                e.key.removeprefix("anomaly:"),
                                data.get("ward") or "",
                                (data.get("facts") or {}).get("site") or "",
                            )
                        )
                cpu += time.process_time() - before
                ticks += 1
                if ticks % 288 == 0:
                    print(f"{at}: {ticks} ticks, {len(raised)} raised", flush=True)
            evaluated = time.perf_counter() - evaluated
        finally:
            ingestor.close()
    return {
        "events": sim.events,
        "raised": raised,
        "messages": messages,
        "seeded_s": seeded,
        "evaluated_s": evaluated,
        "ticks": ticks,
        "tick_cpu": cpu / max(ticks, 1),
        "devices": (len(inv.cameras), len(inv.access_points)),
        "status": status,
        "series": len(inv.access_points)
        + len({a.site for a in inv.access_points})
        + 2 * len(inv.wards)  # new reports and cameras down per ward
        + len(PROFILE.category_codes)
        + len(PROFILE.indicators),
    }


def score(r: dict) -> dict:
    events, raised = r["events"], r["raised"]
    event_week = EVENT_WEEK.tz_convert("UTC")
    normal = [a for a in raised if a.time < event_week]
    week2 = [a for a in raised if a.time >= event_week]
    anomalies = [e for e in events if e.anomaly]
    expected = [e for e in events if not e.anomaly]
    true = [a for a in week2 if any(matches(a, e) for e in anomalies)]
    on_expected = [a for a in week2 if any(matches(a, e) for e in expected)]
    per_event = []
    for e in events:
        hits = sorted(a.time for a in raised if matches(a, e))
        first = (hits[0] - pd.Timestamp(e.start)) if hits else None
        per_event.append((e, len(hits), first))
    recall = {}
    for kind in EVENT_KINDS:
        of_kind = [(e, hits) for e, hits, _ in per_event if e.kind == kind and e.anomaly]
        recall[kind] = (sum(1 for _, hits in of_kind if hits), len(of_kind))
    return {
        "normal": normal,
        "week2": week2,
        "true": true,
        "on_expected": on_expected,
        "per_event": per_event,
        "recall": recall,
        "unmatched": [a for a in week2 if a not in true],
    }


KIND_TEXT = {
    "festival_crowd": "festival crowd at the gathering place, ordinary day",
    "power_cut": "ward power cut (scored on the ward's cameras down, its APs and sites)",
    "report_surge": "surge of one category's reports in a ward",
    "ap_silent": "AP up with 0 clients",
}


def where(e: SimEvent) -> str:
    if e.kind == "festival_crowd":
        return e.site
    if e.kind == "report_surge":
        return f"{e.ward}, {e.reports} × {e.category}"
    if e.kind == "ap_silent":
        return f"{e.aps[0]} ({e.site})"
    return e.ward


def on_series(alerts: list[Raised]) -> str:
    counts = Counter(a.series for a in alerts)
    return ", ".join(f"{k} ({n})" for k, n in counts.most_common()) or "none"


def at_hours(alerts: list[Raised]) -> str:
    """How many alerts were raised in each local hour of the day, most first."""
    counts = Counter(a.time.tz_convert(ZONE).hour for a in alerts)
    return ", ".join(f"{h:02d}h ({n})" for h, n in counts.most_common()) or "none"


def report(command: str, r: dict, s: dict, tick: timedelta, seconds: float) -> str:
    cams, aps = r["devices"]
    minutes = tick.total_seconds() / 60
    week2, true = len(s["week2"]), len(s["true"])
    lines = [
        f"Command: `{command}` (one run, {time.strftime('%Y-%m-%d')}, {seconds / 60:.0f} min, "
        "the 2-core machine shared with other engineers' runs).",
        "",
        f"Sizes: the {PROFILE.name('vi')} profile's town ({cams} cameras, {aps} access points, "
        "every one "
        f"reporting every {r['status'].total_seconds() / 60:.0f} min; field reports at the "
        f"simulator's usual 48 a day), {r['messages']:,} simulated messages through the Ingestor "
        f"into SQLite; 4 weeks of history (written in {r['seeded_s']:.0f} s), then "
        f"{r['ticks']:,} evaluator ticks of {minutes:.0f} min over the normal week and the event "
        f"week ({r['evaluated_s']:.0f} s, {r['tick_cpu'] * 1000:.0f} ms CPU a tick), the anomaly "
        f"rule alone with its default parameters, {r['series']} watched series "
        "(bench/anomalies_simulated.py docstring). The simulator's own random power cuts are off.",
        "",
        "| measured | value |",
        "|---|---:|",
        f"| false alarms in the normal week (alerts raised / 7 days) | "
        f"{len(s['normal']) / 7:.2f} per day ({len(s['normal'])} alerts) |",
    ]
    for kind in EVENT_KINDS:
        found, total = s["recall"][kind]
        lines.append(
            f"| recall: {KIND_TEXT[kind]} | {found}/{total}"
            + (f" ({found / total:.0%})" if total else "")
            + " |"
        )
    found = sum(f for f, _ in s["recall"].values())
    total = sum(t for _, t in s["recall"].values())
    lines += [
        f"| recall, all kinds | {found}/{total} ({found / total:.0%}) |",
        f"| precision in the event week: alerts matching an anomalous event / all alerts | "
        f"{true}/{week2}" + (f" ({true / week2:.0%})" if week2 else "") + " |",
        f"| alerts on a crowd of the profile's festival days (expected, so false alarms) | "
        f"{len(s['on_expected'])} |",
        "",
        "| event (ground truth) | anomaly | where | local start | hours | alerts matching | "
        "first after |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for e, hits, first in s["per_event"]:
        local = pd.Timestamp(e.start).tz_convert(ZONE)
        hours = (e.end - e.start).total_seconds() / 3600
        lines.append(
            f"| {e.kind} | {'yes' if e.anomaly else 'no (festival day)'} | {where(e)} | "
            f"{local:%a %d %b %H:%M} | {hours:g} | {hits} | "
            f"{'–' if first is None else f'{first.total_seconds() / 60:.0f} min'} |"
        )
    lines += ["", "Alerts matching each anomalous event, by series (the key's series):", ""]
    for e, _, _ in s["per_event"]:
        if e.anomaly:
            local = pd.Timestamp(e.start).tz_convert(ZONE)
            hits = [a for a in r["raised"] if matches(a, e)]
            lines.append(f"- {e.kind}, {where(e)}, {local:%a %d %b %H:%M}: {on_series(hits)}")
    lines += [
        "",
        f"False alarms of the normal week on: {on_series(s['normal'])}; at local hours "
        f"{at_hours(s['normal'])}. Alerts of the event week on no anomalous event: "
        f"{on_series(s['unmatched'])}; at local hours {at_hours(s['unmatched'])}.",
        "",
        "Ward power cuts are scored on the ward's cameras down (`anomaly:cameras:<ward>`, one "
        "series however many cameras the cut takes) and on the WiFi of the ward's sites falling "
        "to 0 (its APs say they are down, so their own series are `ap_down`'s, not the anomaly "
        "rule's). WiFi clients are judged against what is usual at the instant, between the "
        "hourly slots around it, the band widened by half the largest change between "
        "neighbouring slots (docs/analytics.md).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tick", type=int, default=10, help="minutes between evaluator ticks")
    parser.add_argument(
        "--status",
        type=int,
        default=12,
        help="minutes between a device's status messages (under 15: the rule's freshness)",
    )
    parser.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    args = parser.parse_args()
    command = f"python bench/anomalies_simulated.py --tick {args.tick} --status {args.status}" + (
        " --write-doc" if args.write_doc else ""
    )
    tick = timedelta(minutes=args.tick)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-anomalies-sim-") as tmp:
        r = run(Path(tmp), tick, timedelta(minutes=args.status))
    text = report(command, r, score(r), tick, time.perf_counter() - started)
    print(text)
    if args.write_doc:
        write_section("Anomaly rule on the simulator's injected events", text)


if __name__ == "__main__":
    main()
