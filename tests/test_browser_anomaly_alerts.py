"""The anomaly alerts of the newer series on the alerts screen in real headless Chromium against
`python -m wall serve`: three weeks of a normal town in the store, then a ward's power cut, a
surge of one category's field reports, an indicator far below its usual value and an access
point silent (up, 0 users) for more than an hour, raised by the real evaluator. Each must be
listed with its whole explanation (what it is now, what is usual then) readable, in Vietnamese
and in English. Screenshots: test-artifacts/screenshots/
anomaly-alerts-*.png (look at them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from layouts.common import fmt_number
from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_anomaly_series import (
    CAMERAS,
    CATEGORY,
    INDICATOR,
    REPORT_TAGS,
    Run,
    cameras_now,
    report,
    seed,
    write_kpi,
)
from tests.test_anomaly_silent_ap import STATION
from tests.test_anomaly_silent_ap import seed as seed_ap
from tests.test_anomaly_silent_ap import write as write_ap
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from tests.test_browser_clipping import clipped_at_every_size
from wall.heartbeat import Heartbeat
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore

KEYS = {
    "anomaly:cameras:Long Hoa",
    f"anomaly:category:{CATEGORY.code}",
    f"anomaly:indicator:{INDICATOR.indicator_id}",
    "anomaly:ap:ap-station",
}


def three_to_ten(_, rng) -> int:
    return int(rng.integers(3, 11))


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-anomaly-alerts")
    now = pd.Timestamp(datetime.now(UTC)).floor("5min")
    at = now - pd.Timedelta(minutes=30)
    store = SQLiteStore(folder / "ioc.db")
    seed(store, at)
    silent_from = at - pd.Timedelta(minutes=80)  # a health station's AP: 0 users since
    seed_ap(store, STATION, silent_from, three_to_ten)
    quiet = pd.date_range(silent_from, at, freq="10min", inclusive="left")
    write_ap(store, STATION, quiet, [0] * len(quiet))
    run = Run(store, at)

    def incidents(minute, when):
        if minute % 10 == 0:
            write_ap(store, STATION, [when], [0])
        if minute == 0:
            cameras_now(store, when, "Long Hoa", online=False)
        rows = [report(when, ward, CATEGORY.code) for ward in CAMERAS]
        store.write_frame("field_report", pd.DataFrame(rows), REPORT_TAGS)
        value = INDICATOR.level - 30
        write_kpi(store, pd.DataFrame({"time": [when], "actual": [value]}))

    run.minutes(35, each=incidents)
    assert set(run.of("raised")) >= KEYS, run.of("raised")
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_STALE_AFTER_SECONDS="3600",  # not fed live here
        IOC_ALERT_EVALUATE_SECONDS="3600",  # the beat below stays fresh throughout
    )
    heartbeat = Heartbeat(Settings(heartbeat_dir=str(folder / "heartbeat")), "alerts")
    heartbeat.path.parent.mkdir()
    heartbeat.beat()  # the alert service ran (above)
    server.start()
    yield server
    server.stop()
    store.close()


TITLES = """
return Array.from(document.querySelectorAll('.al-row')).map(row => {
  const title = row.querySelector('.al-title');
  const usual = row.querySelector('.al-usual');
  const whole = [title, usual].filter(Boolean);
  return {
    text: whole.map(e => e.textContent).join(' '),
    cut: whole.some(e => e.scrollWidth > e.clientWidth + 1),
  };
});
"""


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (
            "vi",
            (
                "Long Hoa: 12 camera mất kết nối lúc này",
                f"Lĩnh vực {CATEGORY.label_vi}: ",
                f"{INDICATOR.name_vi}: ",
                "Điểm WiFi ap-station (Trạm y tế Long Thành Bắc): 0 người dùng suốt ",
                "bình thường ",
            ),
        ),
        (
            "en",
            (
                "Long Hoa ward: 12 cameras offline now",
                f"Category {CATEGORY.label_en}: ",
                f"{INDICATOR.name_en}: ",
                "WiFi access point ap-station (Trạm y tế Long Thành Bắc): 0 users for ",
                "usual ",
            ),
        ),
    ],
)
def test_each_new_anomaly_is_listed_with_its_whole_explanation(wall, browser, lang, words):
    *starts, usual = words
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (3840, 2160)):
        resize(browser, width, height)
        browser.get(f"{wall.url}/kiosk?layouts=alerts&lang={lang}")
        wait_for(browser, SCREEN_DRAWN, what="the alerts screen drawn")
        rows = wait_for(
            browser,
            f"const rows = (() => {{{TITLES}}})(); return rows.length >= 4 && rows;",
            30,
            "the alerts listed",
        )
        browser.save_screenshot(str(SCREENSHOTS / f"anomaly-alerts-{lang}-{width}x{height}.png"))
        for start in starts:
            row = next((r for r in rows if r["text"].startswith(start)), None)
            assert row is not None, (start, rows)
            assert usual in row["text"] and not row["cut"], row
    assert console_errors(browser) == []


# The marks over the reports' hourly chart: plotly's own data and the labels it drew.
SURGE_MARKS = """
const graph = document.querySelector('#reports-hourly .js-plotly-plot');
if (!graph || !graph.data) return false;
const marks = graph.data.filter(t => t.mode === 'markers');
if (!marks.length) return false;
return {
  symbols: marks.map(t => t.marker.symbol),
  drawn: graph.querySelectorAll('.scatterlayer .points path').length,
  labels: Array.from(graph.querySelectorAll('.annotation-text')).map(t => t.textContent),
};
"""


@pytest.mark.parametrize(("lang", "label"), [("vi", CATEGORY.label_vi), ("en", CATEGORY.label_en)])
def test_a_report_surge_is_marked_on_the_reports_hourly_chart(wall, browser, lang, label):
    resize(browser, 1920, 1080)
    browser.get(f"{wall.url}/kiosk?layouts=reports&lang={lang}")
    # (not SCREEN_DRAWN: these reports have no coordinates, so the map has nothing to draw)
    marks = wait_for(browser, f"return (() => {{{SURGE_MARKS}}})();", 30, "the surge's mark")
    assert marks["symbols"] == ["triangle-up"] and marks["drawn"] >= 1, marks
    # the category and the wards' series raised in the same hours: named by the category
    assert any(text.startswith(label) for text in marks["labels"]), marks
    browser.save_screenshot(str(SCREENSHOTS / f"anomaly-reports-{lang}-1920x1080.png"))
    assert console_errors(browser) == []


# Text as read: the word joiners and no-break spaces that keep a band whole, as plain spaces.
READ = "const read = e => e.textContent.replace(/\\u2060/g, '').replace(/\\u00a0/g, ' ');"
# A ward's panel on the cameras screen: which panel carries the mark, its words and how big.
WARD_MARKS = (
    READ
    + """
return Array.from(document.querySelectorAll('.ward-panel--anomaly')).map(panel => {
  const note = panel.querySelector('.ward-anomaly');
  const symbol = note && note.querySelector('.anomaly-symbol');
  return {
    ward: panel.querySelector('.ward-name').textContent,
    text: note ? read(note) : '',
    symbol: symbol ? symbol.textContent : '',
    color: symbol ? getComputedStyle(symbol).color : '',
    px: note ? parseFloat(getComputedStyle(note).fontSize) : 0,
    inside: note ? (() => { const n = note.getBoundingClientRect(),
                                  p = panel.getBoundingClientRect();
                            return n.left >= p.left && n.right <= p.right + 1
                                && n.bottom <= p.bottom + 1; })() : false,
  };
});
"""
)
# The raise on the outages' chart: plotly's own data and the labels it drew.
TIMELINE_MARKS = """
const graph = document.querySelector('#cameras-timeline .js-plotly-plot');
if (!graph || !graph.data) return false;
const marks = graph.data.filter(t => t.mode === 'markers');
if (!marks.length) return false;
return {
  symbols: marks.map(t => t.marker.symbol),
  axes: marks.map(t => t.yaxis),
  drawn: graph.querySelectorAll('.scatterlayer .points path').length,
  labels: Array.from(graph.querySelectorAll('.annotation-text')).map(t => t.textContent),
};
"""
RED = "rgb(255, 112, 67)"  # --bad


@pytest.mark.parametrize(
    ("lang", "ward", "words"),
    [
        ("vi", "Long Hoa", r"Bất thường từ \d\d:\d\d: 12 mất kết nối · thường 0–"),
        ("en", "Long Hoa ward", r"Anomaly since \d\d:\d\d: 12 down · usual 0–"),
    ],
)
def test_a_wards_cameras_down_anomaly_is_marked_on_its_panel_and_the_outages_chart(
    wall, browser, lang, ward, words
):
    """The power cut's ward, and no other, carries the red triangle and its figures against the
    usual band, whole inside its panel and as big as the panel's other words; the raise is a
    triangle on the outages' time axis named by the ward. Nothing clipped at any size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{wall.url}/cameras?lang={lang}"
    found = clipped_at_every_size(
        browser, url, f"cameras-{lang}", banner_in_full=False, prefix="anomaly"
    )
    assert found == [], "\n".join(found)
    resize(browser, 1920, 1080)
    wait_for(browser, SCREEN_DRAWN, what="the cameras screen drawn")
    (panel,) = wait_for(
        browser, f"const m = (() => {{{WARD_MARKS}}})(); return m.length && m;", 30, "ward mark"
    )
    assert panel["ward"] == ward and re.match("▲" + words, panel["text"]), panel
    assert panel["symbol"] == "▲" and panel["color"] == RED and panel["inside"], panel
    assert panel["px"] >= 20, panel  # 1.15 rem of 18 px: read from the back of the room
    marks = wait_for(browser, f"return (() => {{{TIMELINE_MARKS}}})();", 30, "the raise's mark")
    assert marks["symbols"] == ["triangle-up"] and marks["axes"] == ["y2"], marks
    assert marks["drawn"] >= 1 and ward in marks["labels"], marks
    assert console_errors(browser) == []


# The indicator's card: the triangle beside its value and the line of its figures.
CARD_MARKS = (
    READ
    + """
return Array.from(document.querySelectorAll('.kpi-card--anomaly')).map(card => {
  const note = card.querySelector('.kpi-anomaly');
  const beside = card.querySelector('.kpi-value-row .anomaly-symbol');
  return {
    name: card.querySelector('.kpi-name').textContent,
    value: card.querySelector('.kpi-value').textContent,
    beside: beside ? beside.textContent : '',
    color: beside ? getComputedStyle(beside).color : '',
    text: note ? read(note) : '',
    px: note ? parseFloat(getComputedStyle(note).fontSize) : 0,
    shown: Array.from(card.querySelector('.kpi-card-body').children)
      .filter(e => e.offsetParent).map(e => e.className.split(' ')[0]),
    trend: (t => t && t.offsetParent ? t.getBoundingClientRect().height : 0)(
      card.querySelector('.kpi-trend')),
    rem: parseFloat(getComputedStyle(document.documentElement).fontSize),
  };
});
"""
)


@pytest.mark.parametrize(
    ("lang", "name", "words"),
    [
        ("vi", INDICATOR.name_vi, r"▼Bất thường từ \d\d:\d\d: [\d,]+ · thường [\d,]+–[\d,]+ %"),
        ("en", INDICATOR.name_en, r"▼Anomaly since \d\d:\d\d: [\d.]+ · usual [\d.]+–[\d.]+ %"),
    ],
)
def test_an_indicators_anomaly_is_marked_on_its_card(wall, browser, lang, name, words):
    """The indicator far below its usual value carries a downward red triangle beside its value
    and its figures against the usual band in its unit; cards fit at every size."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = f"{wall.url}/indicators?lang={lang}"
    found = clipped_at_every_size(
        browser, url, f"indicators-{lang}", banner_in_full=False, prefix="anomaly"
    )
    assert found == [], "\n".join(found)
    resize(browser, 1920, 1080)
    wait_for(browser, SCREEN_DRAWN, what="the indicators screen drawn")
    (card,) = wait_for(
        browser, f"const m = (() => {{{CARD_MARKS}}})(); return m.length && m;", 30, "card mark"
    )
    value = fmt_number(INDICATOR.level - 30, lang)  # the hour's mean, as the rule read it
    assert card["name"] == name and card["value"] == value, card
    assert card["beside"] == "▼" and card["color"] == RED, card
    assert re.fullmatch(words, card["text"]) and card["px"] >= 15, card
    # The town's 17 cards have room for the anomaly's line and all the card says besides.
    assert {"kpi-projection", "kpi-source", "kpi-status-row"} <= set(card["shown"]), card
    # Its trend is drawn at a height that shows a fall, or not at all (never a sliver).
    assert card["trend"] == 0 or card["trend"] >= 1.5 * card["rem"], card
    assert console_errors(browser) == []
