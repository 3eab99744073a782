"""The city profile (wall/city.py, cities/<name>/): what `python -m wall check` says of it, every
mistake in it as one line and exit status 2 from the commands a person runs, former wards under
the ward that replaced them, and Open311 and the alert rules on both shipped towns."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.inventory import town_inventory
from feeds.known_values import KnownValues
from feeds.open311 import Open311Config, Open311Mapping
from feeds.payloads import parse_record
from tests.test_alert_evaluator import Clock, cameras, kinds, run_minutes
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.city import CITIES_DIR, load_profile
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Point, Store

HOA_THANH = load_profile("hoa-thanh")
T0 = datetime(2026, 12, 1, tzinfo=UTC)
LAKESIDE = load_profile("lakeside")


def run(command: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A command as a person types it, with a store of its own."""
    environ = {**os.environ, "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}", **env}
    return subprocess.run(
        [sys.executable, "-m", *command.split()],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        (
            "hoa-thanh",
            [
                "city profile: Hòa Thành",
                "time zone: Asia/Ho_Chi_Minh",
                "units (3): Long Hoa (also Phường Long Hoa, Long Thành Bắc, Trường Hòa, "
                "Trường Tây, Trường Đông",
                "categories (5): lighting, flooding, environment, urban_order, traffic",
                "devices: 320 cameras, 100 access points",
                "indicators: 17",
            ],
        ),
        (
            "lakeside",
            [
                "city profile: Thị trấn Hồ Xanh",
                "time zone: Asia/Kolkata",
                "units (2): Bờ Bắc (also Old Market, Ward 1), Bờ Nam (also Ward 2, Ward 3)",
                "categories (3): pothole, noise, water_leak",
                "devices: 14 cameras, 7 access points",
                "indicators: 5",
                "festival days: 2",
                "public holidays: 2",
                "boundaries: yes",
            ],
        ),
    ],
)
def test_wall_check_prints_the_profile_in_force(city: str, expected: list, tmp_path) -> None:
    done = run("wall check", tmp_path, IOC_CITY=city)
    assert done.returncode == 0, done.stderr
    for line in expected:
        assert line in done.stdout


def broken_copy(tmp_path: Path, edit) -> Path:
    """A copy of Lakeside's profile with one mistake in it."""
    folder = tmp_path / "town"
    shutil.copytree(CITIES_DIR / "lakeside", folder)
    toml = folder / "city.toml"
    toml.write_text(edit(toml.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


BROKEN = {
    "bad TOML": (lambda t: t.replace('code = "NB"', 'code = "NB'), r"city\.toml: not valid TOML"),
    "missing key": (
        lambda t: t.replace('timezone = "Asia/Kolkata"\n', ""),
        r"city\.toml: city\.timezone: is missing",
    ),
    "unknown key": (
        lambda t: t.replace("deadline_hours = 6", "deadline_hour = 6"),
        r"city\.toml: categories\[2\]\.deadline_hour: unknown key",
    ),
    "duplicate alias": (
        lambda t: t.replace('aliases = ["Ward 2", "Ward 3"]', 'aliases = ["Ward 2", "ward 1"]'),
        r"city\.toml: units\[2\]: 'ward 1' already names unit 'NB'",
    ),
    "bad zone": (
        lambda t: t.replace("Asia/Kolkata", "Asia/Lakeside"),
        r"city\.toml: city\.timezone: 'Asia/Lakeside' is not a known IANA time zone",
    ),
    "category of no handling unit": (
        lambda t: t.replace('handling_unit = "police"', 'handling_unit = "army"'),
        r"categories\[2\]\.handling_unit: 'army' is not one of \[\[handling_units\]\]",
    ),
    "indicator of no handling unit": (
        lambda t: t.replace('responsible_unit = "works"', 'responsible_unit = "parks"', 1),
        r"indicators\[1\]\.responsible_unit: 'parks' is not one of \[\[handling_units\]\]",
    ),
    "indicator direction": (
        lambda t: t.replace('direction = "lower"', 'direction = "down"'),
        r"indicators\[5\]\.direction: 'down' is not one of higher, lower",
    ),
    "indicator period": (
        lambda t: t.replace('period = "quarter"', 'period = "week"'),
        r"indicators\[2\]\.period: 'week' is not one of month, quarter, year",
    ),
    "due day past the next period": (
        lambda t: t.replace("due_day = 7", "due_day = 40", 1),
        r"indicators\[1\]\.due_day: must be a day from 1 to 28 after a month ends",
    ),
    "holiday not a date": (
        lambda t: t.replace('holidays = ["2026-12-25"', 'holidays = ["25/12/2026"'),
        r"city\.toml: holidays: '25/12/2026' is not a date \(YYYY-MM-DD\)",
    ),
    "indicator without English name": (
        lambda t: t.replace('name_en = "Visitors to the lake"\n', ""),
        r"indicators\[4\]\.name_en: is missing",
    ),
}


@pytest.mark.parametrize("command", ["wall check", "feeds simulate --duration 1s"])
@pytest.mark.parametrize("mistake", list(BROKEN))
def test_a_broken_profile_stops_every_command_in_one_line(
    command: str, mistake: str, tmp_path: Path
) -> None:
    edit, message = BROKEN[mistake]
    folder = broken_copy(tmp_path, edit)
    done = run(command, tmp_path, IOC_CITY=str(folder))
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert str(folder / "city.toml") in line
    assert re.search(message, line), line


def test_an_inventory_device_of_no_unit_is_named_with_file_and_line(tmp_path: Path) -> None:
    folder = broken_copy(tmp_path, lambda t: t)
    inventory = folder / "inventory.csv"
    inventory.write_text(
        inventory.read_text(encoding="utf-8") + "camera,cam-x,Ghost,Hill Ward,21.0,79.0,,\n",
        encoding="utf-8",
    )
    done = run("wall check", tmp_path, IOC_CITY=str(folder))
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert f"{inventory}:25: ward 'Hill Ward' is not a unit of the city profile" in line


def test_a_boundary_that_is_not_a_polygon_is_named(tmp_path: Path) -> None:
    folder = broken_copy(tmp_path, lambda t: t)
    boundaries = folder / "boundaries.geojson"
    boundaries.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        '"geometry": {"type": "Point", "coordinates": [79.0, 21.0]}}]}',
        encoding="utf-8",
    )
    done = run("wall check", tmp_path, IOC_CITY=str(folder))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"wall: bad setting {boundaries}: features[1]: must be a Polygon or MultiPolygon of "
        "[longitude, latitude] points"
    )


def test_an_unknown_profile_name_lists_the_shipped_ones(tmp_path: Path) -> None:
    done = run("wall check", tmp_path, IOC_CITY="atlantis")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "wall: bad setting IOC_CITY: 'atlantis' is neither a shipped profile (hoa-thanh, "
        "lakeside) nor a folder holding city.toml"
    )


def test_a_former_ward_is_stored_as_the_ward_that_replaced_it_and_nothing_is_lost() -> None:
    known = KnownValues.of(town_inventory(Settings()))
    sent = [
        Point("camera_status", {"camera_id": "c1", "ward": "Trường Tây"}, {"online": True}, T0),
        Point("camera_status", {"camera_id": "c2", "ward": "Long Hoa"}, {"online": True}, T0),
        Point("camera_status", {"camera_id": "c3", "ward": "Bờ Bắc"}, {"online": True}, T0),
    ]
    points, replaced = known.bound(sent)
    assert [p.tags["ward"] for p in points] == ["Long Hoa", "Long Hoa", "unknown"]
    assert points[0].fields["ward_given"] == "Trường Tây"  # what the device said
    assert "ward_given" not in points[1].fields
    assert points[2].fields["ward_given"] == "Bờ Bắc"  # another town's ward: not known here
    assert replaced == 1


def test_screens_group_history_of_former_wards_under_todays_units() -> None:
    import pandas as pd

    stored = pd.Series(["Trường Tây", "Long Thành Nam", "Hiệp Tân", "unknown", "Phố Mới", None])
    assert HOA_THANH.todays_units(stored).tolist()[:3] == ["Long Hoa", "Hòa Thành", "Thanh Điền"]
    assert pd.isna(HOA_THANH.todays_units(stored)[3])
    assert HOA_THANH.todays_units(stored)[4] == "Phố Mới"  # not the profile's: kept as it is


def lakeside_mapping(**values) -> Open311Mapping:
    settings = Settings(open311_url="http://127.0.0.1:1/open311/v2", city="lakeside", **values)
    return Open311Mapping(Open311Config.from_settings(settings))


def test_open311_maps_onto_the_fictional_towns_categories_and_units() -> None:
    m = lakeside_mapping()
    assert m.category({"service_code": "NZ-7", "service_name": "Complaint"}) == "noise"
    assert m.category({"service_code": "X", "service_name": "Burst pipe in lane"}) == "water_leak"
    assert m.category({"service_code": "Y", "service_name": "Pothole on road"}) == "pothole"
    # Hòa Thành's categories mean nothing here.
    assert m.category({"service_code": "traffic", "service_name": "Giao thông"}) == "other"
    assert m.ward({"address": "3 Mill Lane, Old Market, Lakeside District"}) == "Bờ Bắc"
    assert m.ward({"address": "Ward 3"}) == "Bờ Nam"
    assert m.ward({"address": "Long Hoa"}) is None
    coded = lakeside_mapping(open311_ward_field="ward_code", open311_wards=(("2", "Ward 2"),))
    assert coded.ward({"ward_code": "2"}) == "Bờ Nam"


def test_open311_wards_may_map_onto_no_ward_of_another_town() -> None:
    from wall.settings_core import SettingsError

    with pytest.raises(SettingsError, match="not one of the wards \\(Bờ Bắc, Bờ Nam\\)"):
        lakeside_mapping(open311_wards=(("7", "Long Hoa"),))


def overdue_report(rid: str, category: str, ward: str, hours_ago: float, clock: Clock) -> Point:
    created = clock.now - timedelta(hours=hours_ago)
    payload = {"category": category, "ward": ward, "status": "new", "title": "x"}
    [point] = parse_record("report", rid, {**payload, "created": created.isoformat()}, clock.now)
    return point


@pytest.mark.parametrize(
    ("profile", "late", "in_time", "former_wards", "unit"),
    [
        (
            HOA_THANH,
            ("flooding", 3),
            ("lighting", 30),
            ("Trường Tây", "Long Thành Bắc"),
            "Long Hoa",
        ),
        (LAKESIDE, ("noise", 7), ("pothole", 7), ("Old Market", "Ward 1"), "Bờ Bắc"),
    ],
)
def test_alert_rules_use_the_profiles_deadlines_and_units(
    store: Store, profile, late, in_time, former_wards, unit
) -> None:
    clock = Clock()
    ev = AlertEvaluator(
        store, check_rules({"feed_silent": {"enabled": False}}), clock=clock, profile=profile
    )
    store.write(
        [
            overdue_report("r-late", late[0], unit, late[1], clock),
            overdue_report("r-ok", in_time[0], unit, in_time[1], clock),
        ]
    )
    # One alert for the late category's handling unit (of this profile), naming the report.
    [raised] = ev.evaluate()
    handler = next(c.handling_unit for c in profile.categories if c.code == late[0])
    assert raised.key == f"report_overdue:{handler}"
    assert raised.data["facts"]["oldest"] == "r-late"
    # History recorded under former wards: one ward-wide outage of today's unit.
    for n, ward in enumerate(former_wards):
        cameras(store, clock, {f"cam-{n}a": True, f"cam-{n}b": True}, ward=ward)
    ev.evaluate()
    for n, ward in enumerate(former_wards):
        cameras(store, clock, {f"cam-{n}a": False, f"cam-{n}b": False}, ward=ward)
    raised = kinds(run_minutes(ev, clock, 3))
    assert ("raised", f"ward_cameras_offline:{unit}") in raised


GUARDED = ("wall", "layouts", "callbacks", "feeds")


def test_no_town_is_left_in_python() -> None:
    """The towns' names, units, former wards and category labels are data, never code."""
    names = set()
    for profile in (HOA_THANH, LAKESIDE):
        names |= {profile.name_vi, profile.name_en}
        for unit in profile.units:
            names |= {unit.name_vi, unit.name_en, *unit.aliases}
        names |= {c.label_vi for c in profile.categories} | {c.label_en for c in profile.categories}
    names = {n for n in names if len(n) > 4}  # codes like "NB" are not names
    found = []
    for folder in GUARDED:
        for path in (PROJECT_DIR / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found += [f"{path.relative_to(PROJECT_DIR)}: {n}" for n in names if n in text]
    assert found == []


def test_in_english_the_screens_name_units_as_the_profile_does_in_english() -> None:
    """Unit names are the profile's data in both languages: Lakeside's Bờ Bắc is North Bank on an
    English wall, on the cameras screen, the reports screen and the alert list alike."""
    from dataclasses import replace
    from zoneinfo import ZoneInfo

    import pandas as pd

    from layouts import alerts, cameras, reports
    from layouts.common import Context
    from tests.test_layouts import camera_latest, texts
    from wall.i18n import Translator

    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    english = Context(now, ZoneInfo(LAKESIDE.timezone), Translator("en"), 120.0, profile=LAKESIDE)
    latest = camera_latest([("c1", "Old Market", True, 0.5), ("c2", "SB", False, 0.5)])
    latest["time"] = pd.Timestamp(now) - pd.Timedelta(seconds=30)
    panels = texts(cameras.ward_panels({"cameras": latest}, english))
    assert "North Bank" in panels and "South Bank" in panels and "Bờ" not in panels
    assert "Bờ Bắc" in texts(
        cameras.ward_panels({"cameras": latest}, replace(english, t=Translator("vi")))
    )
    opened = pd.DataFrame(
        [{"report_id": "r1", "status": "new", "category": "pothole", "ward": "Ward 1",
          "time": pd.Timestamp(now), "title": "Pothole"}]
    )  # fmt: skip
    assert list(reports.ward_figure({"reports": opened}, english)["data"][0]["y"]) == ["North Bank"]
    frame = alerts.alerts_frame({})
    row = {column: "" for column in frame.columns} | {
        "key": "k", "rule": "camera_offline", "severity": "high", "state": "active_unack",
        "title_vi": "x", "title_en": "x", "ward": "Bờ Nam", "escalated": False,
        "raised": pd.Timestamp(now), "acked_by": "", "shelved_until": pd.NaT,
        "time": pd.Timestamp(now), "rank": 1,
    }  # fmt: skip
    shown = pd.DataFrame([row])
    assert "South Bank" in texts(alerts.alert_rows(shown, english))
