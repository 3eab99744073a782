"""The indicators screen in Chromium showing a unit's imported figures and an automated
source's MQTT values side by side, in Vietnamese and in English (screenshots looked at)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from feeds.payloads import parse_record
from tests.browser_fixtures import resize, wall_on_sqlite
from tests.test_browser import SCREEN_DRAWN, SCREENSHOTS, console_errors, wait_for
from tests.test_indicator_import import ZONE
from wall.city import load_profile
from wall.periods import period_of
from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore

HOA_THANH = load_profile("hoa-thanh")
HS_DUNG_HAN = next(i for i in HOA_THANH.indicators if i.indicator_id == "hs_dung_han")
CARDS = """
return Array.from(document.querySelectorAll('.kpi-card:not(.kpi-card--unreported)'))
    .map(c => c.innerText.replace(/\\s+/g, ' '));
"""
UNREPORTED = """
return Array.from(document.querySelectorAll('.kpi-card--unreported'))
    .map(c => c.innerText.replace(/\\s+/g, ' '));
"""


def test_imported_figures_and_mqtt_values_on_the_indicators_screen(browser, tmp_path) -> None:
    now = datetime.now(UTC)
    last_month = period_of("month", now, ZONE).previous().name
    this_month = period_of("month", now, ZONE).name
    with SQLiteStore(tmp_path / "ioc.db") as store:
        store.write(
            parse_record("kpi", "camera_hoat_dong", {"value": 96.5, "period": this_month}, now)
        )
    path = tmp_path / "vhxh.csv"
    path.write_text(
        "indicator_id,period,value,note\n"
        f"khach_du_lich,{last_month},351.4,Tổng hợp từ các điểm du lịch\n"
        f"tiem_chung,{last_month},93.2,\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "wall", "indicators", "import", str(path), "--unit", "vh-xh"],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    server = wall_on_sqlite(tmp_path)
    server.start()
    try:
        resize(browser, 1920, 1080)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        this_end = f"{period_of('month', now, ZONE).next_first_day - timedelta(days=1):%d/%m}"
        when = "WHEN"  # the value's local time, dd/mm HH:MM
        for lang, expected in (
            (
                "vi",
                [
                    "AN NINH TRẬT TỰ Camera giám sát hoạt động 96,5 % ✔ Đạt "
                    f"Nếu giữ mức này, 96,5/95 vào {this_end} MQTT · {when}",
                    "DU LỊCH Lượt khách du lịch 351,4 nghìn lượt ✔ Đạt Chỉ tiêu 320 nghìn lượt "
                    f"Kỳ {last_month} đã kết thúc Tệp · vh-xh · {when}",
                    "Y TẾ Trẻ em tiêm chủng đầy đủ 93,2 % ✖ Không đạt Chỉ tiêu 95 % "
                    f"Kỳ {last_month} đã kết thúc Tệp · vh-xh · {when}",
                ],
            ),
            (
                "en",
                [
                    "PUBLIC ORDER Surveillance cameras working 96.5 % ✔ Met "
                    f"If it holds, 96.5 of 95 by {this_end} MQTT · {when}",
                    "TOURISM Tourist visits 351.4 thousand visits ✔ Met Target 320 thousand "
                    f"visits Period {last_month} is over File · vh-xh · {when}",
                    "HEALTH Children fully vaccinated 93.2 % ✖ Missed Target 95 % "
                    f"Period {last_month} is over File · vh-xh · {when}",
                ],
            ),
        ):
            browser.get(f"{server.url}/indicators?lang={lang}")
            wait_for(browser, SCREEN_DRAWN)
            cards = wait_for(
                browser, f"const c = (() => {{{CARDS}}})(); return c.length === 3 ? c : null;"
            )
            for card, pattern in zip(cards, expected, strict=True):
                pattern = re.escape(pattern).replace(when, r"\d\d/\d\d \d\d:\d\d")
                assert re.fullmatch(pattern, card.strip()), card
            # The rest of the catalogue is on the screen too, saying who owes its figure.
            owed = browser.execute_script(UNREPORTED)
            assert len(owed) == len(HOA_THANH.indicators) - 3
            hs = next(c for c in owed if HS_DUNG_HAN.name(lang) in c)
            said = {"vi": "Chưa nhận số liệu · ", "en": "Nothing reported yet · "}[lang]
            assert said + HOA_THANH.handling_unit("tt-hcc").name(lang) in hs, hs
            browser.save_screenshot(str(SCREENSHOTS / f"indicators-submitted-{lang}-1920x1080.png"))
        assert console_errors(browser) == []
    finally:
        server.stop()
