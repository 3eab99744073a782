"""Benchmark: MQTT ingest end to end (broker → worker → InfluxDB) against two reference drains.

    /tmp/venv/bin/python bench/ingest.py [-n 100000] [--repeat 3]

Starts a private mosquitto and influxd (Debian packages) in a temporary folder. For each
consumer in turn, the same N camera-status messages (~90-byte JSON, 1000 cameras, distinct
timestamps so every message is its own point) are published at QoS 0 by a separate process into
the consumer's persistent session (`queue_qos0_messages`), then the consumer connects and drains
them; the time runs from its connect to its last message (for the worker: to its last point
acknowledged by InfluxDB, checked by counting the points in InfluxDB afterwards):

- `mosquitto_sub -q 1 -c -C N`: the broker's own drain rate;
- a bare paho-mqtt client (MQTT v5 and 3.1.1) whose on_message only counts;
- the MQTT worker, `python -m feeds mqtt` (MQTT v5, default batch settings), as one process and
  as two processes of one shared-subscription group (`$share/<group>/ioc/#`); their clock starts
  at the first point in InfluxDB, so process start-up is not counted.

Prints msgs/s for each and the worker's ratio to the bare paho client on the same protocol.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.servers import Influxd, Mosquitto
from wall.settings import PROJECT_DIR
from wall.store.influx import InfluxStore

TOPIC_FILTER = "ioc/#"
CAMERAS = 1000


def publish(port: int, count: int) -> None:
    """Publisher process: `count` messages at QoS 0, then a QoS 1 marker on another topic whose
    acknowledgement proves the broker has taken (and queued) everything before it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = datetime.now(UTC) - timedelta(hours=1)
    for i in range(count):
        ts = (start + timedelta(milliseconds=i)).isoformat(timespec="milliseconds")
        payload = json.dumps({"online": i % 7 != 0, "fps": 25.0, "ward": "Hiệp Tân", "ts": ts})
        while client.publish(f"ioc/camera/cam-{i % CAMERAS:04d}/status", payload).rc:
            time.sleep(0.001)  # paho's outgoing queue is momentarily full
    client.publish("bench/done", b"", qos=1).wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def fill_session(port: int, count: int) -> None:
    subprocess.run(
        [sys.executable, __file__, "--publish-only", str(port), "-n", str(count)], check=True
    )


def register_session(
    port: int, client_id: str, protocol: int, topic_filter: str = TOPIC_FILTER
) -> None:
    """Create the consumer's persistent session and subscription, then leave."""
    v5 = protocol == mqtt.MQTTv5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if v5 else False,
    )
    properties = None
    if v5:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
    subscribed = threading.Event()
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port, clean_start=False if v5 else 3, properties=properties)
    client.loop_start()
    client.subscribe(topic_filter, qos=1)
    assert subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def run_mosquitto_sub(port: int, count: int) -> float:
    client_id = f"bench-sub-{uuid.uuid4().hex[:6]}"
    command = ["mosquitto_sub", "-p", str(port), "-t", TOPIC_FILTER, "-q", "1", "-c"]
    subprocess.run([*command, "-i", client_id, "-W", "1"], capture_output=True)  # session only
    fill_session(port, count)
    start = time.perf_counter()
    subprocess.run(
        [*command, "-i", client_id, "-C", str(count)], check=True, stdout=subprocess.DEVNULL
    )
    return count / (time.perf_counter() - start)


def run_bare_paho(port: int, count: int, protocol: int) -> float:
    client_id = f"bench-paho-{uuid.uuid4().hex[:6]}"
    register_session(port, client_id, protocol)
    fill_session(port, count)
    received = 0
    done = threading.Event()

    def on_message(client, userdata, message) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    v5 = protocol == mqtt.MQTTv5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if v5 else False,
    )
    client.on_message = on_message
    start = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False if v5 else 3)
    client.loop_start()
    assert done.wait(300), f"bare paho got {received} of {count}"
    elapsed = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return count / elapsed


def count_points(store: InfluxStore) -> int:
    now = datetime.now(UTC)
    frame = store.aggregate(
        "camera_status", "online", "count", now - timedelta(days=2), now, timedelta(days=7)
    )
    return int(frame["value"].sum()) if not frame.empty else 0


def run_workers(port: int, influx_port: int, count: int, folder: Path, processes: int) -> float:
    """`processes` × `python -m feeds mqtt`, one shared group when more than one."""
    store_url = f"influxdb://127.0.0.1:{influx_port}/bench_{uuid.uuid4().hex[:8]}"
    store = InfluxStore(store_url)
    store.check()
    group = f"bench{uuid.uuid4().hex[:6]}" if processes > 1 else ""
    client_ids = [f"bench-worker-{uuid.uuid4().hex[:6]}" for _ in range(processes)]
    for client_id in client_ids:
        shared = f"$share/{group}/{TOPIC_FILTER}" if group else TOPIC_FILTER
        register_session(port, client_id, mqtt.MQTTv5, shared)
    fill_session(port, count)
    env = {
        **os.environ,
        "IOC_STORE": store_url,
        "IOC_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "IOC_MQTT_SHARED_GROUP": group,
        "IOC_INGEST_SPOOL_DIR": str(folder / "spool"),
        "IOC_FEED_HEALTH_SECONDS": "3600",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "feeds", "--log-level", "WARNING", "mqtt"],
            cwd=PROJECT_DIR,
            env={**env, "IOC_MQTT_CLIENT_ID": client_id},
        )
        for client_id in client_ids
    ]
    try:
        while (first := count_points(store)) == 0:
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a worker exited before writing anything")
            time.sleep(0.05)
        start = time.perf_counter()
        while (stored := count_points(store)) < count:
            time.sleep(0.25)
        elapsed = time.perf_counter() - start
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    assert stored == count, f"InfluxDB holds {stored} of {count} points"
    return (count - first) / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=100_000, help="messages per run")
    p.add_argument("--repeat", type=int, default=3, help="runs of each consumer (median shown)")
    p.add_argument("--publish-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.publish_only:
        publish(args.publish_only, args.n)
        return 0
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "mosquitto").mkdir()
        (folder / "influxd").mkdir()
        broker = Mosquitto(folder / "mosquitto")
        broker.config.write_text(broker.config.read_text() + "queue_qos0_messages true\n")
        influxd = Influxd(folder / "influxd")
        broker.start()
        influxd.start()
        try:
            runs: dict[str, list[float]] = {}
            consumers = {
                "mosquitto_sub -q 1": lambda: run_mosquitto_sub(broker.port, args.n),
                "bare paho, MQTT 3.1.1": lambda: run_bare_paho(broker.port, args.n, mqtt.MQTTv311),
                "bare paho, MQTT v5": lambda: run_bare_paho(broker.port, args.n, mqtt.MQTTv5),
                "worker → InfluxDB": lambda: run_workers(
                    broker.port, influxd.port, args.n, folder, 1
                ),
                "2 workers, shared group": lambda: run_workers(
                    broker.port, influxd.port, args.n, folder, 2
                ),
            }
            for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
                for name, run in consumers.items():
                    runs.setdefault(name, []).append(run())
        finally:
            broker.stop()
            influxd.stop()
    median = {name: statistics.median(rates) for name, rates in runs.items()}
    print(f"{args.n} messages per run, median of {args.repeat} runs (msgs/s):")
    for name, rate in median.items():
        each = ", ".join(f"{r:,.0f}" for r in runs[name])
        print(f"  {name:<26} {rate:>10,.0f}   ({each})")
    paho_v5 = median["bare paho, MQTT v5"]
    for name in ("worker → InfluxDB", "2 workers, shared group"):
        print(f"{name} / bare paho v5: {median[name] / paho_v5:.2f}")
    drain = median["worker → InfluxDB"] / median["mosquitto_sub -q 1"]
    print(f"worker / mosquitto_sub -q 1: {drain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
