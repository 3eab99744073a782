"""What the worker subscribes to: the configured filters at QoS 1, optionally shared.

With a shared group, every filter becomes `$share/<group>/<filter>`: the broker hands each
message to one member of the group, so several workers split one stream (MQTT v5, and mosquitto
2 and EMQX also for 3.1.1 clients).

The wall publishes too (escalations, dead letters), outside the telemetry's `ioc/` by default. A
filter set to cover one of those topics anyway cannot leave it out (MQTT has no exclusions): the
worker passes over what arrives there, neither ingested nor counted as rejected, and says so
once at start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from paho.mqtt.client import topic_matches_sub

from wall.settings import Settings

log = logging.getLogger(__name__)

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


def wall_topics(settings: Settings) -> dict[str, str]:
    """The topics the wall itself publishes to, each with the setting that names it."""
    named = {
        "IOC_ALERT_ESCALATION_TOPIC": settings.alert_escalation_topic,
        "IOC_MQTT_DEAD_LETTER_TOPIC": settings.mqtt_dead_letter_topic,
    }
    return {topic: name for name, topic in named.items() if topic}


def wall_topics_received(settings: Settings) -> frozenset[str]:
    """The wall's own topics that the worker's filters cover (logged): its messages there are
    passed over."""
    covered = {}
    for topic, name in wall_topics(settings).items():
        for topic_filter in settings.mqtt_topics:
            if topic_matches_sub(topic_filter, topic):
                covered[topic] = (name, topic_filter)
    for topic, (name, topic_filter) in covered.items():
        log.warning(
            "IOC_MQTT_TOPICS filter %s covers %s, which the wall publishes (%s): "
            "messages there are passed over, not ingested",
            topic_filter,
            topic,
            name,
        )
    return frozenset(covered)
