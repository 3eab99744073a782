"""One screen's refresh cost from two source trees on the same city store, in interleaved rounds:
prints figures, asserts nothing.

    mkdir /tmp/before && git archive main | tar -x -C /tmp/before
    python bench/refresh_before_after.py --before /tmp/before --screens cameras,wifi,overview

The store is seeded once per backend (bench/seed_city.py, a private influxd for InfluxDB); then
each round runs a fresh process per tree (before, after, before, …) that measures, per screen, a
cold refresh (nothing cached), `--ticks` new ticks (live parts and the drawing expired, history
parts held) and `--warm` refreshes from the shared drawing, as bench/wall_refresh.py does, and
the bytes of the kiosk's response. The seeded data is kept live for the whole run (a staleness
limit of an hour), so both trees draw the same picture whenever their round runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.alert_state import closed_alerts
from bench.seed_city import open_bench_store, seed_city

HERE = Path(__file__).resolve().parent.parent

# Run inside each tree: imports that tree's wall and its bench helpers.
ROUND = """
import json, sys, tempfile, time
tree, url, screens = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
ticks, warm = int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, tree)
from bench.wall_refresh import PULL, expire_tick, samples
from callbacks.queries import Queries
from callbacks.screens import refresh
from layouts import SCREENS
from tests.test_callbacks import update_request
from wall.app import create_app
from wall.cache import cache
from wall.settings import Settings
from wall.store import open_store

settings = Settings(store=url, cache_url=f"file://{tempfile.mkdtemp()}", refresh_seconds=3600.0,
                    history_refresh_seconds=3600.0, stale_after_seconds=3600.0)
store = open_store(settings)
app = create_app(settings, store=store)
queries = Queries(settings, store)
client = app.server.test_client()
result = {}
with app.server.app_context():
    for name in screens:
        screen = SCREENS[name]
        ask = lambda: refresh(screen, queries, settings, "vi", PULL)
        cache.clear()
        started = time.perf_counter()
        ask()
        cold = time.perf_counter() - started
        tick = samples(lambda: (expire_tick(screen, settings), ask()), ticks)
        warm_s = samples(ask, warm)
        response = client.post("/_dash-update-component", json=update_request(name))
        size = len(response.get_data())
        result[name] = {"cold": cold, "tick": tick, "warm": warm_s, "bytes": size}
print(json.dumps(result))
"""


def one_round(tree: Path, url: str, screens: str, ticks: int, warm: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", ROUND, str(tree), url, screens, str(ticks), str(warm)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--before", type=Path, required=True, help="source tree to compare with")
    args.add_argument("--store", default="sqlite,influxdb", help="comma-separated")
    args.add_argument("--screens", default="cameras,wifi,overview")
    args.add_argument("--days", type=float, default=0.25)
    args.add_argument("--reports", type=int, default=2000)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--ticks", type=int, default=3)
    args.add_argument("--warm", type=int, default=20)
    args.add_argument(
        "--closed-alerts",
        type=int,
        default=0,
        help="also seed this many alerts raised, cleared then acknowledged 3 times in the last "
        "month (bench/alert_state.py)",
    )
    opts = args.parse_args()
    trees = {"before": opts.before.resolve(), "after": HERE}
    for kind in opts.store.split(","):
        folder = Path(tempfile.mkdtemp(prefix="wall-bench-ab-"))
        store, url, server = open_bench_store(kind, folder)
        try:
            started = time.perf_counter()
            now = datetime.now(UTC)
            counts = seed_city(store, now, opts.days, reports=opts.reports)
            closed_alerts(store, now, opts.closed_alerts, episodes=3)
            print(
                f"{kind}: seeded {counts.points:,} points in {time.perf_counter() - started:.0f} s"
            )
            runs: dict[str, list[dict]] = {label: [] for label in trees}
            for n in range(opts.rounds):
                for label, tree in trees.items():
                    runs[label].append(one_round(tree, url, opts.screens, opts.ticks, opts.warm))
                    print(f"  round {n + 1} {label} done", flush=True)
            print(
                f"{'store':<9}{'screen':<10}{'tree':<8}{'cold p50':>9}{'max':>7}{'tick p50':>9}"
                f"{'p95':>7}{'warm p50':>9}{'p95':>7}{'bytes':>9}   (ms)"
            )
            for screen in opts.screens.split(","):
                for label in trees:
                    rounds = [r[screen] for r in runs[label]]
                    cold = [r["cold"] * 1000 for r in rounds]
                    tick = [t * 1000 for r in rounds for t in r["tick"]]
                    warm = [t * 1000 for r in rounds for t in r["warm"]]
                    print(
                        f"{kind:<9}{screen:<10}{label:<8}{statistics.median(cold):>9.0f}"
                        f"{max(cold):>7.0f}{statistics.median(tick):>9.0f}{p95(tick):>7.0f}"
                        f"{statistics.median(warm):>9.2f}{p95(warm):>7.2f}"
                        f"{rounds[-1]['bytes']:>9,}"
                    )
        finally:
            store.close()
            if server:
                server.stop()


if __name__ == "__main__":
    main()
