"""The field reports the screens read from scratch (callbacks.queries: the open ones of 90 days
and everything of the last 24 h), cold: each run opens the seeded store anew (InfluxDB: its
server started anew), on a city seeded by bench/seed_city.py --keep DIR. `--writes N` then
times N writes of one report version each (the next state of N open reports, as the feeds write
them): they stay in the store.

    python bench/open_reports.py --seeded DIR [--stores sqlite,influxdb] [--runs 3] [--writes N]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_city import open_kept_store
from callbacks.queries import _open_reports_and_recent
from wall.domain import FIELD_REPORT
from wall.store import Point, Store


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seeded", type=Path, required=True)
    args.add_argument("--stores", default="sqlite,influxdb")
    args.add_argument("--runs", type=int, default=3)
    args.add_argument("--writes", type=int, default=0)
    opts = args.parse_args()
    for kind in opts.stores.split(","):
        for run in range(opts.runs):
            store, _, server, entry = open_kept_store(opts.seeded, kind)
            try:
                started = time.perf_counter()
                opened, recent = _open_reports_and_recent(store, datetime.now(UTC))
                seconds = time.perf_counter() - started
            finally:
                store.close()
                if server is not None:
                    server.stop()
            print(
                f"{kind} run {run + 1}: {len(opened):,} open and {len(recent):,} of 24 h "
                f"(of {entry['reports']:,} reports) in {seconds:.2f} s, cold"
            )
        if opts.writes:
            store, _, server, _ = open_kept_store(opts.seeded, kind)
            try:
                opened, _ = _open_reports_and_recent(store, datetime.now(UTC))
                seconds = time_writes(store, opened.head(opts.writes))
            finally:
                store.close()
                if server is not None:
                    server.stop()
            print(f"{kind}: {opts.writes} writes of one report version: {seconds:.2f} s")


def time_writes(store: Store, reports) -> float:
    """Each report's next state (`assigned`, or `in_progress`), a write each; seconds in all."""
    started = time.perf_counter()
    for n, row in enumerate(reports.to_dict("records")):
        tags = {t: row[t] for t in FIELD_REPORT.tags}
        fields = {k: v for k, v in row.items() if k not in tags and k != "time" and v == v}
        fields["status"] = "in_progress" if fields["status"] == "assigned" else "assigned"
        at = datetime.now(UTC) + timedelta(milliseconds=n)
        store.write([Point(FIELD_REPORT.name, tags, fields, at)])
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
