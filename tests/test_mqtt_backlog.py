"""A worker draining a backlog: the broker sends a session's queued messages back to back, so the
worker's reads span many packets (and packets span reads); each must arrive whole, once, and be
acknowledged only when stored. On both MQTT versions the worker speaks."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import influx_store_url
from tests.servers import Influxd, Mosquitto
from tests.test_mqtt_worker import (
    START,
    Publisher,
    ids,
    running,
    stored,
    wait_for,
    worker_settings,
)
from wall.settings import load_settings
from wall.settings_core import SettingsError
from wall.store import Point, open_store
from wall.store.sqlite import SQLiteStore

BACKLOG = 3000


def redelivered(port: int, client_id: str, protocol: str) -> int:
    """Messages the broker still holds for the session: unacknowledged ones come again."""
    v5 = protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else False,
    )
    received = []
    client.on_message = lambda c, u, message: received.append(message.topic)
    client.connect("127.0.0.1", port, clean_start=False if v5 else 3)
    client.loop_start()
    time.sleep(1.0)
    client.disconnect()
    client.loop_stop()
    return len(received)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_backlog_lands_whole_and_is_acknowledged_once_stored(
    protocol: str, mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
) -> None:
    settings = worker_settings(
        mosquitto.url, influx_store_url(influxd), tmp_path, mqtt_protocol=protocol
    )
    with open_store(settings) as store:
        store.check()
        with running(settings, store) as worker:  # creates the persistent session
            assert worker.connection.protocol == (mqtt.MQTTv5 if protocol == "5" else 4)
        publisher = Publisher(mosquitto.port)
        padding = "x" * 12_000  # ignored key: a 12 KB packet, larger than most reads' remainder
        for i, camera_id in enumerate(ids(0, BACKLOG)):
            if i % 500 == 250:
                publisher.raw(
                    "ioc/camera/c-1/status", b'{"online": true, "name": "' + b"x" * 70_000 + b'"}'
                )
            if i % 100 == 7:
                ts = (START.timestamp() * 1000) + int(camera_id.rsplit("-", 1)[-1])
                payload = json.dumps(
                    {"online": True, "name": "Ngã tư", "ts": ts, "padding": padding}
                )
                publisher.raw(f"ioc/camera/{camera_id}/status", payload.encode(), camera_id)
            else:
                publisher.camera(camera_id)
        wait_for(lambda: len(publisher.acked) == BACKLOG, what="broker took the backlog")
        publisher.close()
        with running(settings, store) as worker:
            wait_for(lambda: stored(store) == set(ids(0, BACKLOG)), what="backlog stored")
            wait_for(lambda: worker.ingestor.stats["rejected"] == BACKLOG // 500, what="rejects")
            frame = store.points("camera_status", START, START.replace(year=START.year + 1))
            named = frame[frame["name"].notna()] if "name" in frame else frame.iloc[0:0]
            assert len(named) == BACKLOG // 100 and set(named["name"]) == {"Ngã tư"}
    client_id = settings.mqtt_client_id
    assert redelivered(mosquitto.port, client_id, protocol) == 0  # every message acknowledged


def test_mqtt_protocol_setting_names_itself_when_wrong(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IOC_MQTT_PROTOCOL"):
        load_settings(environ={"IOC_MQTT_PROTOCOL": "4"})
    assert load_settings(environ={"IOC_MQTT_PROTOCOL": "3.1.1"}).mqtt_protocol == "3.1.1"


class StalledStore(SQLiteStore):
    """The real SQLite store, whose writes wait while it is stalled (a long fsync, a database
    another program locked): the worker falls behind and pushes back on its receiver."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.running = threading.Event()
        self.running.set()

    def write(self, points: Iterable[Point]) -> int:
        self.running.wait()
        return super().write(points)


@pytest.mark.parametrize("qos", [0, 1])
def test_a_worker_held_up_by_its_store_keeps_its_connection_and_every_message(
    qos: int, tmp_path: Path
) -> None:
    """While the worker cannot take more, the receiver stops reading the socket but still
    pings: the broker does not drop the connection, so no QoS 0 message is lost and no QoS 1
    message comes twice."""
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.config.write_text(  # a window wide enough that the worker is pushed to its limit
        re.sub(r"max_inflight_messages .*", "max_inflight_messages 0", broker.config.read_text())
    )
    broker.start()
    keepalive = 2  # mosquitto counts whole seconds: at 1 s it may drop a client 1.0 s quiet
    settings = worker_settings(
        broker.url,
        f"sqlite:///{tmp_path / 'ioc.db'}",
        tmp_path,
        mqtt_keepalive_seconds=keepalive,
        ingest_batch_size=250,
    )
    store = StalledStore(tmp_path / "ioc.db")
    total = 20_100
    try:
        with running(settings, store) as worker:
            publisher = Publisher(broker.port, qos=qos)
            for camera_id in ids(0, 100):
                publisher.camera(camera_id)
            wait_for(lambda: len(stored(store)) == 100, what="first messages stored")
            store.running.clear()
            stalled = time.monotonic()
            for start in range(100, total, 1000):  # more than the worker and its receiver hold
                for camera_id in ids(start, start + 1000):  # (paho publishes faster in parts)
                    publisher.camera(camera_id)
                sent = start + 1000
                wait_for(lambda n=sent: len(publisher.acked) == n, what="broker took them")
            time.sleep(max(0.0, stalled + 3 * keepalive - time.monotonic()))
            store.running.set()
            wait_for(lambda: stored(store) == set(ids(0, total)), what="every message stored")
            assert worker.connection.connected.is_set()
            assert worker.ingestor.stats["received"] == total  # none twice
        publisher.close()
        connects = re.findall(rf"as {settings.mqtt_client_id} \(", broker.log_path.read_text())
        assert len(connects) == 1, broker.log_path.read_text()[-2000:]
        assert redelivered(broker.port, settings.mqtt_client_id, "5") == 0  # all acknowledged
    finally:
        store.running.set()
        broker.stop()
