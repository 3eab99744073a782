"""Units' indicator values as append-only events (wall/submissions.py), on SQLite and a real
influxd, and the indicators screen showing the latest accepted value from submissions and MQTT
alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from feeds.payloads import parse_record
from layouts import indicators, overview
from layouts.common import Context
from tests.test_layouts import texts
from wall.accountability import indicators_due
from wall.city import load_profile
from wall.i18n import Translator
from wall.store import Store
from wall.submissions import (
    STREAM,
    Row,
    SubmissionRefused,
    check_rows,
    delivered,
    key_of,
    latest_values,
    sent_in_due_periods,
    submit,
)

HOA_THANH = load_profile("hoa-thanh")
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# 3 December 2026, 09:00 in Hòa Thành: November and December are open for monthly indicators.
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
VI = Translator("vi")


def values(store: Store, unit: str, rows: list[Row], reason: str | None = None):
    return check_rows(rows, HOA_THANH, unit, NOW, ZONE, store.latest_events(STREAM), reason, VI)


def send(store: Store, unit: str, by: str, rows: list[Row], path="file", reason=None, at=NOW):
    latest = store.latest_events(STREAM)
    checked = check_rows(rows, HOA_THANH, unit, NOW, ZONE, latest, reason, VI)
    return submit(store, checked, by=by, unit=unit, path=path, latest=latest, reason=reason, at=at)


def test_a_submission_and_its_correction_are_versions_and_the_latest_is_one_read(
    store: Store,
) -> None:
    first = send(
        store,
        "vh-xh",
        "Nguyễn Thị Hoa",
        [
            Row(2, "khach_du_lich", "2026-11", "35.2", "Số liệu sơ bộ, chưa gồm lễ hội"),
            Row(3, "tiem_chung", "2026-11", 96.1),
        ],
    )
    correction = send(
        store,
        "vh-xh",
        "Trần Văn Bình",
        [Row(2, "khach_du_lich", "2026-11", "41.7")],
        path="api",
        reason="Cộng thêm khách dịp Hội Yến Diêu Trì Cung",
        at=NOW + timedelta(hours=2),
    )
    assert first != correction
    history = store.events(STREAM, key=key_of("khach_du_lich", "2026-11"))
    assert [e.kind for e in history] == ["submitted", "corrected"]
    assert [e.data["value"] for e in history] == [35.2, 41.7]
    assert [e.actor for e in history] == ["Nguyễn Thị Hoa", "Trần Văn Bình"]
    assert [e.data["path"] for e in history] == ["file", "api"]
    assert history[0].note == "Số liệu sơ bộ, chưa gồm lễ hội"
    assert history[1].data["reason"] == "Cộng thêm khách dịp Hội Yến Diêu Trì Cung"
    assert history[0].data["submission"] == first
    assert history[0].time == NOW and history[1].time == NOW + timedelta(hours=2)

    latest = latest_values(store).set_index("indicator_id")
    assert latest.loc["khach_du_lich", "actual"] == 41.7
    assert latest.loc["khach_du_lich", "actor"] == "Trần Văn Bình"
    assert latest.loc["khach_du_lich", "path"] == "api"
    assert latest.loc["tiem_chung", "actual"] == 96.1
    assert latest.loc["tiem_chung", "by_unit"] == "vh-xh"
    assert sorted(latest.index) == ["khach_du_lich", "tiem_chung"]
    # Lateness is judged on when the period's first value came, not the correction.
    assert latest.loc["khach_du_lich", "time"] == NOW + timedelta(hours=2)
    assert latest.loc["khach_du_lich", "submitted_at"] == NOW
    send(
        store,
        "vh-xh",
        "Hoa",
        [Row(2, "khach_du_lich", "2026-11", "42")],
        reason="Làm tròn",
        at=NOW + timedelta(days=9),
    )
    assert latest_values(store).set_index("indicator_id").loc[
        "khach_du_lich", "submitted_at"
    ] == pd.Timestamp(NOW)


def test_a_value_given_again_without_a_reason_is_refused(store: Store) -> None:
    send(store, "vh-xh", "Hoa", [Row(2, "tiem_chung", "2026-11", 96.1)])
    with pytest.raises(SubmissionRefused) as refused:
        values(store, "vh-xh", [Row(2, "tiem_chung", "2026-11", 97)])
    [(row, reason)] = refused.value.problems
    assert row == 2 and "đã có giá trị 96.1 (Hoa, 2026-12-03 09:00)" in reason
    assert len(store.events(STREAM)) == 1


def kpi_point(indicator_id: str, value: float, period: str, at: datetime, **more):
    return parse_record("kpi", indicator_id, {"value": value, "period": period, **more}, at)


def screen(store: Store, lang: str = "vi") -> str:
    data = {
        "kpi": store.latest("kpi", "indicator_id"),
        "kpi_submitted": latest_values(store),
        "kpi_daily": pd.DataFrame(),
    }
    context = Context(NOW + timedelta(hours=3), ZONE, Translator(lang), 120.0)
    return (
        texts(indicators.cards(data, context))
        + " | "
        + texts(overview.indicators_tile(data, context))
    )


def test_the_indicators_screen_shows_the_latest_value_from_submissions_and_mqtt(
    store: Store,
) -> None:
    # Automated sources keep sending over MQTT.
    store.write(
        kpi_point("camera_hoat_dong", 96.5, "2026-12", NOW - timedelta(hours=1), target=95)
        + kpi_point("den_chieu_sang", 91.0, "2026-11", NOW - timedelta(days=3))
        + kpi_point("ngoai_danh_muc", 12.0, "2026-12", NOW, name="Chỉ số thử", target=10)
    )
    # A unit submits November's street lights after MQTT's last November value: it wins.
    send(
        store,
        "moi-truong",
        "Lê Văn Chánh",
        [Row(2, "den_chieu_sang", "2026-11", 98.4), Row(3, "thu_gom_rac", "2026-11", 97.0)],
    )
    shown = screen(store)
    assert "Đèn chiếu sáng công cộng hoạt động 98,4 % ✔ Đạt" in shown
    assert "Camera giám sát hoạt động 96,5 % ✔ Đạt" in shown
    # November is over: its figure short of the target is missed.
    assert "Chất thải rắn đô thị được thu gom 97 % ✖ Không đạt" in shown
    assert "Chỉ số thử 12  ✔ Đạt" in shown  # an indicator of no catalogue, as MQTT says it
    assert "91" not in shown
    # A newer period from MQTT wins over a submission of an older one.
    store.write(kpi_point("den_chieu_sang", 96.0, "2026-12", NOW + timedelta(hours=1)))
    assert "Đèn chiếu sáng công cộng hoạt động 96 % ▲ Nguy cơ" in screen(store)
    # Names come from the catalogue in the wall's language.
    english = screen(store, "en")
    assert "Street lights working 96 % ▲ At risk" in english
    # The overview counts as the indicators screen: the catalogue's 17, one outside it; the 14
    # nothing was reported for are not met.
    assert "2 / 18" in english.split(" | ")[1] and "Not reported 14" in english.split(" | ")[1]


def test_an_indicator_where_lower_is_better_is_met_at_or_below_its_target() -> None:
    lakeside = load_profile("lakeside")
    sent = pd.DataFrame(
        {
            "time": [pd.Timestamp(NOW)] * 3,
            "indicator_id": ["response_minutes", "permits_on_time", "lake_quality"],
            "actual": [14.9, 85.0, 50.0],
        }
    )
    context = Context(NOW, ZONE, Translator("en"), 120.0, profile=lakeside)
    kpis = indicators.assess(
        indicators.latest_values({"kpi": sent}, context), pd.DataFrame(), context
    )
    assert dict(zip(kpis["indicator_id"], kpis["assessment"], strict=True)) == {
        "response_minutes": "met",
        "permits_on_time": "at_risk",
        "lake_quality": "at_risk",  # its quarter is under way
    }
    slower = sent.assign(actual=[16.0, 95.0, 70.0])
    kpis = indicators.assess(
        indicators.latest_values({"kpi": slower}, context), pd.DataFrame(), context
    )
    assert kpis.set_index("indicator_id")["assessment"].to_dict() == {
        "response_minutes": "at_risk",
        "permits_on_time": "met",
        "lake_quality": "met",
    }


def test_an_automated_sources_values_deliver_the_period_they_were_sent_in(store: Store) -> None:
    """What MQTT sent during November counts as November's figure delivered then (before its
    due moment, the end of 5 December local), as a unit's submission would; a source heard only
    in December has not delivered November."""
    mid_november = datetime(2026, 11, 10, 8, 0, tzinfo=ZONE)
    store.write(
        kpi_point("camera_hoat_dong", 96.5, "2026-11", mid_november)
        + kpi_point("camera_hoat_dong", 96.9, "2026-12", NOW)
        + kpi_point("den_chieu_sang", 91.0, "2026-12", NOW)
        + kpi_point("tiem_chung", 95.5, "2026-11", mid_november + timedelta(days=5))
    )
    send(store, "vh-xh", "Hoa", [Row(2, "tiem_chung", "2026-11", 96.1)])  # on 3 December
    sent = sent_in_due_periods(store, HOA_THANH, NOW, ZONE).set_index("indicator_id")
    assert sorted(sent.index) == ["camera_hoat_dong", "tiem_chung"]
    assert sent.loc["camera_hoat_dong", "period"] == "2026-11"
    first = sent.loc["camera_hoat_dong", "submitted_at"]
    assert mid_november - timedelta(days=1) < first <= mid_november  # to the day
    both = delivered(latest_values(store), sent.reset_index())
    tiem_chung = both.set_index("indicator_id").loc["tiem_chung"]
    assert tiem_chung["submitted_at"] <= mid_november + timedelta(days=5)  # the source's, first
    assert tiem_chung["time"] == pd.Timestamp(NOW)  # the unit's, newer
    after_due = datetime(2026, 12, 6, 9, 0, tzinfo=ZONE)
    states = {
        d.indicator.indicator_id: d.state for d in indicators_due(HOA_THANH, both, after_due, ZONE)
    }
    assert states["camera_hoat_dong"] == "on_time"
    assert states["tiem_chung"] == "on_time"
    assert states["den_chieu_sang"] == "missing"
    assert "den_chieu_sang" not in set(
        sent_in_due_periods(store, HOA_THANH, after_due, ZONE)["indicator_id"]
    )
