"""The wall's one cache: store query results, held for one refresh tick, shared by every kiosk.

Fifty kiosks showing the same screen ask the same questions each tick; the first asker runs the
query and the others wait briefly for its answer (`shared`), so the store sees one set of queries
per tick. The default filesystem backend works across gunicorn worker processes on one machine;
Redis (setting `cache_url`) across wall replicas.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from flask import Flask, current_app
from flask_caching import Cache
from redis.exceptions import LockError, RedisError

from wall.writable import require_writable

if TYPE_CHECKING:  # the settings import the alert rules, which use the cache
    from wall.settings import Settings

log = logging.getLogger(__name__)
cache = Cache()
# What a cache backend raises when it cannot be reached or written.
CACHE_DOWN = (RedisError, OSError)

T = TypeVar("T")
# How long another asker waits for the first one's answer before querying itself.
WAIT_FOR_OTHER_SECONDS = 10.0
POLL_SECONDS = 0.02
LOCK_DIR_CONFIG = "IOC_CACHE_LOCK_DIR"
REDIS_TIMEOUT_SECONDS = 2.0


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"ioc-wall-cache-{os.getuid()}"


def cache_config(settings: Settings) -> dict[str, Any]:
    parts = urlsplit(settings.cache_url)
    if parts.scheme in ("redis", "rediss"):
        return {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_URL": settings.cache_url,
            # A Redis that stops answering (frozen, or cut off without a reset) fails each ask
            # after this long, like a stopped one, instead of holding the request for minutes.
            "CACHE_OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    folder = Path(unquote(parts.path)) if parts.scheme == "file" else default_cache_dir()
    return {
        "CACHE_TYPE": "FileSystemCache",
        "CACHE_DIR": str(folder),
        "CACHE_THRESHOLD": 2000,
    }


def init_cache(server: Flask, settings: Settings) -> None:
    config = cache_config(settings)
    locks = None
    if config["CACHE_TYPE"] == "FileSystemCache":
        locks = Path(f"{config['CACHE_DIR']}-locks")
        for folder in (Path(config["CACHE_DIR"]), locks):
            require_writable(folder, "IOC_CACHE_URL", "keep the cache")
    cache.init_app(server, config={**config, "CACHE_KEY_PREFIX": "ioc-wall:"})
    server.config[LOCK_DIR_CONFIG] = locks


def shared(key: str, timeout: float, compute: Callable[[], T]) -> T:
    """The value of `key` for the current period of `timeout` seconds (the refresh tick, aligned
    to the clock): computed once per period, whichever threads and processes ask during it.
    A failure is not cached: the next ask tries the store again. With the cache itself away
    (Redis down, folder unwritable) every ask goes to the store: slower, never blank."""
    try:
        return _shared(key, timeout, compute)
    except CACHE_DOWN as exc:
        _warn_cache_down(exc)
        return compute()


def remembered(key: str) -> Any:
    """A value kept across ticks, or None (also when the cache is away)."""
    try:
        return cache.get(key)
    except CACHE_DOWN as exc:
        _warn_cache_down(exc)
        return None


def remember(key: str, value: Any, timeout: float) -> None:
    try:
        cache.set(key, value, timeout=math.ceil(timeout))
    except CACHE_DOWN as exc:
        _warn_cache_down(exc)


def first_within(key: str, seconds: float) -> bool:
    """Whether this is the first call for `key` within `seconds`, counted by every thread,
    process and replica sharing the cache. With the cache away: True (each call is first)."""
    try:
        return _acquire(f"first:{key}", seconds)
    except CACHE_DOWN as exc:
        _warn_cache_down(exc)
        return True


def in_background(key: str, hold_seconds: float, work: Callable[[], None]) -> bool:
    """Start `work` in a thread of its own, unless it already runs for `key` in any thread or
    process (then nothing: slow work never piles up). A process that dies while working holds
    `key` `hold_seconds` at most. Returns whether it started."""
    key = f"background:{key}"
    try:
        if not _acquire(key, hold_seconds):
            return False
    except CACHE_DOWN as exc:
        _warn_cache_down(exc)
        return False
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception as exc:  # the next asker starts it again
                log.warning("%s failed: %s", key, exc)
            finally:
                try:
                    _release(key)
                except CACHE_DOWN as exc:
                    _warn_cache_down(exc)

    threading.Thread(target=run, name=key, daemon=True).start()
    return True


@contextmanager
def exclusive(name: str, hold_seconds: float = 10.0) -> Iterator[None]:
    """`name` held by this thread against every other thread, process and replica sharing the
    cache, waiting for it up to `hold_seconds`. Folder caches: an flock (released by the system
    when a holder dies); Redis: a Redis lock (a dead holder keeps it `hold_seconds` at most).
    Raises one of CACHE_DOWN when the cache is away or the lock is not had in time."""
    folder = current_app.config.get(LOCK_DIR_CONFIG)
    if folder is not None:
        with (folder / f"{name}.flock").open("a") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            yield
        return
    backend = cache.cache
    lock = backend._write_client.lock(
        f"{backend.key_prefix}{name}:exclusive",
        timeout=hold_seconds,
        sleep=0.005,
        blocking_timeout=hold_seconds,
    )
    if not lock.acquire():
        raise LockError(f"{name} still held by another process after {hold_seconds} s")
    try:
        yield
    finally:
        lock.release()


_last_cache_warning = 0.0


def _warn_cache_down(exc: Exception) -> None:
    global _last_cache_warning
    if time.monotonic() - _last_cache_warning > 60:  # one line a minute, not one per request
        _last_cache_warning = time.monotonic()
        log.warning("cache unavailable (%s); asking the store directly", exc)


def _shared(key: str, timeout: float, compute: Callable[[], T]) -> T:
    key = f"{key}@{int(time.time() // timeout)}"
    found = cache.get(key)
    if found is not None:
        return found
    with _local_lock(key):  # threads of this process queue here
        found = cache.get(key)
        if found is not None:
            return found
        if _acquire(key):  # and processes here
            try:
                value = compute()
                # Kept a little past the period (the backends count whole seconds).
                cache.set(key, value, timeout=math.ceil(timeout) + 1)
                return value
            finally:
                _release(key)
        deadline = time.monotonic() + WAIT_FOR_OTHER_SECONDS
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            found = cache.get(key)
            if found is not None:
                return found
            if not _held(key):  # the other process failed: try ourselves
                break
        log.info("cache %s: no answer from another worker in time; querying the store", key)
        return compute()


_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def _local_lock(key: str) -> threading.Lock:
    with _local_locks_guard:
        return _local_locks.setdefault(key, threading.Lock())


def _lock_file(key: str) -> Path | None:
    """Folder caches lock with an exclusively created file (atomic on one machine); others (Redis)
    with the backend's atomic add."""
    folder = current_app.config.get(LOCK_DIR_CONFIG)
    if folder is None:
        return None
    return folder / hashlib.sha256(key.encode()).hexdigest()


def _acquire(key: str, hold_seconds: float = WAIT_FOR_OTHER_SECONDS) -> bool:
    """`key` locked for this thread, unless another thread or process holds it. A holder that
    died keeps it `hold_seconds` at most."""
    path = _lock_file(key)
    if path is None:
        return bool(cache.add(f"{key}:computing", 1, timeout=math.ceil(hold_seconds)))
    try:
        if time.time() - path.stat().st_mtime > hold_seconds:
            path.unlink(missing_ok=True)  # left by a process that died while computing
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _held(key: str) -> bool:
    path = _lock_file(key)
    return path.exists() if path is not None else cache.get(f"{key}:computing") is not None


def _release(key: str) -> None:
    path = _lock_file(key)
    if path is None:
        cache.delete(f"{key}:computing")
    else:
        path.unlink(missing_ok=True)
