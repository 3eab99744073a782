"""The wall's store questions (callbacks/queries.PARTS) asked cold on the kept city SQLite store
from two source trees, in interleaved rounds: prints figures, asserts nothing.

    mkdir /tmp/before && git archive main | tar -x -C /tmp/before
    python bench/history_parts.py --before /tmp/before --keep /tmp/city30 --rounds 5

The kept store (bench/seed_city.py --keep) is topped up to the present once, by this tree; then
each round runs a fresh process per tree (before, after, after, before, …) that asks each part
once with no previous answer (what a wall does on its first tick), through that tree's
SQLiteStore on a read-only connection, so neither tree can change the store it measures.

When the trees read different store layouts (store version 1 before, 2 after), each reads a store
seeded by its own code: `--before-keep DIR` names the before tree's (seeded with that tree's
bench/seed_city.py --keep DIR); neither is then topped up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_city import open_kept_store, read_manifest

HERE = Path(__file__).resolve().parent.parent
HISTORY_PARTS = "reports,camera_outages,wifi_clients_48h,wifi_throughput_3h,cameras,wifi"

# Run inside each tree: imports that tree's store and parts.
ROUND = """
import json, sqlite3, sys, time
from datetime import UTC, datetime
tree, path, parts = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
sys.path.insert(0, tree)
from callbacks.queries import PARTS
from wall.store.sqlite import SQLiteStore

store = SQLiteStore(path)
store._ready = True  # the kept store exists: nothing to create
store._local.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
result = {}
for name in parts:
    started = time.perf_counter()
    PARTS[name].fetch(store, datetime.now(UTC), None)
    result[name] = (time.perf_counter() - started) * 1000
print(json.dumps(result))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="source tree to compare with")
    parser.add_argument("--keep", type=Path, default=Path("/tmp/city30"), help="kept stores")
    parser.add_argument("--parts", default=HISTORY_PARTS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before-keep", type=Path, help="the before tree's own kept stores")
    args = parser.parse_args()
    if args.before_keep is None:
        store, _, _, entry = open_kept_store(args.keep, "sqlite")
        store.close()
        print(f"kept store until {entry['until']} (topped up: {entry['topped_up']})", flush=True)
        stores = dict.fromkeys(("before", "after"), args.keep / entry["store"])
    else:
        stores = {
            tree: folder / read_manifest(folder)["stores"]["sqlite"]["store"]
            for tree, folder in (("before", args.before_keep), ("after", args.keep))
        }
        print(f"kept stores (as seeded): {stores}", flush=True)
    trees = {"before": args.before.resolve(), "after": HERE}
    times: dict[str, dict[str, list[float]]] = {tree: {} for tree in trees}
    for round_ in range(args.rounds):
        for tree in list(trees) if round_ % 2 == 0 else list(trees)[::-1]:
            out = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    ROUND,
                    str(trees[tree]),
                    str(stores[tree]),
                    args.parts,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for name, ms in json.loads(out).items():
                times[tree].setdefault(name, []).append(ms)
            print(round_, tree, {n: round(v[-1]) for n, v in times[tree].items()}, flush=True)
    print("\n| part | before p50 (min–max) | after p50 (min–max) | before / after |")
    print("|---|---:|---:|---:|")
    for name in times["before"]:
        before, after = times["before"][name], times["after"][name]
        print(
            f"| {name} | {statistics.median(before):,.0f} ({min(before):,.0f}–{max(before):,.0f}) "
            f"| {statistics.median(after):,.0f} ({min(after):,.0f}–{max(after):,.0f}) "
            f"| {statistics.median(before) / statistics.median(after):.1f}× |"
        )


if __name__ == "__main__":
    main()
