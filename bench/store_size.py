"""Benchmark: how many bytes the embedded store spends per stored message, how fast it takes the
MQTT worker's batches, and how long the wall's history questions take on it.

    .venv/bin/python bench/store_size.py [--backfill 24h] [--dir DIR] [--tree PATH]

Writes the city simulator's backfill of the town (IOC_INVENTORY: Hòa Thành's 320 cameras and 100
access points by default; field reports, indicators, power cuts) through the same validation and
write path as the MQTT worker into a fresh SQLite store in DIR (default: under data/), closes it
(the last connection to close checkpoints the write-ahead log into the database file), and
prints the database files' size divided by the messages written. Target (issue 12): at most
60 bytes per message.

Then, on that store, the wall's history parts (callbacks/queries.PARTS) asked from scratch as of
the backfill's end (median of 5), and the MQTT worker's write rate: 200 batches of 1,000
camera points (bench/sqlite_durability.py's) into a fresh store. `--tree` measures another
source tree's store and parts instead (e.g. `git archive main | tar -x -C /tmp/before`): the
before figure, by the same script.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The tree measured comes first.
sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else sys.path[0])

from bench.sqlite_durability import mqtt_batches
from callbacks.queries import PARTS
from feeds.ingest import Ingestor
from feeds.simulator import build_simulator, feed_sink, parse_duration
from wall.settings import load_settings
from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore

HERE = Path(__file__).resolve().parent.parent
HISTORY_PARTS = ("wifi_clients_48h", "camera_outages", "wifi_throughput_3h", "cameras", "wifi")
ROUNDS = 5


def store_files_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backfill", type=parse_duration, default=timedelta(hours=24))
    p.add_argument(
        "--dir", type=Path, default=PROJECT_DIR / "data" / "bench", help="where to write"
    )
    p.add_argument("--tree", type=Path, default=HERE, help="source tree whose store to measure")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    print(f"tree {args.tree.resolve()}")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "ioc.db"
        store = SQLiteStore(path)
        store.check()
        sink = Ingestor(store, feed="simulator", batch_size=5000)
        stop, backfilled = threading.Event(), threading.Event()
        threading.Thread(target=lambda: backfilled.wait() and stop.set(), daemon=True).start()
        simulator = build_simulator(settings, backfill=args.backfill)
        started = time.monotonic()
        messages = feed_sink(simulator, sink, stop, backfilled=backfilled)
        sink.close()
        seconds = time.monotonic() - started
        points = sink.written
        store.close()
        del sink, store
        gc.collect()  # the writer thread's connection, so the next close is the last one
        SQLiteStore(path).check()  # opens and closes a connection: the last close checkpoints
        size = store_files_bytes(path)
        files = ", ".join(
            f"{f.name} {f.stat().st_size / 2**20:.1f} MiB" for f in sorted(path.parent.iterdir())
        )
        print(
            f"backfill {args.backfill}: {messages:,} messages ({points:,} points) in "
            f"{seconds:.1f} s; store files {size / 2**20:.1f} MiB after checkpoint: "
            f"{size / messages:.0f} bytes per message, {size / points:.0f} per point ({files})"
        )
        with SQLiteStore(path) as store:
            for name in HISTORY_PARTS:
                times = []
                for _ in range(ROUNDS):
                    began = time.perf_counter()
                    PARTS[name].fetch(store, simulator.now, None)
                    times.append((time.perf_counter() - began) * 1000)
                print(f"{name}: {statistics.median(times):.1f} ms (median of {ROUNDS})")
        with SQLiteStore(Path(folder) / "batches.db") as store:
            store.check()
            print(f"mqtt batches: {mqtt_batches(store, 200):,.0f} points/s")


if __name__ == "__main__":
    main()
