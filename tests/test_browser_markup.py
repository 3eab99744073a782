"""Text from feeds is never markup, in real headless Chromium: hostile text in every free-text
field the feed contract accepts goes in through the feed workers' own path (payload validation
and the batched writer), an alert about it is raised by the real evaluator, and every screen and
the officers' console must show it literally, with no link, bold or line break made from it and
nothing in the browser console. Screenshots land in test-artifacts/screenshots/ (look at them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By

from feeds.ingest import Ingestor
from feeds.known_values import KnownValues
from feeds.payloads import rfc3339, topic_for
from layouts import SCREENS
from tests.browser_fixtures import seed, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import RULE_DEFAULTS, check_rules
from wall.officers import add_officer
from wall.store.sqlite import SQLiteStore

EVIL = "http://evil.test/"
# One hostile text per field; each uses tags plotly reads in figure text (<a href>, <b>, <i>,
# <br>, <span style>, <sub>, <sup>, <em>, <u>, <s>), an entity, and a template placeholder.
# Those drawn as chart labels are short enough not to be cut (LABEL_CHARS, 48 on the timeline).
CAMERA_NAME = f'<a href="{EVIL}c"><b>Cam</b></a> %{{y}}'
CAMERA_WARD = "<i>Phường</i><br>Hiệp Ninh"
SITE = '<span style="color:red">Chợ&amp;'
AP_WARD = "<sub>Long</sub> <u>Thành Bắc</u>"
REPORT_TITLE = f'<a href="{EVIL}title"><b>Ngập</b></a> &lt;i&gt;'
REPORT_WARD = f'<a href="{EVIL}w">Hoa'
INDICATOR_NAME = "<em>Hồ sơ</em><br>đúng hạn"
UNIT = "<sup>%</sup>"
PERIOD = "<b>2026-11</b>"
PASSWORD = "Ca trực đêm 2026"

# What each screen must show as written, in its figures (plotly SVG) and elsewhere (the page).
IN_FIGURES = {
    "overview": (),
    "cameras": (CAMERA_NAME,),
    "wifi": (SITE,),
    "reports": (REPORT_WARD, CAMERA_WARD),
    "indicators": (),
    "accountability": (),
    "alerts": (),
}
ON_PAGE = {
    "overview": (),
    "cameras": (CAMERA_NAME, CAMERA_WARD),
    "wifi": (f"{SITE} (ap-xss)",),
    "reports": (REPORT_TITLE,),
    "indicators": (INDICATOR_NAME, UNIT),
    "accountability": (),  # the profile's names and figures; this seed has no feed_health
    "alerts": (CAMERA_NAME,),
}

# Markup made from data: a link or a source pointing at the hostile address,
# and, inside plotly's drawings, styled or extra-line text (the wall's own figure text has none).
INJECTED = """
const evil = Array.from(document.querySelectorAll('*')).filter(
    e => Array.from(e.attributes).some(
        a => /(href|src)$/.test(a.name) && a.value.includes('evil.test')))
    .map(e => e.outerHTML.slice(0, 120));
const svgs = Array.from(document.querySelectorAll('.js-plotly-plot svg'));
const styled = svgs.flatMap(s => Array.from(s.querySelectorAll(
    'tspan[style], tspan.line, a, text b, text i')).map(e => e.outerHTML.slice(0, 120)));
const html = Array.from(document.querySelectorAll('main b, main i, main em, main sub, main sup,'
    + ' main u, main s, main br, main a[href*="evil"]')).map(e => e.outerHTML.slice(0, 120));
return {evil: evil, styled: styled, html: html};
"""
FIGURE_TEXT = """
return Array.from(document.querySelectorAll('.js-plotly-plot svg text'))
    .map(t => t.textContent).join('\\n');
"""


def message(kind: str, entity: str, fields: dict, at: datetime) -> tuple[str, bytes, datetime]:
    return topic_for(kind, entity), json.dumps({"ts": rfc3339(at), **fields}).encode(), at


def hostile_messages(now: datetime) -> list[tuple[str, bytes, datetime]]:
    """The feed messages a sender could publish, as MQTT would deliver them."""
    camera = {"ward": CAMERA_WARD, "name": CAMERA_NAME, "lat": 11.2905, "lon": 106.1322}
    return [
        # Down for almost the whole day: the longest outage on the cameras' timeline.
        message("camera", "cam-xss", {**camera, "online": True}, now - timedelta(hours=23.5)),
        message("camera", "cam-xss", {**camera, "online": False}, now - timedelta(hours=23)),
        message("camera", "cam-xss", {**camera, "online": False}, now - timedelta(seconds=2)),
        # The most loaded access point and the busiest site.
        message(
            "wifi",
            "ap-xss",
            {"ward": AP_WARD, "site": SITE, "up": True, "clients": 1900, "capacity": 2000},
            now - timedelta(seconds=2),
        ),
        message(
            "report",
            "pa-xss",
            {
                "category": "flooding",
                "ward": REPORT_WARD,
                "status": "new",
                "title": REPORT_TITLE,
                "lat": 11.2905,
                "lon": 106.1322,
                "created": rfc3339(now - timedelta(days=3)),
            },
            now - timedelta(minutes=5),
        ),
        message(
            "kpi",
            "xss-01",
            {
                "sector": "hanh_chinh",
                "value": 50.0,
                "target": 90.0,
                "unit": UNIT,
                "name": INDICATOR_NAME,
                "period": PERIOD,
            },
            now - timedelta(minutes=5),
        ),
    ]


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-markup")
    store = SQLiteStore(folder / "ioc.db")
    now = datetime.now(UTC)
    seed(store, now - timedelta(seconds=5))
    # A town whose inventory names these wards and site: stored as sent, drawn as text.
    town = KnownValues(
        frozenset({CAMERA_WARD, AP_WARD, REPORT_WARD}), frozenset({SITE}), frozenset({"flooding"})
    )
    ingestor = Ingestor(store, feed="test", known=town)
    for topic, payload, at in hostile_messages(now):
        assert ingestor.handle(topic, payload, at), topic  # the contract accepts every one
    ingestor.close()
    # The camera_offline alert about the hostile camera, raised by the real evaluator.
    rules = {name: {"enabled": False} for name in RULE_DEFAULTS if name != "camera_offline"}
    rules["camera_offline"] = {"minutes": 0.0, "severity": "critical"}
    raised = AlertEvaluator(store, check_rules(rules), clock=lambda: now).evaluate()
    assert any(e.key == "camera_offline:cam-xss" for e in raised)
    add_officer(store, "nguyen.an", PASSWORD)
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_STALE_AFTER_SECONDS="3600",  # the seed is not fed live here
        IOC_SECRET_KEY="k" * 48,  # both gunicorn workers sign sessions alike
    )
    server.start()
    yield server
    server.stop()
    store.close()


@pytest.mark.parametrize("name", list(SCREENS))
def test_feed_text_shows_as_written_on_every_screen(wall, browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    console_errors(browser)  # what an earlier screen left in the log
    browser.get(f"{wall.url}/{name}")
    wait_for(browser, SCREEN_DRAWN, what=f"{name} drawn")  # every figure drawn from data
    browser.save_screenshot(str(SCREENSHOTS / f"{name}-hostile-text-1920x1080.png"))
    assert browser.execute_script(INJECTED) == {"evil": [], "styled": [], "html": []}
    figure_text = browser.execute_script(FIGURE_TEXT)
    for text in IN_FIGURES[name]:
        assert text in figure_text, (name, text)
    # textContent: a row the panel has no room for is hidden and counted ("+ 5"), still there;
    # markup read as such would have changed the text.
    page = browser.execute_script("return document.querySelector('main').textContent")
    for text in ON_PAGE[name]:
        assert text in page, (name, text)
    assert console_errors(browser) == []


def test_the_officers_console_shows_the_alert_about_hostile_text_as_written(wall, browser):
    browser.get(f"{wall.url}/officer/signin")
    browser.find_element(By.NAME, "name").send_keys("nguyen.an")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    selector = 'section[data-key="camera_offline:cam-xss"]'
    wait_for(browser, f"return !!document.querySelector({selector!r})", what="the console")
    section = browser.find_element(By.CSS_SELECTOR, selector)
    browser.execute_script("arguments[0].scrollIntoView()", section)
    assert CAMERA_NAME in section.find_element(By.TAG_NAME, "h2").text
    browser.save_screenshot(str(SCREENSHOTS / "officer-hostile-text-1920x1080.png"))
    assert browser.execute_script(INJECTED) == {"evil": [], "styled": [], "html": []}
    assert console_errors(browser) == []
