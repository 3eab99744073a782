"""The store package: the only place that speaks SQL or InfluxQL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from wall.store.base import (
    Event,
    InvalidPoint,
    KeyState,
    Point,
    PointsRefused,
    Store,
    StoreError,
    StoreUnavailable,
    check_tag_value,
)
from wall.store.settings import StoreSettings


def sqlite_path(settings: StoreSettings) -> Path | None:
    """The embedded store's file, when IOC_STORE names one."""
    parts = urlsplit(settings.store)
    # sqlite:////abs/path (the default's form) is /abs/path too, not //abs/path.
    return Path("/" + unquote(parts.path).lstrip("/")) if parts.scheme == "sqlite" else None


def open_store(settings: StoreSettings) -> Store:
    """The backend IOC_STORE names (already validated by the settings)."""
    path = sqlite_path(settings)
    if path is not None:
        from wall.store.sqlite import SQLiteStore

        return SQLiteStore(path, timeout_seconds=settings.influx_timeout_seconds)
    from wall.store.influx import InfluxStore

    return InfluxStore(
        settings.store,
        token=settings.influx_token,
        timeout_seconds=settings.influx_timeout_seconds,
        retries=settings.influx_retries,
        raw_days=dict(settings.retention_raw_days),
        rollup_days=settings.rollup_days,
    )


__all__ = [
    "Event",
    "InvalidPoint",
    "KeyState",
    "Point",
    "PointsRefused",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "check_tag_value",
    "open_store",
    "sqlite_path",
]
