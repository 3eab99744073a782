"""Seed a store at city scale and say how long it took: prints figures, asserts nothing.

    python bench/seed_city.py --stores sqlite,influxdb --days 30 --keep /tmp/city30
    python bench/seed_city.py --stores sqlite,influxdb --compare 0.1   # Store.write vs write_frame

A city: 2,000 cameras (status every 5 min, a few outages a day), 1,000 access points (usage every
5 min, clients following the time of day, byte counters rising), 50,000 field reports created
over 30 days whatever the history seeded (then assigned, and the older ones mostly resolved, as
a working city's are), the town's 17 indicators daily and its alerts. Points are generated a
slab of time at a time as columns (numpy) and written with `Store.write_frame`, which stores
what `Store.write` of the same points stores; `--compare DAYS` measures both on the same points.

`--keep DIR` leaves the seeded stores in DIR (`sqlite/ioc.db`, the influxd folder `influxd/`)
with `manifest.json` (each store's history, `now` and counts); bench/wall_refresh.py
`--city --seeded DIR` reuses them (`open_kept_store`), topping the telemetry up to the present
first (`top_up`). `seed_city` is also reused by wall_refresh.py and many_screens.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from tests.browser_fixtures import ALERTS, CATEGORIES, INDICATORS, TITLES
from tests.servers import Influxd
from tests.test_store_contract import frame_points
from wall.alerts.state import record
from wall.city import load_profile
from wall.domain import FIELD_REPORT, report_slot
from wall.store import Event, Store
from wall.store.base import to_ms

WARDS = load_profile().unit_names  # the default city's (wall.domain's list until the profiles)

CAMERAS, ACCESS_POINTS, REPORTS = 2000, 1000, 50_000
STEP = timedelta(minutes=5)
STEP_MS = int(STEP.total_seconds() * 1000)
SLAB_STEPS = 100  # time steps generated and written at once: 200,000 camera points
CENTRE = (11.28, 106.13)  # Hòa Thành
REPORT_SPAN = timedelta(days=30)  # reports are cheap: a month of them whatever the history
RESOLVED_AFTER = timedelta(days=7)  # reports this old are resolved with RESOLVED_SHARE
RESOLVED_SHARE = 0.95
OPEN_STATUSES = ("new", "assigned", "in_progress")
DAY_MS = 86_400_000
MANIFEST = "manifest.json"
DATABASE = "city"

# (measurement, frame, tags) -> points written
Writer = Callable[[str, pd.DataFrame, list[str]], int]


@dataclass
class SeedCounts:
    camera_points: int = 0
    wifi_points: int = 0
    report_points: int = 0
    other_points: int = 0
    events: int = 0
    open_reports: int = 0

    @property
    def points(self) -> int:
        return self.camera_points + self.wifi_points + self.report_points + self.other_points


@dataclass(frozen=True)
class City:
    """What does not change over the history: the cameras and access points and where they are."""

    camera_ids: np.ndarray
    camera_wards: np.ndarray
    camera_names: np.ndarray
    camera_lat: np.ndarray
    camera_lon: np.ndarray
    ap_ids: np.ndarray
    ap_wards: np.ndarray
    ap_sites: np.ndarray
    ap_capacity: np.ndarray

    @classmethod
    def build(cls, rng: np.random.Generator) -> City:
        def text(values) -> np.ndarray:
            return np.array(list(values), dtype=object)

        return cls(
            camera_ids=text(f"cam-{n:04d}" for n in range(CAMERAS)),
            camera_wards=text(WARDS[n % len(WARDS)] for n in range(CAMERAS)),
            camera_names=text(f"Camera {n:04d}" for n in range(CAMERAS)),
            camera_lat=CENTRE[0] + rng.uniform(-0.1, 0.1, CAMERAS),
            camera_lon=CENTRE[1] + rng.uniform(-0.1, 0.1, CAMERAS),
            ap_ids=text(f"ap-{n:04d}" for n in range(ACCESS_POINTS)),
            ap_wards=text(WARDS[n % len(WARDS)] for n in range(ACCESS_POINTS)),
            ap_sites=text(f"Điểm {n:04d}" for n in range(ACCESS_POINTS)),
            ap_capacity=rng.choice([100, 150, 250], ACCESS_POINTS),
        )


def _times(ms: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(ms, unit="ms", utc=True)


def camera_frame(city: City, times_ms: np.ndarray, online: np.ndarray) -> pd.DataFrame:
    """One point per camera and time; `online` is (times, cameras)."""
    camera = np.tile(np.arange(CAMERAS), len(times_ms))
    up = online.ravel()
    return pd.DataFrame(
        {
            "time": _times(np.repeat(times_ms, CAMERAS)),
            "camera_id": city.camera_ids[camera],
            "ward": city.camera_wards[camera],
            "online": up,
            "fps": np.where(up, 25.0, 0.0),
            "name": city.camera_names[camera],
            "lat": city.camera_lat[camera],
            "lon": city.camera_lon[camera],
        }
    )


def wifi_frame(
    city: City, times_ms: np.ndarray, rng: np.random.Generator, counters: np.ndarray
) -> pd.DataFrame:
    """One point per access point and time; clients follow the local time of day, and the byte
    counters rise from `counters` (rx and tx per AP, carried to the next slab)."""
    steps = len(times_ms)
    local_hour = (_times(times_ms).hour.to_numpy() + 7) % 24
    daytime = np.maximum(0.05, 1 - np.abs(local_hour - 15) / 10)
    clients = (
        city.ap_capacity[None, :]
        * daytime[:, None]
        * rng.uniform(0.3, 0.95, (steps, ACCESS_POINTS))
    ).astype(np.int64)
    rx = counters[0] + np.cumsum(clients * rng.integers(600_000, 1_800_000, clients.shape), 0)
    tx = counters[1] + np.cumsum(clients * rng.integers(120_000, 450_000, clients.shape), 0)
    counters[0], counters[1] = rx[-1], tx[-1]
    ap = np.tile(np.arange(ACCESS_POINTS), steps)
    return pd.DataFrame(
        {
            "time": _times(np.repeat(times_ms, ACCESS_POINTS)),
            "ap_id": city.ap_ids[ap],
            "ward": city.ap_wards[ap],
            "site": city.ap_sites[ap],
            "up": np.ones(len(ap), dtype=bool),
            "clients": clients.ravel(),
            "rx_bytes": rx.ravel(),
            "tx_bytes": tx.ravel(),
            "capacity": city.ap_capacity[ap],
        }
    )


def camera_outages(steps: int, rng: np.random.Generator) -> np.ndarray:
    """(steps + 1, cameras) online flags: about one outage per camera a month (10 min to 3 h),
    so some 3 % of cameras have one on a given day, and one camera in fifty down right now."""
    online = np.ones((steps + 1, CAMERAS), dtype=bool)
    outages = rng.poisson(steps / 288 / 30, CAMERAS)
    for camera in range(CAMERAS):
        for start in rng.integers(0, steps + 1, outages[camera]):
            online[start : start + rng.integers(2, 36), camera] = False
        if camera % 50 == 0:
            online[steps + 1 - rng.integers(1, 12) :, camera] = False
    return online


def report_frame(now_ms: int, rng: np.random.Generator, reports: int) -> tuple[pd.DataFrame, int]:
    """Reports created over REPORT_SPAN: each new, most assigned, and resolved with a chance
    that grows with age to RESOLVED_SHARE at RESOLVED_AFTER; (points, how many are open)."""
    n = np.arange(reports)
    age = rng.integers(60_000, int(REPORT_SPAN.total_seconds() * 1000), reports)
    created = now_ms - age
    resolved_after_ms = RESOLVED_AFTER.total_seconds() * 1000
    resolved = rng.random(reports) < RESOLVED_SHARE * np.minimum(1.0, age / resolved_after_ms)
    status = np.where(resolved, "resolved", rng.choice(OPEN_STATUSES, reports, p=[0.3, 0.4, 0.3]))
    # Assigned within 10 h (and within half the report's age), then resolved or started on
    # within 3 days (and before now).
    assigned = created + np.minimum(rng.integers(300_000, 36_000_000, reports), age // 2)
    later = assigned + (rng.uniform(0.05, 1.0, reports) * np.minimum(now_ms - assigned, 3 * DAY_MS))
    stages = [
        (np.ones(reports, dtype=bool), "new", created),
        (status != "new", "assigned", assigned),
        (np.isin(status, ["resolved", "in_progress"]), None, later.astype(np.int64)),
    ]
    category = np.array(CATEGORIES, dtype=object)[n % len(CATEGORIES)]
    base = pd.DataFrame(
        {
            "report_id": [f"pa-{i:05d}" for i in n],
            "category": category,
            "ward": np.array(WARDS, dtype=object)[n % len(WARDS)],
            "title": [f"{TITLES[c]} – {i:05d}" for c, i in zip(category, n, strict=True)],
            "lat": CENTRE[0] + rng.uniform(-0.1, 0.1, reports),
            "lon": CENTRE[1] + rng.uniform(-0.1, 0.1, reports),
            "created": _rfc3339(created),
        }
    )
    frames = []
    for chosen, stage_status, at in stages:
        stage = base[chosen].assign(
            time=_times(at[chosen]),
            status=stage_status or status[chosen],
            updated=_rfc3339(at[chosen]),
        )
        frames.append(stage)
    return pd.concat(frames, ignore_index=True), int((~resolved).sum())


def kpi_frame(now_ms: int) -> pd.DataFrame:
    rows = [
        {
            "time": now_ms - day * DAY_MS - 60_000,
            "indicator_id": ident,
            "sector": sector,
            "actual": float(value),
            "target": float(target),
            "unit": unit,
            "name": name,
        }
        for ident, sector, name, value, target, unit in INDICATORS
        for day in range(14, -1, -1)
    ]
    frame = pd.DataFrame(rows)
    return frame.assign(time=_times(frame["time"].to_numpy()))


def alert_events(now: datetime) -> list[Event]:
    events = []
    for n, (rule, entity, severity, ward, facts) in enumerate(ALERTS):
        data = {"severity": severity, "title": f"{rule}:{entity}", "ward": ward, "facts": facts}
        at = now - timedelta(minutes=7 + 23 * n)
        events.append(
            Event.new("alerts", f"{rule}:{entity}", "raised", data={**data, "rule": rule}, at=at)
        )
    return events


def _rfc3339(ms: np.ndarray) -> np.ndarray:
    text = _times(ms).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return np.array([t[:-3] + "Z" for t in text], dtype=object)


def frame_writer(store: Store) -> Writer:
    return store.write_frame


def point_writer(store: Store) -> Writer:
    """The path every feed takes: one Point per row, then Store.write."""
    return lambda measurement, frame, tags: store.write(frame_points(measurement, frame, tags))


def seed_city(
    store: Store,
    now: datetime,
    days: float,
    progress=None,
    reports: int = REPORTS,
    write: Writer | None = None,
) -> SeedCounts:
    """Write `days` of city history ending at `now`; `progress(what, count)` after each kind."""
    write = write or frame_writer(store)
    rng = np.random.default_rng(2026)
    city = City.build(rng)
    now_ms = to_ms(now)
    steps = int(timedelta(days=days) / STEP)
    times = now_ms - STEP_MS * np.arange(steps, -1, -1)
    counts = SeedCounts()
    online = camera_outages(steps, rng)
    for start in range(0, steps + 1, SLAB_STEPS):
        slab = slice(start, start + SLAB_STEPS)
        counts.camera_points += write(
            "camera_status", camera_frame(city, times[slab], online[slab]), ["camera_id", "ward"]
        )
    if progress:
        progress("camera_status", counts.camera_points)
    counters = rng.integers(0, 10**9, (2, ACCESS_POINTS))
    for start in range(0, steps + 1, SLAB_STEPS):
        frame = wifi_frame(city, times[start : start + SLAB_STEPS], rng, counters)
        counts.wifi_points += write("wifi_usage", frame, ["ap_id", "ward", "site"])
    if progress:
        progress("wifi_usage", counts.wifi_points)
    frame, counts.open_reports = report_frame(now_ms, rng, reports)
    frame["report_slot"] = frame["report_id"].map(report_slot)
    counts.report_points = write("field_report", frame, list(FIELD_REPORT.tags))
    if progress:
        progress("field_report", counts.report_points)
    counts.other_points = write("kpi", kpi_frame(now_ms), ["indicator_id", "sector"])
    events = alert_events(now)
    record(store, events)
    counts.events = len(events)
    return counts


def top_up(store: Store, seeded_until: datetime, now: datetime) -> tuple[datetime, int]:
    """Continue the cameras' and access points' telemetry from `seeded_until` to `now` in 5-minute
    steps (each camera in the state of its newest point, the counters rising from theirs), so a
    benchmark run after the seed sees live data; (time of the newest step, points written).
    Reports, indicators and alerts stay as seeded."""
    steps = int((now - seeded_until) / STEP)
    if steps < 1:
        return seeded_until, 0
    times = to_ms(seeded_until) + STEP_MS * np.arange(1, steps + 1)
    rng = np.random.default_rng(to_ms(now))
    city = City.build(np.random.default_rng(2026))  # the same cameras and APs as the seed
    recent = seeded_until - timedelta(hours=1)
    cameras = store.latest("camera_status", "camera_id", since=recent).set_index("camera_id")
    online = cameras["online"].reindex(city.camera_ids).fillna(True).to_numpy(dtype=bool)
    aps = store.latest("wifi_usage", "ap_id", since=recent).set_index("ap_id").reindex(city.ap_ids)
    counters = aps[["rx_bytes", "tx_bytes"]].fillna(0).to_numpy(dtype=np.int64).T.copy()
    written = 0
    for start in range(0, steps, SLAB_STEPS):
        slab = times[start : start + SLAB_STEPS]
        states = np.broadcast_to(online, (len(slab), CAMERAS))
        written += store.write_frame(
            "camera_status", camera_frame(city, slab, states), ["camera_id", "ward"]
        )
        written += store.write_frame(
            "wifi_usage", wifi_frame(city, slab, rng, counters), ["ap_id", "ward", "site"]
        )
    return _times(times[-1:])[0].to_pydatetime(), written


def open_bench_store(kind: str, folder: Path) -> tuple[Store, str, Influxd | None]:
    """The store of `kind` in `folder` (and the influxd serving it, on its data if the folder
    holds some); its settings URL."""
    if kind == "sqlite":
        from wall.store.sqlite import SQLiteStore

        path = folder / "ioc.db"
        return SQLiteStore(path), f"sqlite:///{path}", None
    from wall.store.influx import InfluxStore

    (folder / "influxd").mkdir(parents=True, exist_ok=True)
    server = Influxd(folder / "influxd")
    server.start()
    url = f"influxdb://127.0.0.1:{server.port}/{DATABASE}"
    store = InfluxStore(url)
    store.check()  # creates the database
    return store, url, server


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.exists():
        sys.exit(f"{folder} holds no seeded stores ({MANIFEST} is missing): seed with --keep")
    return json.loads(path.read_text())


def write_manifest(folder: Path, kind: str, entry: dict) -> None:
    path = folder / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {"stores": {}}
    manifest["stores"][kind] = entry
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def open_kept_store(folder: Path, kind: str) -> tuple[Store, str, Influxd | None, dict]:
    """A store seeded with --keep into `folder`, topped up to the present (see `top_up`); the
    manifest entry says what is in it, and `topped_up` what was added now."""
    entry = read_manifest(folder)["stores"].get(kind)
    if entry is None:
        sys.exit(f"{folder} holds no seeded {kind} store: seed it with --stores {kind} --keep")
    store, url, server = open_bench_store(kind, folder / kind)
    seeded_until = datetime.fromisoformat(entry["until"])
    started = time.perf_counter()
    until, points = top_up(store, seeded_until, datetime.now(UTC))
    entry["topped_up"] = {
        "from": seeded_until.isoformat(),
        "points": points,
        "seconds": round(time.perf_counter() - started, 1),
    }
    entry["until"] = until.isoformat()
    write_manifest(folder, kind, {k: v for k, v in entry.items() if k != "topped_up"})
    return store, url, server, entry


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def seed_one(
    kind: str, folder: Path, now: datetime, days: float, reports: int, writer
) -> tuple[SeedCounts, float]:
    """Seed the store of `kind` in `folder` (fresh); (counts, seconds)."""
    store, url, server = open_bench_store(kind, folder)
    started = time.perf_counter()

    def progress(what: str, count: int) -> None:
        elapsed = time.perf_counter() - started
        print(f"  {what:<14} {count:>11,} points   {elapsed:7.1f} s", flush=True)

    try:
        print(f"seeding {days:g} days of a city into {kind} ({url})", flush=True)
        counts = seed_city(store, now, days, progress, reports, writer(store))
        seconds = time.perf_counter() - started
    finally:
        store.close()
        if server:
            server.stop()  # influxd writes its cache out (a snapshot) before it exits
    print(
        f"{counts.points:,} points and {counts.events} events in {seconds:.1f} s: "
        f"{counts.points / seconds:,.0f} points/s; {counts.open_reports:,} of {reports:,} "
        f"reports open; {folder_bytes(folder) / 2**30:.2f} GiB on disk",
        flush=True,
    )
    return counts, seconds


def seed_kept(kind: str, keep: Path, days: float, reports: int) -> tuple[SeedCounts, float, int]:
    """Seed `kind` into keep/kind and record it in the manifest; (counts, seconds, bytes)."""
    folder = keep / kind
    if folder.exists():
        sys.exit(f"{folder} already holds a seed: remove it or keep the new one elsewhere")
    folder.mkdir(parents=True)
    now = datetime.now(UTC)
    counts, seconds = seed_one(kind, folder, now, days, reports, frame_writer)
    size = folder_bytes(folder)
    write_manifest(
        keep,
        kind,
        {
            "days": days,
            "now": now.isoformat(),
            "until": now.isoformat(),
            "reports": reports,
            "counts": asdict(counts),
            "seconds": round(seconds, 1),
            "bytes": size,
            "store": {"sqlite": "sqlite/ioc.db", "influxdb": "influxdb/influxd/"}[kind],
        },
    )
    return counts, seconds, size


def seeding_doc(command: str, compared: list, rows: list, days: float) -> str:
    lines = [
        "Command (starts a private influxd for each InfluxDB seed):",
        "",
        "```sh",
        command,
        "```",
        "",
        "2,000 cameras and 1,000 access points every 5 minutes, 50,000 field reports created",
        "over 30 days (1–3 points each; older than 7 days resolved with 95 % probability, younger",
        "ones less the younger they are), 17 indicators daily, the town's alerts. Points are",
        "generated a slab of 100 time steps at a time as numpy columns and written with",
        "`Store.write_frame` (a DataFrame, one point per row), which stores exactly what",
        "`Store.write` stores for the same points (tests/test_store_contract.py",
        "`test_a_frame_is_stored_as_writing_its_points_stores_it`; the SQLite rows and the",
        "InfluxDB lines are checked equal to those of `write` in test_store_sqlite.py and",
        "test_store_influx.py): SQLite's `points` and `latest` tables through the same upserts",
        "(only the newest row of each series goes to `latest`, the others could not change it),",
        "the same line protocol to InfluxDB. Both backends encode a frame column by column, each",
        "distinct value once.",
        "",
    ]
    if compared:
        lines += [
            "Old path against new, same points, same run (points/s, whole seed including the",
            "50,000 reports; the 2-core machine was shared with other engineers' benchmarks):",
            "",
            "| store | history | points | `Store.write` (Point per row) | `Store.write_frame` "
            "| new / old |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind, cdays, points, old_s, new_s in compared:
            lines.append(
                f"| {kind} | {cdays:g} d | {points:,} | {points / old_s:,.0f} | "
                f"{points / new_s:,.0f} | {old_s / new_s:.1f}× |"
            )
        lines.append("")
    if rows:
        lines += [
            f"The {days:g}-day seed, kept for the refresh benchmarks (`--keep`):",
            "",
            "| store | cameras | APs | reports (open) | all points | seconds | points/s "
            "| on disk |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, c, seconds, size in rows:
            lines.append(
                f"| {kind} | {c.camera_points:,} | {c.wifi_points:,} | {c.report_points:,} "
                f"({c.open_reports:,}) | {c.points:,} | {seconds:.0f} | "
                f"{c.points / seconds:,.0f} | {size / 2**30:.1f} GiB |"
            )
    return "\n".join(lines)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--stores", default="sqlite,influxdb", help="comma-separated")
    args.add_argument("--days", type=float, default=30.0)
    args.add_argument("--reports", type=int, default=REPORTS)
    args.add_argument("--keep", type=Path, help="leave the seeded stores in this folder")
    args.add_argument(
        "--compare",
        type=float,
        metavar="DAYS",
        help="also seed DAYS both ways: write vs write_frame",
    )
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    kinds = opts.stores.split(",")
    rows = []
    for kind in kinds:
        if opts.keep:
            rows.append((kind, *seed_kept(kind, opts.keep, opts.days, opts.reports)))
        elif not opts.compare:
            folder = Path(tempfile.mkdtemp(prefix="city-seed-"))
            now = datetime.now(UTC)
            counts, seconds = seed_one(kind, folder, now, opts.days, opts.reports, frame_writer)
            rows.append((kind, counts, seconds, folder_bytes(folder)))
            shutil.rmtree(folder)
    compared = []
    if opts.compare:
        for kind in kinds:
            seconds = {}
            for name, writer in (("write", point_writer), ("write_frame", frame_writer)):
                folder = Path(tempfile.mkdtemp(prefix=f"city-{name}-"))
                print(f"[{name}] ", end="")
                counts, seconds[name] = seed_one(
                    kind, folder, datetime.now(UTC), opts.compare, opts.reports, writer
                )
                shutil.rmtree(folder)
            compared.append(
                (kind, opts.compare, counts.points, seconds["write"], seconds["write_frame"])
            )
            print(f"{kind}: write_frame {seconds['write'] / seconds['write_frame']:.1f}× write\n")
    if opts.write_doc:
        command = (
            f"/tmp/venv/bin/python bench/seed_city.py --stores {opts.stores} --days {opts.days:g}"
            + (f" --keep {opts.keep}" if opts.keep else "")
            + (f" --compare {opts.compare:g}" if opts.compare else "")
            + " --write-doc"
        )
        write_section("City-scale seeding", seeding_doc(command, compared, rows, opts.days))


if __name__ == "__main__":
    main()
