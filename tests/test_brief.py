"""`python -m wall brief`, as an operator runs it, on a store seeded with known figures."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from wall.city import load_profile
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Point
from wall.store.sqlite import SQLiteStore

ZONE_OFFSET = timedelta(hours=7)  # Hòa Thành, Asia/Ho_Chi_Minh (no daylight saving)
PAGES = PROJECT_DIR / "test-artifacts" / "brief"
WARD_A, WARD_B = load_profile().unit_names[:2]


def yesterday() -> date:
    return (datetime.now(UTC) + ZONE_OFFSET).date() - timedelta(days=1)


def seed(path, day: date) -> None:
    """A day of two cameras (A always up, B down 00:00-06:00), two access points (10 and 30
    users) with no WiFi data 12:00-14:00, four reports received (3 in A), two resolved."""
    start = datetime.combine(day, datetime.min.time(), UTC) - ZONE_OFFSET
    points = []
    for quarter in range(96):
        at = start + timedelta(minutes=15 * quarter)
        points.append(
            Point("camera_status", {"camera_id": "c1", "ward": WARD_A}, {"online": True}, at)
        )
        points.append(
            Point(
                "camera_status", {"camera_id": "c2", "ward": WARD_B}, {"online": quarter >= 24}, at
            )
        )
        if not 48 <= quarter < 56:
            for ap, site, users in (("a1", "Cho", 10), ("a2", "Cong vien", 30)):
                tags = {"ap_id": ap, "ward": WARD_A, "site": site}
                points.append(Point("wifi_usage", tags, {"clients": users}, at))
    for n, ward in enumerate((WARD_A, WARD_A, WARD_A, WARD_B)):
        at = start + timedelta(hours=2 + n)
        tags = {"category": "road", "ward": ward, "report_slot": f"0{n}"}
        points.append(Point("field_report", tags, {"report_id": f"r{n}", "status": "new"}, at))
        if n < 2:
            later = at + timedelta(hours=5)
            points.append(
                Point("field_report", tags, {"report_id": f"r{n}", "status": "resolved"}, later)
            )
    alerts = []
    for n in range(3):
        raised = start + timedelta(hours=8 + n)
        alerts.append(Event.new("alerts", f"k{n}", "raised", at=raised))
        if n < 2:
            at = raised + timedelta(minutes=10 * (n + 1))
            alerts.append(Event.new("alerts", f"k{n}", "acknowledged", actor="an", at=at))
    alerts.append(Event.new("alerts", "k2", "escalated", at=start + timedelta(hours=12)))
    with SQLiteStore(path) as store:
        store.write(points)
        store.append_events(alerts)


def run_brief(path, *args: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "IOC_STORE": f"sqlite:///{path}"}
    return subprocess.run(
        [sys.executable, "-m", "wall", "brief", *args],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("brief")
    seed(folder / "ioc.db", yesterday())
    return folder


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_brief_says_the_seeded_figures_in_pdf_and_csv(seeded, lang):
    day = yesterday()
    out = seeded / f"out-{lang}"
    done = run_brief(
        seeded / "ioc.db", "--period", "day", "--date", day.isoformat(), "--lang", lang,
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pdf, table = out / f"brief-day-{day}.pdf", out / f"brief-day-{day}.csv"
    rows = {(r["section"], r["figure"], r["key"]): r for r in csv.DictReader(table.open())}
    assert rows["headline", "camera_availability", ""]["value"] == "0.875"
    assert rows["headline", "wifi_users_mean", ""]["value"] == "40"
    assert rows["headline", "reports_received", ""]["value"] == "4"
    assert rows["headline", "reports_resolved", ""]["value"] == "2"
    assert rows["headline", "reports_received", ""]["previous"] == "0"
    assert (
        rows["cameras", "availability", load_profile().unit_name(WARD_B, lang)]["value"] == "0.75"
    )
    assert rows["wifi", "users_mean", "Cong vien"]["value"] == "30"
    # the longest outages: B's camera down 00:00-06:00, A's never
    outage = rows["cameras", "offline_hours", "c2"]
    assert (outage["value"], outage["previous"]) == ("6", load_profile().unit_name(WARD_B, lang))
    assert ("cameras", "offline_hours", "c1") not in rows
    # the busiest hour: 40 users from midnight (17:00 UTC the day before) on, the first of them
    peak = rows["wifi", "peak_hour", ""]
    assert peak["value"].startswith(f"{day - timedelta(days=1)}T17:00:00"), peak
    assert peak["previous"] == "40"
    assert rows["headline", "alerts_raised", ""]["value"] == "3"
    assert rows["headline", "alerts_acknowledged", ""]["value"] == "2"
    assert rows["headline", "minutes_to_acknowledge", ""]["value"] == "15"
    assert rows["headline", "alerts_escalated", ""]["value"] == "1"
    gap = rows["data", "gap", "wifi_usage"]
    assert gap["value"].startswith(f"{day}T05:00:00")  # 12:00 in the city is 05:00 UTC
    assert gap["previous"].startswith(f"{day}T07:00:00")

    words = pdf_text(pdf)
    decimal = "," if lang == "vi" else "."
    assert f"87{decimal}5 %" in words
    assert f"75{decimal}0 %" in words
    assert "▲" in words  # reports up from none, said with an arrow and a word
    if lang == "vi":
        assert "Báo cáo tóm tắt cho lãnh đạo" in words
        assert (
            f"Không có dữ liệu WiFi công cộng từ {day:%d/%m} 12:00 đến {day:%d/%m} 14:00" in words
        )
        assert re.search(r"Phản ánh nhận được +4 +0 +▲ tăng 4$", words, re.M), words
        assert "1 cảnh báo phát sinh trong kỳ chưa được xác nhận" in words
        assert "Camera mất kết nối lâu nhất" in words
        assert f"Giờ đông nhất: {day:%d/%m} 00:00, 40 người dùng" in words
    else:
        assert "No Public WiFi data from" in words
        assert re.search(r"Field reports received +4 +0 +▲ up 4$", words, re.M), words
        assert "Cameras offline longest" in words
        assert f"Busiest hour: {day:%d/%m} 00:00, 40 users" in words
    assert words.count(f"{day:%d/%m/%Y}") >= 3  # the data range on every page
    assert "Trang 2" in words if lang == "vi" else "Page 2" in words
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout
    assert "DejaVuSans" in fonts and all(
        line.split()[-5] == "yes" for line in fonts.splitlines()[2:]
    ), fonts  # every font embedded
    PAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(pdf), str(PAGES / f"brief-day-{lang}")], check=True
    )


def test_an_empty_period_says_no_data_and_names_the_gap(seeded):
    day = yesterday() - timedelta(days=40)
    done = run_brief(seeded / "ioc.db", "--period", "week", "--date", day.isoformat(),
                     "--out", str(seeded / "empty"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = day - timedelta(days=day.weekday())
    words = pdf_text(seeded / "empty" / f"brief-week-{first}.pdf")
    assert "không có dữ liệu" in words
    assert "Không có dữ liệu Camera từ" in words


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "year"], "--period 'year' is not one of day, week, month"),
        (["--period", "day", "--date", "2026-13-01"], "--date '2026-13-01' is not a date"),
        (["--period", "month", "--date", "2999-01-01"], "has not ended yet"),
    ],
)
def test_a_bad_period_or_date_is_one_line_and_exit_2(tmp_path, args, says):
    done = run_brief(tmp_path / "ioc.db", *args, "--out", str(tmp_path))
    assert done.returncode == 2
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def run_briefs(path, folder) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "IOC_STORE": f"sqlite:///{path}",
        "IOC_BRIEF_DIR": str(folder),
        "IOC_BRIEF_KEEP_DAYS": "3",
    }
    return subprocess.run(
        [sys.executable, "-m", "wall", "briefs", "--once"],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_briefs_are_made_once_across_restarts_and_old_ones_removed(seeded):
    folder = seeded / "scheduled"
    folder.mkdir()
    old = folder / f"brief-day-{yesterday() - timedelta(days=10)}.pdf"
    old.write_bytes(b"%PDF old")
    first = run_briefs(seeded / "ioc.db", folder)
    assert first.returncode == 0, first.stderr
    days = [yesterday() - timedelta(days=n) for n in range(3)]
    made = sorted(p.name for p in folder.glob("*.pdf"))
    assert {f"brief-day-{d}.pdf" for d in days} <= set(made)
    assert not old.exists(), "a brief older than IOC_BRIEF_KEEP_DAYS is removed"
    times = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    again = run_briefs(seeded / "ioc.db", folder)  # a restart: nothing to make
    assert again.returncode == 0 and "brief made" not in again.stderr, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == times

    (folder / f"brief-day-{days[0]}.pdf").unlink()  # down when yesterday ended
    caught_up = run_briefs(seeded / "ioc.db", folder)
    assert caught_up.stderr.count("brief made") == 1, caught_up.stderr
    assert f"brief-day-{days[0]}.pdf" in caught_up.stderr


def test_briefs_into_a_folder_that_cannot_be_written_is_logged_not_a_crash(seeded):
    blocked = seeded / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    done = run_briefs(seeded / "ioc.db", blocked)
    assert done.returncode == 1  # the exit status says a pass failed
    assert f"briefs not made: cannot write into {blocked}" in done.stderr
    assert "Traceback" not in done.stderr


def test_reports_per_handling_unit_and_the_oldest_open_one_in_pdf_and_csv(tmp_path):
    """Lighting (qlđt, 48 h) handled in 4 h; flooding (qlđt, 2 h) handled in 5 h and another
    still open past its deadline; environment (môi trường, 24 h) open, not yet due."""
    day = yesterday()
    start = datetime.combine(day, datetime.min.time(), UTC) - ZONE_OFFSET
    points = []
    for report, category, created_h, closed_h in (
        ("PA-1", "lighting", 1, 5),
        ("PA-2", "flooding", 3, 8),
        ("PA-3", "flooding", 10, None),
        ("PA-4", "environment", 20, None),
    ):
        created = start + timedelta(hours=created_h)
        tags = {"category": category, "ward": WARD_A, "report_slot": report}
        fields = {"report_id": report, "status": "new", "created": created.isoformat()}
        points.append(Point("field_report", tags, dict(fields), created))
        if closed_h is not None:
            closed = start + timedelta(hours=closed_h)
            fields.update(status="resolved", updated=closed.isoformat())
            points.append(Point("field_report", tags, fields, closed))
    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.write(points)
    done = run_brief(tmp_path / "ioc.db", "--period", "day", "--date", day.isoformat(),
                     "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    profile = load_profile()
    works, environment = (profile.handling_unit(c).name_vi for c in ("qlđt", "moi-truong"))
    rows = {
        (r["section"], r["figure"], r["key"]): r
        for r in csv.DictReader((tmp_path / "out" / f"brief-day-{day}.csv").open())
    }
    assert [rows["units", f, works]["value"] for f in ("reports", "handled")] == ["3", "2"]
    assert rows["units", "handled_on_time", works]["value"] == "1"
    assert rows["units", "overdue", works]["value"] == "1"
    assert rows["units", "reports", environment]["value"] == "1"
    assert rows["units", "overdue", environment]["value"] == "0"
    oldest = rows["reports", "oldest_open", "PA-3"]
    assert oldest["value"].startswith(f"{day}T03:00:00") and oldest["previous"] == works

    pdf = tmp_path / "out" / f"brief-day-{day}.pdf"
    words = pdf_text(pdf)
    assert "Xử lý phản ánh theo đơn vị" in words
    assert re.search(r"Phòng Kinh tế, Hạ tầng và.*3 +2 +1 \(50,0 %\) +1", words, re.S), words
    said = f"Phản ánh mở lâu nhất: PA-3 ({works}), nhận lúc {day:%d/%m/%Y} 10:00"
    assert said in " ".join(words.split())
    assert "• 1 phản ánh quá hạn xử lý vẫn còn mở" in words  # a decision, page 1
    pages = int(re.search(r"Trang 1/(\d+)", words).group(1))
    assert f"Trang {pages}/{pages}" in words
    PAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(pdf), str(PAGES / "brief-units")], check=True
    )


def test_indicators_met_missed_and_late_in_pdf_and_csv(tmp_path):
    """October 2026's brief: one monthly indicator met (99 of 98), one missed (50 of 80); a
    quarterly one's Q3 value came after its due day (late), another's never (missing)."""
    from wall.submissions import STREAM, key_of

    def submitted(indicator_id, period, value, day, hour=10):
        at = datetime.combine(day, datetime.min.time(), UTC) - ZONE_OFFSET
        data = {"indicator_id": indicator_id, "period": period, "value": value,
                "path": "form", "unit": "tt-hcc", "submission": f"s-{indicator_id}"}  # fmt: skip
        key = key_of(indicator_id, period)
        return Event.new(
            STREAM, key, "submitted", actor="an", data=data, at=at + timedelta(hours=hour)
        )

    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.append_events(
            [
                submitted("hs_dung_han", "2026-10", 99.0, date(2026, 10, 31)),
                submitted("dvc_toan_trinh", "2026-10", 50.0, date(2026, 10, 31)),
                submitted("thu_ngan_sach", "2026-Q3", 101.0, date(2026, 10, 20)),  # due 11/10
            ]
        )
    done = run_brief(tmp_path / "ioc.db", "--period", "month", "--date", "2026-10-15",
                     "--out", str(tmp_path / "out"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    profile = {i.indicator_id: i.name_vi for i in load_profile().indicators}
    rows = {
        (r["section"], r["figure"], r["key"]): r
        for r in csv.DictReader((tmp_path / "out" / "brief-month-2026-10-01.csv").open())
    }
    assert rows["indicators", "met", profile["hs_dung_han"]]["value"] == "99"
    assert rows["indicators", "missed", profile["dvc_toan_trinh"]]["value"] == "50"
    assert rows["indicators", "missed", profile["dvc_toan_trinh"]]["previous"] == "2026-10"
    assert rows["indicators", "late", profile["thu_ngan_sach"]]["value"] == "2026-Q3"
    assert rows["indicators", "missing", profile["giai_ngan_dtc"]]["value"] == "2026-Q3"
    # Nothing for Q4 yet: as on the indicators screen, its latest value (Q3's, met) stands.
    assert rows["indicators", "met", profile["thu_ngan_sach"]]["previous"] == "2026-Q3"
    assert ("indicators", "no_data", profile["giai_ngan_dtc"]) in rows  # never given

    pdf = tmp_path / "out" / "brief-month-2026-10-01.pdf"
    words = " ".join(pdf_text(pdf).split())
    met = sum(1 for (section, state, _) in rows if section == "indicators" and state == "met")
    assert f"Đạt: {met} · Đúng hướng: 0 · Có nguy cơ không đạt: 0 · Không đạt: 1" in words
    assert f"• Không đạt: {profile['dvc_toan_trinh']} (2026-10): 50 / mục tiêu 80" in words
    assert "• 1 chỉ số không đạt hoặc có nguy cơ không đạt mục tiêu" in words  # page 1
    late_units = re.search(r"• Đơn vị nộp chỉ số muộn hoặc chưa nộp: (.*?) •", words)
    assert late_units and "Phòng Kinh tế, Hạ tầng và Đô thị" in late_units.group(1), words
    assert (
        f"{profile['thu_ngan_sach']} (2026-Q3) – Phòng Kinh tế, Hạ tầng và Đô thị: nộp muộn"
        in words
    )
    assert (
        f"{profile['giai_ngan_dtc']} (2026-Q3) – Phòng Kinh tế, Hạ tầng và Đô thị: chưa nộp"
        in words
    )
    PAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(pdf), str(PAGES / "brief-indicators")], check=True
    )
