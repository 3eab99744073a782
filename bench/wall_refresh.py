"""What one wall refresh costs, and what the shared cache saves: prints figures, asserts nothing.

    python bench/wall_refresh.py [--kiosks 50]

On a seeded embedded store (the town's 320 cameras, 100 APs, a day of history), for each screen:
the refresh with the store asked (cold) against the refresh answered from the cache (warm), in
the same process; then `--kiosks` concurrent kiosk requests for the overview through the real
Flask app, against the same number of requests each asking the store itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callbacks.queries import Queries
from callbacks.screens import refresh
from layouts import SCREENS
from tests.browser_fixtures import seed
from tests.test_callbacks import update_request
from wall.app import create_app
from wall.cache import LOCK_DIR_CONFIG, cache
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore


def timed(fn, repeat: int = 5) -> float:
    """Median seconds of `fn()` over `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--kiosks", type=int, default=50)
    kiosks = args.parse_args().kiosks
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
                cache.clear()
                refresh(screen, queries, settings, "vi", {"w": 1920, "t": 1})

            def warm(screen=screen):
                refresh(screen, queries, settings, "vi", {"w": 1920, "t": 1})

            cold_s, warm_s = timed(cold), timed(warm)
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


if __name__ == "__main__":
    main()
