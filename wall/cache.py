"""The wall's one cache: store query results, held for one refresh tick, shared by every kiosk.

Fifty kiosks showing the same screen ask the same questions each tick; the first asker runs the
query and the others wait briefly for its answer (`shared`), so the store sees one set of queries
per tick. The default filesystem backend works across gunicorn worker processes on one machine;
Redis (setting `cache_url`) across wall replicas.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from flask import Flask
from flask_caching import Cache

from wall.settings import Settings

log = logging.getLogger(__name__)
cache = Cache()

T = TypeVar("T")
# How long another asker waits for the first one's answer before querying itself.
WAIT_FOR_OTHER_SECONDS = 10.0
POLL_SECONDS = 0.02


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"ioc-wall-cache-{os.getuid()}"


def cache_config(settings: Settings) -> dict[str, Any]:
    parts = urlsplit(settings.cache_url)
    if parts.scheme in ("redis", "rediss"):
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": settings.cache_url}
    folder = Path(unquote(parts.path)) if parts.scheme == "file" else default_cache_dir()
    return {
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": str(folder),
        "CACHE_THRESHOLD": 2000,
    }


def init_cache(server: Flask, settings: Settings) -> None:
    cache.init_app(server, config={**cache_config(settings), "CACHE_KEY_PREFIX": "ioc-wall:"})


def shared(key: str, timeout: float, compute: Callable[[], T]) -> T:
    """The cached value of `key`, or compute it once for every process asking at the same time.

    A failure is not cached: the next tick asks the store again.
    """
    found = cache.get(key)
    if found is not None:
        return found
    lock = f"{key}:computing"
    if cache.add(lock, 1, timeout=max(1, int(WAIT_FOR_OTHER_SECONDS))):
        try:
            value = compute()
            cache.set(key, value, timeout=max(1, round(timeout)))
            return value
        finally:
            cache.delete(lock)
    deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = cache.get(key)
        if found is not None:
            return found
        if cache.get(lock) is None:  # the first asker failed: try ourselves
            break
    log.info("cache %s: no answer from another worker in time; querying the store", key)
    return compute()
