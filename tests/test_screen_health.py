"""The wall watches its own screens: each page's heartbeat posted by a real headless Chromium to
`python -m wall serve`, kept in the store, listed in the officers' console, and turned into a
`screen_silent` alert by the evaluator once the browser is closed; bad heartbeats refused
naming the field; refreshes that fail retried at random moments, not in step.

One wall (SQLite, gunicorn) for the module. Screenshots land in
test-artifacts/screenshots/screens-*.png.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
import requests
from selenium.webdriver.common.by import By

from callbacks.pages import plan_for
from tests.browser_fixtures import chromium, seed, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import STREAM, fold
from wall.alerts.rules import RULE_DEFAULTS, CityNow, check_rules, screen_silent
from wall.alerts.text import alert_title
from wall.domain import SCREEN_HEALTH
from wall.notifications.messages import notices, routed
from wall.notifications.settings import parse_channels
from wall.officers import add_officer
from wall.store import Event, Point, Store
from wall.store.sqlite import SQLiteStore

HEARTBEAT_SECONDS = 5
NAME = "phòng-điều-hành-1"
PASSWORD = "Ca trực sáng 2026"
HEARTBEAT = "/api/screens/heartbeat"
# A screen heard 20 minutes before the module: silent in the console, for the evaluator too.
AWAY = "sảnh-tiếp-dân"


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screen-health")
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC) - timedelta(seconds=2))
    add_officer(store, "tran.binh", PASSWORD)
    heard = datetime.now(UTC) - timedelta(minutes=20)
    store.write([Point(SCREEN_HEALTH.name, {"screen": AWAY},
                       {"named": True, "url": "http://wall/overview?screen=" + AWAY,
                        "uptime_s": 86_400.0, "reconnects": 3}, heard)])  # fmt: skip
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_STALE_AFTER_SECONDS="3600",
        IOC_SCREEN_HEARTBEAT_SECONDS=str(HEARTBEAT_SECONDS),
    )
    server.start()
    server.store = store
    yield server
    server.stop()
    store.close()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


def beats(store: Store, screen: str) -> list[dict]:
    now = datetime.now(UTC)
    frame = store.points(
        SCREEN_HEALTH.name, now - timedelta(hours=1), now + timedelta(1), where={"screen": screen}
    )
    return frame.to_dict("records")


def only(rule: str, **params) -> dict:
    rules = {name: {"enabled": False} for name in RULE_DEFAULTS if name != rule}
    rules[rule] = params
    return check_rules(rules)


def test_a_closed_screen_becomes_an_alert_and_the_console_lists_every_screen(wall):
    driver = chromium()
    try:
        driver.get(f"{wall.url}/cameras")  # no name: reported under its browser's id
        wait_for(driver, SCREEN_DRAWN, what="a single screen")
        browser_id = wait_for(
            driver,
            "return window.iocWall.heartbeats.kept >= 1 && localStorage['iocWall.browser']",
            what="the unnamed screen's first heartbeat",
        )
        driver.get(f"{wall.url}/kiosk?layouts=overview,alerts&rotate=5&screen={NAME}")
        wait_for(driver, SCREEN_DRAWN, what="the kiosk")
        # Its first beat may come before its first refresh; the one after says when that was.
        wait_for(driver, "return window.iocWall.heartbeats.kept >= 2", timeout=25, what="two beats")
        kept = beats(wall.store, NAME)
        last = kept[-1]
        assert last["named"] is True and unquote(last["url"]).endswith(f"screen={NAME}")
        assert 0 < last["uptime_s"] < 30 and last["reconnects"] == 0
        assert 0 <= last["refresh_age_s"] < 3  # the kiosk refreshes every second
        assert last["heap_bytes"] > 1_000_000  # Chromium's performance.memory
        unnamed = beats(wall.store, f"browser:{browser_id}")
        assert unnamed and unnamed[0]["named"] is False
        assert console_errors(driver) == []

        # The console, as an officer sees it: the live kiosk, the unnamed page, the silent one.
        driver.get(f"{wall.url}/officer/signin")
        driver.find_element(By.NAME, "name").send_keys("tran.binh")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "main form button").click()
        wait_for(driver, "return !!document.querySelector('header form')", what="signed in")
        driver.get(f"{wall.url}/officer/screens")
        rows = driver.execute_script(
            "return Array.from(document.querySelectorAll('tr[data-screen]')).map(r => "
            "[r.dataset.screen, r.dataset.live, r.innerText.replace(/\\s+/g, ' ')])"
        )
        assert rows[0][0] == AWAY, rows  # the silent one first
        shown = {screen: (live, text) for screen, live, text in rows}
        assert shown[AWAY][0] == "false" and "✖ Im lặng 20 phút" in shown[AWAY][1], shown
        assert shown[NAME][0] == "true" and "● Đang hoạt động" in shown[NAME][1], shown
        assert (
            " MB" in shown[NAME][1]
            and f"/kiosk?layouts=overview,alerts&rotate=5&screen={NAME}" in shown[NAME][1]
        ), shown
        assert "(không tên)" in shown[f"browser:{browser_id}"][1], shown
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "screens-console-vi.png"))
        driver.get(f"{wall.url}/officer/screens?lang=en")
        text = driver.execute_script("return document.body.innerText")
        assert "Screen health" in text and "● Live" in text and "✖ Silent for 20 min" in text
        driver.save_screenshot(str(SCREENSHOTS / "screens-console-en.png"))
        assert console_errors(driver) == []
    finally:
        driver.quit()
    closed = datetime.now(UTC)

    # While it reported, the kiosk raised nothing; once closed and silent past the rule's
    # minutes (5, the default), it does. The unnamed page never does.
    clock = [closed]
    evaluator = AlertEvaluator(
        wall.store, only("screen_silent"), clock=lambda: clock[0], escalate_after=timedelta(days=1)
    )
    raised = {e.key for e in evaluator.evaluate() if e.kind == "raised"}
    assert raised == {f"screen_silent:{AWAY}"}
    clock[0] = closed + timedelta(minutes=5, seconds=30)
    raised = {e.key for e in evaluator.evaluate() if e.kind == "raised"}
    assert raised == {f"screen_silent:{NAME}"}
    alert = fold(wall.store.events("alerts"))[f"screen_silent:{NAME}"]
    assert alert.severity == "medium" and alert.active
    assert alert_title(alert, "vi") == f"Màn hình {NAME} ngừng báo tín hiệu"
    assert alert_title(alert, "en") == f"Wall screen {NAME} has stopped reporting"
    # The screen back (a heartbeat as its page sends it): the alert clears at the next pass.
    body = {"screen": NAME, "browser": "0123456789abcdef", "url": f"{wall.url}/overview",
            "uptime_s": 1.0, "refresh_age_s": None, "reconnects": 0}  # fmt: skip
    time.sleep(HEARTBEAT_SECONDS / 2)  # the closed page's last beat was kept within that
    assert requests.post(wall.url + HEARTBEAT, json=body, timeout=10).status_code == 200
    clock[0] = datetime.now(UTC)
    assert [(e.kind, e.key) for e in evaluator.evaluate()] == [("cleared", f"screen_silent:{NAME}")]


def test_bad_heartbeats_are_refused_naming_the_field_and_one_too_soon_is_not_an_error(wall):
    good = {"screen": "phong-2", "browser": "a1b2c3d4e5", "url": f"{wall.url}/kiosk",
            "uptime_s": 12.5, "refresh_age_s": 0.8, "reconnects": 1,
            "heap_bytes": 2_000_000}  # fmt: skip
    cases = [
        ({**good, "screen": "a b"}, "screen", "a screen's name is 1 to 64 letters"),
        ({**good, "screen": "x" * 65}, "screen", "a screen's name is 1 to 64 letters"),
        ({**good, "screen": 7}, "screen", "must be text"),
        ({k: v for k, v in good.items() if k != "browser"}, "browser", "must be an id"),
        ({**good, "browser": "<script>"}, "browser", "must be an id"),
        ({**good, "url": "javascript:alert(1)"}, "url", "http:// or https://"),
        ({**good, "url": "http://x/\n"}, "url", "none a control"),
        ({k: v for k, v in good.items() if k != "uptime_s"}, "uptime_s", "is missing"),
        ({**good, "uptime_s": -1}, "uptime_s", "must be seconds from 0"),
        ({**good, "uptime_s": "12"}, "uptime_s", "must be a number"),
        ({**good, "uptime_s": True}, "uptime_s", "must be a number"),
        ({**good, "refresh_age_s": 1e12}, "refresh_age_s", "must be seconds from 0"),
        ({**good, "reconnects": 1.5}, "reconnects", "must be a whole number"),
        ({**good, "reconnects": -2}, "reconnects", "must be a whole number"),
        ({**good, "heap_bytes": "big"}, "heap_bytes", "must be a number"),
        ({**good, "heap_bytes": 2**60}, "heap_bytes", "must be a whole number"),
        ({**good, "ip": "10.0.0.1"}, "ip", "unknown field; known: screen, browser"),
        ([good], "body", "must be a JSON object"),
    ]
    for body, field, message in cases:
        answer = requests.post(wall.url + HEARTBEAT, json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["field"] == field and message in answer.json()["error"], answer.text
    # Non-finite numbers (Python's json writes them; no browser does): refused, never a 500.
    answer = requests.post(wall.url + HEARTBEAT, timeout=10,
                           data='{"browser": "a1b2c3d4e5", "url": "http://x/", "uptime_s": NaN,'
                                ' "reconnects": 0}',
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["field"] == "uptime_s", answer.text
    answer = requests.post(wall.url + HEARTBEAT, data="screen=x", timeout=10)
    assert answer.status_code == 415 and "JSON" in answer.json()["error"]
    answer = requests.post(wall.url + HEARTBEAT, json={**good, "url": "http://x/" + "a" * 5000})
    assert answer.status_code == 413 and "4096 bytes" in answer.json()["error"]
    assert beats(wall.store, "phong-2") == []  # nothing of them kept

    assert requests.post(wall.url + HEARTBEAT, json=good, timeout=10).json() == {
        "kept": True,
        "screen": "phong-2",
    }
    again = requests.post(wall.url + HEARTBEAT, json=good, timeout=10)
    assert again.status_code == 202 and again.json()["kept"] is False
    assert again.json()["reason"].startswith("too soon: a heartbeat of screen phong-2")
    assert len(beats(wall.store, "phong-2")) == 1


# Installed before the page's scripts: when each refresh request leaves the page.
RECORD_REFRESHES = """
window.__refreshes = [];
const firstFetch = window.fetch.bind(window);
window.fetch = function (input, init) {
  if (String(input && input.url || input).includes('_dash-update-component'))
    window.__refreshes.push(performance.now());
  return firstFetch(input, init);
};
"""


def test_refreshes_the_server_failed_are_retried_at_random_moments(wall):
    """Refreshes tick every second; once they fail (the server is away: here the requests are
    blocked), each retry waits ½ to 1½ times a step growing from 1.5 s, at random, so two walls
    that failed together do not come back in step."""
    driver = chromium()
    gaps = []
    try:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_REFRESHES}
        )
        driver.execute_cdp_cmd("Network.enable", {})
        for _ in range(2):
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
            driver.get(f"{wall.url}/overview")
            wait_for(driver, SCREEN_DRAWN, what="the overview")
            driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*_dash-update-component*"]})
            start = driver.execute_script("return window.__refreshes.length")
            times = wait_for(
                driver,
                f"return window.__refreshes.length >= {start + 5} && "
                f"window.__refreshes.slice({start}, {start + 5})",
                timeout=40,
                what="five refreshes while blocked",
            )
            assert driver.execute_script("return window.iocWall.failures") >= 4
            gaps.append([later - earlier for earlier, later in itertools.pairwise(times)])
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        wait_for(driver, "return window.iocWall.failures === 0", what="back")
        assert driver.execute_script("return window.iocWall.reconnects") == 1
    finally:
        driver.quit()
    for page in gaps:
        # Failure n waits ½–1½ × (1 s + n × 0.5 s), then for the next 1-second tick.
        for n, gap in enumerate(page, start=1):
            step = 1000 + n * 500
            assert 0.5 * step - 100 <= gap <= 1.5 * step + 1000 + 300, gaps
    # In step every tick (1 s) would retry, and two pages' gaps would match to the millisecond.
    assert max(abs(a - b) for a, b in zip(*gaps, strict=True)) > 400, gaps


def test_screen_silent_is_quiet_without_screens_and_costs_no_read_when_off(tmp_path):
    now = datetime.now(UTC)
    params = check_rules({})["screen_silent"]
    assert screen_silent(CityNow(now, *([None] * 5)), params, set()) == []  # none ever reported

    asked: list[str] = []

    class Counting(SQLiteStore):
        def latest(self, measurement, *args, **kwargs):
            asked.append(measurement)
            return super().latest(measurement, *args, **kwargs)

    store = Counting(tmp_path / "ioc.db")
    store.write([Point(SCREEN_HEALTH.name, {"screen": "p1"}, {"named": True, "url": "http://x/"},
                       now - timedelta(hours=1))])  # fmt: skip
    off = check_rules({"screen_silent": {"enabled": False}})
    AlertEvaluator(store, off, clock=lambda: now).evaluate()
    assert asked and SCREEN_HEALTH.name not in asked
    on = AlertEvaluator(store, check_rules({}), clock=lambda: now)
    assert "screen_silent:p1" in {e.key for e in on.evaluate()}
    assert SCREEN_HEALTH.name in asked
    # Past `forget_hours` a screen is taken as taken away: no longer watched.
    later = AlertEvaluator(store, check_rules({}), clock=lambda: now + timedelta(hours=24))
    assert ("cleared", "screen_silent:p1") in {(e.kind, e.key) for e in later.evaluate()}
    store.close()


def test_channels_route_screen_silent_by_rule_and_the_url_names_the_screen() -> None:
    data = {"rule": "screen_silent", "entity": NAME, "severity": "medium", "ward": None,
            "facts": {"since": datetime.now(UTC).isoformat(), "url": "http://wall/"}}  # fmt: skip
    event = Event.new(STREAM, f"screen_silent:{NAME}", "raised", actor="system", data=data)
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    [notice] = notices([event])
    only_screens = parse_channels([{"type": "webhook", "name": "it", "url": "http://127.0.0.1:9/",
                                    "rules": ["screen_silent"]}])[0]  # fmt: skip
    cameras = parse_channels([{"type": "webhook", "name": "cam", "url": "http://127.0.0.1:9/",
                               "rules": ["camera_offline"]}])[0]  # fmt: skip
    assert routed(only_screens.routing, notice, tz)
    assert not routed(cameras.routing, notice, tz)

    assert plan_for("/kiosk", f"?layouts=overview&screen={NAME}", "vi").screen_name == NAME
    assert plan_for("/cameras", "?screen=phong-2", "vi").screen_name == "phong-2"
    bad = plan_for("/overview", "?screen=a%20b", "vi")
    assert bad.screen_name is None and bad.problems[0][0] == "param.bad_screen"
