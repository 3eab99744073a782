"""The alert state machine (ISA-18.2 states) folded from the event log, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wall.alerts.model import (
    STREAM,
    AlertActionError,
    fold,
    in_flood,
    officer_action,
)
from wall.store import Event

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
KEY = "camera_offline:cam-001"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def system(kind: str, minute: float, **data) -> Event:
    return Event.new(STREAM, KEY, kind, data=data, at=at(minute))


def raised(minute: float, severity: str = "high") -> Event:
    return system("raised", minute, severity=severity, title="Camera mất tín hiệu", ward="Hiệp Tân")


def state_after(*events: Event):
    return fold(events)[KEY]


def test_raise_opens_an_unacknowledged_alert() -> None:
    alert = state_after(raised(0))
    assert alert.state == "active_unack"
    assert (alert.rule, alert.entity, alert.ward) == ("camera_offline", "cam-001", "Hiệp Tân")
    assert alert.raised_at == at(0)


def test_acknowledge_then_clear_closes() -> None:
    events = [raised(0)]
    alert = state_after(*events)
    events.append(officer_action(alert, "acknowledged", "an", at(1), note="Đã báo đội kỹ thuật"))
    alert = state_after(*events)
    assert (alert.state, alert.acked_by, alert.acked_at) == ("active_ack", "an", at(1))
    assert alert.notes == ((at(1), "an", "Đã báo đội kỹ thuật"),)
    events.append(system("cleared", 5))
    assert state_after(*events).state == "closed"


def test_clear_before_acknowledge_waits_for_acknowledgement() -> None:
    events = [raised(0), system("cleared", 3)]
    alert = state_after(*events)
    assert alert.state == "cleared_unack"
    assert alert.unacknowledged and not alert.active
    events.append(officer_action(alert, "acknowledged", "bình", at(4)))
    assert state_after(*events).state == "closed"


def test_returning_before_acknowledgement_is_the_same_alert_again() -> None:
    first = raised(0)
    alert = state_after(first, system("cleared", 1), raised(2))
    assert alert.state == "active_unack"
    assert alert.alert_id == first.event_id
    assert alert.cleared_at is None


def test_raise_after_closed_opens_a_new_alert() -> None:
    first = raised(0)
    events = [first]
    events.append(officer_action(state_after(*events), "acknowledged", "an", at(1)))
    events += [system("cleared", 2)]
    second = raised(10)
    alert = state_after(*events, second)
    assert alert.state == "active_unack"
    assert alert.alert_id == second.event_id != first.event_id
    assert alert.acked_by is None


def test_raise_while_active_updates_severity_without_changing_state() -> None:
    events = [raised(0, "medium")]
    events.append(officer_action(state_after(*events), "acknowledged", "an", at(1)))
    alert = state_after(*events, raised(2, "critical"))
    assert (alert.state, alert.severity) == ("active_ack", "critical")


def test_two_officers_acknowledging_at_once_are_both_recorded() -> None:
    alert = state_after(raised(0))
    first = officer_action(alert, "acknowledged", "an", at(1), note="tôi xử lý")
    second = officer_action(alert, "acknowledged", "bình", at(1), note="đang tới")
    folded = state_after(raised(0), second, first)
    assert folded.state == "active_ack"
    assert folded.acked_by == min([first, second], key=lambda e: e.order).actor
    assert {n[1] for n in folded.notes} == {"an", "bình"}


def test_shelve_hides_until_its_time_ends() -> None:
    events = [raised(0)]
    shelve = officer_action(
        state_after(*events),
        "shelved",
        "an",
        at(1),
        note="Bảo trì theo lịch",
        shelve_for=timedelta(minutes=30),
    )
    alert = state_after(*events, shelve)
    assert alert.shelved(at(20))
    assert not alert.shelved(at(31))  # comes back by itself when the time ends
    assert alert.shelve_reason == "Bảo trì theo lịch"
    assert alert.state == "active_unack"
    unshelve = officer_action(alert, "unshelved", "bình", at(5))
    assert not state_after(*events, shelve, unshelve).shelved(at(6))


@pytest.mark.parametrize(
    ("kind", "kwargs", "problem"),
    [
        ("shelved", {"note": None, "shelve_for": timedelta(minutes=5)}, "needs a reason"),
        ("shelved", {"note": "x", "shelve_for": timedelta(hours=9)}, "at most"),
        ("shelved", {"note": "x", "shelve_for": timedelta(0)}, "more than 0"),
        ("unshelved", {}, "not shelved"),
        ("noted", {"note": "  "}, "empty"),
        ("deleted", {}, "(?i)unknown action"),
    ],
)
def test_officer_actions_that_do_not_apply_are_refused(kind, kwargs, problem) -> None:
    with pytest.raises(AlertActionError, match=problem):
        officer_action(state_after(raised(0)), kind, "an", at(1), **kwargs)


def test_acknowledging_again_is_recorded_and_changes_nothing() -> None:
    events = [raised(0)]
    events.append(officer_action(state_after(*events), "acknowledged", "an", at(1)))
    events.append(system("cleared", 2))
    late = officer_action(state_after(*events), "acknowledged", "bình", at(3), note="muộn")
    closed = state_after(*events, late)
    assert (closed.state, closed.acked_by) == ("closed", "an")
    assert closed.notes == ((at(3), "bình", "muộn"),)
    with pytest.raises(AlertActionError, match="closed alert cannot be shelved"):
        officer_action(closed, "shelved", "bình", at(3), note="x", shelve_for=timedelta(minutes=1))


def test_closing_ends_a_shelve_and_escalation_is_recorded_once() -> None:
    events = [raised(0, "critical"), system("escalated", 15), system("escalated", 30)]
    assert state_after(*events).escalated_at == at(15)
    shelve = officer_action(
        state_after(*events), "shelved", "an", at(16), note="x", shelve_for=timedelta(hours=1)
    )
    ack = officer_action(state_after(*events, shelve), "acknowledged", "an", at(17))
    closed = state_after(*events, shelve, ack, system("cleared", 18))
    assert closed.state == "closed" and closed.shelved_until is None


def test_actions_on_unknown_keys_change_nothing() -> None:
    stray = Event.new(STREAM, "feed_silent:mqtt", "acknowledged", actor="an", at=at(0))
    assert fold([stray]) == {}
    with pytest.raises(AlertActionError, match="no such alert"):
        officer_action(None, "acknowledged", "an", at(0))


def test_flood_is_more_than_ten_new_alerts_in_ten_minutes() -> None:
    def alerts(count: int, spread_minutes: float):
        events = [
            Event.new(STREAM, f"camera_offline:c{i}", "raised", at=at(i * spread_minutes / count))
            for i in range(count)
        ]
        return [a.raised_at for a in fold(events).values()]

    assert in_flood(alerts(10, 5), at(5)) == 0
    assert in_flood(alerts(11, 5), at(5)) == 11
    assert in_flood(alerts(11, 5), at(30)) == 0  # the burst is over


def test_alert_titles_speak_vietnamese_first_and_english_on_request() -> None:
    from wall.alerts.text import alert_title

    data = {"rule": "ward_cameras_offline", "ward": "Long Hoa"}
    data["facts"] = {"offline": 6, "total": 69, "percent": 8.7, "aps_down": 2}
    event = Event.new(STREAM, "ward_cameras_offline:Long Hoa", "raised", data=data, at=at(0))
    alert = fold([event])["ward_cameras_offline:Long Hoa"]
    assert alert_title(alert, "vi") == (
        "Long Hoa: 6/69 camera mất kết nối (8,7%), 2 điểm WiFi ngừng"
    )
    assert alert_title(alert, "en") == "Long Hoa: 6 of 69 cameras offline (8.7%), 2 WiFi APs down"
