"""A unit's reporter in Chromium enters a figure with a Vietnamese note in the console, and the
wall's indicators screen shows it (the wall served for real; screenshots looked at, the console
in Vietnamese and in English)."""

from __future__ import annotations

import re

from selenium.webdriver.common.by import By

from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from tests.test_browser_indicators import CARDS
from tests.test_indicator_import import LAST_MONTH
from wall.indicator_console import MAX_UPLOAD_BYTES
from wall.officers import add_officer
from wall.store.sqlite import SQLiteStore
from wall.submissions import STREAM

PASSWORD = "Báo cáo tháng 2026"
NOTE = "Trạm y tế phường Long Hoa: đã đối chiếu sổ tiêm chủng"


def test_a_reporter_enters_a_figure_and_the_wall_shows_it(browser, tmp_path) -> None:
    with SQLiteStore(tmp_path / "ioc.db") as store:
        add_officer(store, "le.cuong", PASSWORD, role="reporter", unit="vh-xh")
    server = wall_on_sqlite(tmp_path, IOC_SECRET_KEY="s" * 48)
    server.start()
    try:
        resize(browser, 1920, 1080)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.get(f"{server.url}/officer/signin")
        browser.find_element(By.NAME, "name").send_keys("le.cuong")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "main form button").click()
        # A unit's reporter lands on its indicators.
        wait_for(browser, "return document.location.pathname === '/officer/indicators';")
        wait_for(browser, "return document.querySelector('[data-indicator=tiem_chung]');")
        section = browser.find_element(By.CSS_SELECTOR, "section[data-indicator=tiem_chung]")
        section.find_element(By.NAME, "value").send_keys("94.7")
        section.find_element(By.NAME, "note").send_keys(NOTE)
        section.find_element(By.CSS_SELECTOR, "form.value button").click()
        message = wait_for(
            browser,
            "const m = document.querySelector('.msg'); return m && m.innerText;",
        )
        assert message == f"Đã lưu 94,7 % cho “Trẻ em tiêm chủng đầy đủ”, kỳ {LAST_MONTH}."
        browser.save_screenshot(str(SCREENSHOTS / "officer-indicators-vi-1920x1080.png"))
        browser.execute_script("window.scrollTo(0, 0);")  # the message, the upload form
        browser.save_screenshot(str(SCREENSHOTS / "officer-indicators-vi-top-1920x1080.png"))
        section = browser.find_element(By.CSS_SELECTOR, "section[data-indicator=tiem_chung]")
        assert "94,7 % – le.cuong" in section.text
        with SQLiteStore(tmp_path / "ioc.db") as store:
            (event,) = store.events(STREAM)
        assert (event.actor, event.note, event.data["path"]) == ("le.cuong", NOTE, "console")

        big = tmp_path / "bao-cao-qua-lon.csv"  # past the upload limit, as a browser sends it
        big.write_bytes(b"indicator_id,period,value\n" + b"x" * (MAX_UPLOAD_BYTES + 1))
        browser.find_element(By.CSS_SELECTOR, "form.upload input[type=file]").send_keys(str(big))
        browser.find_element(By.CSS_SELECTOR, "form.upload button").click()
        message = wait_for(
            browser,
            "const m = document.querySelector('.msg.error'); return m && m.innerText;",
        )
        assert message.startswith("Tệp quá lớn: tối đa 2 MB. Không lưu gì")
        browser.save_screenshot(str(SCREENSHOTS / "officer-indicators-too-large-vi-1920x1080.png"))

        browser.get(f"{server.url}/officer/indicators/tiem_chung?lang=en")
        history = browser.find_element(By.CSS_SELECTOR, "tr.current").text
        assert "94.7 % ✔ current" in history and NOTE in history and "Console" in history
        browser.save_screenshot(str(SCREENSHOTS / "officer-indicator-history-en-1920x1080.png"))
        browser.get(f"{server.url}/officer/indicators?lang=en")
        section = browser.find_element(By.CSS_SELECTOR, "section[data-indicator=tiem_chung]")
        assert "Children fully vaccinated" in section.text and "94.7 % – le.cuong" in section.text
        browser.save_screenshot(str(SCREENSHOTS / "officer-indicators-en-1920x1080.png"))

        for lang, expected in (
            ("vi", rf"Y TẾ Trẻ em tiêm chủng đầy đủ 94,7 % ✖ Không đạt Chỉ tiêu 95 % Kỳ "
                   rf"{LAST_MONTH} đã kết thúc Bảng điều khiển · vh-xh · \d\d/\d\d \d\d:\d\d"),
            ("en", rf"HEALTH Children fully vaccinated 94.7 % ✖ Missed Target 95 % Period "
                   rf"{LAST_MONTH} is over Console · vh-xh · \d\d/\d\d \d\d:\d\d"),
        ):  # fmt: skip
            browser.get(f"{server.url}/indicators?lang={lang}")
            wait_for(browser, SCREEN_DRAWN)
            cards = wait_for(
                browser, f"const c = (() => {{{CARDS}}})(); return c.length === 1 ? c : null;"
            )
            assert re.fullmatch(expected, cards[0].strip()), cards[0]
            browser.save_screenshot(str(SCREENSHOTS / f"indicators-console-{lang}-1920x1080.png"))
        errors = console_errors(browser)
        # Chromium logs the answer's status: the too-large file's 413 is the page saying so.
        assert [e for e in errors if "status of 413" not in e] == [], errors
        assert len(errors) == 1
        assert "Traceback" not in (tmp_path / "wall.log").read_text(errors="replace")
    finally:
        server.stop()
