"""The accountability screen in Chromium, Vietnamese then English: seeded reports whose on-time
share and median are known, a unit's figures submitted in time, a live feed (screenshots looked
at)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from wall.city import load_profile
from wall.domain import report_slot
from wall.periods import period_of
from wall.store import Point
from wall.store.sqlite import SQLiteStore
from wall.submissions import Value, submit

PROFILE = load_profile("hoa-thanh")
ZONE = ZoneInfo(PROFILE.timezone)
ROWS = """
return Array.from(document.querySelectorAll('#accountability-league .acc-row:not(.acc-row--head)'))
    .map(r => r.innerText.replace(/\\s+/g, ' ').trim());
"""
SOURCES = """
return Array.from(document.querySelectorAll('#accountability-sources .acc-source'))
    .map(r => r.innerText.replace(/\\s+/g, ' ').trim());
"""


def report(rid: str, category: str, status: str, created: datetime, hours: float) -> Point:
    updated = created + timedelta(hours=hours)
    return Point(
        "field_report",
        {"category": category, "ward": "Long Hoa", "report_slot": report_slot(rid)},
        {
            "report_id": rid,
            "status": status,
            "title": f"<b>{rid}</b>",  # data text, never markup
            "created": created.isoformat(),
            "updated": updated.isoformat(),
        },
        updated,
    )


def seed(store: SQLiteStore, now: datetime) -> None:
    start = now - timedelta(days=5)
    store.write(
        [
            # Street lighting (48 h) by the infrastructure office: 2 of 4 on time, median 35 h.
            *(
                report(f"l{n}", "lighting", "closed", start, h)
                for n, h in enumerate((10, 20, 50, 60))
            ),
            report("t1", "traffic", "assigned", now - timedelta(hours=9), 0.5),  # 4 h: overdue
            report("e1", "environment", "closed", start, 12),  # the utilities board: 12 of 72 h
            Point("feed_health", {"feed": "open311"}, {"received": 5, "written": 5}, now),
        ]
    )
    indicator = next(i for i in PROFILE.indicators if i.indicator_id == "hs_dung_han")
    ended = period_of(indicator.period, now, ZONE).previous()
    submit(
        store,
        [Value(indicator, ended.name, 98.5, None)],
        by="reporter",
        unit="tt-hcc",
        path="console",
        latest={},
        at=ended.end(ZONE) - timedelta(hours=1),
    )


def test_the_accountability_screen_in_both_languages(browser, tmp_path) -> None:
    now = datetime.now(UTC)
    with SQLiteStore(tmp_path / "ioc.db") as store:
        seed(store, now)
    server = wall_on_sqlite(tmp_path)
    server.start()
    try:
        resize(browser, 1920, 1080)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for lang, title, works, board, centre, feed in (
            (
                "vi",
                "Trách nhiệm và sức khỏe dữ liệu",
                "Phòng Kinh tế, Hạ tầng và Đô thị 5 phản ánh được giao",
                "Ban quản lý dịch vụ công ích 1 phản ánh được giao",
                "Trung tâm Phục vụ hành chính công 0 phản ánh được giao 1/2 đúng hạn",
                "Phản ánh hiện trường (Open311) Phụ trách: Văn phòng HĐND và UBND · cập nhật mỗi",
            ),
            (
                "en",
                "Accountability and data health",
                "Economy, Infrastructure and Urban Office reports assigned: 5",
                "Public Utilities Board reports assigned: 1",
                "Public Administrative Services Centre reports assigned: 0 1 of 2 on time",
                "Field reports (Open311) Owner: Office of the People's Council and Committee",
            ),
        ):
            browser.get(f"{server.url}/accountability?lang={lang}")
            assert wait_for(browser, SCREEN_DRAWN) == title
            rows = wait_for(browser, f"const r = (() => {{{ROWS}}})(); return r.length ? r : null;")
            hours = "giờ" if lang == "vi" else "h"
            # Ranked by the mean of their on-time shares: the board handled every report on
            # time but gave none of its 2 indicators (50 %), the centre 1 of its 2 and has no
            # report (50 %): the centre first, with fewer missing; the office with half its
            # reports on time and none of its indicators after both.
            assert rows[0].startswith(f"1 {centre}"), rows
            assert rows[1].startswith(f"2 {board}") and rows[1].endswith(f"100% 0 12 {hours}")
            infra = next(r for r in rows if works in r)
            assert infra.endswith(f"50% 1 35 {hours}"), infra
            assert rows.index(infra) > 1, rows
            assert any(centre in r for r in rows), rows
            sources = wait_for(
                browser, f"const r = (() => {{{SOURCES}}})(); return r.length ? r : null;"
            )
            open311 = next(s for s in sources if s.startswith(feed))
            assert open311.endswith("Trực tiếp" if lang == "vi" else "Live"), open311
            mqtt = next(s for s in sources if "(MQTT)" in s)  # declared, never heard from
            assert mqtt.endswith("Chậm" if lang == "vi" else "Late"), mqtt
            browser.save_screenshot(str(SCREENSHOTS / f"accountability-{lang}-1920x1080.png"))
        assert console_errors(browser) == []
    finally:
        server.stop()
