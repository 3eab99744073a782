"""The MQTT worker end to end: a real paho publisher, a real mosquitto, the real store.

Broker restarts use a private mosquitto and store outages a private influxd, so the shared
servers of the session are never disturbed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from feeds.mqtt_worker import MqttWorker
from tests.conftest import influx_store_url
from tests.servers import Influxd, Mosquitto, free_port
from wall.alerts.model import STREAM
from wall.alerts.state import record
from wall.notifications.service import start_outbox
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Store, open_store
from wall.store.influx import InfluxStore

START = datetime.now(UTC) - timedelta(minutes=5)


def worker_settings(broker_url: str, store_url: str, tmp_path: Path, **overrides) -> Settings:
    return Settings(
        store=store_url,
        mqtt_url=broker_url,
        mqtt_client_id=f"test-{uuid.uuid4().hex[:10]}",
        ingest_batch_seconds=0.1,
        ingest_spool_dir=str(tmp_path / "spool"),
        feed_health_seconds=0.3,
        influx_retries=0,
        **overrides,
    )


@contextmanager
def running(settings: Settings, store: Store) -> Iterator[MqttWorker]:
    worker = MqttWorker(settings, store)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert worker.connection.subscribed.wait(10), "worker did not subscribe"
        yield worker
    finally:
        worker.stopping.set()
        thread.join(30)
        assert not thread.is_alive()


class Publisher:
    """A real paho client publishing at QoS 1 (or 0); remembers which messages the broker
    acknowledged (at QoS 0: which were sent) and keeps unacknowledged ones to resend after a
    reconnect, as any sensor gateway would."""

    def __init__(self, port: int, qos: int = 1):
        self.qos = qos
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.max_inflight_messages_set(100)
        self._acked_mids: set[int] = set()
        self._keys: dict[int, str] = {}
        self.client.on_publish = lambda c, u, mid, rc, p: self._acked_mids.add(mid)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    @property
    def acked(self) -> set[str]:
        """Keys of the messages the broker acknowledged (PUBACK)."""
        return {key for mid, key in list(self._keys.items()) if mid in self._acked_mids}

    def camera(self, camera_id: str, online: bool = True) -> None:
        ts = START + timedelta(milliseconds=int(camera_id.rsplit("-", 1)[-1]))
        payload = json.dumps({"online": online, "fps": 12.5, "ts": ts.isoformat()})
        self.raw(f"ioc/camera/{camera_id}/status", payload.encode(), camera_id)

    def raw(self, topic: str, payload: bytes, key: str | None = None) -> None:
        info = self.client.publish(topic, payload, qos=self.qos)
        if key is not None:
            self._keys[info.mid] = key

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(store: Store) -> set[str]:
    frame = store.points("camera_status", START - timedelta(hours=1), START + timedelta(hours=1))
    return set(frame["camera_id"]) if not frame.empty else set()


def wait_for(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


def ids(start: int, stop: int) -> list[str]:
    return [f"cam-{i:05d}" for i in range(start, stop)]


BAD_PAYLOADS = [  # every class the contract rejects, each with what the reason must name
    ("ioc/camera/c-1/status", b"{online: true", "not JSON"),
    ("ioc/camera/c-1/status", b'["online", true]', "JSON object"),
    ("ioc/camera/c-1/status", b'{"online": "yes"}', "online"),
    ("ioc/camera/c-1/status", b'{"fps": 10}', "online"),
    ("ioc/wifi/ap-1/usage", b'{"up": true, "clients": -3}', "clients"),
    ("ioc/report/r-1", b'{"category": "traffic", "status": "lost"}', "status"),
    ("ioc/kpi/k-1", b'{"value": "high"}', "value"),
    ("ioc/camera/c-1/status", b'{"online": true, "ts": "yesterday"}', "ts"),
    ("ioc/elevator/e-1/status", b'{"online": true}', "unknown topic"),
    ("ioc/camera/c\\,1/status", b'{"online": true}', "camera id"),
    ("ioc/camera/c-1/status", b'{"online": true, "name": "' + b"x" * 70_000 + b'"}', "limit"),
    ("ioc/camera/c-1/status", b'{"online": true, "name": "\xff\xfe"}', "UTF-8"),
]


def test_bad_payloads_are_rejected_and_dead_lettered_while_every_good_one_lands(
    mosquitto: Mosquitto, store: Store, store_url: str, tmp_path: Path
) -> None:
    settings = worker_settings(
        mosquitto.url, store_url, tmp_path, mqtt_dead_letter_topic="dead/ioc"
    )
    dead: list[tuple[str, dict]] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: dead.append((m.payload, dict(m.properties.UserProperty)))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("dead/ioc", qos=1)
    listener.loop_start()
    publisher = Publisher(mosquitto.port)
    with running(settings, store) as worker:
        for n, camera_id in enumerate(ids(0, 240)):
            publisher.camera(camera_id)
            if n % 20 == 0:
                topic, payload, _ = BAD_PAYLOADS[n // 20]
                publisher.raw(topic, payload)
        wait_for(lambda: stored(store) == set(ids(0, 240)), what="all good messages stored")
        wait_for(lambda: len(dead) == len(BAD_PAYLOADS), what="all bad ones dead-lettered")
        publisher.camera("cam-09999")  # the worker is still running
        wait_for(lambda: "cam-09999" in stored(store), what="a message after the bad ones")
        assert worker.ingestor.stats["rejected"] == len(BAD_PAYLOADS)
    publisher.close()
    listener.loop_stop()
    for (topic, payload, names), (dead_payload, properties) in zip(BAD_PAYLOADS, dead, strict=True):
        assert dead_payload == payload and properties["topic"] == topic
        assert names in properties["reason"], (names, properties["reason"])
    health = store.latest("feed_health", "feed")
    row = health[health["feed"] == f"mqtt:{settings.mqtt_client_id}"].iloc[0]
    assert row["received"] == 241 + len(BAD_PAYLOADS)
    assert row["rejected"] == len(BAD_PAYLOADS)
    assert row["written"] >= 241


def private_broker(folder: Path) -> Mosquitto:
    """A mosquitto of our own that keeps sessions across a restart."""
    broker = Mosquitto(folder)  # tests.servers lets a root mosquitto keep its database
    broker.start()
    return broker


def test_broker_restart_mid_stream_loses_nothing_the_broker_acknowledged(
    tmp_path: Path, influxd: Influxd
) -> None:
    broker = private_broker(tmp_path)
    settings = worker_settings(broker.url, influx_store_url(influxd), tmp_path)
    with open_store(settings) as store:
        store.check()
        with running(settings, store) as worker:
            publisher = Publisher(broker.port)
            for camera_id in ids(0, 300):
                publisher.camera(camera_id)
            broker.restart()  # mid-stream: some sent, some in flight, some still to come
            for camera_id in ids(300, 600):
                publisher.camera(camera_id)
            wait_for(lambda: len(publisher.acked) == 600, what="publisher resent and acked")
            wait_for(lambda: stored(store) >= publisher.acked, what="acknowledged ones stored")
            assert worker.connection.connected.is_set()
        publisher.close()
    broker.stop()


def checked_store(settings: Settings) -> InfluxStore:
    store = InfluxStore(settings.store, timeout_seconds=2, retries=0)
    store.check()
    return store


def publish_and_wait_until_stored(publisher: Publisher, store: Store, camera_ids: list[str]):
    for camera_id in camera_ids:
        publisher.camera(camera_id)
    wait_for(lambda: stored(store) >= set(camera_ids), what="published cameras stored")


def test_store_down_spools_and_replays_without_losing_a_message(
    mosquitto: Mosquitto, own_influxd: Influxd, tmp_path: Path
) -> None:
    server = own_influxd
    settings = worker_settings(mosquitto.url, f"influxdb://127.0.0.1:{server.port}/wall", tmp_path)
    store = checked_store(settings)
    publisher = Publisher(mosquitto.port)
    try:
        with running(settings, store) as worker:
            publish_and_wait_until_stored(publisher, store, ids(0, 200))
            server.stop()
            for camera_id in ids(200, 500):
                publisher.camera(camera_id)
            wait_for(lambda: worker.ingestor.stats["spooled"] >= 300, what="spooled")
            assert not worker.ingestor.stats["store_up"]
            server.start()
            wait_for(lambda: len(stored(store)) == 500, what="spool replayed")
            wait_for(lambda: worker.ingestor.stats["spooled"] == 0, what="spool emptied")
    finally:
        publisher.close()


def test_a_database_dropped_mid_stream_loses_nothing_and_the_worker_carries_on(
    mosquitto: Mosquitto, own_influxd: Influxd, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A dropped database is about the store, not the messages (influxd answers 404 `database
    not found`, or 500 `shard not found` to a write racing the drop): none is acknowledged
    before its points are in the store or the spool, and the same worker (no restart) writes
    them all once the database is back, each once. Its feed_health says why it was held up."""
    url = f"influxdb://127.0.0.1:{own_influxd.port}/wall"
    settings = replace(worker_settings(mosquitto.url, url, tmp_path), feed_health_seconds=0.1)
    store = checked_store(settings)
    publisher = Publisher(mosquitto.port)
    try:
        with running(settings, store) as worker:
            publish_and_wait_until_stored(publisher, store, ids(0, 200))
            own_influxd.query("DROP DATABASE wall")
            for camera_id in ids(200, 500):
                publisher.camera(camera_id)
            wait_for(lambda: "store does not take writes" in caplog.text, what="refusal logged")
            wait_for(lambda: len(publisher.acked) == 500, what="all acknowledged")
            wait_for(lambda: worker.ingestor.stats["store_up"], what="store back")
            wait_for(lambda: stored(store) == set(ids(200, 500)), what="all stored")
            assert worker.ingestor.stats["rejected"] == 0
    finally:
        publisher.close()
    frame = store.points("camera_status", START - timedelta(hours=1), START + timedelta(hours=1))
    assert len(frame) == 300  # each message once
    now = datetime.now(UTC)
    health = store.points("feed_health", now - timedelta(minutes=5), now + timedelta(seconds=1))
    problems = set(health["store_problem"]) - {""}
    assert problems and all("not found" in problem for problem in problems)
    assert health.sort_values("time")["store_problem"].iloc[-1] == ""


def test_workers_in_one_shared_group_split_the_stream(
    mosquitto: Mosquitto, store: Store, store_url: str, tmp_path: Path
) -> None:
    group = f"g{uuid.uuid4().hex[:6]}"
    first = worker_settings(mosquitto.url, store_url, tmp_path / "a", mqtt_shared_group=group)
    second = worker_settings(mosquitto.url, store_url, tmp_path / "b", mqtt_shared_group=group)
    publisher = Publisher(mosquitto.port)
    with running(first, store) as a, running(second, store) as b:
        for camera_id in ids(0, 400):
            publisher.camera(camera_id)
        wait_for(lambda: len(stored(store)) == 400, what="all stored")
        wait_for(lambda: a.ingestor.stats["received"] + b.ingestor.stats["received"] >= 400)
        counts = a.ingestor.stats["received"], b.ingestor.stats["received"]
    publisher.close()
    assert sum(counts) == 400 and min(counts) > 0, counts  # each message to one worker only


def test_a_receiver_process_that_dies_is_replaced_and_nothing_is_lost(
    mosquitto: Mosquitto, store: Store, store_url: str, tmp_path: Path
) -> None:
    settings = worker_settings(mosquitto.url, store_url, tmp_path)
    publisher = Publisher(mosquitto.port)
    with running(settings, store) as worker:
        for camera_id in ids(0, 300):
            publisher.camera(camera_id)
        first = worker.connection.process
        os.kill(first.pid, signal.SIGKILL)  # mid-stream, e.g. the kernel's OOM killer
        for camera_id in ids(300, 600):
            publisher.camera(camera_id)
        wait_for(lambda: stored(store) == set(ids(0, 600)), what="everything stored")
        assert worker.connection.process.pid != first.pid
    publisher.close()


# -- the real command, killed and restarted --------------------------------------------------


def start_command(settings: Settings, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_DIR),
        "IOC_STORE": settings.store,
        "IOC_MQTT_URL": settings.mqtt_url or "",
        "IOC_MQTT_CLIENT_ID": settings.mqtt_client_id,
        "IOC_INGEST_SPOOL_DIR": settings.ingest_spool_dir,
        "IOC_INGEST_BATCH_SECONDS": "0.1",
        "IOC_FEED_HEALTH_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "mqtt"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_subscribed(log_path: Path, times: int) -> None:
    wait_for(
        lambda: log_path.read_text().count("connected to mqtt://") >= times,
        what="worker connected",
    )
    time.sleep(0.3)  # the subscription follows the connection


def running_pids() -> set[int]:
    """Processes that run (zombies left to be reaped do not)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if stat.read_text().rsplit(")", 1)[1].split()[0] not in "ZX":
                pids.add(int(stat.parent.name))
    return pids


def test_killed_worker_loses_nothing_and_gets_what_was_published_while_it_was_down(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    settings = worker_settings(mosquitto.url, influx_store_url(influxd), tmp_path)
    log_path = tmp_path / "worker.log"
    publisher = Publisher(mosquitto.port)
    with open_store(settings) as store:
        store.check()
        worker = start_command(settings, log_path)
        try:
            wait_subscribed(log_path, 1)
            for camera_id in ids(0, 2000):
                publisher.camera(camera_id)
            wait_for(lambda: len(stored(store)) > 200, what="some stored")
            children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
            assert children  # the receiver process
            worker.send_signal(signal.SIGKILL)  # mid-stream, no chance to flush
            worker.wait(10)
            wait_for(
                lambda: not {int(c) for c in children} & running_pids(),
                timeout=5,
                what="the worker's processes end with it",
            )
            for camera_id in ids(2000, 2500):  # published while the worker is down
                publisher.camera(camera_id)
            wait_for(lambda: len(publisher.acked) == 2500, what="broker took all")
            worker = start_command(settings, log_path)
            wait_for(lambda: stored(store) == set(ids(0, 2500)), what="everything stored")
            assert "session resumed" in log_path.read_text()
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0, log_path.read_text()
    publisher.close()
    assert "stopped:" in log_path.read_text()  # SIGTERM: flushed, then disconnected


def test_command_without_a_broker_says_which_setting_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}", "IOC_MQTT_URL": ""}
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "mqtt"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "IOC_MQTT_URL" in result.stderr and "Traceback" not in result.stderr


class MqttV311OnlyFront:
    """A TCP front of the real mosquitto that answers an MQTT v5 CONNECT as a 3.1.1-only broker
    does (CONNACK return code 1, "unacceptable protocol version", then close) and passes every
    other connection through unchanged."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.refused_v5 = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        connect = client.recv(65536)  # the CONNECT packet: paho sends it in one write
        length_bytes = next(i for i in range(1, 5) if connect[i] < 128)
        protocol_level = connect[1 + length_bytes + 6]  # after the length and b"\0\4MQTT"
        if protocol_level == 5:
            self.refused_v5 += 1
            client.sendall(b"\x20\x02\x00\x01")
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        upstream.sendall(connect)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_broker_that_refuses_mqtt_5_is_spoken_to_in_mqtt_3_1_1(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    front = MqttV311OnlyFront(mosquitto.port)
    settings = worker_settings(
        f"mqtt://127.0.0.1:{front.port}", f"sqlite:///{tmp_path / 'ioc.db'}", tmp_path
    )
    publisher = Publisher(mosquitto.port)
    with open_store(settings) as store, running(settings, store) as worker:
        assert front.refused_v5 == 1
        assert worker.connection.protocol == mqtt.MQTTv311
        for camera_id in ids(0, 50):
            publisher.camera(camera_id)
        wait_for(lambda: stored(store) == set(ids(0, 50)), what="stored over 3.1.1")
    front.close()
    publisher.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, int, Path]]:
    """A private mosquitto with a plain listener (for the publisher) and a TLS listener that
    demands a user name and password; (broker, TLS port, CA file)."""
    folder = tmp_path / "tls-broker"
    folder.mkdir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    passwords = folder / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "wall", "Mật-khẩu 1"],
        check=True,
        capture_output=True,
    )
    broker = Mosquitto(folder)
    tls_port = free_port()
    broker.config.write_text(
        f"""per_listener_settings true
persistence false
log_dest stderr
{"user root" if os.geteuid() == 0 else ""}
listener {broker.port} 127.0.0.1
allow_anonymous true
listener {tls_port} 127.0.0.1
allow_anonymous false
password_file {passwords}
certfile {cert}
keyfile {key}
"""
    )
    broker.start()
    yield broker, tls_port, cert
    broker.stop()


def test_tls_with_user_name_and_password(
    tls_broker: tuple[Mosquitto, int, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker, tls_port, ca_file = tls_broker
    settings = worker_settings(
        f"mqtts://localhost:{tls_port}",
        f"sqlite:///{tmp_path / 'ioc.db'}",
        tmp_path,
        mqtt_ca_file=str(ca_file),
        mqtt_username="wall",
        mqtt_password="Mật-khẩu 1",
    )
    publisher = Publisher(broker.port)
    with open_store(settings) as store:
        with running(settings, store):
            for camera_id in ids(0, 20):
                publisher.camera(camera_id)
            wait_for(lambda: stored(store) == set(ids(0, 20)), what="stored over TLS")
        wrong = replace(settings, mqtt_password="sai", mqtt_client_id="test-wrong-password")
        worker = MqttWorker(wrong, store)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        wait_for(lambda: "refused the connection" in caplog.text, what="refusal logged")
        assert not worker.connection.subscribed.is_set()
        worker.stopping.set()
        thread.join(30)
    publisher.close()
    assert "Not authorized" in caplog.text or "Bad user name or password" in caplog.text


@pytest.mark.parametrize("escalation_topic", [None, "ioc/alerts/escalated"])
def test_escalations_the_wall_publishes_are_not_taken_for_telemetry(
    mosquitto: Mosquitto, tmp_path: Path, escalation_topic: str | None, caplog
) -> None:
    """Issue 16: escalations went to ioc/alerts/escalated, inside the workers' default ioc/#, and
    each was rejected as a bad payload. By default they are published outside it now; a topic
    set inside it anyway is passed over (and said so at start), and telemetry flows on."""
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"
    topic = {"alert_escalation_topic": escalation_topic} if escalation_topic else {}
    settings = worker_settings(mosquitto.url, store_url, tmp_path, **topic)
    assert settings.mqtt_topics == ("ioc/#",)
    escalations: list[bytes] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: escalations.append(m.payload)
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(settings.alert_escalation_topic, qos=1)
    listener.loop_start()
    publisher = Publisher(mosquitto.port)
    with open_store(settings) as store, running(settings, store) as worker:
        wake, close = start_outbox(settings, store)  # the alert service's escalations channel
        publisher.camera("cam-00001")
        wait_for(lambda: "cam-00001" in stored(store), what="telemetry before the escalation")
        raised = Event.new(STREAM, "ap_down:ap-1", "raised", data={"severity": "critical"})
        record(store, [raised, Event.new(STREAM, "ap_down:ap-1", "escalated", actor="system")])
        wake()
        wait_for(lambda: len(escalations) == 1, what="the escalation published")
        publisher.camera("cam-00002")
        wait_for(lambda: "cam-00002" in stored(store), what="telemetry after the escalation")
        assert worker.ingestor.stats["rejected"] == 0
        assert worker.ingestor.stats["received"] == 2
    close()
    publisher.close()
    listener.loop_stop()
    assert json.loads(escalations[0])["notices"][0]["key"] == "ap_down:ap-1"
    covered = [r.getMessage() for r in caplog.records if "which the wall publishes" in r.message]
    if escalation_topic:
        assert covered == [
            "IOC_MQTT_TOPICS filter ioc/# covers ioc/alerts/escalated, which the wall publishes "
            "(IOC_ALERT_ESCALATION_TOPIC): messages there are passed over, not ingested"
        ]
    else:
        assert settings.alert_escalation_topic == "ioc-wall/alerts/escalated" and not covered
