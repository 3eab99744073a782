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
- the MQTT worker, `python -m feeds mqtt` (default batch settings), on MQTT v5 and 3.1.1 as one
  process, and on v5 as two processes of one shared-subscription group (`$share/<group>/ioc/#`);
  their clock starts at the first point in InfluxDB, so process start-up is not counted;
- with `--before TREE`, the worker of another source tree, in the same rounds.

Prints msgs/s for each, the worker's ratio to the bare paho client on the same protocol and each
worker's CPU time from its first point on (its receiver process included, start-up left out).
`--backlog-workers K` instead drains one backlog of N with K workers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
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
from wall.settings_core import PROJECT_DIR
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its running children (the worker's MQTT receiver)
    have used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # ended meanwhile
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def count_points(store: InfluxStore) -> int:
    now = datetime.now(UTC)
    frame = store.aggregate(
        "camera_status", "online", "count", now - timedelta(days=2), now, timedelta(days=7)
    )
    return int(frame["value"].sum()) if not frame.empty else 0


def run_workers(
    port: int,
    influx_port: int,
    count: int,
    folder: Path,
    processes: int,
    tree: Path = PROJECT_DIR,
    protocol: str = "5",
    profile: Path | None = None,
) -> float:
    """`processes` × `python -m feeds mqtt` from the source `tree`, one shared group when more
    than one; with `profile`, py-spy records each worker (all threads) into that folder."""
    store_url = f"influxdb://127.0.0.1:{influx_port}/bench_{uuid.uuid4().hex[:8]}"
    store = InfluxStore(store_url)
    store.check()
    group = f"bench{uuid.uuid4().hex[:6]}" if processes > 1 else ""
    client_ids = [f"bench-worker-{uuid.uuid4().hex[:6]}" for _ in range(processes)]
    for client_id in client_ids:
        shared = f"$share/{group}/{TOPIC_FILTER}" if group else TOPIC_FILTER
        version = mqtt.MQTTv311 if protocol == "3.1.1" else mqtt.MQTTv5
        register_session(port, client_id, version, shared)
    fill_session(port, count)
    env = {
        **os.environ,
        "IOC_STORE": store_url,
        "IOC_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "IOC_MQTT_SHARED_GROUP": group,
        "IOC_INGEST_SPOOL_DIR": str(folder / "spool"),
        "IOC_FEED_HEALTH_SECONDS": "3600",
    }
    if protocol != "5":  # an older tree may not know the setting
        env["IOC_MQTT_PROTOCOL"] = protocol
    command = [sys.executable, "-m", "feeds", "--log-level", "WARNING", "mqtt"]
    workers = []
    for i, client_id in enumerate(client_ids):
        if profile is not None:
            out = profile / f"worker-{processes}x-{i}-{client_id}.txt"
            spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"]
            spy.append("--subprocesses")
            command_i = [*spy, "--threads", "--rate", "200", "-o", str(out), "--", *command]
        else:
            command_i = command
        env_i = {**env, "IOC_MQTT_CLIENT_ID": client_id, "PYTHONPATH": str(tree)}
        workers.append(subprocess.Popen(command_i, cwd=tree, env=env_i))
    try:
        while (first := count_points(store)) == 0:
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a worker exited before writing anything")
            time.sleep(0.05)
        start = time.perf_counter()
        cpu_start = [cpu_seconds(worker.pid) for worker in workers]  # start-up not counted
        while (stored := count_points(store)) < count:
            # counting all the points costs influxd CPU too: less often as they grow
            time.sleep(min(5.0, max(0.25, (time.perf_counter() - start) / 40)))
        elapsed = time.perf_counter() - start
        if profile is None:
            cpu = [cpu_seconds(w.pid) - c for w, c in zip(workers, cpu_start, strict=True)]
            print(
                f"  {processes} worker(s): {count - first:,} messages in {elapsed:.1f} s, "
                "worker CPU " + " + ".join(f"{c:.1f}" for c in cpu) + " s = "
                f"{(count - first) / sum(cpu):,.0f} msgs per worker CPU-second",
                flush=True,
            )
    finally:
        for worker in workers:
            if profile is not None:  # py-spy forwards no signal: stop its child, the worker
                children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
                for child in children.split():
                    os.kill(int(child), signal.SIGTERM)
            else:
                worker.send_signal(signal.SIGTERM)
            worker.wait(60)
    assert stored == count, f"InfluxDB holds {stored} of {count} points"
    return (count - first) / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=100_000, help="messages per run")
    p.add_argument("--repeat", type=int, default=3, help="runs of each consumer (median shown)")
    p.add_argument(
        "--before",
        type=Path,
        metavar="TREE",
        help="also run the worker from this source tree (e.g. `git archive` of an older commit)",
    )
    p.add_argument(
        "--only", help="comma-separated consumers to run: " + ", ".join(CONSUMERS) + ", before"
    )
    p.add_argument(
        "--backlog-workers",
        type=int,
        metavar="K",
        help="instead: K workers of one shared group drain one backlog of N messages, once",
    )
    p.add_argument(
        "--max-inflight",
        type=int,
        default=0,
        help="the broker's max_inflight_messages (0: as many as each client's receive maximum)",
    )
    p.add_argument(
        "--protocol",
        choices=("5", "3.1.1"),
        default="5",
        help="MQTT version of the backlog's workers",
    )
    p.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the workers into DIR")
    p.add_argument("--publish-only", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.publish_only:
        publish(args.publish_only, args.n)
        return 0
    logging.basicConfig(level=logging.WARNING)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "mosquitto").mkdir()
        (folder / "influxd").mkdir()
        broker = Mosquitto(folder / "mosquitto")
        config = re.sub(r"(?m)^max_(inflight|queued)_messages .*$\n", "", broker.config.read_text())
        broker.config.write_text(
            config + "queue_qos0_messages true\nmax_queued_messages 0\n"
            f"max_inflight_messages {args.max_inflight}\n"
        )
        influxd = Influxd(folder / "influxd")
        broker.start()
        influxd.start()
        try:
            if args.backlog_workers:
                rate = run_workers(
                    broker.port,
                    influxd.port,
                    args.n,
                    folder,
                    args.backlog_workers,
                    protocol=args.protocol,
                    profile=args.profile,
                )
                print(
                    f"backlog of {args.n:,} messages, {args.backlog_workers} worker(s) in one "
                    f"shared group, MQTT {args.protocol}: {rate:,.0f} msgs/s, "
                    f"drained in {args.n / rate:.0f} s"
                )
                return 0
            runs = run_consumers(args, broker.port, influxd.port, folder)
        finally:
            broker.stop()
            influxd.stop()
    median = {name: statistics.median(rates) for name, rates in runs.items()}
    print(f"{args.n} messages per run, median of {args.repeat} runs (msgs/s):")
    for name, rate in median.items():
        each = ", ".join(f"{r:,.0f}" for r in runs[name])
        print(f"  {name:<32} {rate:>10,.0f}   ({each})")
    for name, rate in median.items():
        for protocol in ("3.1.1", "v5"):
            reference = median.get(f"bare paho, MQTT {protocol}")
            if "worker" in name and reference and protocol in name:
                print(f"{name} / bare paho {protocol}: {rate / reference:.2f}")
    one, two = median.get("worker (MQTT v5)"), median.get("2 workers, shared group (MQTT v5)")
    if one and two:
        print(f"2 workers / 1 worker: {two / one:.2f}")
    return 0


CONSUMERS = ("sub", "paho311", "paho5", "worker311", "worker5", "workers2")


def run_consumers(
    args: argparse.Namespace, port: int, influx_port: int, folder: Path
) -> dict[str, list[float]]:
    profile = args.profile
    consumers = {
        "sub": ("mosquitto_sub -q 1", lambda: run_mosquitto_sub(port, args.n)),
        "paho311": ("bare paho, MQTT 3.1.1", lambda: run_bare_paho(port, args.n, mqtt.MQTTv311)),
        "paho5": ("bare paho, MQTT v5", lambda: run_bare_paho(port, args.n, mqtt.MQTTv5)),
        "worker311": (
            "worker (MQTT 3.1.1)",
            lambda: run_workers(
                port, influx_port, args.n, folder, 1, protocol="3.1.1", profile=profile
            ),
        ),
        "worker5": (
            "worker (MQTT v5)",
            lambda: run_workers(port, influx_port, args.n, folder, 1, profile=profile),
        ),
        "workers2": (
            "2 workers, shared group (MQTT v5)",
            lambda: run_workers(port, influx_port, args.n, folder, 2, profile=profile),
        ),
    }
    if args.before:
        consumers["before"] = (
            "worker before (MQTT v5)",
            lambda: run_workers(port, influx_port, args.n, folder, 1, tree=args.before),
        )
    chosen = args.only.split(",") if args.only else list(consumers)
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
        for key in chosen:
            name, run = consumers[key]
            runs.setdefault(name, []).append(run())
    return runs


if __name__ == "__main__":
    sys.exit(main())
