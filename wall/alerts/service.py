"""`python -m wall alerts`: the evaluator as a long-running service."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import Alert
from wall.alerts.rules import check_rules
from wall.heartbeat import Heartbeat
from wall.settings import Settings
from wall.store import StoreUnavailable, open_store

log = logging.getLogger(__name__)


def escalation_message(alert: Alert) -> bytes:
    """The JSON an escalation publishes: what a pager or SMS gateway needs to act."""
    return json.dumps(
        {
            "key": alert.key,
            "rule": alert.rule,
            "entity": alert.entity,
            "ward": alert.ward,
            "severity": alert.severity,
            "state": alert.state,
            "raised_at": alert.raised_at.isoformat(),
            "alert_id": alert.alert_id,
        },
        ensure_ascii=False,
    ).encode()


def mqtt_escalations(settings: Settings) -> tuple[Callable[[Alert], None], Callable[[], None]]:
    """(publish, close) over the feeds' MQTT connection code, under a client id of its own."""
    from feeds.mqtt_client import MqttConnection

    own = replace(settings, mqtt_client_id=f"{settings.mqtt_client_id}-alerts")
    connection = MqttConnection(own, subscriptions=[], on_message=lambda message, ack: ack())
    connection.start()

    def publish(alert: Alert) -> None:
        connection.publish(settings.alert_escalation_topic, escalation_message(alert))

    return publish, connection.stop


def run(settings: Settings, stop: threading.Event) -> int:
    heartbeat = Heartbeat(settings, "alerts")
    heartbeat.require_writable()
    publish, close = (None, lambda: None)
    if settings.mqtt_url:
        publish, close = mqtt_escalations(settings)
    with open_store(settings) as store:
        try:
            store.check()
        except StoreUnavailable as exc:
            log.warning("store not reachable yet (%s); evaluating when it answers", exc)
        evaluator = AlertEvaluator(
            store,
            settings.alert_rules or check_rules({}),
            escalate_after=timedelta(minutes=settings.alert_escalate_minutes),
            on_escalation=publish,
            profile=settings.profile,
        )
        log.info("evaluating alert rules every %s s", settings.alert_evaluate_seconds)
        evaluator.run(timedelta(seconds=settings.alert_evaluate_seconds), stop, heartbeat.beat)
    close()
    return 0
