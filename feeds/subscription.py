"""What the worker subscribes to: the configured filters at QoS 1, optionally shared.

With a shared group, every filter becomes `$share/<group>/<filter>`: the broker hands each
message to one member of the group, so several workers split one stream (MQTT v5, and mosquitto
2 and EMQX also for 3.1.1 clients).
"""

from __future__ import annotations

from collections.abc import Sequence

from wall.settings import Settings

QOS = 1  # at least once: the broker keeps a message until the worker acknowledges it


def subscription_filters(topics: Sequence[str], shared_group: str | None) -> list[str]:
    if not shared_group:
        return list(topics)
    return [f"$share/{shared_group}/{topic}" for topic in topics]


def subscriptions(settings: Settings) -> list[tuple[str, int]]:
    """(filter, QoS) pairs as paho's subscribe() takes them."""
    return [
        (f, QOS) for f in subscription_filters(settings.mqtt_topics, settings.mqtt_shared_group)
    ]
