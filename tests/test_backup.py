"""`python -m wall backup DEST` and `python -m wall restore SRC`, run as an operator runs them,
against an embedded store that the city simulator keeps writing to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore

EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))


def wall(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wall", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def camera_points(path: Path) -> set[tuple[str, int]]:
    store = SQLiteStore(path)
    try:
        frame = store.points("camera_status", *EVER)
    finally:
        store.close()
    if frame.empty:
        return set()
    return set(zip(frame["camera_id"], frame["time"].astype("int64"), strict=True))


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "IOC_STORE": f"sqlite:///{tmp_path / 'live' / 'ioc.db'}",
        "IOC_MQTT_URL": "",
        "IOC_SECRET_KEY_FILE": str(tmp_path / "secret_key"),
    }


def test_a_backup_taken_while_the_simulator_writes_restores_to_what_it_held(tmp_path, env):
    live = tmp_path / "live" / "ioc.db"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "feeds", "simulate", "--backfill", "3h", "--rate", "300"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (live.exists() and camera_points(live)):
            assert simulator.poll() is None, simulator.stderr.read()
            assert time.monotonic() < deadline, "the simulator wrote nothing in 60 s"
            time.sleep(0.5)
        backups = tmp_path / "backups"
        backups.mkdir()
        taken = wall("backup", str(backups), env=env)
        assert taken.returncode == 0, taken.stderr
        (copy,) = backups.iterdir()
        assert f"backup written: {copy}" in taken.stdout
        assert wall("backup", str(copy), env=env).returncode == 2  # never over a file
        held = camera_points(copy)
        assert held

        refused = wall("restore", str(copy), env=env)
        assert refused.returncode == 1
        assert "in use by a running wall, feed or alert process" in refused.stderr
        assert simulator.poll() is None  # the running writer was not disturbed
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(60)
    written = camera_points(live)
    assert held < written  # the copy is one moment of the store, which went on growing

    restored = wall("restore", str(copy), env=env)
    assert restored.returncode == 0, restored.stderr
    assert camera_points(live) == held


def test_restore_refuses_a_file_that_is_not_a_backup_and_leaves_the_store_alone(tmp_path, env):
    live = tmp_path / "live" / "ioc.db"
    live.parent.mkdir()
    store = SQLiteStore(live)
    store.check()
    store.close()
    not_a_backup = tmp_path / "notes.db"
    not_a_backup.write_text("Biên bản giao ca\n" * 200)
    answer = wall("restore", str(not_a_backup), env=env)
    assert answer.returncode == 2
    assert f"{not_a_backup} is not a backup of this store" in answer.stderr
    assert "Traceback" not in answer.stderr
    missing = wall("restore", str(tmp_path / "nowhere.db"), env=env)
    assert missing.returncode == 2
    assert "there is no file" in missing.stderr
    SQLiteStore(live).check()  # still a store


def test_backup_of_an_influxdb_store_says_which_tools_to_use(env):
    env = {**env, "IOC_STORE": "influxdb://127.0.0.1:9/ioc"}
    for command in (["backup", "/tmp"], ["restore", "/etc/hostname"]):
        answer = wall(*command, env=env)
        assert answer.returncode == 2
        assert "influxd backup -portable" in answer.stderr
