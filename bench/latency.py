"""From an MQTT publish to the value visible on the wall in a real browser: prints figures.

    python bench/latency.py [--probes 20] [--refresh 5] [--write-doc]

Starts a private mosquitto, the wall (`python -m wall serve`) on a seeded SQLite store, the MQTT
worker (`python -m feeds mqtt`) writing into that store, and headless Chromium showing the
indicators screen. Each probe publishes (QoS 1) an indicator whose name is new, at a random
phase of the refresh tick, and times until that name is in the page's text (polled every 50 ms).
Target: p95 ≤ refresh interval + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.wall_refresh import percentile
from tests.browser_fixtures import WallProcess, chromium, seed
from tests.servers import Mosquitto
from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore

SEEN = "return document.body.innerText.includes(arguments[0])"


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--probes", type=int, default=20)
    args.add_argument("--refresh", type=float, default=5.0, help="refresh_seconds")
    args.add_argument("--write-doc", action="store_true")
    opts = args.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="latency-"))
    (folder / "mosquitto").mkdir()
    broker = Mosquitto(folder / "mosquitto")
    broker.start()
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC) - timedelta(seconds=1))
    env = {
        "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
        "IOC_CACHE_URL": f"file://{folder / 'cache'}",
        "IOC_REFRESH_SECONDS": str(opts.refresh),
        "IOC_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "IOC_MQTT_CLIENT_ID": "bench-latency-worker",
    }
    wall = WallProcess(env, log_path=folder / "wall.log")
    wall.start()
    with open(folder / "worker.log", "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "feeds", "mqtt"],
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-latency-pub")
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    driver = chromium(profile=folder / "chromium")
    rng = random.Random(6)
    latencies: list[float] = []
    missed = 0
    try:
        driver.get(wall.url + "/indicators")
        time.sleep(opts.refresh * 2)  # the first draw and the worker's subscription
        for probe in range(opts.probes):
            time.sleep(rng.uniform(0, opts.refresh))
            name = f"Đo độ trễ {probe:03d}-{rng.randrange(10**6):06d}"
            payload = {"value": 50 + probe, "target": 90, "unit": "%", "name": name}
            payload["sector"] = "so_hoa"
            sent = time.monotonic()
            publisher.publish(
                "ioc/kpi/bench-latency", json.dumps(payload), qos=1
            ).wait_for_publish()
            deadline = sent + opts.refresh * 4 + 10
            while time.monotonic() < deadline and not driver.execute_script(SEEN, name):
                time.sleep(0.05)
            if time.monotonic() >= deadline:
                missed += 1
                print(f"probe {probe}: not seen within {deadline - sent:.0f} s", flush=True)
                continue
            latencies.append(time.monotonic() - sent)
            print(f"probe {probe}: {latencies[-1]:.2f} s", flush=True)
    finally:
        driver.quit()
        publisher.loop_stop()
        publisher.disconnect()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)
        wall.stop()
        store.close()
        broker.stop()
    if not latencies:
        print("no probe was seen on the wall")
        return
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    summary = (
        f"{len(latencies)} probes seen, {missed} missed: publish → visible p50 {p50:.2f} s, "
        f"p95 {p95:.2f} s, max {max(latencies):.2f} s (refresh {opts.refresh:g} s; target p95 ≤ "
        f"{opts.refresh + 1:g} s)"
    )
    print(summary)
    if opts.write_doc:
        command = (
            f"/tmp/venv/bin/python bench/latency.py --probes {opts.probes} "
            f"--refresh {opts.refresh:g} --write-doc"
        )
        write_section(
            "Latency: MQTT publish to the wall in a browser",
            "Command (private mosquitto, `python -m wall serve` on the town's seeded SQLite store, "
            "`python -m feeds mqtt`, headless Chromium on /indicators):\n\n"
            f"```sh\n{command}\n```\n\n"
            "Each probe publishes at QoS 1 an indicator with a new name at a random phase of the "
            "tick, and waits until the name is in the page's text (polled every 50 ms). "
            "On the 2-core development machine.\n\n"
            f"{summary}.",
        )


if __name__ == "__main__":
    main()
