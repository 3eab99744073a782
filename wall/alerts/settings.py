"""The alert service's settings: the rules' parameters, how often they run, escalation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wall.alerts.rules import check_rules
from wall.settings_core import Section, json_or_value, positive_number, setting, text


def _alert_rules(value: Any) -> dict:
    return check_rules(json_or_value(value) or {})


@dataclass(frozen=True)
class AlertSettings(Section):
    """Alerts (wall/alerts, `python -m wall alerts`)"""

    alert_rules: Mapping[str, Mapping[str, Any]] | None = setting(
        None,
        _alert_rules,
        "Alert rules and their parameters: `[alert_rules.camera_offline]` tables in the settings "
        "file (JSON in the environment) override the defaults listed in docs/alerts.md "
        "(severity, minutes to hold before raising, clear_minutes, thresholds, enabled).",
    )
    alert_evaluate_seconds: float = setting(
        15.0,
        positive_number,
        "How often `python -m wall alerts` evaluates the rules, in seconds.",
    )
    alert_escalate_minutes: float = setting(
        15.0,
        positive_number,
        "An unacknowledged critical alert older than this escalates: shown loudly on the wall "
        "and published to `alert_escalation_topic`.",
    )
    alert_escalation_topic: str = setting(
        "ioc-wall/alerts/escalated",
        text,
        "MQTT topic escalations are published to (QoS 1, JSON) when `mqtt_url` is set and no "
        "mqtt notification channel is declared; an mqtt channel's default topic. Outside the "
        "feed workers' `mqtt_topics`, which pass over what arrives there.",
    )
    alert_max_shelve_hours: float = setting(
        8.0, positive_number, "Longest time an officer may shelve an alert for, in hours."
    )
