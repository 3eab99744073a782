"""The inventory file: the shipped Hòa Thành file loads, a city's own file is read exactly, and
every mistake is reported with file, line and problem."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.inventory import (
    InventoryError,
    generate_inventory,
    inventory_csv,
    load_inventory,
    town_inventory,
)
from wall.city import load_profile
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR, SettingsError

HOA_THANH = load_profile("hoa-thanh")
DEFAULT_INVENTORY = HOA_THANH.inventory_path

HEADER = "kind,id,name,ward,lat,lon,site,capacity\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_hoa_thanh_inventory_is_the_default_and_covers_todays_wards() -> None:
    assert Settings().inventory is None  # the profile's
    inventory = town_inventory(Settings())
    assert inventory.profile.inventory_path == DEFAULT_INVENTORY
    assert 200 <= len(inventory.cameras) <= 600
    assert 80 <= len(inventory.access_points) <= 150
    # Since 1 July 2025 the former town's eight units are three wards.
    assert set(inventory.wards) == {"Long Hoa", "Hòa Thành", "Thanh Điền"}
    for device in (*inventory.cameras, *inventory.access_points):
        assert 11.28 <= device.lat <= 11.32 and 106.10 <= device.lon <= 106.16, device
    [holy_see_site] = [s for s in HOA_THANH.simulation.sites if s.crowd]
    holy_see = [a for a in inventory.access_points if a.site == holy_see_site.name]
    # The Holy See was in the former Long Thành Bắc, now part of Long Hoa.
    assert holy_see and {a.ward for a in holy_see} == {"Long Hoa"}
    assert all(math.dist((a.lat, a.lon), holy_see_site.centre) < 0.002 for a in holy_see)


def generated(city: str) -> str:
    """What `IOC_CITY=<city> python -m feeds.inventory` writes."""
    return subprocess.run(
        [sys.executable, "-m", "feeds.inventory"],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_CITY": city},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_shipped_file_is_what_the_generator_writes() -> None:
    """So `python -m feeds.inventory` reproduces it and nobody hand-edits generated data."""
    expected = inventory_csv(generate_inventory(HOA_THANH), HOA_THANH)
    assert DEFAULT_INVENTORY.read_text(encoding="utf-8") == expected
    assert generated("hoa-thanh") == expected


def test_the_generator_writes_a_plausible_inventory_of_another_town(tmp_path: Path) -> None:
    """`IOC_CITY=<town> python -m feeds.inventory > inventory.csv` (docs/city-profile.md)."""
    lakeside = load_profile("lakeside")
    inventory = load_inventory(write(tmp_path, generated("lakeside")), lakeside)
    assert (len(inventory.cameras), len(inventory.access_points)) == (320, 100)
    assert set(inventory.wards) == set(lakeside.unit_names)
    (south, west), (north, east) = lakeside.bounds
    for device in (*inventory.cameras, *inventory.access_points):
        assert south <= device.lat <= north and west <= device.lon <= east


def test_a_device_of_a_former_ward_is_read_as_the_ward_that_replaced_it(tmp_path: Path) -> None:
    text = HEADER + (
        "camera,c1,X,Trường Tây,11.3,106.1,,\n"
        "camera,c2,Y,long thanh nam,11.3,106.1,,\n"
        "camera,c3,Z,Hiệp Tân,11.3,106.1,,\n"
    )
    inventory = load_inventory(write(tmp_path, text), HOA_THANH)
    assert [c.ward for c in inventory.cameras] == ["Long Hoa", "Hòa Thành", "Thanh Điền"]


def test_a_ward_of_no_unit_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + "camera,c1,X,Long Hoa,11.3,106.1,,\ncamera,c2,Y,Bến Cát,1,1,,\n"
    )
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, HOA_THANH)
    assert str(caught.value).startswith(f"{path}:3: ward 'Bến Cát' is not a unit")


def test_generator_is_deterministic_and_scales() -> None:
    assert generate_inventory(HOA_THANH, seed=7) == generate_inventory(HOA_THANH, seed=7)
    assert generate_inventory(HOA_THANH, seed=7) != generate_inventory(HOA_THANH, seed=8)
    big = generate_inventory(HOA_THANH, cameras=3000, access_points=1000)
    assert len(big.cameras) == 3000 and len(big.access_points) == 1000
    assert len({c.camera_id for c in big.cameras}) == 3000


def test_city_file_with_comments_bom_quotes_and_column_order(tmp_path: Path) -> None:
    text = (
        "\ufeff# Camera và điểm phát WiFi của thị xã\n"
        "id,kind,name,ward,lat,lon,capacity,site\n"
        'c-1,camera,"Ngã tư Phạm Hùng, hướng chợ",Long Hoa,11.29,106.13,,\n'
        "\n"
        "w-1,ap,Chợ Long Hoa – cổng 1,Long Hoa,11.294,106.136,150,Chợ Long Hoa\n"
        "w-2,ap,Nhà văn hóa,Hiệp Tân,11.31,106.14,60,\n"
    )
    inventory = load_inventory(write(tmp_path, text), HOA_THANH)
    [camera] = inventory.cameras
    assert (camera.camera_id, camera.name, camera.ward) == (
        "c-1",
        "Ngã tư Phạm Hùng, hướng chợ",
        "Long Hoa",
    )
    assert (camera.lat, camera.lon) == (11.29, 106.13)
    first, second = inventory.access_points
    assert (first.ap_id, first.site, first.capacity) == ("w-1", "Chợ Long Hoa", 150)
    assert second.site == "Nhà văn hóa"  # no site: the AP's name is its site


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("bus,b1,Xe buýt,Long Hoa,11.3,106.1,,\n", 2, "kind 'bus'"),
        ("camera,cam 1,X,Long Hoa,11.3,106.1,,\n", 2, "id 'cam 1'"),
        ("camera,c1,,Long Hoa,11.3,106.1,,\n", 2, "name"),
        ("camera,c1,X,,11.3,106.1,,\n", 2, "ward is empty"),
        ("camera,c1,X,Long Hoa,11;3,106.1,,\n", 2, "lat '11;3' is not a number"),
        ("camera,c1,X,Long Hoa,11.3,186.1,,\n", 2, "lon '186.1' must be between"),
        ("ap,a1,X,Long Hoa,11.3,106.1,Chợ,\n", 2, "capacity '' of AP"),
        ("ap,a1,X,Long Hoa,11.3,106.1,Chợ,-5\n", 2, "capacity '-5'"),
        (
            "camera,c1,X,Long Hoa,11.3,106.1,,\n# ok\ncamera,c1,Y,Long Hoa,11.3,106.1,,\n",
            4,
            "line 2",
        ),
        ("camera,c1,Ngã tư A, B,Long Hoa,11.3,106.1,,\n", 2, "quote names"),
    ],
)
def test_bad_rows_are_reported_with_file_line_and_problem(
    tmp_path: Path, body: str, line: int, problem: str
) -> None:
    path = write(tmp_path, HEADER + body)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, HOA_THANH)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("kind,id,name,ward,lat\n", "missing columns ['lon']"),
        ("kind,id,name,ward,lat,lon,colour\n", "unknown columns ['colour']"),
    ],
)
def test_bad_header_is_reported(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, text), HOA_THANH)
    assert problem in str(caught.value)


def test_unreadable_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        load_inventory(tmp_path / "missing.csv", HOA_THANH)
    path = tmp_path / "latin1.csv"  # a spreadsheet saved in a legacy encoding
    path.write_bytes(HEADER.encode() + "camera,c1,Thành,Long Hoa,11.3,106.1,,\n".encode("latin-1"))
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory(path, HOA_THANH)


def test_inventory_setting_names_a_file_that_exists(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER)
    assert load_settings(environ={"IOC_INVENTORY": str(path)}).inventory == str(path)
    with pytest.raises(SettingsError, match="IOC_INVENTORY"):
        load_settings(environ={"IOC_INVENTORY": str(tmp_path / "nope.csv")})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("mqtt://broker:1883", "mqtt://broker:1883"), ("mqtts://b.example", "mqtts://b.example")],
)
def test_mqtt_url_setting(value: str, expected: str) -> None:
    assert load_settings(environ={"IOC_MQTT_URL": value}).mqtt_url == expected
    assert load_settings(environ={"IOC_MQTT_URL": ""}).mqtt_url is None


@pytest.mark.parametrize("value", ["http://broker:1883", "mqtt://", "mqtt://b:99999", "broker"])
def test_bad_mqtt_url_is_a_settings_error(value: str) -> None:
    with pytest.raises(SettingsError, match="IOC_MQTT_URL"):
        load_settings(environ={"IOC_MQTT_URL": value})
