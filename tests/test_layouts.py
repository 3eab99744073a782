"""The screens' pure functions: DataFrames in, components and figures out, no browser."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.io.json import to_json_plotly

from layouts import SCREENS, alerts, cameras, indicators, overview, reports, wifi
from layouts.common import (
    COLORS,
    LABEL_CHARS,
    Context,
    Parts,
    age_text,
    big_tile,
    figure_text,
    fmt_int,
    fmt_number,
    horizontal_bars,
    render_outputs,
)
from wall.alerts.model import fold
from wall.baselines import HourlyHistory
from wall.city import load_profile
from wall.i18n import TEXT, Translator
from wall.store import Event

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)

HOA_THANH = load_profile("hoa-thanh")  # the wall's default profile


def ctx(lang: str = "vi", stale: float = 120.0) -> Context:
    return Context(NOW, ZoneInfo("Asia/Ho_Chi_Minh"), Translator(lang), stale)


def plotted(figure: dict) -> go.Figure:
    """The figure as plotly reads it: plotly refuses a property it does not know, so a misspelt
    one in the wall's plain-dict figures fails here rather than being dropped in the browser."""
    return go.Figure(figure)


def texts(component) -> str:
    """Every text shown by a component tree, in order, as one string."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(texts(c) for c in component)
    return texts(getattr(component, "children", None))


def classes(component) -> list[str]:
    found = []
    if isinstance(component, list | tuple):
        for c in component:
            found += classes(c)
    elif component is not None and not isinstance(component, str | int | float):
        found += (getattr(component, "className", "") or "").split()
        found += classes(getattr(component, "children", None))
    return found


def ts(minutes_ago: float) -> pd.Timestamp:
    return pd.Timestamp(NOW - timedelta(minutes=minutes_ago))


def camera_latest(rows) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"time": ts(age), "camera_id": cid, "ward": ward, "online": online, "name": cid}
            for cid, ward, online, age in rows
        ]
    )


def test_camera_states_tell_online_offline_stale_and_missing_apart():
    latest = camera_latest(
        [
            ("c1", "Long Hoa", True, 0.5),
            ("c2", "Long Hoa", False, 0.5),
            ("c3", "Hiệp Tân", True, 10),  # older than the 120 s limit
            ("c4", "Hiệp Tân", None, 0.5),
        ]
    )
    states = cameras.camera_states(latest, ctx())
    assert dict(zip(states["camera_id"], states["status"], strict=True)) == {
        "c1": "online",
        "c2": "offline",
        "c3": "stale",
        "c4": "nodata",
    }
    headline = texts(cameras.headline({"cameras": latest}, ctx()))
    assert "1/4 · 25%" in headline
    assert "Trực tuyến 1" in headline and "Mất kết nối 1" in headline
    assert "Dữ liệu cũ 1" in headline


def test_a_city_ward_shows_its_cameras_in_trouble_one_by_one_and_counts_the_rest():
    city = [(f"big-{n:03d}", "Long Hoa", n >= 5, 0.5) for n in range(300)]  # 5 offline
    city += [("big-stale", "Long Hoa", True, 10), ("big-unknown", "Long Hoa", None, 0.5)]
    town = [(f"small-{n:02d}", "Hiệp Tân", n != 3, 0.5) for n in range(40)]
    rows = cameras.ward_panels({"cameras": camera_latest(city + town)}, ctx())
    long_hoa, hiep_tan = (
        [c for c in classes(panel) if c.startswith("cam-cell--")] for panel in rows[0].children
    )
    assert long_hoa == ["cam-cell--offline"] * 5 + [
        "cam-cell--stale",
        "cam-cell--nodata",
        "cam-cell--online",
        "cam-cell--many",
    ]
    assert "✔ 295" in texts(rows[0].children[0])
    assert "295/302 · 98%" in texts(rows[0].children[0])
    # A town-sized ward keeps one cell per camera.
    assert hiep_tan == ["cam-cell--offline"] + ["cam-cell--online"] * 39
    # A power cut: the first cells in trouble, then the rest counted, all within the panel.
    dark = [(f"dark-{n:03d}", "Long Hoa", n < 5, 0.5) for n in range(250)]
    panel = cameras.ward_panels({"cameras": camera_latest(dark)}, ctx())[0].children[0]
    cells = [c for c in classes(panel) if c.startswith("cam-cell--")]
    assert cells[: cameras.TROUBLE_CELLS] == ["cam-cell--offline"] * cameras.TROUBLE_CELLS
    assert "✖ +213" in texts(panel) and "✔ 5" in texts(panel)


def test_outages_fold_incrementally_to_the_same_answer_as_all_at_once():
    def point(cid, minutes_ago, online):
        return {"time": ts(minutes_ago), "camera_id": cid, "online": online}

    history = pd.DataFrame(
        [
            point("c1", 300, True),
            point("c1", 200, False),
            point("c1", 150, False),
            point("c1", 100, True),
            point("c2", 90, True),
            point("c2", 30, False),
            point("c2", 10, False),
        ]
    )
    whole = cameras.fold_outages(None, history, NOW)
    first = cameras.fold_outages(None, history[history["time"] < ts(120)], NOW)
    stepwise = cameras.fold_outages(first, history[history["time"] >= ts(120)], NOW)
    pd.testing.assert_frame_equal(whole, stepwise)
    assert whole["camera_id"].tolist() == ["c1", "c2"]
    assert whole["start"].tolist() == [ts(200), ts(30)]
    assert whole["end"].iloc[0] == ts(100) and pd.isna(whole["end"].iloc[1])
    drawn = cameras.outages(whole, ctx())
    assert drawn["ongoing"].tolist() == [False, True]
    assert drawn["end"].iloc[1] == pd.Timestamp(NOW)
    assert cameras.offline_since(drawn) == {"c2": ts(30)}


def test_outages_older_than_a_day_are_dropped():
    old = pd.DataFrame(
        [
            {"time": ts(60 * 30), "camera_id": "c1", "online": False},
            {"time": ts(60 * 26), "camera_id": "c1", "online": True},
        ]
    )
    assert cameras.fold_outages(None, old, NOW).empty


def test_offline_list_names_the_cameras_down_longest_first():
    latest = camera_latest(
        [("short", "Long Hoa", False, 0.2), ("long", "Hiệp Tân", False, 0.2), ("ok", "X", True, 0)]
    )
    spans = pd.DataFrame(
        {"camera_id": ["long", "short"], "start": [ts(180), ts(12)], "end": [pd.NaT, pd.NaT]}
    )
    spans["end"] = pd.to_datetime(spans["end"], utc=True)
    shown = texts(cameras.offline_list({"cameras": latest, "camera_outages": spans}, ctx()))
    assert shown.index("long") < shown.index("short")
    assert "3 giờ" in shown and "12 phút" in shown
    assert "ok" not in shown.split()


def kpi_rows(values) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"time": ts(5), "indicator_id": f"k{i}", "sector": "y_te", "actual": v, "target": t}
            for i, (v, t) in enumerate(values)
        ]
    )


def test_indicators_of_the_month_under_way_are_met_or_at_risk_against_their_target():
    """Values of this month with no history: each is held to the month's end."""
    kpis = indicators.assess(kpi_rows([(100, 95), (90, 95), (3, None)]), pd.DataFrame(), ctx())
    assert kpis["assessment"].tolist() == ["met", "at_risk", "no_target"]


def test_indicator_headline_counts_targets_met_in_both_languages():
    values = [(100, 90)] * 11 + [(10, 90)] * 6
    data = {"kpi": kpi_rows(values), "kpi_daily": pd.DataFrame()}
    total = 17 + len(HOA_THANH.indicators)  # the catalogue's, none reported, count as not met
    assert f"11/{total} chỉ tiêu đạt" in texts(indicators.headline(data, ctx("vi")))
    assert f"11 of {total} targets met" in texts(indicators.headline(data, ctx("en")))
    (grid,) = indicators.cards(data, ctx())
    assert len(grid.children) == 17 + len(HOA_THANH.indicators)  # the catalogue's unreported
    assert grid.style == indicators.grid_style(17 + len(HOA_THANH.indicators))


def test_catalogue_indicators_nothing_was_reported_for_are_cards_naming_who_owes_them():
    catalogue = [i for i in HOA_THANH.indicators if i.aggregation != "sum"]
    reported = catalogue[:5]
    better = {"higher": 1.05, "lower": 0.95}
    data = {
        "kpi": pd.DataFrame(
            [
                {
                    "time": ts(5),
                    "indicator_id": i.indicator_id,
                    "actual": i.target * better[i.direction],
                }
                for i in reported
            ]
        ),
        "kpi_daily": pd.DataFrame(),
    }
    owed = [i for i in HOA_THANH.indicators if i not in reported]
    total = len(HOA_THANH.indicators)
    headline = texts(indicators.headline(data, ctx()))
    assert f"5/{total} chỉ tiêu đạt" in headline  # nothing reported is not met
    assert f"Chưa báo cáo {len(owed)}" in headline
    assert f"Not reported {len(owed)}" in texts(indicators.headline(data, ctx("en")))
    (grid,) = indicators.cards(data, ctx())
    assert len(grid.children) == total
    unreported = [c for c in grid.children if c.className.endswith("--unreported")]
    assert len(unreported) == len(owed)
    first = texts(unreported[0])
    owing = next(i for i in owed if i.name("vi") in first)
    unit = HOA_THANH.handling_unit(owing.responsible_unit)
    assert f"Chưa nhận số liệu · {unit.name_vi}" in first and "Chưa báo cáo" in first
    english = texts(indicators.cards(data, ctx("en"))[0])
    assert "Nothing reported yet" in english and owing.name("en") in english
    # Everything reported: no such mark in the header.
    every = [
        {"time": ts(5), "indicator_id": i.indicator_id, "actual": 1.0} for i in HOA_THANH.indicators
    ]
    assert "Chưa báo cáo" not in texts(
        indicators.headline({**data, "kpi": pd.DataFrame(every)}, ctx())
    )


def test_indicator_trend_is_an_svg_line_with_the_target():
    daily = pd.DataFrame(
        {"time": [ts(60 * 24 * d) for d in (2, 1, 0)], "indicator_id": "k0", "value": [1, 2, 3]}
    )
    assert indicators.trends(daily) == {"k0": [1.0, 2.0, 3.0]}
    uri = indicators.sparkline([1, 2, 3], 2.5, "ok")
    assert uri.startswith("data:image/svg+xml") and "stroke-dasharray" in uri
    assert indicators.sparkline([1], 2.5, "ok") == ""


def alert_events():
    def raise_(key, severity, minutes_ago, **facts):
        rule = key.partition(":")[0]
        data = {
            "severity": severity,
            "title": key,
            "rule": rule,
            "ward": "Long Hoa",
            "facts": facts,
        }
        return Event.new(
            "alerts", key, "raised", data=data, at=NOW - timedelta(minutes=minutes_ago)
        )

    later = NOW - timedelta(minutes=1)
    return [
        raise_("ap_down:ap-001", "medium", 30),
        raise_("camera_offline:cam-7", "critical", 10),
        raise_("ap_down:ap-002", "high", 20),
        raise_("feed_silent:open311", "low", 40),
        raise_("ap_down:ap-003", "high", 50),
        Event.new("alerts", "ap_down:ap-001", "acknowledged", actor="Trần Thị Bình", at=later),
        Event.new("alerts", "ap_down:ap-002", "acknowledged", actor="Trần Thị Bình", at=later),
        Event.new("alerts", "ap_down:ap-002", "cleared", at=NOW),
        Event.new("alerts", "ap_down:ap-003", "cleared", at=NOW),
        Event.new(
            "alerts",
            "feed_silent:open311",
            "shelved",
            actor="Trần Thị Bình",
            note="bảo trì",
            data={"until": (NOW + timedelta(hours=1)).isoformat()},
            at=later,
        ),
    ]


def alert_frame():
    return alerts.alerts_frame(fold(alert_events()))


def test_the_wall_lists_alerts_as_the_officers_console_folds_them():
    shown = alerts.shown_alerts(alert_frame(), ctx())
    # ap-002 was acknowledged then cleared (closed); open311 is shelved; ap-003 cleared unacked.
    assert shown["key"].tolist() == ["camera_offline:cam-7", "ap_down:ap-003", "ap_down:ap-001"]
    assert shown["state"].tolist() == ["active_unack", "cleared_unack", "active_ack"]
    assert shown["title_vi"].tolist()[0] == "Camera cam-7 mất kết nối"
    assert shown["title_en"].tolist()[2] == "WiFi access point ap-001 down"


def test_alert_list_shows_who_acknowledged_and_the_overview_counts_the_rest():
    frame = alert_frame()
    shown = texts(alerts.alert_list({"alerts": frame}, ctx()))
    assert "Khẩn cấp" in shown and "Chưa xác nhận" in shown
    assert "Đã xác nhận Trần Thị Bình" in shown
    assert "Đã hết – chưa xác nhận" in shown
    assert "ap-002" not in shown and "open311" not in shown
    counts = texts(alerts.counts({"alerts": frame}, ctx()))
    assert "2 ✖ Chưa xác nhận" in counts and "1 ○ Tạm ẩn" in counts
    tile = overview.alerts_tile({"alerts": frame}, ctx())
    assert texts(tile).startswith("Cảnh báo chưa xác nhận 2 ")
    english = texts(alerts.alert_list({"alerts": frame}, ctx("en")))
    assert "Camera cam-7 offline" in english and "Critical" in english


def renderable(component) -> bool:
    """True when React can render the tree: children are components, text or flat lists (a list
    inside a list is an error in the browser, React #31)."""
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        return all(not isinstance(c, list | tuple) and renderable(c) for c in children)
    return children is None or isinstance(children, str | int | float) or renderable(children)


def test_an_escalated_alert_is_loud_until_acknowledged():
    key = "ward_cameras_offline:Hiệp Tân"
    data = {"rule": "ward_cameras_offline", "severity": "critical", "ward": "Hiệp Tân"}
    data["facts"] = {"offline": 30, "total": 30, "percent": 100.0}
    raised = Event.new("alerts", key, "raised", data=data, at=NOW - timedelta(minutes=20))
    escalated = Event.new("alerts", key, "escalated", at=NOW - timedelta(minutes=5))
    loud = alerts.alert_list({"alerts": alerts.alerts_frame(fold([raised, escalated]))}, ctx())
    assert "ĐÃ BÁO CẤP TRÊN" in texts(loud)
    assert "al-row--escalated" in str(loud)
    assert renderable(loud)
    ack = Event.new("alerts", key, "acknowledged", actor="an", at=NOW)
    calm = alerts.alert_list({"alerts": alerts.alerts_frame(fold([raised, escalated, ack]))}, ctx())
    assert "ĐÃ BÁO CẤP TRÊN" not in texts(calm)
    assert "al-row--escalated" not in str(calm)
    assert renderable(calm)


def test_an_alarm_flood_is_said_once_and_grouped_by_kind():
    events = [
        Event.new(
            "alerts",
            f"camera_offline:cam-{i}",
            "raised",
            data={"rule": "camera_offline", "severity": "high", "ward": "Long Hoa"},
            at=NOW - timedelta(minutes=i % 9),
        )
        for i in range(25)
    ]
    events.append(
        Event.new(
            "alerts",
            "feed_silent:camera_status",
            "raised",
            data={"rule": "feed_silent", "severity": "critical"},
            at=NOW - timedelta(minutes=1),
        )
    )
    shown = texts(alerts.alert_list({"alerts": alerts.alerts_frame(fold(events))}, ctx()))
    assert "Lũ cảnh báo: 26 cảnh báo mới trong 10 phút" in shown
    # The critical kind first, then the 25 camera alerts as one row, not 25.
    assert shown.index("Nguồn dữ liệu ngừng gửi") < shown.index("Camera mất kết nối · 25 cảnh báo")
    assert "cam-3" not in shown
    assert renderable(alerts.alert_list({"alerts": alerts.alerts_frame(fold(events))}, ctx()))
    calm = [e for e in events if e.key.endswith(("cam-1", "cam-2"))]
    assert "Lũ cảnh báo" not in texts(
        alerts.alert_list({"alerts": alerts.alerts_frame(fold(calm))}, ctx())
    )


def test_stale_tiles_say_so_in_words_and_style():
    aps = pd.DataFrame(
        {"time": [ts(10)], "ap_id": ["ap1"], "up": [True], "clients": [7], "capacity": [10]}
    )
    tile = overview.clients_tile({"wifi": aps}, ctx(stale=120))
    assert "tile--stale" in classes(tile)
    assert "DỮ LIỆU CŨ · 10 phút trước" in texts(tile)
    fresh = overview.clients_tile({"wifi": aps}, ctx(stale=3600))
    assert "tile--stale" not in classes(fresh)
    assert "cập nhật 10 phút trước" in texts(fresh)


def test_stale_access_points_do_not_count_as_up():
    aps = pd.DataFrame(
        {"time": [ts(0.1), ts(10)], "ap_id": ["a", "b"], "up": [True, True], "clients": [1, 2]}
    )
    assert "1 / 2" in texts(overview.wifi_tile({"wifi": aps}, ctx()))


def test_feed_strip_marks_a_silent_feed_stale():
    data = {
        "feeds": pd.DataFrame(),
        "cameras": camera_latest([("c1", "Long Hoa", True, 0.2)]),
        "wifi": pd.DataFrame({"time": [ts(30)], "ap_id": ["a"]}),
        "reports": pd.DataFrame(),
        "kpi": kpi_rows([(1, 1)]),
    }
    chips = overview.feeds_strip(data, ctx())
    by_feed = {texts(c.children[0]): classes(c) for c in chips[1:]}
    assert "feed-chip--live" in by_feed["Camera"]
    assert "feed-chip--stale" in by_feed["WiFi"]
    assert "feed-chip--nodata" in by_feed["Phản ánh"]
    # Indicators are reported per period: five minutes without news is not stale for them.
    assert "feed-chip--live" in by_feed["Chỉ số"]
    # A worker reporting its health is judged by the age of its last message.
    data["feeds"] = pd.DataFrame(
        {"time": [ts(0.5)], "feed": ["mqtt"], "last_message_age_s": [200.0]}
    )
    worker = overview.feeds_strip(data, ctx())[-1]
    assert texts(worker.children[0]) == "mqtt" and "feed-chip--stale" in classes(worker)
    assert "tin nhắn cuối 3 phút trước" in texts(worker)


def test_a_worker_whose_store_refuses_its_writes_says_so_and_why_not_merely_stale():
    refusal = (
        "InfluxDB at http://influx.hoathanh.local:8086 refused writes to database 'ioc' (400):\n"
        "partial write: max-values-per-tag limit exceeded (100000/100000): <b>measurement</b>"
    )
    data = {part: pd.DataFrame() for part in ("cameras", "wifi", "reports", "kpi")}
    data["feeds"] = pd.DataFrame(
        {
            "time": [ts(0.2), ts(0.2), ts(0.2)],
            "feed": ["open311", "mqtt:ioc-wall-mqtt", "vms"],
            "last_message_age_s": [400.0, 1.0, 1.0],  # open311 also stale by age
            "store_problem": [refusal, "", None],  # vms: a worker of before store_problem
        }
    )
    chips = overview.feeds_strip(data, ctx())
    refused, taking, older = chips[-3:]
    assert classes(refused)[:2] == ["feed-chip", "feed-chip--store-problem"]
    shown = texts(refused)
    # Its last message is old too: since when, instead of "retrying".
    assert shown.startswith("open311 ✖ Kho dữ liệu từ chối ghi tin nhắn cuối 6 phút trước · …")
    reason = refused.children[2].children
    assert isinstance(reason, str) and "\n" not in reason  # text, one line, never markup
    assert len(reason) == len("tin nhắn cuối 6 phút trước · ") + overview.PROBLEM_CHARS
    assert reason.endswith("max-values-per-tag limit exceeded (100000/100000): <b>measurement</b>")
    assert "feed-chip--live" in classes(taking) and "feed-chip--live" in classes(older)
    data["feeds"].loc[0, "last_message_age_s"] = 1.0
    fresh, english = (
        overview.feeds_strip(data, ctx())[-3],
        overview.feeds_strip(data, ctx("en"))[-3],
    )
    assert texts(fresh).startswith("open311 ✖ Kho dữ liệu từ chối ghi đang thử lại · …")
    assert texts(english).startswith("open311 ✖ Store refuses writes retrying · …")


def test_hourly_reports_count_new_by_created_and_resolved_by_update():
    frame = pd.DataFrame(
        {
            "time": [ts(5)] * 3,
            "report_id": ["r1", "r2", "r3"],
            "status": ["new", "resolved", "closed"],
            "created": [
                "2026-11-26T07:10:00.000Z",
                "2026-11-26T05:00:00.000Z",
                "2026-11-20T01:00Z",
            ],
            "updated": ["2026-11-26T07:10:00.000Z", "2026-11-26T07:30:00.000Z", "bad"],
        }
    )
    counts = reports.hourly_counts(frame, ctx()).set_index("hour")
    assert len(counts) == 24
    assert counts.loc[pd.Timestamp("2026-11-26T07:00Z"), "new"] == 1
    assert counts.loc[pd.Timestamp("2026-11-26T07:00Z"), "resolved"] == 1
    assert counts.loc[pd.Timestamp("2026-11-26T05:00Z"), "new"] == 1
    assert counts["new"].sum() == 2 and counts["resolved"].sum() == 1


def test_oldest_open_reports_come_first_with_their_age():
    frame = pd.DataFrame(
        {
            "time": [ts(1)] * 3,
            "report_id": ["r1", "r2", "r3"],
            "category": ["traffic", "flooding", "traffic"],
            "ward": ["Long Hoa"] * 3,
            "status": ["new", "in_progress", "resolved"],
            "title": ["Mới đây", "Lâu rồi", "Xong"],
            "created": ["2026-11-26T07:30:00Z", "2026-11-25T02:00:00Z", "2026-11-24T00:00:00Z"],
        }
    )
    shown = texts(reports.oldest({"reports": frame}, ctx()))
    assert shown.index("Lâu rồi") < shown.index("Mới đây")
    assert "1 ngày 6 giờ" in shown and "30 phút" in shown
    assert "Xong" not in shown and "Ngập nước" in shown


def test_report_map_draws_offline_without_tiles_and_with_tiles_when_set():
    frame = pd.DataFrame(
        {
            "time": [ts(1)],
            "report_id": ["r1"],
            "category": ["traffic"],
            "status": ["new"],
            "lat": [11.29],
            "lon": [106.13],
        }
    )
    data = {"reports": frame, "cameras": pd.DataFrame()}
    offline = plotted(reports.map_figure(data, ctx()))
    assert [t.type for t in offline.data] == ["scatter"]
    assert offline.data[0].marker.symbol == "circle"
    tiled_ctx = Context(
        NOW, ZoneInfo("UTC"), Translator("vi"), 120, extra={"map_tiles_url": "http://t/{z}/{x}/{y}"}
    )
    tiled = plotted(reports.map_figure(data, tiled_ctx))
    assert [t.type for t in tiled.data] == ["scattermap"]
    assert tiled.layout.map.style["sources"]["tiles"]["tiles"] == ["http://t/{z}/{x}/{y}"]


def test_report_map_markers_shrink_when_a_city_has_thousands_open():
    def map_of(count: int):
        frame = pd.DataFrame(
            {
                "time": [ts(1)] * count,
                "report_id": [f"r{n}" for n in range(count)],
                "category": ["traffic"] * count,
                "status": ["new"] * count,
                "lat": [11.2 + n * 1e-5 for n in range(count)],
                "lon": [106.1] * count,
            }
        )
        return plotted(reports.map_figure({"reports": frame, "cameras": pd.DataFrame()}, ctx()))

    few, many = map_of(20).data[0].marker, map_of(8000).data[0].marker
    assert many.size < few.size / 2 and many.line.width == 0 < few.line.width
    assert many.size >= few.size / 3  # still visible from the back of the room


def test_wifi_curve_compares_today_with_yesterday_shifted_by_a_day():
    rows = [
        {"time": ts(60 * 30), "ap_id": "a", "value": 5.0},
        {"time": ts(60 * 30), "ap_id": "b", "value": 7.0},
        {"time": ts(60), "ap_id": "a", "value": 3.0},
    ]
    totals = wifi.clients_per_window(pd.DataFrame(rows))
    assert totals["clients"].tolist() == [12.0, 3.0]
    fig = plotted(
        wifi.curve_figure({"wifi_clients_48h": pd.DataFrame(rows), "wifi": pd.DataFrame()}, ctx())
    )
    names = [t.name for t in fig.data]
    assert names == ["Hôm qua", "Hôm nay"]  # the legend draws each line's own style
    assert fig.data[0].line.dash == "dash"  # yesterday differs by line style, not colour only
    # Yesterday's point 30 h ago is drawn 6 h ago, in the city's time: 08:00 UTC is 15:00 there.
    assert pd.Timestamp(fig.data[0].x[0]) == pd.Timestamp("2026-11-26 09:00")


def usual_town_hours(weeks: int = 3) -> pd.DataFrame:
    """The town's clients per hour for `weeks` before NOW: 200 at night, 1,000 at 15:00 local
    on weekdays, 1,500 on weekend afternoons, with a little noise."""
    hours = pd.date_range(NOW - timedelta(weeks=weeks), NOW, freq="h", inclusive="left")
    local = hours.tz_convert("Asia/Ho_Chi_Minh")
    peak = np.where(local.day_of_week >= 5, 1300.0, 800.0)
    values = 200 + peak * np.exp(-(((local.hour - 15) / 3.0) ** 2))
    noise = np.random.default_rng(7).normal(0, 10, len(hours))
    return pd.DataFrame({"time": hours, "value": values + noise})


def town_band(weeks: int = 3, festival_days=()) -> pd.DataFrame:
    return wifi.usual_town_band(
        usual_town_hours(weeks), NOW, "Asia/Ho_Chi_Minh", festival_days, 4.0, 4.0
    )


def test_the_usual_band_covers_the_last_day_and_the_next_hours_by_weekday_and_hour():
    band = town_band()
    # NOW is a Thursday 08:00 UTC (15:00 local): a day back and FORECAST ahead, hour by hour.
    assert band["time"].min() <= pd.Timestamp(NOW) - pd.Timedelta(days=1)
    assert band["time"].max() >= pd.Timestamp(NOW) + pd.Timedelta(wifi.FORECAST)
    assert (band["time"].diff().dropna() == wifi.CURVE_WINDOW).all()  # a point per curve window
    at = band.set_index("time")
    # Thursday 15:00 local is a weekday's peak; Saturday's would be 1,500. (The window
    # 15:15–15:30 is judged at 15:22, near the half hour where the 15:00 slot's median stands.)
    peak = pd.Timestamp(NOW) + wifi.CURVE_WINDOW
    assert at.loc[peak, "centre"] == pytest.approx(1000, abs=15)
    assert at.loc[peak, "level"] == "weekday_hour"
    night = pd.Timestamp(NOW) + pd.Timedelta(hours=6)  # 21:00 local, ahead of now
    assert at.loc[night, "centre"] < 400
    assert (band["low"] <= band["centre"]).all() and (band["centre"] <= band["high"]).all()
    assert (band["low"] >= 0).all()


def test_the_band_drawn_is_the_band_the_anomaly_rule_judges_at_that_minute():
    """On the morning climb a window's band is the rule's at the window's middle (between the
    hours around it, widened on the ramp), as an alert's words give it, not the clock hour's."""
    hours = usual_town_hours()
    history = HourlyHistory("Asia/Ho_Chi_Minh", (), 4.0)
    history.add(hours.assign(series=wifi.TOWN))
    band = town_band().set_index("time")
    window = pd.Timestamp(NOW) - pd.Timedelta(hours=3, minutes=15)  # 11:45 local, climbing
    middle = (window + wifi.CURVE_WINDOW / 2).to_pydatetime()
    rule = history.usual_at(middle).band(4.0).loc[wifi.TOWN]
    assert band.loc[window, "low"] == pytest.approx(rule["low"])
    assert band.loc[window, "high"] == pytest.approx(rule["high"])
    clock_hour = history.usual(middle).band(4.0).loc[wifi.TOWN]
    # The climb to the next hour raises and widens it: the clock hour's top is well below.
    assert band.loc[window, "high"] > clock_hour["high"] + 50


def test_without_three_days_of_history_there_is_no_band():
    assert wifi.usual_town_band(
        usual_town_hours(1).tail(48), NOW, "Asia/Ho_Chi_Minh", (), 4.0, 4.0
    ).empty


def test_a_festival_day_is_not_learned_as_usual():
    """A crowd on a festival day three weeks running would otherwise raise Thursday's band."""
    hours = usual_town_hours()
    local_day = hours["time"].dt.tz_convert("Asia/Ho_Chi_Minh").dt.date
    festival = {d for d in local_day.unique() if pd.Timestamp(d).day_of_week == 3}
    crowded = hours.assign(value=hours["value"].where(~local_day.isin(festival), 5000.0))
    plain = wifi.usual_town_band(crowded, NOW, "Asia/Ho_Chi_Minh", (), 4.0, 4.0)
    kept = wifi.usual_town_band(crowded, NOW, "Asia/Ho_Chi_Minh", festival, 4.0, 4.0)
    at = pd.Timestamp(NOW) + wifi.CURVE_WINDOW  # 15:22 local, near the 15:00 slot's half hour
    assert plain.set_index("time").loc[at, "centre"] == 5000.0
    assert kept.set_index("time").loc[at, "centre"] == pytest.approx(1000, abs=15)


def anomaly_event(key: str, minutes_ago: float, facts: dict, rule: str = "anomaly") -> Event:
    data = {"rule": rule, "entity": key.split(":", 1)[1], "severity": "medium", "facts": facts}
    return Event.new(
        "alerts", key, "raised", actor="system", data=data, at=NOW - timedelta(minutes=minutes_ago)
    )


CROWD = {"value": 900, "low": 10, "high": 60, "usual": 35.0, "level": "weekday_hour"}


def curve_with_anomalies(lang: str = "vi") -> go.Figure:
    curve = pd.DataFrame(
        {
            "time": [ts(m) for m in range(24 * 60, -1, -15)],
            "ap_id": "a",
            "value": 1000.0,
        }
    )
    events = [
        anomaly_event("anomaly:site:Chợ Long Hoa", 120, {**CROWD, "kind": "site",
                      "name": "Chợ Long Hoa", "site": "Chợ Long Hoa"}),
        anomaly_event("anomaly:ap:ap-031", 118, {**CROWD, "kind": "ap", "name": "ap-031",
                      "site": "Chợ Long Hoa"}),
        anomaly_event("anomaly:ap:ap-077", 300, {**CROWD, "value": 0, "kind": "ap",
                      "name": "ap-077", "site": "Trường THPT Lý Tự Trọng"}),
        # Not WiFi's: a ward's reports, and another rule's alert.
        anomaly_event("anomaly:reports:Long Hoa", 60, {**CROWD, "kind": "reports",
                      "name": "Long Hoa", "site": None}),
        anomaly_event("ap_down:ap-009", 30, {"site": "x"}, rule="ap_down"),
        # Older than the curve's day.
        anomaly_event("anomaly:ap:ap-001", 25 * 60, {**CROWD, "kind": "ap", "name": "ap-001",
                      "site": "Chợ"}),
    ]  # fmt: skip
    data = {
        "wifi_clients_48h": curve,
        "wifi_usual": town_band(),
        "alerts": alerts.alerts_frame(fold(events)),  # the alerts part, as the screen reads it
    }
    return plotted(wifi.curve_figure(data, ctx(lang)))


def test_the_curve_is_drawn_in_front_of_the_usual_band_which_goes_on_past_now():
    fig = curve_with_anomalies()
    band_low, band_high = fig.data[0], fig.data[1]
    assert band_high.fill == "tonexty" and band_high.name == "Mức bình thường"
    assert band_low.showlegend is False and band_low.line.width == 0
    assert [t.name for t in fig.data[2:4]] == ["Hôm qua", "Hôm nay"]  # drawn over the band
    assert fig.layout.legend.traceorder == "normal"  # the legend in that order too
    local_now = pd.Timestamp("2026-11-26 15:00")
    # The band reaches the axis' end, 6 h past now: the forecast of the next hours.
    assert pd.Timestamp(band_high.x[-1]) >= local_now + pd.Timedelta(hours=6)
    assert pd.Timestamp(fig.layout.xaxis.range[1]) == local_now + pd.Timedelta(hours=6)
    assert pd.Timestamp(fig.layout.xaxis.range[0]) == local_now - pd.Timedelta(days=1)
    today = fig.data[3]
    assert pd.Timestamp(today.x[-1]) <= local_now  # users are measured, not forecast
    words = [a.text for a in fig.layout.annotations]
    assert words[:2] == ["Bây giờ", "Dự báo →"]


def test_anomalies_raised_on_wifi_are_marked_on_todays_curve_by_direction():
    fig = curve_with_anomalies()
    marks = [t for t in fig.data if t.name == "Bất thường"]
    up, down = marks
    assert [m.showlegend for m in marks] == [True, False]  # one legend entry
    assert up.marker.symbol == "triangle-up" and down.marker.symbol == "triangle-down"
    assert pd.Timestamp(up.x[0]) == pd.Timestamp("2026-11-26 13:00")
    assert list(up.y) == [1000.0]  # on today's line
    labels = {a.text: a for a in fig.layout.annotations[2:]}
    # The crowd raised its site's and an access point's alerts in one window: one mark, the site.
    assert set(labels) == {"Chợ Long Hoa +1", "ap-077 · Trường THPT…"}
    assert labels["Chợ Long Hoa +1"].yanchor == "bottom"  # above the upward triangle
    assert labels["ap-077 · Trường THPT…"].yanchor == "top"
    assert labels["Chợ Long Hoa +1"].bgcolor  # on a plate, readable over the lines
    assert len(fig.data) == 6  # band (2), yesterday, today, up, down: no reports, no ap_down


def test_a_mark_low_on_the_curve_is_labelled_above_it_clear_of_the_now_lines_words():
    """The town's curve low at night, a silent AP raised then: its label hung below the
    downward triangle would sit on "Bây giờ"/"Dự báo →" at the chart's foot; it goes above."""
    fig = curve_with_anomalies()
    night = [
        {"time": ts(m), "ap_id": "a", "value": 1000.0 if m < 240 or m > 360 else 50.0}
        for m in range(24 * 60, -1, -15)
    ]
    data = {"wifi_clients_48h": pd.DataFrame(night), "wifi_usual": town_band()}
    data["alerts"] = alerts.alerts_frame(fold([anomaly_event("anomaly:ap:ap-077", 300, {
        **CROWD, "value": 0, "kind": "ap", "name": "ap-077", "site": "Trường"})]))  # fmt: skip
    (label,) = plotted(wifi.curve_figure(data, ctx())).layout.annotations[2:]
    assert label.yanchor == "bottom" and label.yshift >= 50, label
    # High on the curve (the fixture's flat 1000), it hangs below its triangle as before.
    assert {a.yanchor for a in fig.layout.annotations[2:]} == {"bottom", "top"}


def test_the_curves_words_in_english():
    fig = curve_with_anomalies("en")
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["Usual range", "Yesterday", "Today", "Anomaly"]
    assert [a.text for a in fig.layout.annotations][:2] == ["Now", "Forecast →"]


def test_a_site_out_of_its_usual_band_is_marked_on_the_sites_chart_and_always_shown():
    """A crowd's site and a site fallen silent (too few users to be among the busiest) are
    drawn with a triangle before their value and a bar of the alarm colour; a site whose alert
    has cleared is drawn as any other."""
    sites = {f"Điểm {i:02d}": 100 - i for i in range(20)}
    sites |= {"Chợ Long Hoa": 900, "Trạm y tế": 0, "Bến xe": 500}
    live = pd.DataFrame(
        {"time": ts(1), "ap_id": list(sites), "site": list(sites), "clients": list(sites.values())}
    )
    crowd = {**CROWD, "kind": "site", "name": "Chợ Long Hoa", "site": "Chợ Long Hoa"}
    silent = {**CROWD, "value": 0, "low": 20, "high": 60, "kind": "site", "name": "Trạm y tế"}
    over = {**CROWD, "kind": "site", "name": "Bến xe", "site": "Bến xe"}
    events = [
        anomaly_event("anomaly:site:Chợ Long Hoa", 30, crowd),
        anomaly_event("anomaly:site:Trạm y tế", 40, {**silent, "site": "Trạm y tế"}),
        anomaly_event("anomaly:site:Bến xe", 90, over),
        Event.new("alerts", "anomaly:site:Bến xe", "cleared", at=NOW - timedelta(minutes=20)),
    ]
    data = {"wifi": live, "alerts": alerts.alerts_frame(fold(events))}
    fig = plotted(wifi.sites_figure(data, ctx()))
    rows = list(fig.layout.yaxis.tickvals)
    values = dict(zip(rows, fig.layout.yaxis2.ticktext, strict=True))
    colours = dict(zip(rows, fig.data[0].marker.color, strict=True))
    assert len(rows) == wifi.SITES_SHOWN and rows[0] == "Chợ Long Hoa"
    assert rows[-1] == "Trạm y tế"  # fallen silent: shown, in its place by users
    assert values["Chợ Long Hoa"] == "▲ 900" and values["Trạm y tế"] == "▼ 0"
    assert values["Bến xe"] == "500"  # cleared: no longer marked
    assert colours["Chợ Long Hoa"] == colours["Trạm y tế"] == COLORS["bad"]
    assert colours["Bến xe"] == COLORS["info"]


def test_a_site_named_like_markup_is_shown_as_written_on_its_mark():
    facts = {**CROWD, "kind": "site", "name": "<b>Chợ</b>", "site": "<b>Chợ</b>"}
    raised = alerts.alerts_frame(fold([anomaly_event("anomaly:site:<b>Chợ</b>", 30, facts)]))
    fig = wifi.curve_figure(
        {"wifi_clients_48h": pd.DataFrame(), "wifi_usual": town_band(), "alerts": raised}, ctx()
    )
    assert fig["layout"]["annotations"][-1]["text"] == "&lt;b&gt;Chợ&lt;/b&gt;"


def test_day_long_charts_stay_the_same_drawing_for_a_minute_of_ticks_from_the_same_data():
    """So a kiosk is not sent them again every tick; the axis still ends at the present minute."""
    spans = pd.DataFrame(
        {"camera_id": ["c1", "c2"], "start": [ts(300), ts(30)], "end": [ts(100), pd.NaT]}
    )
    spans["end"] = pd.to_datetime(spans["end"], utc=True)
    rows = [
        {"time": ts(60 * 30), "ap_id": "a", "value": 5.0},
        {"time": ts(9), "ap_id": "a", "value": 3.0},
    ]
    data = {
        "camera_outages": spans,
        "cameras": camera_latest([("c1", "Long Hoa", True, 0), ("c2", "Long Hoa", False, 0)]),
        "wifi_clients_48h": pd.DataFrame(rows),
        "wifi": pd.DataFrame(),
    }

    def drawn(seconds: float) -> list[dict]:
        at = replace(ctx(), now=NOW + timedelta(seconds=seconds))
        figures = [cameras.timeline_figure(data, at), wifi.curve_figure(data, at)]
        return [json.loads(to_json_plotly(f)) for f in figures]  # as Dash sends them

    first = drawn(1)
    assert drawn(59) == first
    later = drawn(61)
    for before, after in zip(first, later, strict=True):
        assert before["layout"]["xaxis"]["range"] != after["layout"]["xaxis"]["range"]
    assert pd.Timestamp(first[0]["layout"]["xaxis"]["range"][1]) == pd.Timestamp("2026-11-26 15:01")


def test_throughput_comes_from_counter_differences():
    counters = pd.DataFrame(
        {
            "time": [ts(10), ts(5), ts(10), ts(5)],
            "ap_id": ["a", "a", "b", "b"],
            "rx_bytes": [0, 37_500_000, 100, 100],
            "tx_bytes": [0, 3_750_000, 100, 100],
        }
    )
    speed = wifi.throughput_series(counters, NOW)
    assert speed["rx_mbps"].tolist() == [1.0] and speed["tx_mbps"].tolist() == [0.1]


def test_the_throughput_curve_ends_at_the_last_window_that_ended():
    """The window still filling holds part of its bytes: drawn, the curve's right end drops
    (1,080 → 484 Mbit/s seen on the demo) while the headline rightly says the last whole one."""
    windows = [NOW - timedelta(minutes=m) for m in (10, 5, 0)]  # the last one ends at 08:05
    counters = pd.DataFrame(
        {
            "time": windows,
            "ap_id": ["a"] * 3,
            "rx_bytes": [0, 37_500_000, 45_000_000],
            "tx_bytes": [0, 3_750_000, 4_500_000],
        }
    )
    speed = wifi.throughput_series(counters, NOW + timedelta(minutes=2))
    assert speed["rx_mbps"].tolist() == [1.0]
    shown = texts(wifi.numbers({"wifi": pd.DataFrame(), "wifi_throughput_3h": speed}, ctx()))
    assert "↓ 1 Mbit/s" in shown


def test_most_loaded_access_points_come_first():
    latest = pd.DataFrame(
        {
            "ap_id": ["a", "b", "c"],
            "site": ["x", "y", "z"],
            "clients": [10, 45, 3],
            "capacity": [100, 50, None],
        }
    )
    assert wifi.top_loaded(latest)["ap_id"].tolist() == ["b", "a"]


def test_each_load_band_has_its_own_mark_beside_the_figures_not_only_a_colour():
    latest = pd.DataFrame(
        {
            "ap_id": ["hot", "busy", "calm"],
            "site": ["Chợ", "Trường", "Công viên"],
            "clients": [95, 80, 10],
            "capacity": [100, 100, 100],
        }
    )
    rows = wifi.top_list({"wifi": latest}, ctx())[:-1]
    loads = [row.children[2].children for row in rows]
    assert loads == ["▲ 95% · 95/100", "△ 80% · 80/100", "10% · 10/100"]
    assert [row.children[1].children.style["width"] for row in rows] == ["95%", "80%", "10%"]


def test_a_tile_that_cannot_be_drawn_shows_no_data_and_the_rest_still_draws():
    def broken(data, ctx):
        raise KeyError("surprise")

    values = render_outputs(
        {"a.children": broken, "b.figure": broken, "c.children": lambda d, c: "fine"}, {}, ctx()
    )
    assert "Không có dữ liệu" in texts(values["a.children"])
    assert plotted(values["b.figure"]).layout.annotations[0].text == "Không có dữ liệu"
    assert values["c.children"] == "fine"


@pytest.mark.parametrize("name", list(SCREENS))
def test_every_screen_draws_from_empty_data_without_error(name, caplog):
    screen = SCREENS[name]
    empty = {
        part: (alerts.alerts_frame({}) if part == "alerts" else pd.DataFrame())
        for part in screen.PARTS
    }
    values = render_outputs(screen.OUTPUTS, empty, ctx())
    assert set(values) == set(screen.OUTPUTS)
    assert "cannot draw" not in caplog.text
    for key in screen.OUTPUTS:
        if key.endswith(".figure"):
            plotted(values[key])


def test_ages_and_numbers_read_the_local_way():
    vi, en = Translator("vi"), Translator("en")
    assert [age_text(s, vi) for s in (5, 125, 7300, 90_000, 400_000)] == [
        "5 giây",
        "2 phút",
        "2 giờ",
        "1 ngày 1 giờ",
        "4 ngày",
    ]
    assert age_text(125, en) == "2 min" and age_text(None, vi) == "chưa có dữ liệu"
    assert fmt_int(12345, "vi") == "12.345" and fmt_int(12345, "en") == "12,345"
    assert fmt_number(86.54, "vi") == "86,5" and fmt_number(1234.5, "en") == "1,234.5"


def test_every_text_has_both_languages():
    for key, (vi, en) in TEXT.items():
        assert vi.strip() and en.strip(), key
    assert Translator("vi")("screen.indicators") == "Chỉ số điều hành"
    assert Translator("en")("screen.indicators") == "Operating indicators"


def test_cameras_not_heard_from_are_counted_stale_not_offline():
    latest = camera_latest(
        [("c1", "Long Hoa", True, 0.2), ("c2", "Long Hoa", False, 0.2), ("c3", "X", True, 30)]
    )
    shown = texts(overview.cameras_tile({"cameras": latest}, ctx()))
    assert "1 / 3" in shown
    assert "1 mất kết nối" in shown and "1 dữ liệu cũ" in shown


def test_throughput_reads_in_megabits_or_gigabits():
    assert wifi.fmt_rate(86.54, "vi") == "86,5 Mbit/s"
    assert wifi.fmt_rate(412.4, "en") == "412 Mbit/s"
    assert wifi.fmt_rate(1312.0, "vi") == "1,3 Gbit/s"


def test_long_headline_numbers_step_down_a_size():
    def size(value: str) -> list[str]:
        return [c for c in classes(big_tile("x", value, 1.0, ctx())) if "big-number-" in c]

    assert size("313 / 320") == []
    assert size("1.000 / 1.0") == ["big-number--long"]
    assert size("2.000 / 2.000") == ["big-number--longer"]  # a city's cameras
    assert size("12.345 / 20.000") == ["big-number--longer"]


# Text a feed may send in every free-text field the contract accepts (README "MQTT topic
# contract"): plotly would read each as markup, a Dash component shows it as written.
HOSTILE = {
    "camera name": '<b>Cam</b> <a href="http://evil.test/c">xem</a>',
    "camera ward": "<i>Phường</i><br>Hiệp Ninh",
    "wifi site": '<span style="font-size:90px">Chợ</span> &amp; %{y}',
    "wifi ward": "<sub>Long</sub> Thành Bắc",
    "report title": '<a href="http://evil.test/t"><b>Ngập</b></a>',
    "report ward": '<a href="http://evil.test/w"><b>Long Hoa</b></a>',
    "indicator name": "<em>Hồ sơ</em> &lt;b&gt;",
    "indicator unit": "<sup>%</sup>",
    "feed": "<u>open311</u>",
    "alert ward": "<s>Trường Tây</s>",
    "officer": "<b>Trần Thị Bình</b>",
}


def hostile_parts() -> dict[str, pd.DataFrame]:
    h = HOSTILE
    cameras_latest = pd.DataFrame(
        [
            {"time": ts(0.5), "camera_id": "c1", "ward": h["camera ward"], "online": False,
             "name": h["camera name"], "lat": 11.29, "lon": 106.13},
            {"time": ts(0.5), "camera_id": "c2", "ward": "Long Hoa", "online": True,
             "name": "Cầu Lý Thường Kiệt", "lat": 11.30, "lon": 106.14},
        ]
    )  # fmt: skip
    outages = pd.DataFrame({"camera_id": ["c1"], "start": [ts(90)], "end": [pd.NaT]})
    outages["end"] = pd.to_datetime(outages["end"], utc=True)
    wifi_latest = pd.DataFrame(
        [
            {"time": ts(0.5), "ap_id": "ap-1", "ward": h["wifi ward"], "site": h["wifi site"],
             "up": True, "clients": 240, "capacity": 250},
            {"time": ts(0.5), "ap_id": "ap-2", "ward": "Hiệp Tân", "site": "Chợ Hòa Thành",
             "up": True, "clients": 20, "capacity": 250},
        ]
    )  # fmt: skip
    created = (NOW - timedelta(hours=3)).isoformat()
    report = pd.DataFrame(
        [
            {"time": ts(5), "report_id": "r1", "category": "traffic", "ward": h["report ward"],
             "status": "new", "title": h["report title"], "lat": 11.29, "lon": 106.13,
             "created": created, "updated": created},
        ]
    )  # fmt: skip
    kpi = pd.DataFrame(
        [
            {"time": ts(60), "indicator_id": "k1", "sector": "hanh_chinh", "actual": 71.0,
             "target": 80.0, "unit": h["indicator unit"], "name": h["indicator name"],
             "period": "2026-11"},
        ]
    )  # fmt: skip
    events = [
        Event.new(
            "alerts",
            "camera_offline:c1",
            "raised",
            data={"severity": "critical", "title": "camera_offline:c1", "rule": "camera_offline",
                  "ward": h["alert ward"], "facts": {"name": h["camera name"]}},
            at=NOW - timedelta(minutes=9),
        ),
        Event.new("alerts", "camera_offline:c1", "acknowledged", actor=h["officer"], at=NOW),
    ]  # fmt: skip
    return {
        "cameras": cameras_latest,
        "camera_outages": outages,
        "wifi": wifi_latest,
        "wifi_clients_48h": pd.DataFrame([{"time": ts(60), "ap_id": "ap-1", "value": 5.0}]),
        "wifi_throughput_3h": pd.DataFrame(
            {"time": [ts(10), ts(5)], "rx_mbps": [1.0, 2.0], "tx_mbps": [0.1, 0.2]}
        ),
        "reports": report,
        "kpi": kpi,
        "kpi_daily": pd.DataFrame(
            {"time": [ts(2880), ts(1440)], "indicator_id": ["k1", "k1"], "value": [70.0, 71.0]}
        ),
        "feeds": pd.DataFrame([{"time": ts(0.5), "feed": h["feed"], "last_message_age_s": 1.0}]),
        "alerts": alerts.alerts_frame(fold(events)),
    }


def strings(node) -> list[str]:
    """Every string anywhere in a figure as Dash sends it (JSON): titles, names, labels, text."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Which data text each figure draws (as a label, a legend name or map text).
FIGURE_TEXT = {
    "reports-map.figure": ("camera ward",),
    "reports-ward.figure": ("report ward",),
    "cameras-timeline.figure": ("camera name",),
    "wifi-sites.figure": ("wifi site",),
}
# Which data text each screen's components show.
COMPONENT_TEXT = {
    "overview": ("feed",),
    "cameras": ("camera name", "camera ward"),
    "reports": ("report title", "report ward"),
    "indicators": ("indicator name", "indicator unit"),
    "wifi": ("wifi site",),
    "alerts": ("camera name", "alert ward", "officer"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_text_from_feeds_is_never_markup_in_figures_and_shown_as_written_elsewhere(name, caplog):
    """Plotly reads <b>, <a href>, <br>… and entities in figure text: data text reaches a figure
    only with & < > as entities, which plotly shows literally; components show it as sent."""
    screen = SCREENS[name]
    values = render_outputs(screen.OUTPUTS, Parts(hostile_parts()), ctx())
    assert "cannot draw" not in caplog.text
    shown_in_components = ""
    for output, value in values.items():
        if not output.endswith(".figure"):
            shown_in_components += texts(value) + " "
            continue
        sent = json.loads(to_json_plotly(plotted(value)))
        texts_sent = strings(sent)
        markup = [
            s for s in texts_sent if "<" in s or ">" in s or re.search(r"&(?!amp;|lt;|gt;)", s)
        ]
        assert markup == [], f"{output}: {markup}"
        for field in FIGURE_TEXT.get(output, ()):
            assert any(escaped(HOSTILE[field]) in s for s in texts_sent), (output, field)
    for field in COMPONENT_TEXT.get(name, ()):
        assert HOSTILE[field] in shown_in_components, (name, field)
    assert "&lt;" not in shown_in_components.replace(HOSTILE["indicator name"], "")


def test_figure_text_escapes_only_what_plotly_reads_as_markup():
    assert figure_text("Phường Long Hoa – Hòa Thành") == "Phường Long Hoa – Hòa Thành"
    assert figure_text('<a href="x">A & B</a>') == '&lt;a href="x"&gt;A &amp; B&lt;/a&gt;'
    assert figure_text("&lt;") == "&amp;lt;"
    assert figure_text(42) == "42"


def test_a_long_label_from_data_is_cut_and_its_bar_keeps_its_own_row():
    long_ward = "Khu phố " + "<b>rất</b> dài " * 6
    fig = plotted(
        horizontal_bars(ctx(), [long_ward + "1", long_ward + "2", "Long Hoa"], [3, 2, 1], "red")
    )
    shown = list(fig.layout.yaxis.ticktext)
    assert shown[0] == shown[1] == figure_text(long_ward, LABEL_CHARS)
    assert len(long_ward[: LABEL_CHARS - 1] + "…") == LABEL_CHARS and shown[0].endswith("…")
    assert shown[2] == "Long Hoa"
    assert len(set(fig.data[0].y)) == 3  # two bars, two rows
    assert figure_text("<b>Phường</b>", 4) == "&lt;b&gt;…"  # cut before escaping


def test_ward_names_on_a_tiled_map_are_plain_text_with_no_line_break_made_from_data():
    """MapLibre draws a tiled map's labels as plain text (entities would show as "&lt;"); plotly
    only reads <br> in them."""
    tiled = replace(ctx(), extra={"map_tiles_url": "http://t/{z}/{x}/{y}"})
    fig = plotted(reports.map_figure(hostile_parts(), tiled))
    (labels,) = [t.text for t in fig.data if t.mode == "text"]
    assert list(labels) == ["<i>Phường</i><\u2060br>Hiệp Ninh", "Long Hoa"]
    assert figure_text("Khu 1 & 2", on_tiles=True) == "Khu 1 & 2"


@pytest.mark.parametrize("count", [1, 17, 18, 20, 40, 120])
def test_every_indicator_has_a_cell_of_the_grid_and_the_town_keeps_its_six_by_three(count):
    style = indicators.grid_style(count)
    columns = int(style["gridTemplateColumns"].split("(")[1].split(",")[0])
    rows = int(style["gridTemplateRows"].split("(")[1].split(",")[0])
    assert columns * rows >= count
    assert columns * rows < count + columns or count < 18  # no empty row
    if count <= 18:
        assert (columns, rows) == (6, 3)


@pytest.mark.parametrize(
    ("lang", "ward", "category"), [("vi", "Long Hoa", "Ngập nước"), ("en", "Long Hoa", "Flooding")]
)
def test_report_surges_are_marked_over_their_hour_of_new_reports(lang, ward, category):
    """A ward's and a category's surge raised in the same hour: one triangle over that hour's
    bar, named in the screen's language with how many more; an older one past the chart's 24
    hours and a WiFi anomaly are not marked here."""
    created = [f"2026-11-26T06:{m:02d}:00Z" for m in range(0, 60, 5)]
    frame = pd.DataFrame(
        {"time": [ts(60)] * 12, "report_id": [f"r{n}" for n in range(12)], "status": "new",
         "created": created}
    )  # fmt: skip
    surge = {"value": 12, "low": 0, "high": 3, "usual": 1.0, "level": "weekday_hour"}
    events = [
        anomaly_event("anomaly:reports:Long Hoa", 80, {**surge, "kind": "reports",
                      "name": "Long Hoa", "name_vi": "Long Hoa", "name_en": "Long Hoa"}),
        anomaly_event("anomaly:category:flooding", 75, {**surge, "kind": "category",
                      "name": "flooding", "name_vi": "Ngập nước", "name_en": "Flooding"}),
        anomaly_event("anomaly:category:traffic", 60 * 30, {**surge, "kind": "category",
                      "name": "traffic", "name_vi": "Giao thông", "name_en": "Traffic"}),
        anomaly_event("anomaly:site:Chợ", 70, {**CROWD, "kind": "site", "name": "Chợ"}),
    ]  # fmt: skip
    data = {"reports": frame, "alerts": alerts.alerts_frame(fold(events))}
    fig = reports.hourly_figure(data, ctx(lang))
    (mark,) = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert mark["marker"]["symbol"] == "triangle-up"
    assert [str(x) for x in mark["x"]] == ["2026-11-26 13:00:00"]  # 06:00 UTC, in the town
    assert list(mark["y"]) == [12]  # on that hour's bar of new reports
    (label,) = [a["text"] for a in fig["layout"]["annotations"]]
    assert label == f"{category} +1"  # the category first: it says what surged
    assert renderable(fig)


def read(text: str) -> str:
    """Text as read: the word joiners and no-break spaces that keep a band whole, as spaces."""
    return text.replace("\u2060", "").replace("\u00a0", " ")


def cameras_anomaly(ward: str, minutes_ago: float, value: int = 12, **names) -> Event:
    facts = {"kind": "cameras", "name": ward, "value": value, "low": 0, "high": 4, "usual": 1.0,
             "level": "weekday_hour", "weekday": 6, "hour": 9, **names}  # fmt: skip
    return anomaly_event(f"anomaly:cameras:{ward}", minutes_ago, facts)


def cameras_with_anomalies() -> dict[str, pd.DataFrame]:
    """Long Hoa's 12 cameras down with its anomaly open; Hòa Thành's raised and cleared since,
    Thanh Điền's open and shelved by an officer, and a surge of Long Hoa's reports (not the
    cameras')."""
    latest = camera_latest(
        [(f"lh{n}", "Long Hoa", False, 1) for n in range(12)]
        + [(f"ht{n}", "Hòa Thành", True, 1) for n in range(6)]
        + [(f"td{n}", "Thanh Điền", n > 0, 1) for n in range(6)]
    )
    spans = pd.DataFrame({"camera_id": [f"lh{n}" for n in range(12)], "start": ts(40)})
    spans = spans.assign(start=pd.to_datetime(spans["start"], utc=True), end=pd.NaT)
    spans["end"] = pd.to_datetime(spans["end"], utc=True)
    english = {"name_vi": "Long Hoa", "name_en": "Long Hoa ward"}
    surge = {"value": 12, "low": 0, "high": 3, "usual": 1.0, "level": "weekday_hour",
             "kind": "reports", "name": "Long Hoa"}  # fmt: skip
    events = [
        cameras_anomaly("Long Hoa", 25, **english),
        cameras_anomaly("Hòa Thành", 300, value=9),
        Event.new("alerts", "anomaly:cameras:Hòa Thành", "cleared", actor="system",
                  at=NOW - timedelta(minutes=200)),
        cameras_anomaly("Thanh Điền", 60, value=6),
        Event.new("alerts", "anomaly:cameras:Thanh Điền", "shelved", actor="Trần Thị Bình",
                  data={"until": (NOW + timedelta(hours=2)).isoformat()},
                  at=NOW - timedelta(minutes=50)),
        anomaly_event("anomaly:reports:Long Hoa", 20, surge),
        cameras_anomaly("Ninh Thạnh", 26 * 60),  # more than a day ago: off the outages' chart
    ]  # fmt: skip
    return {"cameras": latest, "camera_outages": spans, "alerts": alerts.alerts_frame(fold(events))}


@pytest.mark.parametrize(
    ("lang", "wards", "words"),
    [
        ("vi", ("Long Hoa", "Thanh Điền"), "▲ Bất thường từ 14:35: 12 mất kết nối · thường 0–4"),
        ("en", ("Long Hoa ward", "Thanh Điền ward"), "▲ Anomaly since 14:35: 12 down · usual 0–4"),
    ],
)
def test_a_ward_whose_cameras_down_are_an_anomaly_is_marked_on_its_panel(lang, wards, words):
    """An open cameras anomaly marks its ward (a shelved one too: shelving silences the alarm,
    not the fact): the triangle and the figures against the usual band in words (not a colour
    alone); a cleared one, or one of another series (the ward's reports), no mark."""
    panels = [p for row in cameras.ward_panels(cameras_with_anomalies(), ctx(lang)) for p in
              row.children]  # fmt: skip
    marked = [p for p in panels if "ward-panel--anomaly" in p.className]
    assert [texts(p.children[0].children[0]) for p in marked] == list(wards)
    (note,) = [c for c in marked[0].children if c is not None and "anomaly-note" in c.className]
    assert read(texts(note)) == words
    assert classes(note)[:2] == ["anomaly-note", "ward-anomaly"]
    assert "anomaly-symbol" in classes(note)
    assert sum("anomaly-note" in classes(p) for p in panels) == 2  # not Hòa Thành's (cleared)


@pytest.mark.parametrize(("lang", "ward"), [("vi", "Long Hoa"), ("en", "Long Hoa ward")])
def test_a_wards_cameras_anomaly_is_a_triangle_at_its_raise_on_the_outages_time_axis(lang, ward):
    """Raised in the chart's 24 hours (the cleared one too: it happened), on the time axis at
    the raise, a dotted line up through the camera rows, named in the screen's language; not
    the one raised more than a day ago, nor the reports' surge."""
    fig = plotted(cameras.timeline_figure(cameras_with_anomalies(), ctx(lang)))
    (mark,) = [t for t in fig.data if t.type == "scatter"]
    assert mark.marker.symbol == "triangle-up" and mark.yaxis == "y2"
    assert mark.name == ("Bất thường" if lang == "vi" else "Anomaly")
    local = [str(pd.Timestamp(x)) for x in mark.x]
    # 25, 60 (shelved: still raised then) and 300 minutes before 15:00 in the town.
    assert sorted(local) == ["2026-11-26 10:00:00", "2026-11-26 14:00:00", "2026-11-26 14:35:00"]
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.visible is False
    labels = [a.text for a in fig.layout.annotations]
    assert ward in labels and len(labels) == 3
    assert {s.x0 for s in fig.layout.shapes} == {pd.Timestamp(x) for x in mark.x}
    # A raise in the chart's later half is labelled leftwards, so it stays inside.
    latest = next(a for a in fig.layout.annotations if a.text == ward)
    assert latest.xanchor == "right" and latest.yref == "y2"
    assert renderable(cameras.timeline_figure(cameras_with_anomalies(), ctx(lang)))


def test_a_ward_named_like_markup_is_shown_as_written_on_its_marks():
    data = cameras_with_anomalies()
    hostile = "<b>Long</b> Hoa"
    data["cameras"] = data["cameras"].assign(ward=hostile)
    data["alerts"] = alerts.alerts_frame(fold([cameras_anomaly(hostile, 25)]))
    fig = cameras.timeline_figure(data, ctx())
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["&lt;b&gt;Long&lt;/b&gt; Hoa"]
    panel = cameras.ward_panels(data, ctx())[0].children[0]
    assert texts(panel.children[0].children[0]) == hostile  # a component: as written
    assert "ward-panel--anomaly" in panel.className


def indicator_anomaly(indicator_id: str, minutes_ago: float, value: float) -> Event:
    facts = {"kind": "indicator", "name": indicator_id, "value": value, "low": 85.2,
             "high": 87.6, "usual": 86.4, "level": "weekday_hour", "weekday": 3, "hour": 14,
             "name_vi": "Hồ sơ", "name_en": "Files", "unit_vi": "%", "unit_en": "%"}  # fmt: skip
    return anomaly_event(f"anomaly:indicator:{indicator_id}", minutes_ago, facts)


@pytest.mark.parametrize(
    ("lang", "below", "above"),
    [
        (
            "vi",
            "▼ Bất thường từ 14:40: 56,1 · thường 85,2–87,6 %",
            "▲ Bất thường từ 14:30: 95 · thường",
        ),
        (
            "en",
            "▼ Anomaly since 14:40: 56.1 · usual 85.2–87.6 %",
            "▲ Anomaly since 14:30: 95 · usual",
        ),
    ],
)
def test_an_indicators_open_anomaly_is_marked_beside_its_value_with_its_figures(lang, below, above):
    """A downward triangle beside the value of the indicator below its usual band, an upward
    one above it, and a line of the figures against the band in the indicator's unit; a
    cleared anomaly and the other cards carry none."""
    events = [
        indicator_anomaly("k0", 20, 56.1),
        indicator_anomaly("k1", 30, 95.0),
        indicator_anomaly("k2", 90, 10.0),
        Event.new("alerts", "anomaly:indicator:k2", "cleared", actor="system", at=ts(40)),
    ]
    kpi = kpi_rows([(56.1, 80), (95.0, 80), (86.0, 80), (86.0, 80)]).assign(unit="%")
    data = {"kpi": kpi, "kpi_daily": pd.DataFrame(), "alerts": alerts.alerts_frame(fold(events))}
    (grid,) = indicators.cards(data, ctx(lang))
    by_value = {}
    for card in grid.children:
        if "kpi-card--anomaly" in card.className:
            body = card.children.children
            value_row = next(c for c in body if c is not None and c.className == "kpi-value-row")
            note = next(c for c in body if c is not None and "kpi-anomaly" in c.className)
            by_value[texts(value_row.children[0])] = (texts(value_row.children[2]), texts(note))
    value_56 = "56,1" if lang == "vi" else "56.1"
    assert set(by_value) == {value_56, "95"}  # k0 and k1; not k2 (cleared), not k3
    assert by_value[value_56][0] == "▼" and read(by_value[value_56][1]) == below
    assert by_value["95"][0] == "▲" and read(by_value["95"][1]).startswith(above)


def test_the_anomaly_marks_read_the_alerts_part_every_screen_reads_already():
    """No question of their own to the store: the alerts part is the alarm banner's."""
    from callbacks.screens import parts
    from layouts import alarm

    for screen in (cameras, indicators):
        assert "alerts" in screen.PARTS and "alerts" in alarm.PARTS
        assert parts(screen).count("alerts") == 1
