"""The store package: the only place that speaks SQL or InfluxQL."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from wall.settings import Settings
from wall.store.base import (
    Event,
    InvalidPoint,
    Point,
    PointsRefused,
    Store,
    StoreError,
    StoreUnavailable,
)


def open_store(settings: Settings) -> Store:
    """The backend IOC_STORE names (already validated by the settings)."""
    parts = urlsplit(settings.store)
    if parts.scheme == "sqlite":
        from wall.store.sqlite import SQLiteStore

        return SQLiteStore(unquote(parts.path), timeout_seconds=settings.influx_timeout_seconds)
    from wall.store.influx import InfluxStore

    return InfluxStore(
        settings.store,
        token=settings.influx_token,
        timeout_seconds=settings.influx_timeout_seconds,
        retries=settings.influx_retries,
    )


__all__ = [
    "Event",
    "InvalidPoint",
    "Point",
    "PointsRefused",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]
