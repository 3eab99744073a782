"""The embedded store's layout version: a store written by the code before version 2 (points as
JSON) is refused by the wall with one line naming `python -m wall migrate`, which rewrites it to
answer every read as before; a store of a newer version is refused."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from wall.settings_core import PROJECT_DIR, SettingsError
from wall.store import Event, Point, Store, StoreError
from wall.store.sqlite import SQLiteStore, migrate

# The last commit whose store wrote version 1: the tests write with that very code.
VERSION_1_CODE = "309f337a2af03091c236da6081d6acfe053ac281"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
END = T0 + timedelta(days=1)


# Names the old code imports that have moved since (the code is otherwise run as it was).
MOVED_IMPORTS = {
    "from wall.settings import SettingsError": "from wall.settings_core import SettingsError",
}


def module_of_commit(commit: str, path: str, name: str) -> ModuleType:
    """The module at `path` as of `commit`, as module `name`: old data written by its own code."""
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:{path}"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs the git history: {path} of {commit} writes the old data")
    for before, now in MOVED_IMPORTS.items():
        source = source.replace(before, now)
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    # Old stores predate Store methods added since (retention, kept alert state): they write the
    # old data with their own methods and never need the new ones.
    for value in list(module.__dict__.values()):
        if isinstance(value, type) and getattr(value, "__abstractmethods__", None):
            value.__abstractmethods__ = frozenset()
    return module


def version_1_module() -> ModuleType:
    module = module_of_commit(VERSION_1_CODE, "wall/store/sqlite.py", "store_version_1")
    return module


def town_points() -> list[Point]:
    """A little of everything the town writes: static names and places repeated in every
    status, a camera that moves ward, a point merged from two writes, a point without a field,
    a field with integers and decimals (version 1 let it), reports, events."""
    points = []
    for minute in range(0, 300, 7):
        at = T0 + timedelta(minutes=minute)
        for c in range(4):
            ward = "Hiệp Tân" if c or minute < 150 else "Trường Hòa"
            fields = {"online": (minute + c) % 5 != 0, "fps": 25 if c == 2 else 24.5 - c}
            if minute % 3:
                fields |= {"name": f'Ngã tư "số {c}"\nlàn 2', "lat": 11.29 + c, "lon": 106.13}
            points.append(Point("camera_status", {"camera_id": f"c{c}", "ward": ward}, fields, at))
        points.append(
            Point(
                "wifi_usage",
                {"ap_id": f"ap{minute % 3}", "ward": "Long Hoa"},
                {"clients": minute % 40, "up": True, "rx_bytes": 2**40 + minute, "capacity": 250},
                at,
            )
        )
    points.append(
        Point("camera_status", {"camera_id": "c1", "ward": "Hiệp Tân"}, {"note": "x"}, T0)
    )
    for n, status in enumerate(["new", "assigned", "resolved"]):
        points.append(
            Point(
                "field_report",
                {"report_id": "r1", "category": "den_duong", "ward": "Hiệp Tân"},
                {"status": status, "title": "Đèn hỏng"},
                T0 + timedelta(hours=n),
            )
        )
    return points


def answers(store: Store) -> list[pd.DataFrame]:
    return [
        store.points("camera_status", T0, END),
        store.points("camera_status", T0 + timedelta(minutes=61), T0 + timedelta(minutes=200)),
        store.points("wifi_usage", T0, END, where={"ap_id": "ap1"}),
        store.latest("camera_status", "camera_id"),
        store.latest("field_report", "report_id", unless={"status": ["closed"]}),
        store.changes("camera_status", "online", "camera_id", T0, END),
        store.changes("field_report", "status", "report_id", T0, END),
        store.aggregate("camera_status", "fps", "mean", T0, END, timedelta(hours=1), ["ward"]),
        store.aggregate(
            "wifi_usage", ["clients", "rx_bytes"], "max", T0, END, timedelta(minutes=30), ["ap_id"]
        ),
        store.count_latest("camera_status", "camera_id", ["ward"], where={"online": True}),
    ]


@pytest.fixture
def version_1_store(tmp_path) -> tuple[Path, list[pd.DataFrame], list[Event]]:
    """A store written by the code of version 1, and what it answered."""
    module = version_1_module()
    path = tmp_path / "ioc.db"
    events = [Event.new("alerts", "camera_offline:c1", "raised", at=T0, data={"n": 1})]
    with module.SQLiteStore(path) as old:
        old.write(town_points())
        old.append_events(events)
        before = answers(old)
    return path, before, events


def wall(*args: str, store: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wall", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": f"sqlite:///{store}"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wall_refuses_a_store_of_version_1_with_one_line_naming_the_migration(
    version_1_store,
) -> None:
    path, _, _ = version_1_store
    checked = wall("check", store=path)
    assert checked.returncode == 2
    [line] = checked.stderr.strip().splitlines()
    assert "version 1" in line and "python -m wall migrate" in line
    with pytest.raises(SettingsError, match="wall migrate"):
        SQLiteStore(path).check()
    served = wall("serve", "--port", "0", store=path)
    assert served.returncode == 2
    [served_line] = served.stderr.strip().splitlines()
    assert "python -m wall migrate" in served_line


def test_a_dry_run_says_what_the_migration_would_do_and_changes_nothing(version_1_store) -> None:
    path, _, _ = version_1_store
    stored = path.read_bytes()
    dry = wall("migrate", "--dry-run", store=path)
    assert dry.returncode == 0, dry.stderr
    points = len(town_points()) - 1  # the note merges into a point written before
    assert f"{points:,} points of 9 series in 3 measurements" in dry.stdout
    assert "43 integer values of fields that also hold decimals" in dry.stdout
    assert "Nothing was changed" in dry.stdout
    assert path.read_bytes() == stored
    wal = path.with_name("ioc.db-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # a reader's log, nothing written in it


def test_a_migrated_store_answers_every_read_as_before_and_migrating_again_changes_nothing(
    version_1_store,
) -> None:
    path, before, events = version_1_store
    migrated = wall("migrate", store=path)
    assert migrated.returncode == 0, migrated.stderr
    assert "is now a store of version 2" in migrated.stdout
    assert wall("check", store=path).returncode == 0
    # The reports are rewritten too (tests/test_report_migration.py): a report_slot tag more.
    with SQLiteStore(path) as store:
        for old, new in zip(before, answers(store), strict=True):
            pd.testing.assert_frame_equal(old, new[old.columns], check_dtype=False)
        assert store.events("alerts") == events
    again = wall("migrate", store=path)
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    with SQLiteStore(path) as store:
        for old, new in zip(before, answers(store), strict=True):
            pd.testing.assert_frame_equal(old, new[old.columns], check_dtype=False)


def test_an_interrupted_migration_goes_on_when_run_again(version_1_store) -> None:
    path, before, _ = version_1_store
    said: list[str] = []

    def interrupted_after_two_steps(line: str) -> None:
        said.append(line)
        if sum(s.startswith("rewritten") for s in said) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(path, report=interrupted_after_two_steps, step=40)
    with pytest.raises(SettingsError, match="version 1"):  # still refused: not yet migrated
        SQLiteStore(path).check()
    said.clear()
    migrate(path, report=said.append, step=40)
    assert "going on after the 80 points rewritten before" in said
    with SQLiteStore(path) as store:
        for old, new in zip(before, answers(store), strict=True):
            pd.testing.assert_frame_equal(old, new, check_dtype=False)


def test_a_migration_refuses_a_store_in_use(version_1_store) -> None:
    path, _, _ = version_1_store
    module = sys.modules["store_version_1"]
    with module.SQLiteStore(path) as running:
        running.check()  # holds the shared lock, as a running wall of version 1 does
        answer = wall("migrate", store=path)
    assert answer.returncode == 1
    assert "in use" in answer.stderr


def test_a_field_whose_values_cannot_share_one_type_stops_the_migration_before_any_change(
    tmp_path,
) -> None:
    module = version_1_module()
    path = tmp_path / "ioc.db"
    with module.SQLiteStore(path) as old:
        old.write(
            Point(
                "camera_status", {"camera_id": "c1"}, {"online": value}, T0 + timedelta(minutes=n)
            )
            for n, value in enumerate([True, False, 1])
        )
    answer = wall("migrate", store=path)
    assert answer.returncode == 2
    assert "field online of camera_status holds 2 boolean, 1 integer values" in answer.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM points").fetchone()[0] == 3


def test_the_wall_refuses_a_store_of_a_newer_version_with_one_line(tmp_path) -> None:
    path = tmp_path / "ioc.db"
    with SQLiteStore(path) as store:
        store.write([Point("camera_status", {"camera_id": "c1"}, {"online": True}, T0)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 3")
    checked = wall("check", store=path)
    assert checked.returncode == 2
    [line] = checked.stderr.strip().splitlines()
    assert "version 3" in line and "newer" in line
    with pytest.raises(StoreError, match="version 3"):
        migrate(path)
