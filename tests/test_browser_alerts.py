"""Acknowledgement end to end in real headless Chromium: an officer signs in and acknowledges in
one browser, a kiosk in another browser shows it within one refresh; kiosks change nothing;
text from feeds renders inert. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import WebDriverWait

from feeds.payloads import parse_record
from tests.browser_fixtures import WallProcess, chromium, seed
from tests.test_browser import SCREENSHOTS, wait_for
from wall.alerts.model import STREAM, fold
from wall.alerts.state import record
from wall.officers import add_officer
from wall.store import Event
from wall.store.sqlite import SQLiteStore

XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "Ca trực đêm 2026"
REFRESH_SECONDS = 1.0
KEY = "camera_offline:cam-xss"


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-alerts")
    store = SQLiteStore(folder / "ioc.db")
    now = datetime.now(UTC)
    seed(store, now - timedelta(seconds=1))
    report = {"category": "traffic", "ward": "Hiệp Tân", "status": "new", "title": XSS}
    report["created"] = (now - timedelta(days=3)).isoformat()
    store.write(parse_record("report", "r-xss", report, now - timedelta(days=3)))
    data = {
        "rule": "camera_offline",
        "entity": "cam-xss",
        "severity": "critical",
        "ward": "Hiệp Tân",
        "facts": {"name": XSS},
    }
    record(store, [Event.new(STREAM, KEY, "raised", actor="system", data=data)])
    add_officer(store, "nguyen.an", PASSWORD)
    server = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
            "IOC_CACHE_URL": f"file://{folder / 'cache'}",
            "IOC_REFRESH_SECONDS": str(REFRESH_SECONDS),
            "IOC_SECRET_KEY": "k" * 48,  # both gunicorn workers sign sessions alike
        },
        log_path=folder / "wall.log",
    )
    server.start()
    server.store = store
    yield server
    server.stop()
    store.close()


@pytest.fixture(scope="module")
def kiosk():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def officer():
    driver = chromium()
    yield driver
    driver.quit()


# The state word of the alert row whose title carries the hostile camera name.
ALERT_STATE = """(() => {
const row = Array.from(document.querySelectorAll('.al-row'))
    .find(r => r.querySelector('.al-title') &&
               r.querySelector('.al-title').textContent.includes('onerror=alert(1)'));
return row ? row.querySelector('.al-state').textContent : false;
})()"""


def no_dialog(driver) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018 - raises when no dialog is open
    except NoAlertPresentException:
        return True
    return False


def test_an_acknowledgement_reaches_every_kiosk_within_one_refresh(wall, kiosk, officer) -> None:
    kiosk.get(f"{wall.url}/kiosk?layouts=alerts&rotate=600")
    state = wait_for(kiosk, f"return ({ALERT_STATE})", what="the alert on the kiosk")
    assert "Chưa xác nhận" in state

    officer.get(f"{wall.url}/officer/signin")
    officer.find_element(By.NAME, "name").send_keys("nguyen.an")
    officer.find_element(By.NAME, "password").send_keys(PASSWORD)
    officer.find_element(By.CSS_SELECTOR, "form button").click()
    selector = f'section[data-key="{KEY}"]'
    wait_for(officer, f"return !!document.querySelector({selector!r})", what="the console")
    section = officer.find_element(By.CSS_SELECTOR, selector)
    ack = section.find_element(By.CSS_SELECTOR, 'form input[value="acknowledged"]')
    form = ack.find_element(By.XPATH, "./..")
    form.find_element(By.NAME, "note").send_keys("Đã cử đội kỹ thuật")
    form.find_element(By.TAG_NAME, "button").click()
    acknowledged_at = time.monotonic()
    recorded = wait_for(
        officer,
        "const m = document.querySelector('.msg'); return m && m.textContent",
        what="the console's confirmation",
    )
    assert "Đã ghi nhận: Xác nhận" in recorded
    officer.save_screenshot(str(SCREENSHOTS / "officer-console-1920x1080.png"))

    wait_for(
        kiosk,
        f"const s = ({ALERT_STATE}); return s && s.includes('Đã xác nhận') && s;",
        timeout=10,
        what="the acknowledgement on the kiosk",
    )
    seen_after = time.monotonic() - acknowledged_at
    kiosk.save_screenshot(str(SCREENSHOTS / "kiosk-alert-acknowledged-1920x1080.png"))
    # One refresh tick, plus the tick the cache had already started, plus drawing.
    assert seen_after <= 2 * REFRESH_SECONDS + 1.5, seen_after
    alert = fold(wall.store.events(STREAM))[KEY]
    assert (alert.state, alert.acked_by) == ("active_ack", "nguyen.an")


def test_a_kiosk_page_cannot_change_anything(wall, kiosk) -> None:
    kiosk.get(f"{wall.url}/kiosk?layouts=alerts&rotate=600")
    wait_for(kiosk, f"return ({ALERT_STATE})", what="the kiosk")
    before = len(wall.store.events(STREAM))
    status = kiosk.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const body = new URLSearchParams({key: arguments[0], action: 'noted', note: 'x',
                                          csrf_token: 'guessed'});
        fetch('/officer/action', {method: 'POST', body}).then(r => done(r.status));
        """,
        KEY,
    )
    assert status == 403
    assert len(wall.store.events(STREAM)) == before


def test_feed_text_renders_inert_on_the_wall_and_in_the_console(wall, kiosk, officer) -> None:
    kiosk.get(f"{wall.url}/kiosk?layouts=alerts,reports&rotate=600")
    wait_for(kiosk, f"return ({ALERT_STATE})", what="the alert with the hostile name")
    kiosk.get(f"{wall.url}/reports")
    shown = wait_for(
        kiosk,
        f"return document.body.innerText.includes({XSS!r}) && document.body.innerText",
        what="the hostile report title shown as text",
    )
    assert XSS in shown
    kiosk.save_screenshot(str(SCREENSHOTS / "reports-hostile-title-1920x1080.png"))
    for driver in (kiosk, officer):
        assert not driver.find_elements(By.CSS_SELECTOR, 'img[src="x"]')
        assert no_dialog(driver)
    officer.get(f"{wall.url}/officer")
    assert XSS in officer.find_element(By.TAG_NAME, "main").text
    assert not officer.find_elements(By.CSS_SELECTOR, 'img[src="x"]')
    assert no_dialog(officer)


def test_an_officer_who_mistypes_too_often_is_told_how_long_to_wait(wall) -> None:
    driver = chromium(1280, 800)
    try:
        for _ in range(6):
            driver.get(f"{wall.url}/officer/signin")
            driver.find_element(By.NAME, "name").send_keys("tran.binh")
            driver.find_element(By.NAME, "password").send_keys("sai mật khẩu")
            button = driver.find_element(By.CSS_SELECTOR, "form button")
            button.click()
            # Mid-navigation Chromium may answer "node does not belong to the document" before
            # it calls the button stale: asked again, it does.
            WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
                staleness_of(button)
            )
            message = wait_for(
                driver, "const m = document.querySelector('.msg.error'); return m && m.innerText"
            )
        assert re.fullmatch(
            r"Quá nhiều lần đăng nhập sai\. Vui lòng thử lại sau 5 phút \(lúc \d\d:\d\d\)\.",
            message,
        ), message
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "officer-signin-too-many-1280x800.png"))
    finally:
        driver.quit()
