"""The evaluator on both real backends with an injected clock: raising, hysteresis, grouping,
escalation and shelve expiry, as the duty officers will meet them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feeds.payloads import parse_record
from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.model import STREAM, fold, officer_action
from wall.alerts.rules import check_rules
from wall.alerts.state import record
from wall.store import Point, Store

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def evaluator(store: Store, clock: Clock, **rules) -> AlertEvaluator:
    """Feed silence is left out unless a test asks for it: these tests write data sparsely."""
    rules.setdefault("feed_silent", {"enabled": False})
    return AlertEvaluator(
        store,
        check_rules(rules),
        escalate_after=timedelta(minutes=15),
        clock=clock,
    )


def cameras(store: Store, clock: Clock, states: dict[str, bool], ward: str = "Thanh Điền") -> None:
    store.write(
        Point("camera_status", {"camera_id": cid, "ward": ward}, {"online": online}, clock.now)
        for cid, online in states.items()
    )


def kinds(events) -> list[tuple[str, str]]:
    return [(e.kind, e.key) for e in events]


def run_minutes(ev: AlertEvaluator, clock: Clock, minutes: int, each_minute=None) -> list:
    events = []
    for minute in range(minutes):
        clock.advance(1)
        if each_minute:
            each_minute(minute)
        events += ev.evaluate()
    return events


def test_camera_offline_raises_after_holding_for_its_minutes(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    cameras(store, clock, {"cam-1": True, "cam-2": True, "cam-3": True, "cam-4": True})
    assert ev.evaluate() == []
    cameras(store, clock, {"cam-1": False})
    assert run_minutes(ev, clock, 4) == []
    events = run_minutes(ev, clock, 2)
    assert kinds(events) == [("raised", "camera_offline:cam-1")]
    assert events[0].data["severity"] == "high"
    alert = fold(store.events(STREAM))["camera_offline:cam-1"]
    assert (alert.state, alert.ward) == ("active_unack", "Thanh Điền")


def test_a_flapping_camera_is_one_alert_and_clears_once_stable(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    cameras(store, clock, {"cam-1": False, "cam-2": True, "cam-3": True, "cam-4": True})
    raised = run_minutes(ev, clock, 6)
    assert kinds(raised) == [("raised", "camera_offline:cam-1")]
    flapping = run_minutes(
        ev, clock, 60, lambda minute: cameras(store, clock, {"cam-1": minute % 2 == 0})
    )
    assert flapping == []  # back for one minute at a time: never long enough to clear
    cameras(store, clock, {"cam-1": True})
    cleared = run_minutes(ev, clock, 3)
    assert kinds(cleared) == [("cleared", "camera_offline:cam-1")]
    assert fold(store.events(STREAM))["camera_offline:cam-1"].state == "cleared_unack"


def test_a_ward_power_cut_is_one_grouped_alert(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    hiep_tan = {f"ht-{i}": True for i in range(30)}
    cameras(store, clock, hiep_tan, ward="Thanh Điền")
    cameras(store, clock, {f"lh-{i}": True for i in range(10)}, ward="Long Hoa")
    ev.evaluate()
    cameras(store, clock, dict.fromkeys(hiep_tan, False), ward="Thanh Điền")
    cameras(store, clock, {"lh-0": False}, ward="Long Hoa")
    events = run_minutes(ev, clock, 10)
    assert sorted(kinds(events)) == [
        ("raised", "camera_offline:lh-0"),
        ("raised", "ward_cameras_offline:Thanh Điền"),
    ]
    ward = next(e for e in events if e.key.startswith("ward"))
    assert ward.data["severity"] == "critical"
    assert ward.data["facts"] == {"offline": 30, "total": 30, "percent": 100.0, "aps_down": 0}


def test_over_capacity_clears_only_below_the_lower_threshold(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)

    def clients(n: int) -> None:
        store.write(
            [
                Point(
                    "wifi_usage",
                    {"ap_id": "ap-toa-thanh", "ward": "Long Hoa"},
                    {"up": True, "clients": n, "capacity": 100},
                    clock.now,
                )
            ]
        )

    clients(105)
    assert kinds(run_minutes(ev, clock, 16)) == [("raised", "ap_over_capacity:ap-toa-thanh")]
    clients(95)  # below capacity but above the 90 % clear threshold: still an alert
    assert run_minutes(ev, clock, 30) == []
    clients(80)
    assert kinds(run_minutes(ev, clock, 6)) == [("cleared", "ap_over_capacity:ap-toa-thanh")]


def test_report_past_its_category_deadline_raises_at_once(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)

    def report(rid: str, category: str, status: str, created_hours_ago: float) -> Point:
        created = clock.now - timedelta(hours=created_hours_ago)
        payload = {"category": category, "ward": "Long Hoa", "status": status, "title": "Ổ gà"}
        [point] = parse_record(
            "report", rid, {**payload, "created": created.isoformat()}, clock.now
        )
        return point

    store.write(
        [
            report("r-late", "traffic", "assigned", 5),  # traffic: 4 h
            report("r-ok", "lighting", "new", 5),  # lighting: 48 h
            report("r-done", "traffic", "resolved", 9),
        ]
    )
    # One alert for the unit handling traffic reports (its category's handling unit).
    [raised] = ev.evaluate()
    assert (raised.kind, raised.key) == ("raised", "report_overdue:qlđt")
    assert (raised.data["facts"]["count"], raised.data["facts"]["oldest"]) == (1, "r-late")
    clock.advance(1)
    store.write([report("r-late", "traffic", "resolved", 5)])
    assert kinds(ev.evaluate()) == [("cleared", "report_overdue:qlđt")]


def test_a_feed_that_went_quiet_raises(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock, feed_silent={"enabled": True})
    cameras(store, clock, {"cam-1": True})
    assert run_minutes(ev, clock, 9) == []
    assert kinds(run_minutes(ev, clock, 1)) == [("raised", "feed_silent:camera_status")]


def test_unacknowledged_critical_alert_escalates_once(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    cameras(store, clock, {f"c{i}": False for i in range(5)}, ward="Hòa Thành")
    raised = run_minutes(ev, clock, 3)
    assert kinds(raised) == [("raised", "ward_cameras_offline:Hòa Thành")]
    cameras(store, clock, {f"c{i}": False for i in range(5)}, ward="Hòa Thành")
    escalated = run_minutes(
        ev, clock, 20, lambda m: cameras(store, clock, {"c0": False}, "Hòa Thành")
    )
    assert kinds(escalated) == [("escalated", "ward_cameras_offline:Hòa Thành")]


def test_acknowledged_alerts_do_not_escalate(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    cameras(store, clock, {f"c{i}": False for i in range(5)}, ward="Hòa Thành")
    run_minutes(ev, clock, 3)
    alert = fold(store.events(STREAM))["ward_cameras_offline:Hòa Thành"]
    record(store, [officer_action(alert, "acknowledged", "an", clock.now)])
    assert run_minutes(ev, clock, 20) == []


def test_a_shelve_ends_by_itself(store: Store, clock: Clock) -> None:
    ev = evaluator(store, clock)
    cameras(store, clock, {"cam-1": False})
    run_minutes(ev, clock, 6)
    alert = fold(store.events(STREAM))["camera_offline:cam-1"]
    record(
        store,
        [
            officer_action(
                alert,
                "shelved",
                "an",
                clock.now,
                note="Đang thay camera",
                shelve_for=timedelta(minutes=10),
            )
        ],
    )
    assert fold(store.events(STREAM))["camera_offline:cam-1"].shelved(clock.now)
    events = run_minutes(ev, clock, 11)
    assert kinds(events) == [("unshelved", "camera_offline:cam-1")]
    assert events[0].actor == "system"
    assert not fold(store.events(STREAM))["camera_offline:cam-1"].shelved(clock.now)


def test_rule_settings_are_checked_with_a_clear_reason() -> None:
    with pytest.raises(ValueError, match="unknown rule 'camera_ofline'"):
        check_rules({"camera_ofline": {}})
    with pytest.raises(ValueError, match=r"camera_offline\.minutes must be a number"):
        check_rules({"camera_offline": {"minutes": "five"}})
    with pytest.raises(ValueError, match="severity must be one of"):
        check_rules({"ap_down": {"severity": "urgent"}})
    with pytest.raises(ValueError, match="unknown parameter 'percnt'"):
        check_rules({"ward_cameras_offline": {"percnt": 10}})
    assert check_rules({"camera_offline": {"minutes": 1}})["camera_offline"]["minutes"] == 1.0


def test_a_simulated_ward_power_cut_yields_one_grouped_alert(tmp_path) -> None:
    """The evaluator against the city simulator: when a ward loses power, its cameras go dark
    together and the duty officer sees one critical ward alert, not one alert per camera."""
    from feeds.inventory import town_inventory
    from feeds.payloads import parse_message
    from feeds.simulator import CitySimulator, SimOptions
    from wall.settings import Settings
    from wall.store import open_store

    options = SimOptions(
        status_interval=timedelta(minutes=5),
        power_cut_every=timedelta(hours=2),
        power_cut_minutes=(30.0, 30.0),
        flaky_share=0.0,
        reports_per_day=0.0,
    )
    simulator = CitySimulator(town_inventory(Settings()), seed=7, start=T0, options=options)
    clock = Clock()
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        ev = evaluator(store, clock)
        raised = []
        while clock.now < T0 + timedelta(hours=12):
            clock.advance(1)
            store.write(
                point
                for message in simulator.advance(clock.now)
                for point in parse_message(message.topic, message.payload, message.time)
            )
            raised += [e for e in ev.evaluate() if e.kind == "raised"]
            cuts = simulator.power_cuts
            if cuts and clock.now >= cuts[0].start + timedelta(minutes=15):
                break
        assert simulator.power_cuts, "no power cut happened in 12 simulated hours"
        ward = simulator.power_cuts[0].ward
        during = [e for e in raised if e.time >= simulator.power_cuts[0].start]
        in_ward = [e for e in during if e.data.get("ward") == ward]
        assert [e.key for e in in_ward] == [f"ward_cameras_offline:{ward}"]
        assert in_ward[0].data["severity"] == "critical"
        facts = in_ward[0].data["facts"]
        assert facts["offline"] == facts["total"] > 3
        assert facts["aps_down"] > 0  # the ward's WiFi went down with it, inside the same alert
