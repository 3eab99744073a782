"""The field reports the screens read from scratch (callbacks.queries: the open ones of 90 days
and everything of the last 24 h), cold: each run opens the seeded store anew (InfluxDB: its
server started anew), on a city seeded by bench/seed_city.py --keep DIR.

    python bench/open_reports.py --seeded DIR [--stores sqlite,influxdb] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_city import open_kept_store
from callbacks.queries import _open_reports_and_recent


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seeded", type=Path, required=True)
    args.add_argument("--stores", default="sqlite,influxdb")
    args.add_argument("--runs", type=int, default=3)
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


if __name__ == "__main__":
    main()
