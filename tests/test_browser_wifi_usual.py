"""The WiFi screen's usual band and anomaly marks in real headless Chromium against
`python -m wall serve`: three weeks of the town's access points in the store, then a crowd at
one site and an access point falling silently to 0 users, raised by the real evaluator's anomaly
rule. The curve must show the band (reaching past now: the forecast) behind today's line, and a
triangle for each, in Vietnamese and in English. Screenshots: test-artifacts/screenshots/
wifi-usual-*.png (look at them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from feeds.inventory import load_inventory
from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.city import load_profile
from wall.heartbeat import Heartbeat
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore

PROFILE = load_profile("hoa-thanh")
CROWD_SITE = "Chợ Long Hoa"  # 8 access points
SILENT_AP = "ap-001"  # at Tòa Thánh Tây Ninh
TAGS = ["ap_id", "ward", "site"]


def usual_clients(times: pd.DatetimeIndex, capacity: np.ndarray) -> np.ndarray:
    """40 users at night, up to 100 in the afternoon (local time), scaled a little by capacity."""
    local = times.tz_convert(PROFILE.timezone)
    hour = local.hour + local.minute / 60
    shape = np.asarray(40 + 60 * np.exp(-(((hour - 15) / 3.0) ** 2)))
    return shape[None, :] * (capacity[:, None] / 250)


@pytest.fixture(scope="module")
def wall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wall-wifi-usual")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    inventory = load_inventory(PROFILE.inventory_path, PROFILE)
    aps = inventory.access_points
    capacity = np.array([ap.capacity for ap in aps], dtype=float)
    crowd_start = now - timedelta(minutes=30)
    times = pd.date_range(now - timedelta(weeks=3), crowd_start, freq="15min", tz="UTC")
    rng = np.random.default_rng(18)
    clients = usual_clients(times, capacity) * rng.uniform(0.9, 1.1, (len(aps), len(times)))
    clients = np.round(clients).astype(int)
    # Byte counters rising with the users (the throughput tile reads them).
    received = np.cumsum(clients * 2_000_000, axis=1)
    history = pd.DataFrame(
        {
            "time": np.tile(times, len(aps)),
            "ap_id": np.repeat([ap.ap_id for ap in aps], len(times)),
            "ward": np.repeat([ap.ward for ap in aps], len(times)),
            "site": np.repeat([ap.site for ap in aps], len(times)),
            "up": True,
            "clients": clients.ravel(),
            "capacity": np.repeat(capacity.astype(int), len(times)),
            "rx_bytes": received.ravel(),
            "tx_bytes": received.ravel() // 4,
        }
    )
    store = SQLiteStore(folder / "ioc.db")
    store.write_frame("wifi_usage", history, TAGS)
    # The anomaly rule alone, evaluated each minute of the last half hour while the market
    # fills (6 times its usual users) and one access point says it is up with nobody on it.
    rules = {name: {"enabled": False} for name in check_rules({}) if name != "anomaly"}
    clock = [crowd_start]
    evaluator = AlertEvaluator(store, check_rules(rules), clock=lambda: clock[0], profile=PROFILE)
    raised = []
    counters = received[:, -1].copy()
    while clock[0] <= now:
        at = pd.DatetimeIndex([clock[0]])
        rows = []
        for n, ap in enumerate(aps):
            usual = float(usual_clients(at, np.array([float(ap.capacity)]))[0, 0])
            value = 6 * usual if ap.site == CROWD_SITE else 0 if ap.ap_id == SILENT_AP else usual
            counters[n] += round(value) * 500_000
            row = (ap.ap_id, ap.ward, ap.site, round(value), ap.capacity, counters[n])
            rows.append((*row, counters[n] // 4))
        columns = [*TAGS, "clients", "capacity", "rx_bytes", "tx_bytes"]
        frame = pd.DataFrame(rows, columns=columns)
        store.write_frame("wifi_usage", frame.assign(time=clock[0], up=True), TAGS)
        raised += [e for e in evaluator.evaluate() if e.kind == "raised"]
        clock[0] += timedelta(minutes=1)
    keys = {e.key for e in raised}
    assert f"anomaly:site:{CROWD_SITE}" in keys and f"anomaly:ap:{SILENT_AP}" in keys, keys
    server = wall_on_sqlite(
        folder,
        IOC_REFRESH_SECONDS="1",
        IOC_HISTORY_REFRESH_SECONDS="2",
        IOC_STALE_AFTER_SECONDS="3600",  # not fed live here
        IOC_ALERT_EVALUATE_SECONDS="3600",  # the beat below stays fresh throughout
    )
    heartbeat = Heartbeat(Settings(heartbeat_dir=str(folder / "heartbeat")), "alerts")
    heartbeat.path.parent.mkdir()
    heartbeat.beat()  # the alert service ran (above): no warning that it never did
    server.start()
    yield server
    server.stop()
    store.close()


# The curve's figure as plotly holds it in the page, and what it drew.
CURVE = """
const graph = document.querySelector('#wifi-curve .js-plotly-plot');
if (!graph || !graph.data) return false;
const band = graph.data.find(t => t.fill === 'tonexty');
const marks = graph.data.filter(t => t.marker && String(t.marker.symbol).startsWith('triangle'));
if (!band || marks.length < 2) return false;
const box = graph.getBoundingClientRect();
const labels = Array.from(graph.querySelectorAll('.annotation-text'));
return {
  band: band.name,
  bandEnd: String(band.x[band.x.length - 1]),
  xRange: graph.layout.xaxis.range.map(String),
  marks: marks.map(t => ({name: t.name, symbol: t.marker.symbol})),
  filled: graph.querySelectorAll('.scatterlayer .js-fill').length,
  drawnMarks: graph.querySelectorAll('.scatterlayer .points path').length,
  labels: labels.map(t => t.textContent),
  labelPx: labels.map(t => parseFloat(t.style.fontSize)),
  legend: Array.from(graph.querySelectorAll('.legendtext')).map(t => t.textContent),
  // Pairs of labels whose boxes cross (the words "now" and "forecast" were once hidden under
  // a fresh anomaly's label at the chart's top).
  crossing: labels.flatMap((a, i) => labels.slice(i + 1).filter(b => {
      const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      return p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
  }).map(b => [a.textContent, b.textContent])),
  inside: labels.every(t => {
      const r = t.getBoundingClientRect();
      return r.left >= box.left && r.right <= box.right && r.top >= box.top - 1
          && r.bottom <= box.bottom + 1;
  }),
};
"""


# The clients-per-site chart as drawn: each row's name, value and bar, by their place on screen.
SITES = """
const graph = document.querySelector('#wifi-sites .js-plotly-plot');
if (!graph) return false;
const rows = (selector, within = graph) => Array.from(within.querySelectorAll(selector)).map(e => {
  const r = e.getBoundingClientRect();
  return {text: e.textContent, middle: (r.top + r.bottom) / 2, width: r.width};
}).sort((a, b) => a.middle - b.middle);
const names = rows('.ytick text');
const values = rows('.y2tick text');
const bars = rows('.point path', graph.querySelector('.barlayer'));  // the visible bars' subplot
if (!names.length || names.length !== values.length || names.length !== bars.length) {
  return {counts: [names.length, values.length, bars.length]};
}
return {names: names.map(r => r.text), values: values.map(r => r.text),
        bars: bars.map(r => r.width),
        apart: Math.max(...names.map((r, i) => Math.abs(r.middle - bars[i].middle)))};
"""


def sites_read_top_down(browser) -> None:
    """The busiest site on top, its name, value and bar on one row, and so on down (in one
    run the names and bars were drawn bottom-up against the values' column)."""
    sites = wait_for(browser, f"return (() => {{{SITES}}})();", 30, "the sites chart")
    assert "counts" not in sites, sites
    counts = [int(v.lstrip("▲▼ ").replace(".", "").replace(",", "")) for v in sites["values"]]
    assert counts == sorted(counts, reverse=True), sites
    assert sites["bars"] == sorted(sites["bars"], reverse=True), sites
    assert sites["names"][0] == CROWD_SITE, sites
    # The crowd's site is out of its usual band (its anomaly is open): a triangle before its
    # value, not a colour alone.
    assert sites["values"][0].startswith("▲ "), sites
    assert not any(v.startswith(("▲", "▼")) for v in sites["values"][1:]), sites
    assert sites["apart"] < 5, sites  # each name beside its own bar


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("vi", ("Mức bình thường", "Bất thường", "Bây giờ", "Dự báo →")),
        ("en", ("Usual range", "Anomaly", "Now", "Forecast →")),
    ],
)
def test_the_usual_band_and_the_anomalies_are_drawn_on_the_wifi_curve(wall, browser, lang, words):
    band_name, anomaly, now_word, forecast = words
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1920, 1080), (3840, 2160)):
        resize(browser, width, height)
        browser.get(f"{wall.url}/kiosk?layouts=wifi&lang={lang}")
        wait_for(browser, SCREEN_DRAWN, what="the WiFi screen drawn")
        curve = wait_for(browser, f"return (() => {{{CURVE}}})();", 30, "band and marks")
        assert curve["band"] == band_name
        # The band reaches 6 h past now (the forecast of the next hours), as the axis does.
        assert pd.Timestamp(curve["bandEnd"]) >= pd.Timestamp(curve["xRange"][1])
        symbols = sorted(m["symbol"] for m in curve["marks"])
        assert symbols == ["triangle-down", "triangle-up"], curve
        assert {m["name"] for m in curve["marks"]} == {anomaly}
        assert curve["filled"] >= 1 and curve["drawnMarks"] >= 2, curve
        # The market's crowd raised its site's and its access points' alerts in one window:
        # one mark named after the site; the silent access point its own, with its site.
        labels = curve["labels"]
        assert any(label.startswith(CROWD_SITE + " +") for label in labels), curve
        assert any(label.startswith(SILENT_AP + " · Tòa Thánh") for label in labels), curve
        assert now_word in labels and forecast in labels, curve
        assert curve["inside"], curve  # no label runs off the chart
        assert curve["crossing"] == [], curve  # nor over another
        # 20 px on a 1080p panel (1.3 cm on a 55" one): read from 5 m; twice on 4K.
        assert min(curve["labelPx"]) >= 20 * width / 1920 - 0.5, curve
        assert {band_name, anomaly} <= set(curve["legend"]), curve
        sites_read_top_down(browser)
        browser.save_screenshot(str(SCREENSHOTS / f"wifi-usual-{lang}-{width}x{height}.png"))
    assert console_errors(browser) == []
