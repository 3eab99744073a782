"""Production serving of the wall: gunicorn (threaded workers), never the Flask dev server.

The app is built once and the workers are forked from it; each worker opens its own store
connection on first use, and they share query results through the cache (see wall.cache). The
process they are forked from never opens the store: SQLite's locks do not survive a fork, and a
worker forked while another thread of its parent held the write lock would wait for it forever.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from gunicorn.app.base import BaseApplication

from wall.app import create_app
from wall.settings import Settings

log = logging.getLogger(__name__)

GRACEFUL_SECONDS = 5  # how long gunicorn waits for a stopped worker before it kills it
WORKER_GRACE_SECONDS = 2  # how long a stopped worker waits for its requests in flight
QUIT_SECONDS = 1  # how long a worker told to quit may take to end


class WallServer(BaseApplication):
    def __init__(self, wsgi_app: Any, options: dict[str, Any]):
        self.wsgi_app = wsgi_app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn 25.1+
            # Its control socket would be written under $HOME, which the image's user may not
            # write; nothing here uses it.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self.wsgi_app


def _end_worker_now(_arbiter: Any, worker: Any) -> None:
    """A worker's last step (gunicorn's `worker_exit`): end the process here. Python would
    otherwise wait for the worker's request threads, and one still waiting for the store (or for
    another worker's answer) holds it past `graceful_timeout`, when gunicorn kills it and logs an
    error. Those requests are given up either way."""
    if os.getpid() != worker.pid:  # gunicorn also calls it in the arbiter, for a vanished worker
        return
    raised = sys.exc_info()[1]
    code = raised.code if isinstance(raised, SystemExit) else 1 if raised else 0
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


def _shorter_grace_in_worker(_arbiter: Any, worker: Any) -> None:
    """gunicorn's `post_fork`: a worker told to stop gracefully (SIGTERM) waits for its requests
    in flight for WORKER_GRACE_SECONDS, then takes up to a second more to see it: with the
    arbiter's own GRACEFUL_SECONDS on the same clock, a loaded machine saw it killed first."""
    worker.cfg.set("graceful_timeout", WORKER_GRACE_SECONDS)


def _end_when_told_to_stop(_worker: Any) -> None:
    """gunicorn's `post_worker_init`: a watchdog thread that ends this worker a set time after
    it is told to stop (SIGQUIT or SIGINT: QUIT_SECONDS; SIGTERM: its grace and QUIT_SECONDS
    more), whatever its main thread is doing. gunicorn stops a worker from a Python signal
    handler on the main thread; a demo test saw one worker never reach its last step within the
    arbiter's 5 s (then killed, logged as an error), so the deadline must not depend on that
    handler. Python writes each signal's number to the wakeup descriptor from C, before any
    handler runs."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)

    seconds_to_end = {
        signal.SIGQUIT: QUIT_SECONDS,
        signal.SIGINT: QUIT_SECONDS,
        signal.SIGTERM: WORKER_GRACE_SECONDS + QUIT_SECONDS,
    }

    def watch() -> None:
        while (signum := os.read(read_end, 1)[0]) not in seconds_to_end:
            pass
        time.sleep(seconds_to_end[signum])
        os._exit(0)

    threading.Thread(target=watch, name="stop-watchdog", daemon=True).start()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8050,
    workers: int = 2,
    threads: int = 8,
) -> None:
    """Serve until stopped (SIGINT/SIGTERM)."""
    app = create_app(settings)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # A wall request waits at most this long for the store; a stuck one is recycled.
        "timeout": 60,
        "graceful_timeout": GRACEFUL_SECONDS,
        "post_fork": _shorter_grace_in_worker,
        "post_worker_init": _end_when_told_to_stop,
        "worker_exit": _end_worker_now,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    log.info("wall serving on http://%s:%d/ (%d workers)", host, port, workers)
    WallServer(app.server, options).run()
