"""Every screen of the wall for each shipped city profile, as `python -m wall demo` shows it.

Hòa Thành (three wards since 2025, UTC+7) and the fictional Lakeside (two units, three other
categories, four indicators, UTC+5:30): what a person sees is the profile's town, units and
categories, nothing of the other one. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from layouts import SCREENS
from tests.browser_fixtures import free_port, wait_healthy
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.city import load_profile
from wall.settings_core import PROJECT_DIR

PROFILES = ("hoa-thanh", "lakeside")


@contextmanager
def run_demo(city: str, folder: Path) -> Iterator[str]:
    """`IOC_CITY=<city> python -m wall demo --port P`, as README tells a person to run it; the
    wall's address while it runs."""
    port = free_port()
    env = {
        **os.environ,
        "IOC_CITY": city,
        "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
        "IOC_CACHE_URL": f"file://{folder / 'cache'}",
        "IOC_HEARTBEAT_DIR": str(folder / "heartbeat"),
        "IOC_REFRESH_SECONDS": "2",
    }
    env.pop("IOC_MQTT_URL", None)
    with (folder / "demo.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wall", "demo", "--port", str(port), "--workers", "1"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, 120)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module", params=PROFILES)
def demo(request, tmp_path_factory):
    city = request.param
    with run_demo(city, tmp_path_factory.mktemp(f"demo-{city}")) as url:
        yield city, url


def test_every_screen_shows_the_profiles_town_units_and_categories(demo, browser):
    city, url = demo
    profile = load_profile(city)
    other = load_profile(next(p for p in PROFILES if p != city))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    console_errors(browser)  # what the page of the previous town logged when it stopped
    for name in SCREENS:
        browser.get(f"{url}/{name}")
        # The demo's simulator writes its day of history first: give it time.
        wait_for(browser, SCREEN_DRAWN, timeout=90, what=f"{city} {name} drawn")
        time.sleep(1)
        subtitle = browser.execute_script(
            "return document.querySelector('.screen-frame:not(.screen-frame--hidden) "
            ".screen-subtitle').textContent"
        )
        assert profile.name_vi in subtitle
        text = browser.execute_script("return document.body.innerText")
        for unit in other.unit_names:
            assert unit not in text, f"{city} {name} shows {unit!r} of the other town"
        if name == "cameras":
            wards = browser.execute_script(
                "return Array.from(document.querySelectorAll('.ward-name')).map(e => e.textContent)"
            )
            assert set(wards) == set(profile.unit_names)  # today's units, in the profile's words
        if name == "reports":
            labels = {c.label_vi for c in profile.categories}
            legend = browser.execute_script(
                "return Array.from(document.querySelectorAll('.js-plotly-plot .legendtext'))"
                ".map(e => e.textContent).join(' | ')"
            )
            assert any(label in legend for label in labels), legend
            outlines = browser.execute_script(
                "return document.querySelector('#reports-map .js-plotly-plot').data"
                ".filter(t => t.mode === 'lines').length"
            )
            # Lakeside ships its units' boundaries: drawn under the reports; Hòa Thành none.
            assert outlines == (1 if profile.boundaries else 0)
        if name == "indicators":
            cards = browser.execute_script("return document.querySelectorAll('.kpi-card').length")
            assert cards == len(profile.indicators)
        browser.save_screenshot(str(SCREENSHOTS / f"city-{city}-{name}-1920x1080.png"))
    assert console_errors(browser) == []
