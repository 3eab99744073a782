"""`python -m wall serve` told to stop (Ctrl+C, or SIGTERM from a service manager) while a
request is still waiting for the store: each worker ends within gunicorn's `graceful_timeout`
by itself, so the log has no "[ERROR] Worker … was sent SIGKILL" and the command exits at once."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import threading
import time

import pytest
import requests

from tests.browser_fixtures import WallProcess
from tests.test_signin_limit import sign_in
from wall.officers import add_officer
from wall.server import GRACEFUL_SECONDS
from wall.settings import Settings
from wall.store import open_store

PASSWORD = "Ca trực đêm 2026"


@pytest.mark.parametrize("stop", ["ctrl_c", "sigterm"])
def test_a_wall_stopped_while_a_request_waits_for_the_store_ends_its_workers_cleanly(
    tmp_path, stop
):
    db = tmp_path / "ioc.db"
    with open_store(Settings(store=f"sqlite:///{db}")) as store:
        store.check()
        add_officer(store, "nguyen.an", PASSWORD)
    log_path = tmp_path / "wall.log"
    wall = WallProcess(
        {"IOC_STORE": f"sqlite:///{db}", "IOC_CACHE_URL": f"file://{tmp_path / 'cache'}"},
        log_path=log_path,
        workers=1,
    )
    wall.start()
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the sign-in's write waits for this lock
        session = requests.Session()
        waiting = threading.Thread(
            target=lambda: _ignore_errors(lambda: sign_in(session, wall.url, "nguyen.an", PASSWORD))
        )
        waiting.start()
        time.sleep(2)  # the sign-in is now inside the store's busy wait
        assert waiting.is_alive()
        started = time.monotonic()
        if stop == "ctrl_c":
            os.killpg(wall.process.pid, signal.SIGINT)
        else:
            wall.process.terminate()
        status = wall.process.wait(30)
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        wall.stop()
    log = log_path.read_text()
    assert "SIGKILL" not in log and "[ERROR]" not in log, log[-2000:]
    assert took < GRACEFUL_SECONDS + 3, took
    assert status == 0, log[-2000:]


def _ignore_errors(call) -> None:
    with contextlib.suppress(requests.RequestException):  # the server stopped under it
        call()
