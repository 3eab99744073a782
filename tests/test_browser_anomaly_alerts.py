"""The anomaly alerts of the newer series on the alerts screen in real headless Chromium against
`python -m wall serve`: three weeks of a normal town in the store, then a ward's power cut, a
surge of one category's field reports, an indicator far below its usual value and an access
point silent (up, 0 users) for more than an hour, raised by the real evaluator. Each must be
listed with its whole explanation (what it is now, what is usual then) readable, in Vietnamese
and in English. Screenshots: test-artifacts/screenshots/
anomaly-alerts-*.png (look at them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

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
