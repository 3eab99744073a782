"""The store's settings: which backend, how to reach InfluxDB, how long points are kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from wall.settings_core import (
    PROJECT_DIR,
    Section,
    checked_port,
    json_or_value,
    masked_url,
    optional_text,
    positive_number,
    setting,
    whole_number,
)

DEFAULT_STORE = f"sqlite:///{PROJECT_DIR / 'data' / 'ioc.db'}"
STORE_SCHEMES = ("sqlite", "influxdb", "influxdbs")


def _store_url(value: str) -> str:
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if parts.scheme not in STORE_SCHEMES:
        raise ValueError(
            f"unknown scheme {parts.scheme or '(none)'!r} in {shown!r}; "
            "use sqlite:///path/to/file.db, influxdb://host:port/database "
            "or influxdbs://host:port/database"
        )
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ValueError(f"{shown!r} names no database file (sqlite:///path/to/file.db)")
    else:
        if not parts.hostname:
            raise ValueError(f"{shown!r} names no host (influxdb://host:port/database)")
        if not parts.path.strip("/") or "/" in parts.path.strip("/"):
            raise ValueError(f"{shown!r} must name one database (influxdb://host:port/database)")
        checked_port(value)
    return value


@dataclass(frozen=True)
class StoreSettings(Section):
    """Store (wall/store)"""

    store: str = setting(
        DEFAULT_STORE,
        _store_url,
        "Time-series store: `sqlite:///path/to/file.db` (embedded, the default, under `data/`) "
        "or `influxdb://host:port/database` (`influxdbs://` for TLS; "
        "`influxdb://user:password@host:port/database` for InfluxDB 1.x with authentication).",
    )
    influx_token: str | None = setting(
        None,
        optional_text,
        "Token sent as `Authorization: Token …` to InfluxDB 2.x/3.x (1.8+ also takes "
        "`user:password` here; 1.6.7 refuses this header: give the user and password in "
        "`IOC_STORE`, which every 1.x takes and which wins when both are set). Needed when the "
        "server demands authentication.",
        secret=True,
    )
    influx_timeout_seconds: float = setting(
        30.0,
        positive_number,
        "Timeout of one HTTP request to InfluxDB, in seconds. At city scale on InfluxDB 1.x the "
        "hourly read of the open field reports (one series per report) takes ~10 s.",
    )
    influx_retries: int = setting(
        4,
        whole_number,
        "How many times a failed InfluxDB request (connection error, 5xx, 429) is retried, "
        "with exponential backoff, before the store reports itself unavailable.",
    )


def _retention_days(value: Any) -> tuple[tuple[str, float], ...]:
    """{measurement: days} as sorted pairs: a name of letters, digits and _, at least a day
    (the rollups are made a day before the raw points go)."""
    value = json_or_value(value)
    if not isinstance(value, dict):
        raise ValueError(f"must be a table of measurement to days, not {type(value).__name__}")
    pairs = []
    for name, days in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
            raise ValueError(f"{name!r} is not a measurement name (letters, digits and _)")
        try:
            number = positive_number(days)
        except ValueError as exc:
            raise ValueError(f"days of {name}: {exc}") from None
        if number < 1:
            raise ValueError(f"days of {name}: {days!r} is less than one day")
        pairs.append((name, number))
    return tuple(sorted(pairs))


@dataclass(frozen=True)
class RetentionSettings(Section):
    """Retention (wall/store/retention.py, `python -m wall maintain`)"""

    retention_raw_days: tuple[tuple[str, float], ...] = setting(
        (("camera_status", 14.0), ("screen_health", 14.0), ("wifi_usage", 14.0)),
        _retention_days,
        "Days each measurement's raw points are kept (`python -m wall maintain`), as a table "
        "`{measurement = days}` (JSON in the variable), at least 1. Before they go, their 5-minute "
        "and hourly rollups (numbers: sum, count, min, max; booleans and text: last) are written, "
        "and the wall's longer views read those. On InfluxDB: the duration (plus a day) of the "
        "retention policy `raw_<measurement>`. A measurement not listed keeps every point: the "
        "field reports (their latest state over 90 days), the indicators and the feeds' health "
        "are few. The screens' heartbeats (50 screens: 72,000 points a day) are kept two weeks.",
    )
    retention_hourly_rollup_days: float = setting(
        1830.0,
        positive_number,
        "Days the hourly rollups (`<measurement>_1h`) are kept: five years.",
    )
    retention_5m_rollup_days: float = setting(
        31.0,
        positive_number,
        "Days the 5-minute rollups (`<measurement>_5m`) are kept: a month. Of telemetry sent "
        "every 5 minutes they take more room than the raw points (docs/benchmarks.md).",
    )
    retention_pass_minutes: float = setting(
        60.0,
        positive_number,
        "How often `python -m wall maintain` rolls up and removes old raw points, in minutes.",
    )

    @property
    def rollup_days(self) -> dict[timedelta, float]:
        """The days the rollups of each span are kept (wall.store.retention.keep)."""
        return {
            timedelta(hours=1): self.retention_hourly_rollup_days,
            timedelta(minutes=5): self.retention_5m_rollup_days,
        }
