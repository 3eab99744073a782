"""The alert service as operators run it: escalations over a real mosquitto (the default mqtt
notification channel), bad settings."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wall.alerts import service
from wall.alerts.rules import check_rules
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Point, open_store


def test_alert_service_publishes_escalations_over_mqtt(mosquitto, tmp_path) -> None:

    settings = Settings(
        store=f"sqlite:///{tmp_path / 'ioc.db'}",
        heartbeat_dir=str(tmp_path),
        mqtt_url=mosquitto.url,
        mqtt_client_id="test-escalations",
        alert_evaluate_seconds=0.2,
        alert_escalate_minutes=0.005,
        alert_rules=check_rules({"ward_cameras_offline": {"minutes": 0}}),
    )
    with open_store(settings) as store:
        store.write(
            Point(
                "camera_status",
                {"camera_id": f"c{i}", "ward": "Thanh Điền"},
                {"online": False},
                datetime.now(UTC),
            )
            for i in range(4)
        )
    received = []
    got = threading.Event()
    listener = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    listener.on_message = lambda c, u, m: (received.append(json.loads(m.payload)), got.set())
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe(settings.alert_escalation_topic, qos=1)
    listener.loop_start()
    stop = threading.Event()
    worker = threading.Thread(target=service.run, args=(settings, stop))
    worker.start()
    try:
        assert got.wait(20), "no escalation was published"
    finally:
        stop.set()
        worker.join(10)
        listener.loop_stop()
    [escalation] = received[0]["notices"]  # the escalations channel is told of nothing else
    assert escalation["event"] == "escalated"
    assert escalation["key"] == "ward_cameras_offline:Thanh Điền"
    assert escalation["severity"] == "critical"
    assert escalation["state"] == "active_unack"
    assert escalation["title"] == "Thanh Điền: 4/4 camera mất kết nối (100%)"


def test_alert_service_refuses_bad_rule_settings_with_one_line(tmp_path) -> None:

    result = subprocess.run(
        [sys.executable, "-m", "wall", "alerts"],
        env={"IOC_ALERT_RULES": '{"camera_offline": {"minutes": -1}}', "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "wall: bad setting IOC_ALERT_RULES: camera_offline.minutes must be a number >= 0, not -1"
    )
