"""The alarm banner, the stopped-alert-rules warning and the alarm sound in real headless
Chromium against `python -m wall serve`: critical alerts raised and escalated by the real
evaluator in the store, the alert service's heartbeat file as the service writes it, and
Chromium's autoplay policy refusing or allowing the sound (the kiosk flag docs/deployment.md
names). Screenshots land in test-artifacts/screenshots/alarm-*.png."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from layouts import SCREENS
from tests.browser_fixtures import chromium, resize, seed, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import STREAM, fold, officer_action
from wall.alerts.rules import RULE_DEFAULTS, check_rules
from wall.alerts.state import record
from wall.heartbeat import Heartbeat
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore

# The evaluator passes every hour here: a beat at the start of the module stays fresh throughout.
EVALUATE_SECONDS = 3600
TZ_OFFSET = timedelta(hours=7)  # Hòa Thành (Asia/Ho_Chi_Minh)
ALL_SCREENS = ",".join(SCREENS)


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-alarm")
    store = SQLiteStore(folder / "ioc.db")
    now = datetime.now(UTC)
    seed(store, now - timedelta(seconds=2))  # one critical alert among them, unacknowledged
    # The cameras down in the seed, raised as critical and escalated at once by the evaluator.
    rules = {name: {"enabled": False} for name in RULE_DEFAULTS if name != "camera_offline"}
    rules["camera_offline"] = {"minutes": 0.0, "severity": "critical"}
    evaluator = AlertEvaluator(
        store, check_rules(rules), escalate_after=timedelta(0), clock=lambda: now
    )
    events = evaluator.evaluate()
    escalated = [e.key for e in events if e.kind == "escalated"]
    # The seed's ward-wide outage and the 7 cameras: each raised, unacknowledged, escalated.
    assert len([key for key in escalated if key.startswith("camera_offline:")]) == 7, events
    assert len(escalated) == 8, events
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_STALE_AFTER_SECONDS="3600",  # the seed is not fed live here
        IOC_ALERT_EVALUATE_SECONDS=str(EVALUATE_SECONDS),
    )
    server.heartbeat = Heartbeat(Settings(heartbeat_dir=str(folder / "heartbeat")), "alerts")
    server.heartbeat.path.parent.mkdir()
    server.heartbeat.beat()
    server.start()
    server.store = store
    yield server
    server.stop()
    store.close()


# The shown screen's banner, and where it sits between the header and the panels.
BANNER = """
const frame = Array.from(document.querySelectorAll('.screen-frame'))
    .find(f => !f.classList.contains('screen-frame--hidden'));
const banner = frame && frame.querySelector('.alarm-banner');
if (!banner || !banner.offsetParent) return false;
const box = e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; };
return {
  text: banner.innerText.replace(/\\s+/g, ' '),
  sound: banner.getAttribute('data-sound'),
  banner: box(banner),
  header: box(frame.querySelector('.screen-header')),
  main: box(frame.querySelector('main')),
  fontPx: parseFloat(getComputedStyle(banner.querySelector('.alarm-n')).fontSize),
};
"""


def banner_shown(browser, what: str, contains: str = "khẩn cấp chưa xác nhận") -> dict:
    return wait_for(
        browser,
        f"const b = (() => {{{BANNER}}})(); return b && b.text.includes({contains!r}) && b;",
        what=what,
    )


def test_every_screen_shows_the_banner_in_its_own_room(wall, browser):
    """8 critical alerts unacknowledged, escalated by the evaluator, on every screen, between
    the header (its headline numbers) and the panels, at the wall's sizes."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name in SCREENS:
        for width, height in ((1920, 1080), (3840, 2160)):
            resize(browser, width, height)
            browser.get(f"{wall.url}/{name}")
            wait_for(browser, SCREEN_DRAWN, what=f"{name} drawn")
            shown = banner_shown(browser, f"the banner on {name}")
            assert "8 khẩn cấp chưa xác nhận" in shown["text"], shown
            assert "⚠ 8 đã báo cấp trên" in shown["text"], shown
            # The oldest: the seed's ward-wide outage, raised 7 minutes before the seed.
            oldest = "Cũ nhất: Long Hoa: 6/69 camera mất kết nối (8,7%) Long Hoa"
            assert re.search(f"{re.escape(oldest)} [789] phút", shown["text"]), shown
            assert shown["header"][1] <= shown["banner"][0] + 1, shown  # under the header
            assert shown["banner"][1] <= shown["main"][0] + 1, shown  # above the panels
            # The count: 1.75rem × 1.2, 37.8 px on a 1080p panel (2.4 cm on a 55" one), twice on 4K.
            assert shown["fontPx"] >= 37 * width / 1920, shown
            assert "quy tắc" not in shown["text"].lower()  # the rules run
            browser.save_screenshot(str(SCREENSHOTS / f"alarm-{name}-{width}x{height}.png"))
    assert console_errors(browser) == []


def test_every_screen_of_a_rotating_kiosk_shows_it_in_english_too(wall, browser):
    resize(browser, 1920, 1080)
    browser.get(f"{wall.url}/kiosk?layouts={ALL_SCREENS}&rotate=5&lang=en")
    seen = {}
    # two turns of the rotation: on a loaded machine a screen drawn late in the first is
    # passed over by the poll, and seen in the second
    deadline = time.monotonic() + 2 * len(SCREENS) * 5 + 20
    while len(seen) < len(SCREENS) and time.monotonic() < deadline:
        title = wait_for(browser, SCREEN_DRAWN, what="a kiosk screen drawn")
        shown = browser.execute_script(BANNER)
        if shown and "8 critical unacknowledged" in shown["text"] and title not in seen:
            seen[title] = shown["text"]
            assert "⚠ 8 escalated" in shown["text"]
            assert "Oldest: Long Hoa: 6 of 69 cameras offline (8.7%) Long Hoa" in shown["text"]
            browser.save_screenshot(str(SCREENSHOTS / f"alarm-kiosk-en-{len(seen)}-1920x1080.png"))
        time.sleep(0.5)
    assert len(seen) == len(SCREENS), seen


def local_hhmm(when: datetime) -> str:
    return f"{(when + TZ_OFFSET):%H:%M}"


def test_stopped_alert_rules_are_said_on_every_screen_until_they_beat_again(wall, browser):
    resize(browser, 1920, 1080)
    last_pass = datetime.now(UTC) - timedelta(seconds=4 * EVALUATE_SECONDS)
    os.utime(wall.heartbeat.path, (last_pass.timestamp(), last_pass.timestamp()))
    try:
        for name in SCREENS:
            browser.get(f"{wall.url}/{name}")
            wait_for(browser, SCREEN_DRAWN, what=f"{name} drawn")
            words = f"◷ Quy tắc cảnh báo không chạy từ {local_hhmm(last_pass)}"
            shown = banner_shown(browser, f"stopped rules on {name}", words)
            assert "8 khẩn cấp chưa xác nhận" in shown["text"]  # still beside the alerts
            assert shown["banner"][1] <= shown["main"][0] + 1, shown
            if name == "overview":
                browser.save_screenshot(str(SCREENSHOTS / "alarm-rules-stopped-1920x1080.png"))
        browser.get(f"{wall.url}/alerts?lang=en")
        banner_shown(
            browser, "in English", f"Alert rules not running since {local_hhmm(last_pass)}"
        )
        wall.heartbeat.path.unlink()
        banner_shown(browser, "a service that never beat", "Alert rules have not run yet")
    finally:
        wall.heartbeat.beat()
    wait_for(
        browser,
        f"const b = (() => {{{BANNER}}})(); return b && !b.text.includes('Alert rules') && b;",
        what="the warning gone once the rules beat again",
    )


SOUND_BADGE = """
const frame = Array.from(document.querySelectorAll('.screen-frame'))
    .find(f => !f.classList.contains('screen-frame--hidden'));
const badge = frame.querySelector('.sound-badge');
return {shown: !!badge.offsetParent, text: badge.innerText, sound: window.iocWall.sound};
"""


@pytest.mark.parametrize(
    ("policy", "blocked"),
    [
        ("--autoplay-policy=user-gesture-required", True),
        ("--autoplay-policy=no-user-gesture-required", False),
    ],
)
def test_the_alarm_sounds_where_autoplay_is_allowed_and_is_marked_blocked_where_not(
    wall, policy, blocked
):
    driver = chromium(flags=(policy,))
    try:
        driver.get(f"{wall.url}/cameras?sound=critical,loud")
        wait_for(driver, SCREEN_DRAWN, what="cameras drawn")
        banner_shown(driver, "the banner")
        notice = driver.execute_script("return document.querySelector('.param-notices').innerText")
        assert "Tham số “sound”: “loud” không phải mức cảnh báo" in notice
        if blocked:
            state = wait_for(driver, f"const s = (() => {{{SOUND_BADGE}}})(); return s.shown && s;")
            assert " ".join(state["text"].split()) == "♪ Âm thanh cảnh báo bị chặn"
            assert state["sound"]["plays"] == 0 and state["sound"]["blocked"] is True
            driver.save_screenshot(str(SCREENSHOTS / "alarm-sound-blocked-1920x1080.png"))
        else:
            state = wait_for(
                driver,
                f"const s = (() => {{{SOUND_BADGE}}})(); return s.sound.plays >= 1 && s;",
                what="the critical tone played",
            )
            assert state["shown"] is False and state["sound"]["blocked"] is False
            assert state["sound"]["playing"] == "critical"
            driver.save_screenshot(str(SCREENSHOTS / "alarm-sound-playing-1920x1080.png"))
        assert console_errors(driver) == []
    finally:
        driver.quit()


def test_the_sound_repeats_until_every_critical_alert_is_acknowledged(wall):
    driver = chromium(flags=("--autoplay-policy=no-user-gesture-required",))
    try:
        driver.get(f"{wall.url}/wifi?sound=critical")
        wait_for(driver, "return window.iocWall.sound.plays >= 2", timeout=30, what="a repeat")
        now = datetime.now(UTC)
        alerts = fold(wall.store.events(STREAM))
        acks = [
            officer_action(alert, "acknowledged", "nguyen.an", now)
            for alert in alerts.values()
            if alert.unacknowledged and alert.severity == "critical"
        ]
        assert len(acks) == 8
        record(wall.store, acks)
        wait_for(
            driver,
            "return window.iocWall.sound.playing === null",
            what="the sound stopped after the acknowledgements",
        )
        plays = driver.execute_script("return window.iocWall.sound.plays")
        banner = driver.execute_script(BANNER)
        assert banner is False  # no critical alert left unacknowledged: no banner
        time.sleep(10)  # longer than the repeat
        assert driver.execute_script("return window.iocWall.sound.plays") == plays
        driver.save_screenshot(str(SCREENSHOTS / "alarm-acknowledged-1920x1080.png"))
    finally:
        driver.quit()
