"""A kiosk tab's JS heap after many refresh ticks: prints figures, asserts nothing.

    python bench/long_run_heap.py [--ticks 2000] [--refresh 0.2] [--write-doc]
    python bench/long_run_heap.py --page '/kiosk?layouts=overview,cameras,wifi,reports&rotate=5'
    python bench/long_run_heap.py --checkpoints 100,500,1000,2000,3000

Serves the wall (`python -m wall serve`) on the town's seeded store with an accelerated refresh,
opens `--page` (the overview by default; a kiosk URL rotates through the screens) in headless
Chromium (selenium), counts the refresh callbacks the page sends
(fetches to /_dash-update-component, counted in the page), and reads the tab's used JS heap
(CDP Performance.getMetrics, JSHeapUsedSize) after a forced garbage collection at each checkpoint
(100 and `--ticks` unless `--checkpoints` says otherwise), so whether it levels off shows. Target:
the last within +20 % of the first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from tests.browser_fixtures import WallProcess, chromium, seed
from wall.store.sqlite import SQLiteStore

COUNT_REFRESHES = """
if (!window.__refreshes) {
  window.__refreshes = 0;
  const original = window.fetch;
  window.fetch = function (url, ...rest) {
    if (String(url).includes('_dash-update-component')) window.__refreshes += 1;
    return original.call(this, url, ...rest);
  };
}
"""

# Entries in Dash's undo history (plotly/dash#727), which records every input change made in
# the browser: each interval tick of every screen, unless assets/wall.js lets them go.
UNDO_HISTORY = "return (window.dash_stores || []).map(s => s.getState().history.past.length)"


def heap_after_gc(driver) -> int:
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


def wait_for_ticks(driver, ticks: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script("return window.__refreshes || 0") >= ticks:
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"fewer than {ticks} refreshes within {timeout:.0f} s")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--ticks", type=int, default=2000)
    args.add_argument("--refresh", type=float, default=0.2, help="refresh_seconds")
    args.add_argument("--page", default="/", help="the wall's URL path, e.g. /kiosk?rotate=5")
    args.add_argument(
        "--checkpoints",
        help="refresh counts to read the heap at, e.g. 100,500,1000 (default 100,TICKS)",
    )
    args.add_argument("--write-doc", action="store_true")
    opts = args.parse_args()
    checkpoints = sorted({int(n) for n in (opts.checkpoints or f"100,{opts.ticks}").split(",")})
    folder = Path(tempfile.mkdtemp(prefix="long-run-"))
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC) - timedelta(seconds=1))
    wall = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
            "IOC_CACHE_URL": f"file://{folder / 'cache'}",
            "IOC_REFRESH_SECONDS": str(opts.refresh),
            "IOC_HISTORY_REFRESH_SECONDS": "30",
        },
        log_path=folder / "wall.log",
    )
    wall.start()
    driver = chromium(profile=folder / "chromium")
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_REFRESHES})
        driver.execute_cdp_cmd("Performance.enable", {})
        driver.get(wall.url + opts.page)
        start = time.monotonic()
        timeout = checkpoints[-1] * opts.refresh * 4 + 120
        heaps: list[tuple[int, int]] = []  # (refreshes, bytes)
        for checkpoint in checkpoints:
            wait_for_ticks(driver, checkpoint, timeout)
            heaps.append(
                (driver.execute_script("return window.__refreshes"), heap_after_gc(driver))
            )
            undo = driver.execute_script(UNDO_HISTORY)
            print(
                f"after {heaps[-1][0]} refreshes: {heaps[-1][1] / 1e6:.2f} MB, "
                f"Dash undo history {undo} entries",
                flush=True,
            )
        seconds = time.monotonic() - start
    finally:
        driver.quit()
        wall.stop()
        store.close()
    (first_ticks, early), (ticks, late) = heaps[0], heaps[-1]
    growth = late / early - 1
    print(
        f"JS heap after {first_ticks} refreshes: {early / 1e6:.2f} MB; after {ticks}: "
        f"{late / 1e6:.2f} MB ({growth:+.1%}); {seconds:.0f} s at refresh_seconds={opts.refresh:g}"
    )
    if opts.write_doc:
        command = (
            f"/tmp/venv/bin/python bench/long_run_heap.py --checkpoints "
            f"{','.join(map(str, checkpoints))} --refresh {opts.refresh:g} --page '{opts.page}' "
            "--write-doc"
        )
        rows = "".join(f"| {n} | {size / 1e6:.2f} |\n" for n, size in heaps)
        write_section(
            "Kiosk tab heap over a long run" + ("" if opts.page == "/" else f": {opts.page}"),
            f"Command (serves the wall on the town's seeded SQLite store, headless Chromium):\n\n"
            f"```sh\n{command}\n```\n\n"
            f"`{opts.page}` in one tab with an accelerated refresh; refreshes counted in the page "
            "(fetches to /_dash-update-component); JSHeapUsedSize from CDP after a forced GC. "
            "On the 2-core development machine. Target: within "
            "+20 %.\n\n"
            "| after refreshes | JS heap used (MB) |\n|---:|---:|\n"
            f"{rows}\n"
            f"Growth: **{growth:+.1%}** over {seconds:.0f} s.",
        )


if __name__ == "__main__":
    main()
