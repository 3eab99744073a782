"""Benchmark: what a power-cut-safe commit costs the embedded store.

    .venv/bin/python bench/sqlite_durability.py [--batches 200] [--repeat 3] [--dir DIR]

The store commits with `PRAGMA synchronous=FULL` (the write-ahead log is synced at each commit,
so a write that returned survives a power cut); the reference in the same run is the same store
with `synchronous=NORMAL` (survives a process crash only). Two workloads, each on a fresh
database file in DIR (default: a folder under data/, on the disk the demo uses; a tmpfs would
make every sync free and the figure meaningless):

- `mqtt batches`: what the MQTT worker commits: batches of 1,000 camera-status points;
- `single events`: what an officer's acknowledgement or an alert transition commits: one event
  per commit.

Prints points (or events) per second for each setting and FULL's rate as a ratio of NORMAL's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wall.settings_core import PROJECT_DIR
from wall.store import Event, Point
from wall.store.sqlite import SQLiteStore

BATCH_POINTS = 1000
CAMERAS = 2000


class NormalSyncStore(SQLiteStore):
    """The reference: the store as it was before, synced only at checkpoints."""

    SYNCHRONOUS = "NORMAL"


def camera_batch(n: int, start: datetime) -> list[Point]:
    return [
        Point(
            "camera_status",
            {"camera_id": f"cam-{i % CAMERAS:04d}", "ward": "Hiệp Tân"},
            {"online": i % 7 != 0, "fps": 25.0, "bitrate_kbps": 2048.0},
            start + timedelta(milliseconds=n * BATCH_POINTS + i),
        )
        for i in range(BATCH_POINTS)
    ]


def mqtt_batches(store: SQLiteStore, batches: int) -> float:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    prepared = [camera_batch(n, start) for n in range(batches)]
    began = time.perf_counter()
    for points in prepared:
        store.write(points)
    return batches * BATCH_POINTS / (time.perf_counter() - began)


def single_events(store: SQLiteStore, count: int) -> float:
    events = [
        Event.new("alerts", f"camera_offline:cam-{n}", "acknowledged", actor="an")
        for n in range(count)
    ]
    began = time.perf_counter()
    for event in events:
        store.append_events([event])
    return count / (time.perf_counter() - began)


def run(store_class: type[SQLiteStore], folder: Path, workload, amount: int) -> float:
    path = Path(tempfile.mkdtemp(dir=folder)) / "bench.db"
    store = store_class(path)
    try:
        store.check()
        return workload(store, amount)
    finally:
        store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--batches", type=int, default=200, help="MQTT batches of 1,000 points per run")
    p.add_argument("--events", type=int, default=500, help="single-event commits per run")
    p.add_argument("--repeat", type=int, default=3, help="runs of each (median shown)")
    p.add_argument(
        "--dir", type=Path, default=PROJECT_DIR / "data" / "bench", help="where to write"
    )
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for name, workload, amount, unit in (
            ("mqtt batches", mqtt_batches, args.batches, "points/s"),
            ("single events", single_events, args.events, "events/s"),
        ):
            rates: dict[str, list[float]] = {"NORMAL": [], "FULL": []}
            for _ in range(args.repeat):  # interleaved, so a busy moment hits both
                rates["NORMAL"].append(run(NormalSyncStore, Path(folder), workload, amount))
                rates["FULL"].append(run(SQLiteStore, Path(folder), workload, amount))
            normal, full = (statistics.median(rates[k]) for k in ("NORMAL", "FULL"))
            print(
                f"{name:14s} NORMAL {normal:10,.0f} {unit}   FULL {full:10,.0f} {unit}   "
                f"FULL/NORMAL {full / normal:.2f}"
            )


if __name__ == "__main__":
    main()
