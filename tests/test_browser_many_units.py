"""A town of fourteen units, as a province's city-level town can be since 2025 (Tây Ninh itself
has 14 wards): every screen draws all of them with nothing clipped (tests/clipping.js), at a
1080p panel, in Vietnamese, through `python -m wall demo` with IOC_CITY a
path to the profile. The profile is the fictional Lakeside's, its two units replaced by fourteen
with names as long as Vietnamese ward names get."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest

from feeds.inventory import generate_inventory, inventory_csv
from layouts import SCREENS
from tests.browser_fixtures import resize
from tests.test_browser import SCREENSHOTS, console_errors
from tests.test_browser_city_profiles import run_demo
from tests.test_browser_clipping import clipped_at_every_size
from wall.alerts.state import record
from wall.city import CITIES_DIR, load_profile
from wall.store import Event
from wall.store.sqlite import SQLiteStore

UNITS = (
    "Nguyễn Thị Minh Khai", "Trường Đông", "Long Thành Trung", "Hiệp Ninh", "Ninh Thạnh",
    "Bình Minh", "Tân Ninh", "Thanh Điền", "Gia Lộc", "Trảng Bàng", "An Tịnh", "Gò Dầu",
    "Phước Thạnh", "Hưng Thuận",
)  # fmt: skip
SIZES = ((1920, 1080),)  # at 960×540 fourteen wards crowd the reports' ward chart: a limit


def many_units_profile(folder):
    """Lakeside with fourteen units (one simulator area each) and an inventory made for them."""
    shutil.copytree(CITIES_DIR / "lakeside", folder)
    text = (folder / "city.toml").read_text(encoding="utf-8")
    text = text.replace('boundaries = "boundaries.geojson"\n', "")
    units = "".join(
        f'[[units]]\ncode = "u{n:02d}"\nname_vi = "Phường {name}"\nname_en = "{name} ward"\n'
        f"aliases = []\n\n"
        for n, name in enumerate(UNITS)
    )
    areas = "".join(
        f'[[simulator.areas]]\nname = "Khu {n}"\nunit = "u{n:02d}"\n'
        f"centre = [{20.992 + 0.002 * n:.3f}, {78.992 + 0.002 * n:.3f}]\n"
        f"spread = 0.002\nshare = 1.0\n\n"
        for n in range(len(UNITS))
    )
    committees = "".join(  # each ward's committee handles reports: sixteen handling units
        f'[[handling_units]]\ncode = "ubnd-u{n:02d}"\nname_vi = "UBND phường {name}"\n'
        f'name_en = "{name} ward committee"\n\n'
        for n, name in enumerate(UNITS)
    )
    text = re.sub(
        r"\[\[units\]\].*?(?=\[\[handling_units\]\])", units + committees, text, count=1, flags=re.S
    )
    text = re.sub(
        r"\[\[simulator\.areas\]\].*?(?=\[\[simulator\.sites\]\])", areas, text, flags=re.S
    )
    text = text.replace('unit = "North Bank"', 'unit = "u00"')
    (folder / "city.toml").write_text(text, encoding="utf-8")
    profile = load_profile(str(folder))
    inventory = generate_inventory(profile, cameras=160, access_points=50)
    (folder / "inventory.csv").write_text(inventory_csv(inventory, profile), encoding="utf-8")
    return profile


def open_anomalies(profile, now: datetime) -> list[Event]:
    """The longest-named ward's cameras down out of their usual band, and the first indicator's
    value below its own, as the anomaly rule raises them: their marks must fit too."""
    ward, indicator = profile.units[0], profile.indicators[0]
    usual = {"usual": 2.0, "level": "weekday_hour", "weekday": 6, "hour": 9, "minute": 0}
    facts = {
        f"anomaly:cameras:{ward.name_vi}": {"kind": "cameras", "name": ward.name_vi,
            "name_vi": ward.name_vi, "name_en": ward.name_en, "value": 11, "low": 0,
            "high": 4, **usual},
        f"anomaly:indicator:{indicator.indicator_id}": {"kind": "indicator",
            "name": indicator.indicator_id, "name_vi": indicator.name_vi,
            "name_en": indicator.name_en, "value": 41.5, "low": 85.2, "high": 96.8, **usual},
    }  # fmt: skip
    data = {"severity": "medium", "rule": "anomaly", "ward": ward.name_vi}
    return [
        Event.new("alerts", key, "raised", actor="system", data={**data, "facts": found}, at=now)
        for key, found in facts.items()
    ]


@pytest.fixture(scope="module")
def many_units_demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("many-units")
    profile = many_units_profile(folder / "city")
    with run_demo(str(folder / "city"), folder) as url:
        with SQLiteStore(folder / "ioc.db") as store:
            record(store, open_anomalies(profile, datetime.now(UTC)))
        yield profile, url


def test_every_screen_draws_fourteen_units_with_nothing_clipped(many_units_demo, browser):
    profile, url = many_units_demo
    assert len(profile.unit_names) == len(UNITS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = []
    for name in SCREENS:
        found += clipped_at_every_size(
            browser, f"{url}/{name}", f"units14-{name}", SIZES, banner_in_full=False
        )
        if name == "cameras":
            wards = browser.execute_script(
                "return Array.from(document.querySelectorAll('.ward-name')).map(e => e.textContent)"
            )
            assert set(wards) == set(profile.unit_names)
            marked = browser.execute_script(
                "return Array.from(document.querySelectorAll('.ward-panel--anomaly .ward-name'))"
                ".map(e => e.textContent)"
            )
            assert marked == [profile.units[0].name_vi]  # its anomaly's mark fits (above)
        if name == "indicators":
            assert (
                browser.execute_script(
                    "return document.querySelectorAll('.kpi-card--anomaly .anomaly-note').length"
                )
                == 1
            )
    resize(browser, 1920, 1080)
    assert found == [], "\n".join(found)
    assert console_errors(browser) == []
