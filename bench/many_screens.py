"""Fifty kiosks on one wall server: store queries per tick and the server's CPU. Prints figures.

    python bench/many_screens.py [--kiosks 50] [--ticks 6] [--days 0.05] [--write-doc]

Seeds a private influxd at city scale (bench/seed_city.py), serves the wall for real
(`python -m wall serve`, gunicorn, 2 workers, 5 s refresh), then runs kiosk clients: threads
with their own HTTP session, each POSTing its screen's refresh callback request to
/_dash-update-component once per refresh (each at its own phase in the tick, as real kiosks
are). Kiosk k shows screen k mod 6. The store queries are counted by influxd itself (`queryReq`
in /debug/vars), the CPU from /proc for the gunicorn master and its workers. First one kiosk
per screen, then `--kiosks`, in the same run: the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import open_bench_store, open_kept_store, seed_city
from layouts import SCREENS
from tests.browser_fixtures import WallProcess
from tests.test_callbacks import update_request

REFRESH_SECONDS = 5.0
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def query_count(influx_url: str) -> int:
    stats = requests.get(f"{influx_url}/debug/vars", timeout=5).json()
    httpd = next(v for k, v in stats.items() if k.startswith("httpd"))  # "httpd:<address>" in 1.x
    return int(httpd["values"].get("queryReq", 0))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its children (the gunicorn workers)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND
    return total


def run_kiosks(url: str, kiosks: int, ticks: int) -> tuple[int, int, list[float]]:
    """(answered, failed, response seconds) of `kiosks` clients over `ticks` refreshes."""
    screens = list(SCREENS)
    answered, failed, latencies = [0], [0], []
    lock = threading.Lock()
    start = time.monotonic()

    def kiosk(k: int) -> None:
        session = requests.Session()
        screen = screens[k % len(screens)]
        shown = None  # the digests of what this kiosk shows, kept as the browser keeps them
        phase = (k / kiosks) * REFRESH_SECONDS
        for tick in range(ticks):
            delay = start + phase + tick * REFRESH_SECONDS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.monotonic()
            body = update_request(screen, shown=shown)
            try:
                response = session.post(f"{url}/_dash-update-component", json=body, timeout=30)
                ok = response.ok
                if ok:
                    written = response.json()["response"].get(f"{screen}-shown")
                    shown = written["data"] if written else shown
            except requests.RequestException:
                ok = False
            with lock:
                latencies.append(time.monotonic() - began)
                (answered if ok else failed)[0] += 1

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(kiosks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answered[0], failed[0], latencies


def measure(wall: WallProcess, influx_url: str, kiosks: int, ticks: int) -> dict:
    queries, cpu, wall_clock = query_count(influx_url), cpu_seconds(wall.process.pid), time.time()
    answered, failed, latencies = run_kiosks(wall.url, kiosks, ticks)
    elapsed = time.time() - wall_clock
    latencies.sort()
    return {
        "kiosks": kiosks,
        "answered": answered,
        "failed": failed,
        "queries_per_tick": (query_count(influx_url) - queries) / ticks,
        "cpu_percent": 100 * (cpu_seconds(wall.process.pid) - cpu) / elapsed,
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--kiosks", type=int, default=50)
    args.add_argument("--ticks", type=int, default=6)
    args.add_argument("--days", type=float, default=0.05)
    args.add_argument("--reports", type=int, default=50_000, help="field reports seeded")
    args.add_argument("--seeded", type=Path, metavar="DIR", help="reuse seed_city.py --keep DIR")
    args.add_argument("--write-doc", action="store_true")
    opts = args.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="many-screens-"))
    if opts.seeded:
        store, url, server, entry = open_kept_store(opts.seeded, "influxdb")
        opts.days, opts.reports = entry["days"], entry["reports"]
        print(f"reusing the influxd seeded in {opts.seeded}, topped up: {entry['topped_up']}")
    else:
        store, url, server = open_bench_store("influxdb", folder)
    wall = None
    try:
        if not opts.seeded:
            counts = seed_city(store, datetime.now(UTC), opts.days, reports=opts.reports)
            print(f"seeded {counts.points:,} points into influxd")
        env = {
            "IOC_STORE": url,
            "IOC_REFRESH_SECONDS": str(REFRESH_SECONDS),
            "IOC_CACHE_URL": f"file://{folder / 'cache'}",
            # The reports part (50,000 series) outlasts the default on a busy machine.
            "IOC_INFLUX_TIMEOUT_SECONDS": "60",
        }
        wall = WallProcess(env, log_path=folder / "wall.log")
        wall.start()
        run_kiosks(wall.url, len(SCREENS), 1)  # warm-up: imports, first history parts
        rows = [measure(wall, server.url, n, opts.ticks) for n in (len(SCREENS), opts.kiosks)]
        for r in rows:
            print(
                f"{r['kiosks']:>3} kiosks: {r['queries_per_tick']:.1f} store queries per tick, "
                f"wall CPU {r['cpu_percent']:.0f} % of one core, "
                f"response p95 {r['p95_ms']:.0f} ms, "
                f"{r['answered']} answered, {r['failed']} failed"
            )
        if opts.write_doc:
            write_section("Many screens on one wall server", doc(opts, rows))
    finally:
        if wall:
            wall.stop()
        store.close()
        server.stop()


def doc(opts: argparse.Namespace, rows: list[dict]) -> str:
    history = (
        f"--seeded {opts.seeded}"
        if opts.seeded
        else f"--days {opts.days:g} --reports {opts.reports}"
    )
    command = (
        f"/tmp/venv/bin/python bench/many_screens.py --kiosks {opts.kiosks} --ticks {opts.ticks} "
        f"{history} --write-doc"
    )
    lines = [
        "Command (private influxd seeded at city scale, `python -m wall serve` with 2 workers):",
        "",
        "```sh",
        command,
        "```",
        "",
        "Kiosk clients POST the screens' refresh requests (the request shape of",
        "`tests/test_callbacks.update_request`, which is what the browser sends, with the digests",
        "of what the kiosk shows) every 5 s, each",
        f"at its own phase, for {opts.ticks} ticks; kiosk k shows screen k mod 6. Store queries",
        "counted by influxd (`queryReq`), CPU of the gunicorn master and workers from /proc.",
        "On the 2-core development machine; compare the rows of one run.",
        "",
        "| kiosks | store queries per tick | wall CPU (% of one core) | response p95 ms | failed |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['kiosks']} | {r['queries_per_tick']:.1f} | {r['cpu_percent']:.0f} | "
            f"{r['p95_ms']:.0f} | {r['failed']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
