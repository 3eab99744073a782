"""The notifications as the alert service runs them (`python -m wall alerts`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from wall.notifications.outbox import Outbox
from wall.notifications.senders import sender
from wall.notifications.settings import Channel, MqttChannel, Routing
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store import Store

STATUS_FILE = "notifications.json"  # in heartbeat_dir, for `python -m wall health alerts`


def channels_in_force(settings: Settings) -> list[Channel]:
    """The settings' channels; with `mqtt_url` and no mqtt channel among them, escalations go
    to `alert_escalation_topic` as before channels existed."""
    channels = list(settings.notifications)
    units = settings.profile.unit_names
    for channel in channels:
        for ward in sorted(channel.routing.wards - set(units)):
            raise SettingsError(
                "IOC_NOTIFICATIONS",
                f"channel {channel.name}: ward {ward!r} is not a unit of the city profile "
                f"({', '.join(units)})",
            )
    if any(isinstance(c, MqttChannel) for c in channels):
        if not settings.mqtt_url:
            raise SettingsError("IOC_NOTIFICATIONS", "an mqtt channel needs IOC_MQTT_URL")
    elif settings.mqtt_url:
        routing = Routing(events=frozenset({"escalated"}))
        channels.append(MqttChannel("mqtt-escalations", routing, "vi", 1.0))
    return channels


def start_outbox(settings: Settings, store: Store) -> tuple[Callable[[], None], Callable[[], None]]:
    """(wake, stop) of the running outbox (no-ops without channels); stop also closes the MQTT
    connection it may hold."""
    channels = channels_in_force(settings)
    if not channels:
        return (lambda: None), (lambda: None)
    connection = None
    if any(isinstance(c, MqttChannel) for c in channels):
        from feeds.mqtt_client import MqttConnection

        own = replace(settings, mqtt_client_id=f"{settings.mqtt_client_id}-alerts")
        connection = MqttConnection(own, subscriptions=[], on_message=lambda message, ack: ack())
        connection.start()
    tz = settings.tz
    outbox = Outbox(
        store,
        [(c, sender(c, tz, connection, settings.alert_escalation_topic)) for c in channels],
        tz,
        every_seconds=settings.notification_outbox_seconds,
        status_path=Path(settings.heartbeat_dir) / STATUS_FILE,
    )
    outbox.start()

    def stop() -> None:
        outbox.stop()
        if connection is not None:
            connection.stop()

    return outbox.wake, stop


def status_lines(settings: Settings) -> list[str]:
    """One line per channel for `python -m wall health alerts`: what is waiting, failing or was
    dropped (the outbox's status file; nothing when the service has no channels)."""
    path = Path(settings.heartbeat_dir) / STATUS_FILE
    try:
        channels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    lines = []
    for name, s in channels.items():
        line = (
            f"notifications {name}: {s['delivered']} delivered since start, "
            f"{s['pending']} message(s) pending, {s['waiting']} notice(s) waiting, "
            f"{s['dropped']} dropped"
        )
        if s["last_drop"]:
            line += f" (last: {s['last_drop']})"
        if s["failing_since"]:
            line += f"; FAILING since {s['failing_since']}: {s['last_error']}"
        lines.append(line)
    return lines
