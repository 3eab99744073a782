"""An officer in headless Chromium finds the leaders' briefs in the console (the wall served for
real, two briefs made by `make_due_briefs` into IOC_BRIEF_DIR): listed newest first, in
Vietnamese and in English, a PDF downloaded whole; signed out, the page leads to sign-in.
Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import requests
from selenium.webdriver.common.by import By

from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_brief_indicators import seed
from tests.test_browser import SCREENSHOTS, console_errors, wait_for
from wall.brief import make_due_briefs
from wall.city import load_profile
from wall.officers import add_officer
from wall.store.sqlite import SQLiteStore

PASSWORD = "Họp giao ban sáng thứ Năm"
NOW = datetime(2026, 12, 3, 5, 0, tzinfo=UTC)  # a Thursday, 12:00 in Hòa Thành
ROWS = "return Array.from(document.querySelectorAll('table.briefs tbody tr')).map(r => r.innerText)"
# Text cut off or spilling out of its cell, or out of the page's width.
OVERFLOWING = """
const found = [];
for (const el of document.querySelectorAll('header *, main *')) {
  if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible')
    found.push(el.tagName + ': ' + el.innerText.slice(0, 60));
}
if (document.documentElement.scrollWidth > innerWidth + 1) found.push('page wider than window');
return found;
"""


def test_an_officer_lists_and_downloads_the_briefs(browser, tmp_path) -> None:
    folder = tmp_path / "briefs"
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store)
        add_officer(store, "tran.thu", PASSWORD)
        zone = ZoneInfo("Asia/Ho_Chi_Minh")
        made = make_due_briefs(store, load_profile(), zone, folder, 2, "vi", NOW)
    assert sorted(p.name for p in made) == ["brief-day-2026-12-01.pdf", "brief-day-2026-12-02.pdf"]
    server = wall_on_sqlite(tmp_path, IOC_SECRET_KEY="b" * 48, IOC_BRIEF_DIR=str(folder))
    server.start()
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        resize(browser, 1366, 768)  # a duty officer's laptop
        browser.delete_all_cookies()
        browser.get(f"{server.url}/officer/briefs?lang=vi")
        assert browser.current_url.endswith("/officer/signin"), browser.current_url
        browser.find_element(By.NAME, "name").send_keys("tran.thu")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "main form button").click()
        wait_for(browser, "return document.location.pathname === '/officer';", what="signed in")

        browser.find_element(By.LINK_TEXT, "Báo cáo lãnh đạo").click()
        newest, older = wait_for(browser, ROWS, what="the briefs listed")
        assert newest.split("\t")[:4] == ["Ngày", "02/12/2026", "Tiếng Việt", "03/12/2026 12:00:00"]
        assert older.split("\t")[:2] == ["Ngày", "01/12/2026"]
        assert "PDF" in newest and "CSV" in newest
        assert browser.execute_script(OVERFLOWING) == []
        browser.save_screenshot(str(SCREENSHOTS / "officer-briefs-vi-1366x768.png"))
        for width, height in ((1024, 768), (412, 915)):  # a tablet, a phone
            resize(browser, width, height)
            browser.save_screenshot(str(SCREENSHOTS / f"officer-briefs-vi-{width}x{height}.png"))
            assert browser.execute_script(OVERFLOWING) == [], (width, height)
        resize(browser, 1366, 768)

        browser.find_element(By.LINK_TEXT, "English").click()
        english = (
            "const r = " + ROWS.removeprefix("return ") + "; return r[0].startsWith('Day') && r"
        )
        newest, older = wait_for(browser, english, what="the briefs in English")
        assert newest.split("\t")[:4] == ["Day", "02/12/2026", "Tiếng Việt", "03/12/2026 12:00:00"]
        assert older.split("\t")[:2] == ["Day", "01/12/2026"]
        assert "Made at" in browser.find_element(By.CSS_SELECTOR, "table.briefs thead").text
        assert browser.execute_script(OVERFLOWING) == []
        browser.save_screenshot(str(SCREENSHOTS / "officer-briefs-en-1366x768.png"))

        # The newest brief's PDF, as the browser downloads it: the file made, whole.
        link = browser.find_element(By.CSS_SELECTOR, "table.briefs tbody tr a[href$='.pdf']")
        href = link.get_attribute("href")
        assert href == f"{server.url}/officer/briefs/brief-day-2026-12-02.pdf"
        downloads = tmp_path / "downloads"
        browser.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        link.click()
        saved = downloads / "brief-day-2026-12-02.pdf"
        deadline = time.monotonic() + 20
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        expected = (folder / "brief-day-2026-12-02.pdf").read_bytes()
        assert saved.read_bytes() == expected
        cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
        answer = requests.get(href, cookies=cookies, timeout=10)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "application/pdf"
        assert answer.content == expected and expected.startswith(b"%PDF-")
        assert console_errors(browser) == []

        # Signed out, neither the list nor a file is served: both lead to sign-in.
        browser.find_element(By.CSS_SELECTOR, "header form button").click()
        wait_for(browser, "return document.location.pathname === '/officer/signin';")
        for path in ("/officer/briefs", "/officer/briefs/brief-day-2026-12-02.pdf"):
            browser.get(f"{server.url}{path}")
            assert browser.current_url == f"{server.url}/officer/signin", path
        stale = requests.get(href, cookies=cookies, timeout=10, allow_redirects=False)
        assert stale.status_code == 302 and stale.headers["Location"].endswith("/officer/signin")
        browser.save_screenshot(str(SCREENSHOTS / "officer-briefs-signed-out-1366x768.png"))
    finally:
        server.stop()
    assert "Traceback" not in (tmp_path / "wall.log").read_text(errors="replace")
