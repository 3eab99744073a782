"""The wall in a real headless Chromium against `python -m wall serve` on a seeded store.

One server and one browser for the module; a feeder thread keeps the data live like the feed
workers would, so staleness can be shown by stopping part of it. Screenshots of every screen at
1920×1080 and 3840×2160 land in test-artifacts/screenshots/ (look at them).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import itertools
import os
import signal
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

import pytest
import requests
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.common.by import By

from layouts import SCREENS, overview
from tests.browser_fixtures import (
    WallProcess,
    chromium,
    free_port,
    resize,
    seed,
    wall_on_sqlite,
)
from wall.domain import report_slot
from wall.i18n import Translator
from wall.officers import add_officer
from wall.settings_core import PROJECT_DIR
from wall.store import Point
from wall.store.sqlite import SQLiteStore

SCREENSHOTS = PROJECT_DIR / "test-artifacts" / "screenshots"
STALE_AFTER = 20
SIZES = ((1920, 1080), (3840, 2160))
OFFICER_PASSWORD = "Ca trực sáng 2026"


class Feeder:
    """Writes the newest camera, WiFi and report points every second, as live feeds would."""

    def __init__(self, store: SQLiteStore):
        self.store = store
        self.paused: set[str] = set()
        self._stop = threading.Event()
        latest = {m: store.latest(m, e) for m, e in self.ENTITIES.items()}
        self.templates = {
            m: [
                Point(
                    m,
                    {k: row[k] for k in self.TAGS[m] if isinstance(row.get(k), str)},
                    {k: row[k] for k in self.FIELDS[m] if k in row and row[k] == row[k]},
                    datetime.now(UTC),
                )
                for row in frame.to_dict("records")
            ]
            for m, frame in latest.items()
        }
        self.thread = threading.Thread(target=self._run, daemon=True)

    ENTITIES: ClassVar = {
        "camera_status": "camera_id",
        "wifi_usage": "ap_id",
        "field_report": "report_id",
    }
    TAGS: ClassVar = {
        "camera_status": ("camera_id", "ward"),
        "wifi_usage": ("ap_id", "ward", "site"),
        "field_report": ("category", "ward", "report_slot"),
    }
    FIELDS: ClassVar = {
        "camera_status": ("online", "fps", "name", "lat", "lon"),
        "wifi_usage": ("up", "clients", "rx_bytes", "tx_bytes", "capacity"),
        "field_report": ("report_id", "status", "title", "lat", "lon", "created", "updated"),
    }

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now = datetime.now(UTC)
            points = []
            for measurement, templates in self.templates.items():
                if measurement in self.paused:
                    continue
                chosen = templates if measurement != "field_report" else templates[:1]
                points += [Point(p.measurement, p.tags, p.fields, now) for p in chosen]
            self.store.write(points)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-browser")
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC) - timedelta(seconds=1))
    feeder = Feeder(store)
    feeder.start()
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_HISTORY_REFRESH_SECONDS="30",
        IOC_STALE_AFTER_SECONDS=str(STALE_AFTER),
    )
    add_officer(store, "tran.binh", OFFICER_PASSWORD)
    server.start()
    server.feeder = feeder
    yield server
    server.stop()
    feeder.stop()
    store.close()


def wait_for(driver, script: str, timeout: float = 20.0, what: str = ""):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = driver.execute_script(script)
        except (JavascriptException, WebDriverException):
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what or script}: last {value!r}")


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


# True once the visible screen shows data: every tile and figure of it filled.
SCREEN_DRAWN = """
const frame = Array.from(document.querySelectorAll('.screen-frame'))
    .find(f => !f.classList.contains('screen-frame--hidden'));
if (!frame) return false;
const graphs = Array.from(frame.querySelectorAll('.js-plotly-plot'));
const drawn = graphs.every(g => g.data && g.data.length > 0 && g.querySelector('.main-svg'));
const tiles = Array.from(frame.querySelectorAll('.tile, .kpi-card, .ward-panel, .count-box'));
// Before the first answer the shell's tiles are there but empty: wait until every one has text.
const filled = tiles.length > 0 && tiles.every(t => t.innerText.trim().length > 0);
const settled = !frame.querySelector('.tile--error, .tile--loading');
return drawn && filled && settled ? frame.querySelector('.screen-title').textContent : false;
"""
FITS = """
const d = document.documentElement;
const shown = '.screen-frame:not(.screen-frame--hidden) *';
const outside = Array.from(document.querySelectorAll(shown))
    .filter(e => { const r = e.getBoundingClientRect(), w = innerWidth, h = innerHeight;
                   return r.width > 0 && (r.right > w + 1 || r.bottom > h + 1); })
    .map(e => e.className || e.tagName);
return {scroll: [d.scrollWidth, d.scrollHeight, innerWidth, innerHeight], outside: outside};
"""


@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_renders_with_data_fills_the_wall_and_logs_no_error(wall, browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/{name}")
    title = wait_for(browser, SCREEN_DRAWN, what=f"{name} drawn")
    assert title == Translator("vi")(f"screen.{name}")
    for width, height in SIZES:
        resize(browser, width, height)
        # The next refresh redraws the figures for this size (their text scales with the wall).
        wait_for(
            browser,
            f"return Array.from(document.querySelectorAll('.js-plotly-plot'))"
            f".every(g => g._fullLayout && g._fullLayout.font.size >= {22 * width / 1920 - 0.5})",
            what=f"figures scaled for {width}",
        )
        time.sleep(0.8)  # let plotly finish laying out at the new size
        fit = browser.execute_script(FITS)
        assert fit["scroll"] == [width, height, width, height], fit
        assert fit["outside"] == [], f"{name} at {width}×{height}: {fit['outside'][:5]}"
        browser.save_screenshot(str(SCREENSHOTS / f"{name}-{width}x{height}.png"))
    assert console_errors(browser) == []


def test_the_screen_titles_are_vietnamese_and_english_is_one_parameter_away(wall, browser):
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/indicators")
    assert wait_for(browser, SCREEN_DRAWN) == "Chỉ số điều hành"
    headline = browser.execute_script("return document.querySelector('.headline').textContent")
    assert "chỉ tiêu đạt" in headline
    browser.get(f"{wall.url}/indicators?lang=en")
    assert wait_for(browser, SCREEN_DRAWN) == "Operating indicators"
    assert "targets met" in browser.execute_script(
        "return document.querySelector('.headline').textContent"
    )


VISIBLE = """
const f = Array.from(document.querySelectorAll('.screen-frame'))
    .find(f => !f.classList.contains('screen-frame--hidden'));
return f ? f.querySelector('.screen-title').textContent : null;
"""


def test_kiosk_rotates_by_itself_with_the_cursor_hidden(wall, browser):
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/kiosk?layouts=overview,alerts&rotate=5")
    assert wait_for(browser, SCREEN_DRAWN) == "Tổng quan"
    assert browser.execute_script(
        "return getComputedStyle(document.querySelector('.screen')).cursor"
    ) == ("none")
    seen = [browser.execute_script(VISIBLE)]
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline and seen[-3:] != ["Tổng quan", "Cảnh báo", "Tổng quan"]:
        time.sleep(0.5)
        shown = browser.execute_script(VISIBLE)
        if shown != seen[-1]:
            seen.append(shown)
    assert seen[-3:] == ["Tổng quan", "Cảnh báo", "Tổng quan"], seen
    assert wait_for(browser, SCREEN_DRAWN)
    assert console_errors(browser) == []


def test_bad_kiosk_parameters_are_named_on_screen_and_the_rest_works(wall, browser):
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/kiosk?layouts=overview,bogus&rotate=soon")
    assert wait_for(browser, SCREEN_DRAWN) == "Tổng quan"
    notice = browser.execute_script("return document.querySelector('.param-notices').textContent")
    assert "Tham số “layouts”: không có màn hình “bogus”" in notice
    assert "Tham số “rotate”: “soon”" in notice
    assert "Traceback" not in browser.page_source
    browser.save_screenshot(str(SCREENSHOTS / "kiosk-bad-parameters-1920x1080.png"))


def test_kiosk_survives_a_server_restart(wall, browser):
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/kiosk?layouts=overview,cameras&rotate=30")
    wait_for(browser, SCREEN_DRAWN)
    before = browser.execute_script("return document.querySelector('.big-number').textContent")
    wall.stop()
    wait_for(
        browser,
        "return document.body.classList.contains('wall-offline') && "
        "getComputedStyle(document.querySelector('.reconnect-badge')).display !== 'none'",
        timeout=25,
        what="reconnecting badge",
    )
    # The last data stays on the screen while the server is away.
    assert (
        browser.execute_script("return document.querySelector('.big-number').textContent") == before
    )
    browser.save_screenshot(str(SCREENSHOTS / "kiosk-reconnecting-1920x1080.png"))
    wall.start()
    wait_for(
        browser,
        "return !document.body.classList.contains('wall-offline')",
        timeout=30,
        what="recovery after restart",
    )
    updated = browser.execute_script("return document.querySelector('.age').textContent")
    assert "giây" in updated


def test_a_kiosk_switched_on_while_the_server_is_down_opens_the_wall_when_it_is_back(wall, browser):
    start_page = (PROJECT_DIR / "assets" / "kiosk-start.html").as_uri()
    wall.stop()
    browser.get(f"{start_page}?url={wall.url}/kiosk?layouts=overview")
    time.sleep(3)
    assert "Đang chờ máy chủ" in browser.execute_script("return document.body.textContent")
    wall.start()
    wait_for(
        browser, "return location.href.startsWith('http')", timeout=20, what="start page moved"
    )
    assert wait_for(browser, SCREEN_DRAWN) == "Tổng quan"


def test_tiles_turn_stale_when_a_feed_stops(wall, browser):
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/overview")
    wait_for(browser, SCREEN_DRAWN)
    cameras_tile = "document.querySelector('#overview-cameras .tile')"
    assert "tile--stale" not in browser.execute_script(f"return {cameras_tile}.className")
    wall.feeder.paused.add("camera_status")
    try:
        wait_for(
            browser,
            f"return {cameras_tile}.className.includes('tile--stale') && "
            f"{cameras_tile}.textContent.includes('DỮ LIỆU CŨ')",
            timeout=STALE_AFTER + 15,
            what="stale camera tile",
        )
        # The other feeds still run: their tiles stay live.
        assert "tile--stale" not in browser.execute_script(
            "return document.querySelector('#overview-clients .tile').className"
        )
        browser.save_screenshot(str(SCREENSHOTS / "overview-camera-feed-stopped-1920x1080.png"))
    finally:
        wall.feeder.paused.discard("camera_status")


def test_a_feed_worker_whose_store_refuses_its_writes_shows_why_on_the_overview(wall, browser):
    """Not merely "stale" by age: the worker says the store refuses its writes, and why."""
    from feeds.health import health_point

    refusal = (
        "InfluxDB at http://influx.hoathanh.local:8086 refused writes to database 'ioc' (400): "
        "partial write: max-values-per-tag limit exceeded (100000/100000)"
    )

    def worker_health(problem: str) -> Point:
        stats = {"received": 5200, "written": 5100, "rejected": 0, "unknown_values": 0}
        stats |= {"spooled": 100, "lag_s": 30.0, "store_problem": problem}
        now = datetime.now(UTC)
        return health_point("mqtt:ioc-wall-mqtt", stats | {"last_message_time": now}, 0, now)

    resize(browser, *SIZES[0])
    wall.feeder.store.write([worker_health(refusal)])
    try:
        browser.get(f"{wall.url}/overview")
        wait_for(browser, SCREEN_DRAWN)
        chip = "document.querySelector('#overview-feeds .feed-chip--store-problem')"
        shown = wait_for(browser, f"return {chip} && {chip}.innerText", what="refusing worker")
        assert shown.split("\n") == [
            "mqtt:ioc-wall-mqtt",
            "✖",
            "Kho dữ liệu từ chối ghi",
            f"đang thử lại · …{refusal[1 - overview.PROBLEM_CHARS :]}",
        ]
        assert browser.execute_script(f"return {chip}.querySelector('b, a, script')") is None
        browser.save_screenshot(str(SCREENSHOTS / "overview-store-refuses-1920x1080.png"))
    finally:  # the module's other screens show a worker whose store takes its writes
        wall.feeder.store.write([worker_health("")])
    wait_for(browser, f"return {chip} === null", what="the refusal gone once it is over")


def test_a_page_whose_layout_failed_to_load_recovers_by_itself(wall, browser):
    """A page whose layout request failed (server gone between the page and its layout: Dash
    stays on "Loading..." or "Error loading layout") never stays that way."""
    resize(browser, *SIZES[0])
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*_dash-layout*"]})
    try:
        browser.get(f"{wall.url}/overview")
        time.sleep(3)
        assert browser.execute_script("return document.querySelector('.screen-frame')") is None
        browser.save_screenshot(str(SCREENSHOTS / "layout-not-loaded-1920x1080.png"))
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    assert wait_for(browser, SCREEN_DRAWN, timeout=30) == "Tổng quan"


@pytest.mark.parametrize(
    ("path", "title", "within"),
    [
        ("/kiosk?layouts=overview,alerts&rotate=5", "Tổng quan", 25),  # at a rotation boundary
        ("/cameras", "Camera giám sát", 50),  # a single screen: its age is looked at every 30 s
    ],
)
def test_every_page_reloads_itself_after_its_reload_age(wall, browser, path, title, within):
    """Days of running are bounded by a periodic full reload, on rotating kiosks and single
    screens alike; here the age is 7 seconds."""
    quick = WallProcess({**wall.env, "IOC_KIOSK_RELOAD_HOURS": "0.002"})
    quick.start()
    try:
        resize(browser, *SIZES[0])
        browser.get(f"{quick.url}{path}")
        assert wait_for(browser, SCREEN_DRAWN) == title
        browser.execute_script("window.beforeReload = true")
        wait_for(
            browser,
            "return window.beforeReload === undefined && !!window.iocWall",
            timeout=within,
            what="a full page reload",
        )
        assert wait_for(browser, SCREEN_DRAWN) == title
    finally:
        quick.stop()


# When the start page asks for /healthz (installed before the page's own script).
RECORD_ATTEMPTS = """
window.__attempts = [];
const startFetch = window.fetch.bind(window);
window.fetch = function (input, init) {
  window.__attempts.push(performance.now());
  return startFetch(input, init);
};
"""


def test_kiosks_switched_on_together_retry_the_server_at_different_moments(browser):
    """The start page's retries are spread at random around their step (1.5 s, 2 s, 2.5 s…):
    two kiosks waiting for the same dead server do not ask it in step."""
    start_page = (PROJECT_DIR / "assets" / "kiosk-start.html").as_uri()
    nobody = f"http://127.0.0.1:{free_port()}/kiosk"  # nothing listens there
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ATTEMPTS}
    )
    gaps = []
    try:
        for _ in range(2):
            browser.get(f"{start_page}?url={quote(nobody)}")
            times = wait_for(
                browser,
                "return window.__attempts.length >= 4 && window.__attempts",
                timeout=20,
                what="four attempts",
            )
            gaps.append([later - earlier for earlier, later in itertools.pairwise(times[:4])])
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )
    for kiosk in gaps:
        for step, gap in zip((1500, 2000, 2500), kiosk, strict=True):
            assert 0.5 * step - 50 <= gap <= 1.5 * step + 300, gaps
    # Without the spread the two differ by timer noise (under 40 ms measured here).
    assert max(abs(a - b) for a, b in zip(*gaps, strict=True)) > 150, gaps


# Entries in Dash's undo history, one per input change made in the browser (plotly/dash#727).
UNDO_HISTORY = "return (window.dash_stores || []).map(s => s.getState().history.past.length)"


def test_a_kiosk_keeps_no_record_of_its_ticks(wall, browser):
    """Dash records every interval tick of every screen in its undo history and never lets one go;
    over weeks of running that was most of a kiosk tab's growing memory. The wall keeps at most
    the newest few, however long it runs."""
    resize(browser, *SIZES[0])
    console_errors(browser)  # what earlier tests' restarts left in the log
    browser.get(f"{wall.url}/kiosk?layouts=overview,cameras,wifi,reports&rotate=5")
    wait_for(browser, SCREEN_DRAWN)
    # Twelve refreshes of the shown screen: the 4 screens' intervals have ticked 40-odd times.
    wait_for(browser, "return window.iocWall.requests >= 12", what="twelve refreshes")
    history = browser.execute_script(UNDO_HISTORY)
    assert len(history) == 1, "Dash's store is no longer window.dash_stores: see assets/wall.js"
    assert history[0] <= 8, history
    assert console_errors(browser) == []


def test_a_stalled_server_does_not_pile_up_refreshes(wall, browser):
    """Ticks every second while the server hangs (processes stopped): at most one request waits;
    when the server goes on, the screen refreshes again."""
    resize(browser, *SIZES[0])
    browser.get(f"{wall.url}/overview")
    wait_for(browser, SCREEN_DRAWN)
    time.sleep(1.5)
    os.killpg(wall.process.pid, signal.SIGSTOP)
    try:
        before = browser.execute_script("return window.iocWall.requests")
        time.sleep(6)  # six ticks
        during = browser.execute_script("return window.iocWall.requests")
    finally:
        os.killpg(wall.process.pid, signal.SIGCONT)
    assert during - before <= 1
    wait_for(
        browser,
        f"return window.iocWall.requests > {during + 2}",
        timeout=25,
        what="refreshes again after the stall",
    )
    assert wait_for(browser, SCREEN_DRAWN) == "Tổng quan"


# Installed before any page script: every refresh answer of the reports screen, as received.
RECORD_ANSWERS = """
window.__answers = [];
const pageFetch = window.fetch.bind(window);
window.fetch = function (input, init) {
  const answer = pageFetch(input, init);
  if (init && String(init.body).includes('..reports-status.children.')) {
    answer.then(r => r.clone().text()).then(text => window.__answers.push(
      {size: text.length, outputs: Object.keys(JSON.parse(text).response)})).catch(() => {});
  }
  return answer;
};
"""
# Open reports drawn on the map: points of the category traces (the backdrop traces have no name).
MAP_REPORTS = """
const map = document.querySelector('#reports-map .js-plotly-plot');
if (!map || !map._fullData) return -1;
return map.data.reduce((n, t, i) => n + (t.name ? map._fullData[i]._length : 0), 0)"""


def new_report(n: int) -> Point:
    now = datetime.now(UTC)
    stamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Point(
        "field_report",
        {"category": "flooding", "ward": "Long Hoa", "report_slot": report_slot(f"pa-new-{n}")},
        {
            "report_id": f"pa-new-{n}",
            "status": "new",
            "title": f"Ngập nước {n}",
            "lat": 11.2950 + n / 1000,
            "lon": 106.1250,
            "created": stamp,
            "updated": stamp,
        },
        now,
    )


def test_a_kiosk_is_sent_only_what_changed_and_keeps_up_through_blips_and_restarts(wall, browser):
    """Unchanged ticks come without the figures; a new report still reaches the screen, also
    after refreshes that failed (network blip) and after a server restart."""
    resize(browser, *SIZES[0])
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_ANSWERS}
    )
    try:
        browser.get(f"{wall.url}/reports")
        wait_for(browser, SCREEN_DRAWN, what="reports drawn")
        wait_for(browser, "return window.__answers.length >= 5", what="five refreshes")
        answers = browser.execute_script("return window.__answers")
        first, later = answers[0], answers[1:]
        assert "reports-map" in first["outputs"] and "reports-shown" in first["outputs"]
        # The feeds keep the tile ages moving, but no report moved: the figures are not resent.
        figures = {"reports-map", "reports-category", "reports-ward", "reports-hourly"}
        assert figures <= set(first["outputs"])
        assert all(not figures & set(a["outputs"]) for a in later), later
        # Heads, ages and the alarm banner (whose alert's age moves) are sent; figures are not.
        assert all(a["size"] * 2 < first["size"] for a in later), (first["size"], later)
        on_map = browser.execute_script(MAP_REPORTS)
        assert on_map > 0
        wall.feeder.store.write([new_report(1)])
        wait_for(browser, f"{MAP_REPORTS} === {on_map + 1}", what="a new report on the map")
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*_dash-update-component*"]})
        try:
            wall.feeder.store.write([new_report(2)])
            wait_for(
                browser,
                "return document.body.classList.contains('wall-offline')",
                what="refreshes failing",
            )
        finally:
            browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        wait_for(
            browser, f"{MAP_REPORTS} === {on_map + 2}", what="the report written during a blip"
        )
        wall.restart()
        wall.feeder.store.write([new_report(3)])
        wait_for(browser, f"{MAP_REPORTS} === {on_map + 3}", what="a report after a server restart")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "reports-after-new-reports-1920x1080.png"))
        assert wait_for(browser, SCREEN_DRAWN) == "Phản ánh hiện trường"
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


# Headline numbers wider than the box they sit in (which clips them).
CLIPPED_NUMBERS = """
return Array.from(document.querySelectorAll('.big-number'))
    .filter(n => n.offsetParent && n.scrollWidth > n.parentElement.clientWidth + 1)
    .map(n => n.textContent);
"""


def test_a_citys_headline_numbers_fit_their_tiles(browser, tmp_path):
    """2,000 cameras and 1,000 access points: "2.000 / 2.000" steps down a size instead of being
    cut off at the tile's edge."""
    now = datetime.now(UTC)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.write(
            [
                Point("camera_status", {"camera_id": f"cam-{n:04d}"}, {"online": True}, now)
                for n in range(2000)
            ]
            + [
                Point("wifi_usage", {"ap_id": f"ap-{n:04d}"}, {"up": True, "clients": 12}, now)
                for n in range(1000)
            ]
        )
    with wall_on(tmp_path, IOC_STALE_AFTER_SECONDS="3600") as server:
        resize(browser, *SIZES[0])
        for screen, number in (("overview", "2.000 / 2.000"), ("wifi", "1.000 / 1.000")):
            browser.get(f"{server.url}/{screen}")
            wait_for(
                browser,
                "return Array.from(document.querySelectorAll('.big-number'))"
                f".some(n => n.textContent === {number!r})",
                what=f"{number} on the {screen} screen",
            )
            wait_for(
                browser,
                "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".every(g => g.querySelector('.main-svg'))",
                what=f"the {screen} screen's charts drawn",
            )
            browser.save_screenshot(str(SCREENSHOTS / f"{screen}-city-1920x1080.png"))
            assert browser.execute_script(CLIPPED_NUMBERS) == []
        browser.get("about:blank")  # before its server stops: no failed refresh in the log


@contextlib.contextmanager
def wall_on(folder: Path, **env: str) -> Iterator[WallProcess]:
    """A wall of its own on the store `folder`/ioc.db, with an empty cache."""
    server = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
            "IOC_CACHE_URL": f"file://{folder / 'cache'}",
            **env,
        },
        log_path=folder / "wall.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Run before the page's own scripts: notes whether a tile ever said it was loading.
NOTE_LOADING = """
window.sawLoading = [];
new MutationObserver(() => {
  const loading = document.querySelector('.tile--loading');
  if (loading && !window.sawLoading.length) window.sawLoading.push(loading.textContent);
}).observe(document, {subtree: true, childList: true});
"""


def test_a_wall_started_cold_shows_what_it_has_read_and_fills_in_the_rest(browser, tmp_path):
    """With an empty cache a first read that outlasts `first_read_wait_seconds` (here nearly
    all of them) leaves its tiles saying they are loading; the next ticks fill them in."""
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, datetime.now(UTC) - timedelta(seconds=1))
    resize(browser, *SIZES[0])
    console_errors(browser)  # what earlier tests left in the log
    script = browser.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": NOTE_LOADING}
    )
    try:
        with wall_on(
            tmp_path, IOC_REFRESH_SECONDS="1", IOC_FIRST_READ_WAIT_SECONDS="0.001"
        ) as server:
            browser.get(f"{server.url}/overview")
            assert wait_for(browser, SCREEN_DRAWN, what="overview filled in") == "Tổng quan"
            assert browser.execute_script("return window.sawLoading") == ["◌Đang tải dữ liệu…"]
            assert console_errors(browser) == []
            browser.get("about:blank")
    finally:
        browser.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]}
        )


# Installed before any script of a page runs: every Content-Security-Policy violation, recorded.
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' '
                    + (e.sample || ''));
});
"""


def csp_problems(driver) -> list[str]:
    recorded = driver.execute_script("return window.__csp || ['no watcher on this page']")
    logged = [m for m in console_errors(driver) if "Content Security Policy" in m]
    return [*recorded, *logged]


@pytest.fixture
def watched_browser():
    """A browser of its own that records CSP violations on every page it opens."""
    driver = chromium()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    yield driver
    driver.quit()


def test_every_page_works_under_the_content_security_policy_with_no_violation(
    wall, watched_browser
):
    browser = watched_browser
    policy = requests.get(f"{wall.url}/overview", timeout=10).headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
    assert "'unsafe-eval'" not in policy
    for name in SCREENS:
        browser.get(f"{wall.url}/{name}")
        wait_for(browser, SCREEN_DRAWN, what=f"{name} drawn under the CSP")
        assert csp_problems(browser) == [], name
    browser.get(f"{wall.url}/assets/kiosk-start.html?url=/kiosk?layouts=overview,alerts%26rotate=5")
    assert wait_for(browser, SCREEN_DRAWN, what="the kiosk opened by its start page")
    shown_alerts = VISIBLE.replace(
        "return f ? f.querySelector('.screen-title').textContent : null",
        "return !!f && f.querySelector('.screen-title').textContent === 'Cảnh báo'",
    )
    wait_for(browser, shown_alerts, timeout=15, what="the kiosk rotated to alerts")
    assert wait_for(browser, SCREEN_DRAWN) == "Cảnh báo"
    assert csp_problems(browser) == [], "kiosk"
    browser.get(f"{wall.url}/officer/signin")
    assert csp_problems(browser) == [], "sign-in page"
    browser.find_element(By.NAME, "name").send_keys("tran.binh")
    browser.find_element(By.NAME, "password").send_keys(OFFICER_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form button").click()
    wait_for(
        browser,
        "return location.pathname === '/officer' && document.readyState === 'complete'",
        what="the console after signing in",
    )
    assert "tran.binh" in browser.find_element(By.TAG_NAME, "body").text
    assert csp_problems(browser) == [], "console"
    browser.get(f"{wall.url}/officer/audit")
    assert csp_problems(browser) == [], "audit"
    # The policy is in force: a script slipped into the page does not run, and is reported.
    ran = browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__slipped = 1';"
        "document.head.appendChild(s); return window.__slipped === 1;"
    )
    assert ran is False
    assert wait_for(browser, "return window.__csp.length > 0 && window.__csp")[0].startswith(
        "script-src"
    )
    assert console_errors(browser) != []  # Chromium says so in the console too


@pytest.fixture
def other_site(tmp_path) -> Iterator[str]:
    """Another web server (its own origin) that answers /healthz like the wall would."""
    (tmp_path / "healthz").write_text("ok")
    (tmp_path / "index.html").write_text("<title>other site</title><p>other site</p>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


START_STATE = "return document.getElementById('state').textContent"
START_DETAIL = "return document.getElementById('detail').textContent"


def test_the_kiosk_start_page_served_by_the_wall_opens_only_the_walls_own_paths(
    wall, browser, other_site
):
    start = f"{wall.url}/assets/kiosk-start.html"
    assert requests.get(f"http://{other_site}/healthz", timeout=5).ok  # it would be opened
    for elsewhere in (
        f"http://{other_site}/",
        f"//{other_site}/",
        f"/\\{other_site}/",
        f"/\t/{other_site}/",  # the URL parser drops the tab: //host
        "javascript:document.title='opened'",
        "data:text/html,<p>opened</p>",
    ):
        browser.get(f"{start}?url={quote(elsewhere)}")
        time.sleep(1.5)  # the page goes on the first answer of /healthz, within milliseconds
        assert browser.current_url.startswith(start), (elsewhere, browser.current_url)
        assert "Địa chỉ không hợp lệ" in browser.execute_script(START_STATE), elsewhere
        detail = browser.execute_script(START_DETAIL)
        assert "đường dẫn của chính máy chủ này" in detail and elsewhere in detail, detail
        assert browser.title != "opened"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "kiosk-start-refused-1920x1080.png"))
    browser.get(f"{start}?url={quote('/kiosk?layouts=overview')}")
    assert wait_for(browser, SCREEN_DRAWN) == "Tổng quan"
    assert browser.current_url == f"{wall.url}/kiosk?layouts=overview"
    # On the kiosk's own disk it takes the wall's http(s) address (tested above), nothing else.
    on_disk = (PROJECT_DIR / "assets" / "kiosk-start.html").as_uri()
    browser.get(f"{on_disk}?url={quote('javascript:document.title=1')}")
    assert "Địa chỉ không hợp lệ" in wait_for(browser, START_STATE)
    assert browser.current_url.startswith(on_disk)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain one-colour PNG (a map tile)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


class TileServer(http.server.ThreadingHTTPServer):
    """A raster tile server on its own origin: every /z/x/y.png is one grey tile."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        tile = png(256, 256, (40, 48, 56))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.asked.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Access-Control-Allow-Origin", "*")  # as tile servers do
                self.send_header("Content-Length", str(len(tile)))
                self.end_headers()
                self.wfile.write(tile)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_the_report_map_draws_its_tiles_under_the_content_security_policy(
    tmp_path, watched_browser
):
    tiles = TileServer()
    store = SQLiteStore(tmp_path / "ioc.db")
    seed(store, datetime.now(UTC))
    store.close()
    server = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}",
            "IOC_CACHE_URL": f"file://{tmp_path / 'cache'}",
            "IOC_MAP_TILES_URL": f"http://127.0.0.1:{tiles.server_port}/{{z}}/{{x}}/{{y}}.png",
        },
        log_path=tmp_path / "wall.log",
    )
    server.start()
    try:
        policy = requests.get(f"{server.url}/reports", timeout=10).headers[
            "Content-Security-Policy"
        ]
        assert f"http://127.0.0.1:{tiles.server_port}" in policy
        watched_browser.get(f"{server.url}/reports")
        assert wait_for(watched_browser, SCREEN_DRAWN) == "Phản ánh hiện trường"
        wait_for(watched_browser, "return !!document.querySelector('.maplibregl-canvas')")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not tiles.asked:
            time.sleep(0.25)
        assert tiles.asked and all(path.endswith(".png") for path in tiles.asked)
        time.sleep(1)  # the tiles drawn
        problems = csp_problems(watched_browser)
        assert problems == [], "\n".join(problems)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        watched_browser.save_screenshot(str(SCREENSHOTS / "reports-map-tiles-1920x1080.png"))
    finally:
        server.stop()
        tiles.shutdown()
        tiles.server_close()
