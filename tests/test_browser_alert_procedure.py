"""An officer works an alert in headless Chromium: assigns it, checks off the steps of its
procedure, reads its timeline and downloads the after-action summary (screenshots saved)."""

from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser_fixtures import WallProcess, chromium
from tests.test_browser import SCREENSHOTS, console_errors, wait_for
from tests.test_browser_clipping import CLIPPED
from wall.alerts.model import STREAM
from wall.alerts.state import alert_of, record
from wall.city import load_profile
from wall.officers import add_officer
from wall.store import Event
from wall.store.sqlite import SQLiteStore

PASSWORD = "Ca trực đêm 2026"
KEY = "ward_cameras_offline:Hiệp Tân"
STEPS = load_profile("hoa-thanh").procedures["ward_cameras_offline"]


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-procedure")
    store = SQLiteStore(folder / "ioc.db")
    data = {"rule": "ward_cameras_offline", "entity": "Hiệp Tân", "severity": "critical",
            "ward": "Hiệp Tân", "facts": {"offline": 12, "total": 30, "percent": 40.0}}  # fmt: skip
    record(store, [Event.new(STREAM, KEY, "raised", actor="system", data=data)])
    add_officer(store, "nguyen.an", PASSWORD)
    server = WallProcess(
        {"IOC_STORE": f"sqlite:///{folder / 'ioc.db'}", "IOC_SECRET_KEY": "k" * 48},
        log_path=folder / "wall.log",
    )
    server.start()
    server.store = store
    yield server
    server.stop()
    store.close()
    assert "Traceback" not in server.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def browser():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver = chromium()
    yield driver
    driver.quit()


def test_an_officer_assigns_works_the_procedure_and_exports_the_timeline(wall, browser) -> None:
    browser.set_window_size(1366, 900)
    browser.get(f"{wall.url}/officer/signin")
    browser.find_element(By.NAME, "name").send_keys("nguyen.an")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button").click()
    wait_for(browser, "return !!document.querySelector('section.alert')", what="the console")
    browser.find_element(By.LINK_TEXT, "Chi tiết, quy trình, diễn biến").click()
    wait_for(browser, "return !!document.querySelector('ol.steps')", what="the alert's page")
    Select(browser.find_element(By.NAME, "owner")).select_by_value("unit:ubnd-phuong")
    browser.find_element(By.XPATH, "//button[text()='Giao xử lý']").click()
    wait_for(browser, "return document.body.innerText.includes('Phụ trách: UBND phường')",
             what="the owner")  # fmt: skip
    for step in STEPS[:2]:
        browser.find_element(By.CSS_SELECTOR, f'li[data-step="{step.step_id}"] button').click()
        wait_for(
            browser,
            f"return document.querySelector('li[data-step=\"{step.step_id}\"]')"
            ".classList.contains('done')",
            what=f"step {step.step_id} checked",
        )
    browser.save_screenshot(str(SCREENSHOTS / "officer-alert-procedure.png"))
    text = browser.find_element(By.TAG_NAME, "body").text
    assert f"2/{len(STEPS)} bước đã xong" in text
    rows = browser.find_elements(By.CSS_SELECTOR, "table.timeline tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows] == [
        "Phát sinh", "Giao xử lý", "Xong bước", "Xong bước",
    ]  # fmt: skip
    alert = alert_of(wall.store, KEY)
    assert alert.owner == "ubnd-phuong" and len(alert.steps_done) == 2
    link = browser.find_element(By.PARTIAL_LINK_TEXT, "Tải báo cáo").get_attribute("href")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    summary = requests.get(link, cookies=cookies, timeout=10)
    assert summary.ok and "Báo cáo sau sự việc" in summary.text
    assert f"[x] {STEPS[0].text_vi}" in summary.text
    browser.get(f"{wall.url}/officer/alerts/{KEY}?lang=en")
    browser.save_screenshot(str(SCREENSHOTS / "officer-alert-procedure-en.png"))
    assert "Owner: Ward People's Committee" in browser.find_element(By.TAG_NAME, "body").text
    # The wall: the owner on the alert's row and in the banner, whole or cut by an ellipsis
    # where the banner allows it, never clipped.
    for lang, words in (("vi", "Phụ trách: UBND phường"), ("en", "Owner: Ward People's Committee")):
        browser.set_window_size(1920, 1080)
        browser.get(f"{wall.url}/alerts?lang={lang}")
        wait_for(
            browser,
            f"return document.querySelectorAll('.al-owner, .alarm-owner').length == 2"
            f" && document.querySelector('.al-owner').innerText == {words!r}",
            timeout=60,
            what=f"the owner on the wall ({lang})",
        )
        browser.save_screenshot(str(SCREENSHOTS / f"wall-alert-owner-{lang}.png"))
        assert browser.execute_script(CLIPPED) == []
    assert console_errors(browser) == []
