"""Officer sessions end for real: the wall under gunicorn with three workers sharing Redis, an
officer in headless Chromium, accounts changed with `python -m wall users` as an administrator
runs it. A cookie copied from the browser is refused, on new connections to any worker, once
its session is signed out or its account removed, disabled or given a new password, and nothing
it sends is recorded. The console's forms answer bad input with a 4xx and the server logs no
traceback. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser_fixtures import WallProcess, chromium
from tests.test_browser import SCREENSHOTS, wait_for
from tests.test_callbacks import redis_url  # noqa: F401 - the module's real redis-server
from tests.test_officer_console import bad_action_forms
from tests.test_officers import users_command
from wall.alerts.model import STREAM, fold
from wall.alerts.state import record
from wall.officers import add_officer
from wall.store import Event
from wall.store.sqlite import SQLiteStore

PASSWORD = "Ca trực đêm 2026"
KEY = "camera_offline:cam-042"
WORKERS = 3
REPLAYS = 4 * WORKERS  # a new connection each: any worker may take it


def raise_alert(store: SQLiteStore) -> None:
    data = {"rule": "camera_offline", "entity": "cam-042", "severity": "high", "ward": "Hiệp Tân"}
    data["facts"] = {"name": "Ngã tư Mít Một"}
    record(store, [Event.new(STREAM, KEY, "raised", actor="system", data=data)])


@pytest.fixture(scope="module")
def wall(tmp_path_factory, redis_url):  # noqa: F811
    folder = tmp_path_factory.mktemp("wall-sessions")
    store = SQLiteStore(folder / "ioc.db")
    raise_alert(store)
    for name in ("nguyen.an", "tran.binh", "le.chi", "pham.dung"):
        add_officer(store, name, PASSWORD)
    server = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
            "IOC_CACHE_URL": redis_url,
            "IOC_SECRET_KEY": "k" * 48,  # every worker signs cookies alike
        },
        log_path=folder / "wall.log",
        workers=WORKERS,
    )
    server.start()
    server.store = store
    server.store_url = f"sqlite:///{folder / 'ioc.db'}"
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


def browser_sign_in(driver, wall, name: str) -> dict[str, str]:
    """Sign in as a person does; returns what a thief would copy: the cookie and the form."""
    driver.delete_all_cookies()
    driver.get(f"{wall.url}/officer/signin")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button").click()
    selector = f'section[data-key="{KEY}"]'
    wait_for(driver, f"return !!document.querySelector({selector!r})", what="the console")
    form = driver.find_element(By.CSS_SELECTOR, f'{selector} input[value="acknowledged"]')
    form = form.find_element(By.XPATH, "./..")
    return {
        "cookie": driver.get_cookie("ioc_officer")["value"],
        "csrf_token": form.find_element(By.NAME, "csrf_token").get_attribute("value"),
        "key": KEY,
        "alert_id": form.find_element(By.NAME, "alert_id").get_attribute("value"),
    }


def requests_sign_in(wall, name: str) -> dict[str, str]:
    with requests.Session() as client:
        page = client.get(f"{wall.url}/officer/signin", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = {"name": name, "password": PASSWORD, "csrf_token": token}
        assert client.post(f"{wall.url}/officer/signin", data=data, timeout=10).ok
        page = client.get(f"{wall.url}/officer", timeout=10).text
        return {
            "cookie": client.cookies["ioc_officer"],
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "key": KEY,
            "alert_id": re.search(r'name="alert_id" value="([^"]+)"', page).group(1),
        }


def replay(wall, copied: dict[str, str]) -> list[int]:
    """The copied cookie and form, sent again and again, each on a new connection: the status of
    each acknowledgement and of each console page asked for."""
    form = {k: v for k, v in copied.items() if k != "cookie"} | {"action": "acknowledged"}
    statuses = []
    for _ in range(REPLAYS):
        with requests.Session() as thief:
            thief.cookies.set("ioc_officer", copied["cookie"])
            post = thief.post(f"{wall.url}/officer/action", data=form, timeout=10)
            thief.cookies.set("ioc_officer", copied["cookie"])  # the thief keeps the copy
            page = thief.get(f"{wall.url}/officer", timeout=10, allow_redirects=False)
            statuses += [post.status_code, page.status_code]
    return statuses


def console_opens(wall, copied: dict[str, str]) -> bool:
    cookies = {"ioc_officer": copied["cookie"]}
    page = requests.get(f"{wall.url}/officer", cookies=cookies, timeout=10, allow_redirects=False)
    return page.status_code == 200


def test_a_copied_cookie_is_refused_by_the_workers_after_sign_out(wall, browser) -> None:
    copied = browser_sign_in(browser, wall, "nguyen.an")
    assert all(console_opens(wall, copied) for _ in range(REPLAYS))  # the copy works, until…
    recorded = wall.store.events(STREAM)
    browser.find_element(By.CSS_SELECTOR, "header form button").click()  # Đăng xuất
    wait_for(browser, "return location.pathname === '/officer/signin'", what="signed out")
    assert set(replay(wall, copied)) == {403, 302}
    assert wall.store.events(STREAM) == recorded
    assert "ended session of nguyen.an used from" in wall.log_path.read_text()


def test_a_copied_cookie_is_refused_once_the_account_is_removed(wall, browser) -> None:
    copied = browser_sign_in(browser, wall, "tran.binh")
    recorded = wall.store.events(STREAM)
    removed = users_command(wall.store_url, "remove", "tran.binh")
    assert removed.returncode == 0, removed.stderr
    assert set(replay(wall, copied)) == {403, 302}
    assert wall.store.events(STREAM) == recorded
    browser.get(f"{wall.url}/officer")  # what the officer in front of the console sees
    message = wait_for(
        browser,
        "const m = document.querySelector('.msg.error'); return m && m.textContent",
        what="the ended-session message",
    )
    assert "Phiên trực này đã kết thúc" in message
    assert browser.execute_script("return location.pathname") == "/officer/signin"
    browser.save_screenshot(str(SCREENSHOTS / "officer-session-ended-1920x1080.png"))


@pytest.mark.parametrize(
    ("name", "command", "password"),
    [("le.chi", "disable", ""), ("pham.dung", "passwd", "Mật khẩu mới của ca\n")],
)
def test_a_copied_cookie_is_refused_once_the_account_is_disabled_or_given_a_new_password(
    wall, name, command, password
) -> None:
    copied = requests_sign_in(wall, name)
    recorded = wall.store.events(STREAM)
    args = [command, name, "--password-stdin"] if password else [command, name]
    changed = users_command(wall.store_url, *args, password=password)
    assert changed.returncode == 0, changed.stderr
    assert set(replay(wall, copied)) == {403, 302}
    assert wall.store.events(STREAM) == recorded


def test_a_form_shown_for_an_alert_does_not_act_on_the_alert_raised_after_it(wall, browser):
    browser_sign_in(browser, wall, "nguyen.an")
    # Meanwhile the alert is acknowledged, clears (closes), and is raised again: a new alert.
    old = fold(wall.store.events(STREAM))[KEY]
    closing = [Event.new(STREAM, KEY, kind, actor="system") for kind in ("acknowledged", "cleared")]
    record(wall.store, closing)
    raise_alert(wall.store)
    recorded = wall.store.events(STREAM)
    assert fold(recorded)[KEY].alert_id != old.alert_id
    section = browser.find_element(By.CSS_SELECTOR, f'section[data-key="{KEY}"]')
    form = section.find_element(By.CSS_SELECTOR, 'input[value="acknowledged"]')
    form.find_element(By.XPATH, "./..").find_element(By.TAG_NAME, "button").click()
    message = wait_for(
        browser,
        "const m = document.querySelector('.msg.error'); return m && m.textContent",
        what="the refusal",
    )
    assert "phát sinh lại" in message
    shown = browser.find_element(By.CSS_SELECTOR, f'section[data-key="{KEY}"] [name="alert_id"]')
    assert shown.get_attribute("value") == fold(recorded)[KEY].alert_id  # the new one, to act on
    browser.save_screenshot(str(SCREENSHOTS / "officer-alert-raised-again-1920x1080.png"))
    assert wall.store.events(STREAM) == recorded
    assert fold(recorded)[KEY].state == "active_unack"


def test_bad_console_forms_get_a_4xx_from_the_workers_and_no_traceback(wall) -> None:
    copied = requests_sign_in(wall, "nguyen.an")
    form = {k: v for k, v in copied.items() if k != "cookie"}
    recorded = wall.store.events(STREAM)
    for what, data, status in bad_action_forms(form) * WORKERS:
        with requests.Session() as client:
            client.cookies.set("ioc_officer", copied["cookie"])
            response = client.post(f"{wall.url}/officer/action", data=data, timeout=10)
        assert response.status_code == status, (what, response.text[-500:])
    # Without a session: refused (403), too large (413), or a sign-out that does nothing (302).
    for path, answers in (
        ("/officer/signin", {403, 413}),
        ("/officer/signout", {302, 413}),
        ("/officer/action", {403, 413}),
    ):
        for body in (b"\xff\xfe=\x00", b"x" * 200_000, b"", b"csrf_token=%E1%BA"):
            response = requests.post(
                f"{wall.url}{path}",
                data=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=10,
                allow_redirects=False,
            )
            assert response.status_code in answers, (path, body[:8], response.status_code)
    assert wall.store.events(STREAM) == recorded
    assert console_opens(wall, copied)  # all that did not end the session
    assert "Traceback" not in wall.log_path.read_text(errors="replace")
