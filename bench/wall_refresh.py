"""What one wall refresh costs, and what the shared cache saves: prints figures, asserts nothing.

    python bench/wall_refresh.py [--kiosks 50]
    python bench/wall_refresh.py --city --store sqlite|influxdb [--days 1] [--write-doc]

Town scale (default): on a seeded embedded store (the town's 320 cameras, 100 APs, a day of
history), for each screen the refresh with the store asked (cold) against the refresh answered
from the cache (warm), in the same process; then `--kiosks` concurrent kiosk requests for the
overview through the real Flask app, against the same number of requests each asking the store.

City scale (`--city`): the store seeded by bench/seed_city.py (2,000 cameras, 1,000 APs, 50,000
field reports); for each screen, p50/p95 of its refresh callback's server time
- cold: nothing cached (first tick after a start, in a fresh process' worth of state): the
  answer a kiosk gets, in which parts not read within `first_read_wait_seconds` show as loading;
  and cold **complete**: until the reads it did not wait for end and a next tick (drawn right
  then, not a refresh interval later) draws every part,
- tick: a new tick in steady state (live parts and the drawing expired, history parts held),
- warm: another kiosk's request in the same tick (served from the shared drawing),
and the bytes of the callback's HTTP response a kiosk receives: on its first tick (a page that
just loaded: every output), and on a tick when no data changed (a kiosk that holds the previous
tick's drawing, asking again a refresh interval later: only what changed, e.g. tile ages), as
JSON and gzipped as it travels.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import (
    REPORTS,
    SeedCounts,
    open_bench_store,
    open_kept_store,
    read_manifest,
    seed_city,
)
from callbacks.queries import PARTS, Queries
from callbacks.screens import refresh, scale_for
from layouts import SCREENS
from tests.browser_fixtures import seed
from tests.test_callbacks import update_request
from wall.app import create_app
from wall.cache import LOCK_DIR_CONFIG, cache
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore

PULL = {"w": 1920, "t": 1}


def timed(fn, repeat: int = 5) -> float:
    """Median seconds of `fn()` over `repeat` runs."""
    return statistics.median(samples(fn, repeat))


def samples(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 10 samples, p95 is the largest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def town(kiosks: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wall-bench-"))
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC))
    settings = Settings(
        store=f"sqlite:///{folder / 'ioc.db'}",
        cache_url=f"file://{folder / 'cache'}",
        refresh_seconds=3600.0,
        history_refresh_seconds=3600.0,
    )
    app = create_app(settings, store=store)
    queries = Queries(settings, store)
    print(f"{'screen':<12} {'cold ms':>9} {'warm ms':>9} {'cold/warm':>10}")
    with app.server.app_context():
        for name, screen in SCREENS.items():

            def cold(screen=screen):
                cold_tick(screen, settings, store)

            def warm(screen=screen):
                refresh(screen, queries, settings, "vi", PULL)

            cold_s = timed(cold)
            refresh(screen, queries, settings, "vi", PULL)
            warm_s = timed(warm)
            print(
                f"{name:<12} {cold_s * 1000:>9.1f} {warm_s * 1000:>9.1f} {cold_s / warm_s:>10.1f}"
            )

    body = json.dumps(update_request("overview"))
    unshared = create_app(settings, store=store)
    # The same app without sharing: every kiosk asks the store and draws for itself.
    cache.init_app(unshared.server, config={"CACHE_TYPE": "NullCache"})
    unshared.server.config[LOCK_DIR_CONFIG] = None

    def burst(dash_app):
        def ask(_):
            client = dash_app.server.test_client()
            response = client.post(
                "/_dash-update-component", data=body, content_type="application/json"
            )
            assert response.status_code == 200

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(ask, range(kiosks)))

    with app.server.app_context():
        cache.clear()
    shared_s = timed(lambda: burst(app), repeat=1)
    alone_s = timed(lambda: burst(unshared), repeat=1)
    print(
        f"\n{kiosks} kiosks on the overview, one tick: {shared_s:.2f} s with the shared cache "
        f"vs {alone_s:.2f} s when each kiosk asks and draws for itself: "
        f"{alone_s / shared_s:.1f}x"
    )


def cold_tick(screen, settings: Settings, store) -> tuple[float, float]:
    """Seconds to a cold tick's answer, and until a tick draws every part: after an empty
    cache and with a new `Queries` (no reads under way, no last answers), as after a start."""
    cache.clear()
    queries = Queries(settings, store)
    started = time.perf_counter()
    values = refresh(screen, queries, settings, "vi", PULL)
    answered = time.perf_counter() - started
    if values[-2] is not None:  # the status line says a part is still loading
        queries.wait_for_reads()
        expire_drawing(screen, settings)
        values = refresh(screen, queries, settings, "vi", PULL)  # the kiosk's next tick
        assert values[-2] is None, f"{screen.NAME}: a part still loading after its reads ended"
    return answered, time.perf_counter() - started


def restart_tick(screen, settings: Settings, store) -> tuple[float, bool]:
    """Seconds to the answer of a wall process just restarted (a new `Queries`) with the shared
    cache kept, at the worst moment: a new tick and a new history period, the screen's parts all
    due again; and whether every part in that answer was read in time (else it showed the last
    answer kept in the cache, or was loading)."""
    expire_tick(screen, settings, history=True)
    queries = Queries(settings, store)
    started = time.perf_counter()
    values = refresh(screen, queries, settings, "vi", PULL)
    answered = time.perf_counter() - started
    in_time = queries.wait_for_reads(0)
    queries.wait_for_reads()
    return answered, in_time and values[-2] is None


def expire_drawing(screen, settings: Settings) -> None:
    period = int(time.time() // settings.refresh_seconds)
    for lang in ("vi", "en"):
        cache.delete(f"drawing:{screen.NAME}:{lang}:{scale_for(PULL):.2f}@{period}")


def expire_tick(screen, settings: Settings, history: bool = False) -> None:
    """Forget what a new tick recomputes: the screen's drawing and its live parts; with
    `history`, its history parts too (as when their period turns at that tick)."""
    expire_drawing(screen, settings)
    for part in screen.PARTS:
        if PARTS[part].history and not history:
            continue
        held = settings.history_refresh_seconds if PARTS[part].history else settings.refresh_seconds
        cache.delete(f"part:{part}@{int(time.time() // held)}")


UNCHANGED_TICKS = 3
TICK_SECONDS = Settings().refresh_seconds  # the wall's default refresh interval


def kiosk_bytes(client, screen, settings: Settings) -> dict:
    """Response bytes of a kiosk's first tick, then of ticks when no data changed: new drawings
    from the same data, each a refresh interval after the last (so tile ages move as they do)."""

    def ask(shown, gzip=False):
        response = client.post(
            "/_dash-update-component",
            json=update_request(screen.NAME, shown=shown),
            headers={"Accept-Encoding": "gzip"} if gzip else {},
        )
        assert response.status_code == 200, response.status_code
        return response

    first = ask(None)
    while first.get_json()["response"][f"{screen.NAME}-status"]["children"] is not None:
        time.sleep(TICK_SECONDS)  # the app's own wall process is reading a part: its next tick
        expire_tick(screen, settings)
        first = ask(None)
    shown = first.get_json()["response"][f"{screen.NAME}-shown"]["data"]
    plain, packed = [], []
    for _ in range(UNCHANGED_TICKS):
        time.sleep(TICK_SECONDS)
        expire_tick(screen, settings)
        answer = ask(shown)
        plain.append(len(answer.get_data()))
        packed.append(len(ask(shown, gzip=True).get_data()))  # the same drawing, gzipped
        shown = answer.get_json()["response"].get(f"{screen.NAME}-shown", {}).get("data", shown)
    return {
        "first": len(first.get_data()),
        "unchanged": statistics.median(plain),
        "unchanged_gzip": statistics.median(packed),
        "unchanged_all": plain,
    }


def city(
    kind: str,
    days: float,
    reports: int,
    cold_runs: int,
    warm_runs: int,
    seeded: list,
    kept: Path | None = None,
) -> list[dict]:
    """`kept`: a folder of stores seeded with `bench/seed_city.py --keep`, reused (topped up)."""
    folder = Path(tempfile.mkdtemp(prefix="wall-bench-city-"))
    if kept:
        store, url, server, entry = open_kept_store(kept, kind)
        seeded.append((kind, entry))
        print(f"{kind}: {kept_note(entry)}")
    else:
        store, url, server = open_bench_store(kind, folder)
    try:
        if not kept:
            started = time.perf_counter()
            counts = seed_city(store, datetime.now(UTC), days, reports=reports)
            seconds = time.perf_counter() - started
            seeded.append((kind, days, counts, seconds))
            print(f"{kind}: seeded {counts.points:,} points in {seconds:.0f} s")
        settings = Settings(
            store=url,
            cache_url=f"file://{folder / 'cache'}",
            refresh_seconds=3600.0,
            history_refresh_seconds=3600.0,
        )
        app = create_app(settings, store=store)
        queries = Queries(settings, store)
        client = app.server.test_client()
        rows = []
        print(
            f"{'screen':<12} {'cold p50':>9} {'p95':>7} {'complete':>9} {'p95':>7} "
            f"{'tick p50':>9} {'p95':>7} {'restart':>8} {'p95':>7} {'whole':>5} "
            f"{'warm p50':>9} {'p95':>7} {'first B':>11} {'unchanged B':>11} {'gzip':>8}   (ms)"
        )
        with app.server.app_context():
            for name, screen in SCREENS.items():

                def ask(screen=screen):
                    refresh(screen, queries, settings, "vi", PULL)

                def tick(screen=screen, ask=ask):
                    expire_tick(screen, settings)
                    ask()

                cold_s, complete_s = zip(
                    *(cold_tick(screen, settings, store) for _ in range(cold_runs)), strict=True
                )
                if refresh(screen, queries, settings, "vi", PULL)[-2] is not None:
                    queries.wait_for_reads()  # the reads the first tick did not wait for
                tick_s = samples(tick, cold_runs)
                restart_s, restart_whole = zip(
                    *(restart_tick(screen, settings, store) for _ in range(cold_runs)), strict=True
                )
                warm_s = samples(ask, warm_runs)
                sizes = kiosk_bytes(client, screen, settings)
                row = {
                    "store": kind,
                    "screen": name,
                    **{
                        f"{label}_{p}": percentile(values, p) * 1000
                        for label, values in (
                            ("cold", list(cold_s)),
                            ("complete", list(complete_s)),
                            ("tick", tick_s),
                            ("restart", list(restart_s)),
                            ("warm", warm_s),
                        )
                        for p in (50, 95)
                    },
                    "restart_whole": f"{sum(restart_whole)}/{len(restart_whole)}",
                    **sizes,
                }
                rows.append(row)
                print(
                    f"{name:<12} {row['cold_50']:>9.1f} {row['cold_95']:>7.1f} "
                    f"{row['complete_50']:>9.1f} {row['complete_95']:>7.1f} "
                    f"{row['tick_50']:>9.1f} {row['tick_95']:>7.1f} "
                    f"{row['restart_50']:>8.1f} {row['restart_95']:>7.1f} "
                    f"{row['restart_whole']:>5} "
                    f"{row['warm_50']:>9.2f} {row['warm_95']:>7.2f} {row['first']:>11,} "
                    f"{row['unchanged']:>11,} {row['unchanged_gzip']:>8,} "
                    f"(unchanged ticks: {', '.join(f'{b:,}' for b in row['unchanged_all'])})",
                    flush=True,
                )
        return rows
    finally:
        store.close()
        if server:
            server.stop()


def city_doc(command: str, days: float, reports: int, rows: list[dict]) -> str:
    lines = [
        "Command (seeds each store with bench/seed_city.py, starting a private influxd):",
        "",
        "```sh",
        command,
        "```",
        "",
        f"City seed with {days:g} day(s) of 5-minute history (2,000 cameras, 1,000 APs,",
        f"{reports:,} field reports). Server time of `callbacks.screens.refresh` per screen,",
        "in ms:",
        "**cold** = nothing cached (first tick after a start): the answer a kiosk gets, parts",
        f"not read within `first_read_wait_seconds` ({Settings().first_read_wait_seconds:g} s)"
        " shown as loading; **complete** = from",
        "that tick until its reads end and a next tick draws every part; **tick** = a new",
        "tick in steady state (live parts and the drawing expired, history parts still held);",
        "**restart** = a new tick answered by a wall process just restarted with the cache",
        "kept, every part of the screen due again (a new tick and history period: the worst",
        "moment), and in how many of the runs every part was read within the wait (**whole**;",
        "in the others a part showed the last answer kept in the cache);",
        "**warm** = another",
        "kiosk in the same tick (the shared drawing). Bytes = the `/_dash-update-component`",
        "response a kiosk receives: **first** tick (a page that just loaded gets every output),",
        "and a tick when **no data changed** (median of",
        f"{UNCHANGED_TICKS} ticks {TICK_SECONDS:g} s apart, each a new drawing from the same data,",
        "the kiosk holding the previous one: only outputs that",
        "differ are sent, such as tile ages), as JSON and gzipped as it travels. The machine was",
        "shared with other engineers' benchmarks and tests; compare rows of one run. Targets: warm",
        "p95 ≤ 50 ms, cold p95 ≤ 500 ms, ≤ 20 KB per tick when nothing changed.",
        "",
        "| store | screen | cold p50 | cold p95 | complete p50 | complete p95 | tick p50 "
        "| tick p95 | restart p50 | restart p95 | whole | warm p50 | warm p95 | bytes first tick "
        "| bytes unchanged tick | gzipped |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['screen']} | {r['cold_50']:.0f} | {r['cold_95']:.0f} | "
            f"{r['complete_50']:.0f} | {r['complete_95']:.0f} | "
            f"{r['tick_50']:.0f} | {r['tick_95']:.0f} | "
            f"{r['restart_50']:.0f} | {r['restart_95']:.0f} | {r['restart_whole']} | "
            f"{r['warm_50']:.2f} | {r['warm_95']:.2f} | "
            f"{r['first']:,} | {r['unchanged']:,.0f} | {r['unchanged_gzip']:,.0f} |"
        )
    return "\n".join(lines)


def seeded_note(seeded: list) -> str:
    if seeded and len(seeded[0]) == 2:
        return "Stores reused from `bench/seed_city.py --keep`: " + "; ".join(
            f"{kind}: {kept_note(entry)}" for kind, entry in seeded
        )
    return "Seeding in the same run: " + "; ".join(
        f"{kind} {counts.points:,} points in {seconds:.0f} s ({counts.points / seconds:,.0f}/s)"
        for kind, _, counts, seconds in seeded
    )


def kept_note(entry: dict) -> str:
    counts, top = SeedCounts(**entry["counts"]), entry["topped_up"]
    return (
        f"{entry['days']:g} days seeded at {entry['now'][:16]} UTC ({counts.points:,} points, "
        f"{counts.open_reports:,} of {entry['reports']:,} reports open), cameras and APs topped "
        f"up from {top['from'][:16]} with {top['points']:,} points in {top['seconds']:.0f} s; "
        "reports, indicators and alerts as seeded"
    )


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--kiosks", type=int, default=50)
    args.add_argument("--city", action="store_true", help="city scale (bench/seed_city.py)")
    args.add_argument("--store", default="sqlite,influxdb", help="city: comma-separated")
    args.add_argument("--days", type=float, default=1.0, help="city: days of history")
    args.add_argument("--reports", type=int, default=50_000, help="city: field reports seeded")
    args.add_argument(
        "--seeded", type=Path, metavar="DIR", help="city: reuse seed_city.py --keep DIR"
    )
    args.add_argument("--cold-runs", type=int, default=10)
    args.add_argument("--warm-runs", type=int, default=100)
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    if not opts.city:
        town(opts.kiosks)
        return
    rows, seeded = [], []
    if opts.seeded:
        manifest = read_manifest(opts.seeded)["stores"]
        entry = manifest[next(k for k in opts.store.split(",") if k in manifest)]
        opts.days, opts.reports = entry["days"], entry["reports"]
    for kind in opts.store.split(","):
        rows += city(
            kind, opts.days, opts.reports, opts.cold_runs, opts.warm_runs, seeded, opts.seeded
        )
    if opts.write_doc:
        history = (
            f"--seeded {opts.seeded}"
            if opts.seeded
            else f"--days {opts.days:g} --reports {opts.reports}"
        )
        command = (
            f"/tmp/venv/bin/python bench/wall_refresh.py --city --store {opts.store} "
            f"{history} --cold-runs {opts.cold_runs} --warm-runs {opts.warm_runs} --write-doc"
        )
        heading = "Wall refresh at city scale"
        if opts.reports != REPORTS:
            heading += f", {opts.reports:,} field reports"
        text = city_doc(command, opts.days, opts.reports, rows) + "\n\n" + seeded_note(seeded)
        write_section(heading, text)


if __name__ == "__main__":
    main()
