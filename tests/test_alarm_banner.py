"""The alarm banner every screen carries (layouts/alarm.py) and the URL's alarm sound, without a
browser: alert events folded by the real model in, the banner's words and data out."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from dash import html
from plotly.io.json import to_json_plotly

from callbacks.pages import page, plan_for
from callbacks.screens import builders, parts
from layouts import SCREENS, alarm
from layouts.alerts import alerts_frame
from layouts.common import Context, Parts
from tests.test_layouts import NOW, ctx, renderable, texts
from wall.alerts.model import SEVERITIES, fold
from wall.heartbeat import HEALTHY_WITHIN_INTERVALS, Pulse
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Event

HOSTILE = "<img src=x onerror=alert(1)>"


def raised(key: str, severity: str, minutes_ago: float, ward: str | None = "Long Hoa", **facts):
    rule, _, entity = key.partition(":")
    data = {"rule": rule, "entity": entity, "severity": severity, "ward": ward, "facts": facts}
    return Event.new("alerts", key, "raised", data=data, at=NOW - timedelta(minutes=minutes_ago))


def action(key: str, kind: str, minutes_ago: float = 0, **data) -> Event:
    at = NOW - timedelta(minutes=minutes_ago)
    return Event.new("alerts", key, kind, actor="Trần Thị Bình", note="x", data=data, at=at)


def banner_of(events, context=None) -> html.Div:
    return alarm.banner(Parts(alerts=alerts_frame(fold(events))), context or ctx())


def data_sound(div: html.Div) -> str:
    return json.loads(to_json_plotly(div))["props"]["data-sound"]


def test_the_banner_counts_unacknowledged_critical_alerts_and_names_the_oldest():
    events = [
        raised("ward_cameras_offline:Long Hoa", "critical", 25, offline=6, total=69, percent=8.7),
        raised("camera_offline:Cầu Lý Thường Kiệt", "critical", 12, ward="Hiệp Tân"),
        raised("ap_down:ap-001", "high", 40),  # older, but not critical: not counted
        raised("camera_offline:cam-9", "critical", 60),
        action("camera_offline:cam-9", "acknowledged", 50),  # acknowledged: not counted
    ]
    shown = banner_of(events)
    assert renderable(shown)
    words = texts(shown)
    assert "2 khẩn cấp chưa xác nhận" in words
    assert "Cũ nhất: Long Hoa: 6/69 camera mất kết nối (8,7%) Long Hoa 25 phút" in words
    assert "cam-9" not in words and "ap-001" not in words
    english = texts(banner_of(events, ctx("en")))
    assert "2 critical unacknowledged" in english
    assert "Oldest: Long Hoa: 6 of 69 cameras offline (8.7%) Long Hoa 25 min" in english
    assert "alarm-banner--alarm" in shown.className
    assert shown.role == "alert"


def test_an_escalated_alert_is_counted_and_said_until_acknowledged():
    key = "ward_cameras_offline:Hiệp Tân"
    events = [
        raised(key, "critical", 20, ward="Hiệp Tân", offline=30, total=30, percent=100.0),
        action(key, "escalated", 5),
        # A later pass raised it again as high: still escalated, still loud.
        raised(key, "high", 2, ward="Hiệp Tân", offline=20, total=30, percent=66.7),
    ]
    words = texts(banner_of(events))
    assert "1 khẩn cấp chưa xác nhận" in words and "⚠ 1 đã báo cấp trên" in words
    assert "Hiệp Tân: 20/30 camera mất kết nối (66,7%)" in words
    quiet = banner_of([*events, action(key, "acknowledged")])
    assert quiet.children == [] and data_sound(quiet) == ""


def test_a_shelved_alert_leaves_the_banner_and_stops_sounding():
    key = "camera_offline:cam-1"
    until = (NOW + timedelta(hours=1)).isoformat()
    loud = banner_of([raised(key, "critical", 3)])
    assert data_sound(loud) == "critical"
    shelved = banner_of([raised(key, "critical", 3), action(key, "shelved", 1, until=until)])
    assert shelved.children == [] and data_sound(shelved) == ""


def test_the_banner_lists_every_unacknowledged_severity_for_the_sound_most_severe_first():
    events = [
        raised("feed_silent:open311", "low", 3),
        raised("ap_down:ap-001", "high", 4),
        raised("ap_over_capacity:ap-002", "medium", 5),
        action("ap_over_capacity:ap-002", "acknowledged"),
    ]
    shown = banner_of(events)
    # No critical or escalated alert and no flood: nothing shown, but high and low sound.
    assert shown.children == []
    assert data_sound(shown) == "high low"


def test_a_flood_is_said_with_its_count_and_the_oldest_unacknowledged_alert():
    events = [raised(f"camera_offline:cam-{i}", "high", i % 9 + 0.5) for i in range(14)]
    words = texts(banner_of(events))
    assert "Lũ cảnh báo: 14 mới trong 10 phút" in words
    assert "Cũ nhất: Camera cam-8 mất kết nối Long Hoa 8 phút" in words
    assert "khẩn cấp" not in words  # none is critical
    assert "Alarm flood: 14 new in 10 min" in texts(banner_of(events, ctx("en")))


def test_text_from_data_is_text_in_the_banner():
    events = [raised("camera_offline:cam-x", "critical", 3, ward=HOSTILE, name=HOSTILE)]
    shown = banner_of(events)
    spans = [c for c in shown.children[1].children if c is not None]
    assert [s.children for s in spans[1:3]] == [f"Camera {HOSTILE} mất kết nối", HOSTILE]
    assert all(isinstance(s.children, str) for s in spans)  # a string child is shown as text


def pulse(minutes_ago: float | None, every_seconds: float = 15.0) -> Pulse:
    last = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    return Pulse(last, every_seconds)


def with_pulse(p: Pulse, lang: str = "vi") -> Context:
    return replace(ctx(lang), extra={"alert_rules": p})


def test_stopped_alert_rules_are_said_with_the_local_time_of_their_last_pass():
    calm = Parts(alerts=alerts_frame({}))
    # 07:48 UTC is 14:48 in Tây Ninh.
    stopped = alarm.banner(calm, with_pulse(pulse(12)))
    assert texts(stopped) == "◷ Quy tắc cảnh báo không chạy từ 14:48"
    assert "alarm-banner--rules" in stopped.className
    english = alarm.banner(calm, with_pulse(pulse(12), "en"))
    assert texts(english) == "◷ Alert rules not running since 14:48"
    yesterday = alarm.banner(calm, with_pulse(pulse(26 * 60)))
    assert texts(yesterday) == "◷ Quy tắc cảnh báo không chạy từ 13:00 25/11"
    never = alarm.banner(calm, with_pulse(pulse(None)))
    assert texts(never) == "◷ Quy tắc cảnh báo chưa chạy lần nào"
    # Within three intervals of 15 s the rules are running: nothing to say.
    assert alarm.banner(calm, with_pulse(pulse(0.7))).children == []
    assert HEALTHY_WITHIN_INTERVALS * 15 < 0.8 * 60
    assert alarm.banner(calm, with_pulse(pulse(0.8))).children != []


def test_stopped_rules_are_said_beside_the_alerts_and_while_the_alerts_load():
    loud = [raised("camera_offline:cam-1", "critical", 3)]
    both = alarm.banner(Parts(alerts=alerts_frame(fold(loud))), with_pulse(pulse(30)))
    assert "alarm-banner--alarm" in both.className
    assert "1 khẩn cấp chưa xác nhận" in texts(both) and "không chạy từ" in texts(both)
    loading = alarm.banner(Parts(), with_pulse(pulse(30)))
    assert texts(loading) == "◷ Quy tắc cảnh báo không chạy từ 14:30"


def test_every_screen_carries_the_banner_from_one_alerts_part():
    for name, screen in SCREENS.items():
        assert f"{name}-alarm.children" in builders(screen)
        assert parts(screen).count("alerts") == 1
        assert f'"id":"{name}-alarm"' in to_json_plotly(screen.shell(ctx().t, Settings()))


def test_the_sound_parameter_takes_severities_and_names_a_bad_one():
    plan = plan_for("/kiosk", "?layouts=overview,cameras&sound=high,CRITICAL", "vi")
    assert plan.sound == ("critical", "high") and plan.problems == ()
    plan = plan_for("/cameras", "?sound=critical,loud", "vi")
    assert plan.sound == ("critical",)
    assert plan.problems == (
        ("param.bad_sound", {"param": "sound", "value": "loud", "known": ", ".join(SEVERITIES)}),
    )
    assert plan_for("/", "", "vi").sound == ()
    assert plan_for("/", "?sound=", "vi").problems == ()
    rendered = to_json_plotly(page(plan_for("/wifi", "?sound=low", "vi"), Settings()))
    assert '"data-severities":"low"' in rendered


def test_the_alarm_tones_are_the_ones_the_script_writes(tmp_path: Path):
    """`python scripts/make_alarm_sounds.py` (into a folder of the test's) writes what is
    committed: one short tone a severity."""
    script = PROJECT_DIR / "scripts" / "make_alarm_sounds.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    for severity in SEVERITIES:
        written = tmp_path / f"alarm-{severity}.wav"
        committed = PROJECT_DIR / "assets" / written.name
        assert committed.read_bytes() == written.read_bytes(), written.name
        with wave.open(str(written)) as tone:
            seconds = tone.getnframes() / tone.getframerate()
        assert 0.2 <= seconds <= 1.0, (written.name, seconds)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"alarm-{severity}.wav" for severity in SEVERITIES
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_banner_draws_from_empty_data_without_error(lang):
    assert alarm.banner(Parts(alerts=alerts_frame({})), ctx(lang)).children == []
