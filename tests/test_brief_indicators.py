"""The brief's indicators as the wall judges them: values sent over MQTT (`ioc/kpi/<id>`) count
as the indicators and accountability screens count them, and the brief says which indicators
changed state since the previous period's end. `python -m wall brief` on a seeded store, SQLite
and a real influxd, read back from the PDF (pdftotext) and the CSV."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.test_brief import PAGES, ZONE_OFFSET, pdf_text
from wall.city import load_profile
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Point
from wall.submissions import STREAM, key_of

MQTT_FED = "phan_anh_dung_han"  # monthly, last value, target 90 (Văn phòng HĐND và UBND)
QUARTERLY_MQTT = "thu_ngan_sach"  # quarterly, target 100 (Phòng Kinh tế, Hạ tầng và Đô thị)
NAMES = {i.indicator_id: (i.name_vi, i.name_en) for i in load_profile().indicators}


def local(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) - ZONE_OFFSET + timedelta(hours=hour)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def seed(store) -> None:
    """Over MQTT: `phan_anh_dung_han` 95 a day through September and October, then down a point
    every three days through November to 85 on the 30th; `thu_ngan_sach` 101 a day through Q3.
    Submitted by its unit: `hs_dung_han` 99 for October, 90 for November; `dvc_toan_trinh` 50
    for October, 85 for November. Nothing for `giai_ngan_dtc`, ever."""
    points = []
    for day in days(date(2026, 9, 1), date(2026, 11, 30)):
        value = 95.0 if day.month < 11 else 95.0 - (day.day // 3)
        fields = {"actual": value, "period": f"{day:%Y-%m}", "target": 90.0, "unit": "%"}
        points.append(Point("kpi", {"indicator_id": MQTT_FED, "sector": "hanh_chinh"}, fields,
                            local(day)))  # fmt: skip
    for day in days(date(2026, 7, 1), date(2026, 9, 30)):
        fields = {"actual": 101.0, "period": "2026-Q3", "target": 100.0, "unit": "%"}
        points.append(Point("kpi", {"indicator_id": QUARTERLY_MQTT, "sector": "tai_chinh"}, fields,
                            local(day)))  # fmt: skip
    store.write(points)

    def submitted(indicator_id: str, period: str, value: float, day: date) -> Event:
        data = {"indicator_id": indicator_id, "period": period, "value": value,
                "path": "console", "unit": "tt-hcc", "submission": f"s-{period}"}  # fmt: skip
        return Event.new(STREAM, key_of(indicator_id, period), "submitted", actor="hoa",
                         data=data, at=local(day))  # fmt: skip

    store.append_events(
        [
            submitted("hs_dung_han", "2026-10", 99.0, date(2026, 10, 31)),
            submitted("dvc_toan_trinh", "2026-10", 50.0, date(2026, 10, 31)),
            submitted("hs_dung_han", "2026-11", 90.0, date(2026, 11, 30)),
            submitted("dvc_toan_trinh", "2026-11", 85.0, date(2026, 11, 30)),
        ]
    )


def brief(store_url: str, out, period: str, day: str, lang: str) -> tuple[dict, str]:
    """The CSV rows by (section, figure, key) and the PDF's words on one line."""
    environ = {**os.environ, "IOC_STORE": store_url}
    done = subprocess.run(
        [sys.executable, "-m", "wall", "brief", "--period", period, "--date", day,
         "--lang", lang, "--out", str(out)],
        cwd=PROJECT_DIR, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (pdf,) = out.glob(f"brief-{period}-*.pdf")
    rows = {
        (r["section"], r["figure"], r["key"]): r
        for r in csv.DictReader(pdf.with_suffix(".csv").open(encoding="utf-8"))
    }
    PAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(pdf), str(PAGES / f"{out.name}-{lang}")], check=True
    )
    return rows, " ".join(pdf_text(pdf).split())


def name(indicator_id: str, lang: str = "vi") -> str:
    return NAMES[indicator_id][0 if lang == "vi" else 1]


def section(rows: dict, wanted: str) -> set[tuple[str, str]]:
    return {(figure, key) for (part, figure, key) in rows if part == wanted}


@pytest.fixture
def seeded(store):
    seed(store)
    return store


def test_an_mqtt_fed_indicator_is_judged_and_counts_as_delivered(seeded, store_url, tmp_path):
    # 20 October: September's and Q3's values came over MQTT only, October's so far are 95.
    rows, words = brief(store_url, tmp_path / "day", "day", "2026-10-20", "vi")
    assert rows["indicators", "met", name(MQTT_FED)]["value"] == "95"
    assert rows["indicators", "met", name(MQTT_FED)]["previous"] == "2026-10"
    assert rows["indicators", "met", name(QUARTERLY_MQTT)]["previous"] == "2026-Q3"
    late = {(f, k) for (f, k) in section(rows, "indicators") if f in ("late", "missing")}
    # September's and Q3's values were sent in their periods: delivered, on time, not missing;
    # the indicators nobody gave a value for are.
    assert {
        ("missing", name("hs_dung_han")),
        ("missing", name("dvc_toan_trinh")),
        ("missing", name("giai_ngan_dtc")),
    } <= late
    assert not any(k in (name(MQTT_FED), name(QUARTERLY_MQTT)) for _, k in late), late
    assert f"{name(MQTT_FED)} (2026-09)" not in words
    assert (
        f"{name('giai_ngan_dtc')} (2026-Q3) – Phòng Kinh tế, Hạ tầng và Đô thị: chưa nộp" in words
    )
    assert f"{name('hs_dung_han')} (2026-09) – Trung tâm Phục vụ hành chính công: chưa nộp" in words

    # November: its MQTT values ended at 85, under the target of 90.
    rows, words = brief(store_url, tmp_path / "month", "month", "2026-11-15", "vi")
    assert rows["indicators", "missed", name(MQTT_FED)]["value"] == "85"
    assert rows["indicators", "missed", name(MQTT_FED)]["previous"] == "2026-11"
    assert f"• Không đạt: {name(MQTT_FED)} (2026-11): 85 / mục tiêu 90" in words
    assert ("missing", name(QUARTERLY_MQTT)) not in section(rows, "indicators")
    assert f"{name(QUARTERLY_MQTT)} (2026-Q3) –" not in words
    # The PDF's counts are the CSV's rows.
    states = [f for (part, f, _) in rows if part == "indicators"]
    count = {s: states.count(s) for s in ("met", "on_track", "at_risk", "missed")}
    assert (
        f"Đạt: {count['met']} · Đúng hướng: {count['on_track']} · "
        f"Có nguy cơ không đạt: {count['at_risk']} · Không đạt: {count['missed']}"
    ) in words
    # The first page's figure against target: the indicators met, this period and the last.
    assert rows["headline", "indicators_met", ""]["value"] == str(count["met"])
    assert f"Chỉ số đạt mục tiêu {count['met']} " in words


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_changes_since_the_last_brief_or_none(seeded, store_url, tmp_path, lang):
    rows, words = brief(store_url, tmp_path / "month", "month", "2026-11-15", lang)
    changes = {
        key: (rows["indicator_changes", "state", key], rows["indicator_changes", "value", key])
        for (part, figure, key) in rows
        if part == "indicator_changes" and figure == "state"
    }
    assert set(changes) == {name(i, lang) for i in (MQTT_FED, "hs_dung_han", "dvc_toan_trinh")}
    said = {
        k: (s["previous"], s["value"], v["previous"], v["value"]) for k, (s, v) in changes.items()
    }
    assert said[name(MQTT_FED, lang)] == ("met", "missed", "95", "85")
    assert said[name("hs_dung_han", lang)] == ("met", "missed", "99", "90")
    assert said[name("dvc_toan_trinh", lang)] == ("missed", "met", "50", "85")
    assert rows["indicator_changes", "period", name(MQTT_FED, lang)]["previous"] == "2026-10"
    assert ("indicator_changes", "no_change", "") not in rows
    if lang == "vi":
        assert "Thay đổi so với báo cáo trước (tháng 10/2026)" in words
        assert (
            f"• {name(MQTT_FED, lang)}: Đạt → Không đạt (giá trị 95 (2026-10) → 85 (2026-11))"
            in words
        )
        assert (
            f"• {name('dvc_toan_trinh', lang)}: Không đạt → Đạt "
            "(giá trị 50 (2026-10) → 85 (2026-11))" in words
        )
    else:
        assert "Changes since the last brief (October 2026)" in words
        assert (
            f"• {name(MQTT_FED, lang)}: Met → Missed (value 95 (2026-10) → 85 (2026-11))" in words
        )

    # 20 October against 19 October: every indicator stands as it stood.
    rows, words = brief(store_url, tmp_path / "day", "day", "2026-10-20", lang)
    assert section(rows, "indicator_changes") == {("no_change", "")}
    assert ("Không thay đổi." if lang == "vi" else "No change.") in words
    heading = "Thay đổi so với báo cáo trước" if lang == "vi" else "Changes since the last brief"
    assert f"{heading} ({'ngày' if lang == 'vi' else 'day'} 19/10/2026)" in words
