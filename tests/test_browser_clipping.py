"""Nothing clipped on any screen: every text a screen draws (HTML, and the SVG text plotly draws)
lies whole inside its panel, at the wall's sizes, in both languages, with data chosen to be long.

Every screen shows its alarm banner here (critical alerts with the longest text, a flood, alert
rules that never ran), as it takes room from the panels. The check (tests/clipping.js) finds
clipping by itself: a text run outside a box that clips it,
outside its panel or the screen, cut by an ellipsis where the element is not meant to truncate
(`data-truncates`: lists of titles), or drawn over another element's text on the same line.
Sizes: a 1080p panel, a 4K wall (a 2×2 wall of 1080p panels driven as one), and one quarter of a
1080p panel (a screen in a 2×2 grid on one display): the smallest the wall is drawn at.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.inventory import load_inventory
from feeds.payloads import MAX_NAME_CHARS, MAX_TITLE_CHARS
from layouts import SCREENS
from tests.browser_fixtures import INVENTORY, resize, seed, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.alerts.state import open_alerts, record
from wall.city import load_profile
from wall.domain import REPORT_STATUSES, report_slot
from wall.periods import period_of
from wall.store import Event, Point
from wall.store.sqlite import SQLiteStore

SIZES = ((1920, 1080), (3840, 2160), (960, 540))
LANGS = ("vi", "en")
CLIPPED = (Path(__file__).parent / "clipping.js").read_text(encoding="utf-8")
SEVERITIES = ("critical", "high", "medium", "low")
# Words as long as Vietnamese place names get, repeated up to the contract's limits.
OFFICER = "Nguyễn Thị Minh Khai Phương Thảo Hoàng Lê"
LONG_WORDS = "Khu dân cư Nguyễn Thị Minh Khai – Trường Trung học Phổ thông Lê Quý Đôn"

CATEGORY_CODES = load_profile("hoa-thanh").category_codes


def long_text(limit: int) -> str:
    return (f"{LONG_WORDS} · " * (limit // len(LONG_WORDS) + 1))[:limit].strip()


def seed_long(store: SQLiteStore, now: datetime) -> None:
    """On top of the town's day: the longest names and titles the payload contract accepts,
    numbers in the millions, access points in every load band, every report status and every
    alert severity, each with long text."""
    rng = random.Random(19)
    inventory = load_inventory(INVENTORY, load_profile("hoa-thanh"))
    cams = inventory.cameras[:3]
    points = [
        Point(
            "camera_status",
            {"camera_id": cam.camera_id, "ward": cam.ward},
            {"online": False, "fps": 0.0, "name": long_text(MAX_NAME_CHARS), "lat": cam.lat,
             "lon": cam.lon},
            now - timedelta(minutes=3 + n),
        )
        for n, cam in enumerate(cams)
    ]  # fmt: skip
    # Loads at 95, 85 and 60 % of capacities in the thousands; byte counters in the terabytes.
    for n, (ap, load) in enumerate(
        zip(inventory.access_points[:6], (95, 92, 85, 80, 60, 5), strict=True)
    ):
        capacity = 4_000 + n
        for minutes, counter in ((10, 10**13), (5, 10**13 + 6 * 10**11), (0, 10**13 + 12 * 10**11)):
            points.append(
                Point(
                    "wifi_usage",
                    {"ap_id": ap.ap_id, "ward": ap.ward, "site": ap.site},
                    {"up": True, "clients": capacity * load // 100, "capacity": capacity,
                     "rx_bytes": counter, "tx_bytes": counter // 3},
                    now - timedelta(minutes=minutes),
                )
            )  # fmt: skip
    for n, status in enumerate(REPORT_STATUSES * 2):
        report_id = f"pa-long-{n:03d}"
        cam = rng.choice(inventory.cameras)
        created = now - timedelta(days=3, minutes=n)
        points.append(
            Point(
                "field_report",
                {"category": CATEGORY_CODES[n % len(CATEGORY_CODES)],
                 "ward": cam.ward, "report_slot": report_slot(report_id)},
                {"report_id": report_id, "status": status,
                 "title": long_text(MAX_TITLE_CHARS), "lat": cam.lat, "lon": cam.lon,
                 "created": created.isoformat(), "updated": now.isoformat()},
                now - timedelta(minutes=n),
            )
        )  # fmt: skip
    # This month's: their cards say where they are heading by its end, the longest text a card has.
    this_month = period_of("month", now, ZoneInfo(load_profile("hoa-thanh").timezone)).name
    for n, (unit, actual, target) in enumerate(
        (("nghìn lượt", 1_234_567.8, 1_500_000), ("tỷ đồng", 98_765_432.1, 90_000_000),
         ("hồ sơ/ngày", 3_456_789.0, 3_000_000))
    ):  # fmt: skip
        points.append(
            Point(
                "kpi",
                {"indicator_id": f"zz-{n:02d}", "sector": "kinh_te"},
                {"actual": actual, "target": float(target), "unit": unit,
                 "name": long_text(MAX_NAME_CHARS), "period": this_month},
                now - timedelta(minutes=1),
            )
        )  # fmt: skip
    store.write(points)
    # The town's alerts (the banner's oldest among them) owned by the longest officer's name.
    owner = {"owner_kind": "person", "owner": OFFICER, "names": {"vi": OFFICER, "en": OFFICER}}
    record(
        store,
        [
            Event.new("alerts", key, "assigned", actor=OFFICER, data=owner, at=now)
            for key in open_alerts(store)
        ],
    )
    record(store, long_alerts(now, cams[0].ward))
    record(store, long_anomalies(now, cams[0].ward))


def long_anomalies(now: datetime, ward: str) -> list[Event]:
    """Open anomalies with the longest figures their marks can get: the ward of the first long
    camera with all of the town's biggest ward's cameras down, the indicator in the millions
    (zz-00, named as long as the contract allows) against a band in the millions."""
    unit = load_profile("hoa-thanh").unit_of(ward) or ward
    usual = {"level": "weekday_hour", "weekday": 3, "hour": 14, "minute": 0}
    facts = {
        f"anomaly:cameras:{unit}": {"kind": "cameras", "name": unit, "name_vi": unit,
                                    "name_en": unit, "value": 69, "low": 0, "high": 12,
                                    "usual": 3.0, **usual},
        "anomaly:indicator:zz-00": {"kind": "indicator", "name": "zz-00",
                                    "name_vi": long_text(MAX_NAME_CHARS), "unit_vi": "nghìn lượt",
                                    "value": 1_234_567.8, "low": 987_654.3, "high": 1_111_111.1,
                                    "usual": 1_049_382.7, **usual},
    }  # fmt: skip
    return [
        Event.new(
            "alerts",
            key,
            "raised",
            actor="system",
            data={"severity": "medium", "rule": "anomaly", "ward": unit, "facts": found},
            at=now - timedelta(minutes=20),
        )
        for key, found in facts.items()
    ]


def long_alerts(now: datetime, ward: str) -> list[Event]:
    """Alerts of every severity with long text, raised in the last 6 minutes: with the town's
    alerts, an alarm flood (more than 10 in 10 minutes); every other one assigned to the
    handling unit with the longest name, the others to an officer. Asked again later, the same
    alerts are closed and raised anew (the flood goes on)."""
    events = []
    officer = OFFICER
    unit = max(load_profile("hoa-thanh").handling_units, key=lambda h: len(h.name_en))
    owners = (
        {"owner_kind": "unit", "owner": unit.code,
         "names": {"vi": unit.name_vi, "en": unit.name_en}},
        {"owner_kind": "person", "owner": officer, "names": {"vi": officer, "en": officer}},
    )  # fmt: skip
    for n, severity in enumerate(SEVERITIES * 3):
        key = f"camera_offline:{long_text(MAX_NAME_CHARS)} {n}"
        data = {"severity": severity, "title": key, "rule": "camera_offline",
                "ward": ward, "facts": {}}  # fmt: skip
        raised = now - timedelta(seconds=30 * n)
        closed = raised - timedelta(milliseconds=1)
        events.append(Event.new("alerts", key, "acknowledged", actor=officer, at=closed))
        events.append(Event.new("alerts", key, "cleared", actor="system", at=closed))
        events.append(Event.new("alerts", key, "raised", actor="system", data=data, at=raised))
        if n % 3 == 1:
            events.append(Event.new("alerts", key, "acknowledged", actor=officer, at=raised))
        owner = owners[n % 2]
        events.append(Event.new("alerts", key, "assigned", actor=officer, data=owner, at=raised))
    return events


@pytest.fixture(scope="module")
def long_wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long-wall")
    now = datetime.now(UTC)
    with SQLiteStore(folder / "ioc.db") as store:
        seed(store, now)
        seed_long(store, now)
    server = wall_on_sqlite(folder, IOC_STALE_AFTER_SECONDS="3600")
    server.start()
    server.db = folder / "ioc.db"
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def flood_goes_on(long_wall):
    """Each test sees the flood of `long_alerts` as new (the module runs for minutes)."""
    ward = load_inventory(INVENTORY, load_profile("hoa-thanh")).cameras[0].ward
    with SQLiteStore(long_wall.db) as store:
        record(store, long_alerts(datetime.now(UTC), ward))


SHOWN_FRAME = """
const frame = Array.from(document.querySelectorAll('.screen-frame'))
    .find(f => !f.classList.contains('screen-frame--hidden'));
"""


BANNER_IN_FULL = f"""{SHOWN_FRAME}
const banner = frame.querySelector('.alarm-banner');
return !!banner && !!banner.offsetParent
    && ['.alarm-count', '.alarm-oldest', '.alarm-flood', '.alarm-rules']
        .every(part => banner.querySelector(part));
"""


def clipped_at_every_size(
    browser, url: str, what: str, sizes=SIZES, banner_in_full: bool = True, prefix: str = "long"
) -> list[str]:
    """What the check finds on the page at `url` at each size, as 'where: why: text' lines
    (screenshots: `prefix`-`what`-WxH.png)."""
    found = []
    browser.get(url)
    for width, height in sizes:
        resize(browser, width, height)
        wait_for(browser, SCREEN_DRAWN, timeout=90, what=f"{what} drawn")
        if banner_in_full:
            # The alarm banner shown whole, as long as it gets: critical alerts with long text,
            # a flood, and alert rules that never ran (no alert service beats for this wall).
            wait_for(browser, BANNER_IN_FULL, what=f"{what}'s alarm banner with all it can say")
        # The next refresh redraws the figures for this size (their text scales with the wall).
        wait_for(
            browser,
            f"{SHOWN_FRAME}return Array.from(frame.querySelectorAll('.js-plotly-plot'))"
            ".every(g => g._fullLayout && "
            f"Math.abs(g._fullLayout.font.size - {22 * width / 1920}) < 0.5)",
            what=f"{what}'s figures scaled for {width}",
        )
        time.sleep(0.8)  # plotly finishes laying out at the new size
        browser.save_screenshot(str(SCREENSHOTS / f"{prefix}-{what}-{width}x{height}.png"))
        found += [
            f"{what} {width}×{height}: {p['where']}: {p['why']}: {p['text']!r}"
            for p in browser.execute_script(CLIPPED)
        ]
    return found


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(SCREENS))
def test_no_text_is_clipped_on_any_screen(long_wall, browser, name, lang):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = clipped_at_every_size(browser, f"{long_wall.url}/{name}?lang={lang}", f"{name}-{lang}")
    assert found == [], "\n".join(found)
    assert console_errors(browser) == []


def test_no_text_is_clipped_on_the_kiosk(long_wall, browser):
    """The kiosk draws the screens in frames of its own, with its rotation's marks."""
    url = f"{long_wall.url}/kiosk?layouts=alerts,reports&rotate=600&lang=en"
    found = clipped_at_every_size(browser, url, "kiosk")
    assert found == [], "\n".join(found)


ANOMALY_CARD = """
const card = document.querySelector('.kpi-card--anomaly');
if (!card) return false;
return Array.from(card.querySelector('.kpi-card-body').children)
  .filter(e => e.offsetParent).map(e => e.className.split(' ')[0]);
"""


def test_an_indicators_anomaly_keeps_its_line_where_a_long_catalogue_leaves_no_room(
    long_wall, browser
):
    """37 cards at 960×540: the card of the indicator in the millions gives up where its value
    came from and its projection's words (never cut: test above) for its anomaly's line and
    the triangle beside its value, which stay."""
    browser.get(f"{long_wall.url}/indicators")
    resize(browser, 960, 540)
    wait_for(browser, SCREEN_DRAWN, timeout=90, what="the indicators drawn")
    time.sleep(0.8)
    shown = wait_for(browser, f"return (() => {{{ANOMALY_CARD}}})();", what="the anomaly's card")
    assert "anomaly-note" in shown[shown.index("kpi-value-row") :], shown
    assert "kpi-source" not in shown and "kpi-status-row" in shown, shown
