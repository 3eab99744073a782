"""The city simulator: deterministic, valid per the contract, and realistic in the ways a demo
and a load test depend on; its in-process run fills a real store, its MQTT run a real broker."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pandas as pd
import pytest
import requests

from feeds.__main__ import main
from feeds.inventory import Inventory, generate_inventory, town_inventory
from feeds.open311_server import Open311Server
from feeds.payloads import parse_message
from feeds.sim_events import crowd_access_points, read_truth
from feeds.simulator import (
    CLOSE_FLUSH_SECONDS,
    REPORT_TRANSITIONS,
    CitySimulator,
    SimMessage,
    SimOptions,
    run_in_process,
)
from tests.servers import Mosquitto
from wall.city import load_profile
from wall.domain import throughput_from_counters
from wall.settings import Settings
from wall.store import Store, open_store

START = datetime(2026, 11, 10, 17, 0, tzinfo=UTC)  # midnight in Hòa Thành
HOA_THANH = load_profile("hoa-thanh")
LOCAL_TZ = ZoneInfo(HOA_THANH.timezone)
SMALL_TOWN = generate_inventory(HOA_THANH, seed=5, cameras=60, access_points=16)
REPORT_CATEGORIES = HOA_THANH.category_codes
INDICATORS = HOA_THANH.indicators


def simulate(
    hours: float,
    *,
    seed: int = 1,
    inventory=SMALL_TOWN,
    options: SimOptions | None = None,
    start: datetime = START,
) -> tuple[CitySimulator, list[SimMessage]]:
    options = options or SimOptions(status_interval=timedelta(minutes=5))
    sim = CitySimulator(inventory, seed=seed, start=start, options=options)
    return sim, list(sim.advance(start + timedelta(hours=hours)))


def decoded(messages: list[SimMessage], kind: str) -> list[tuple[str, dict]]:
    return [
        (m.topic.split("/")[2], json.loads(m.payload))
        for m in messages
        if m.topic.split("/")[1] == kind
    ]


def test_same_seed_same_messages_however_time_is_cut() -> None:
    _, whole = simulate(6, seed=3)
    sim = CitySimulator(
        SMALL_TOWN, seed=3, start=START, options=SimOptions(status_interval=timedelta(minutes=5))
    )
    pieces = []
    for minutes in range(7, 6 * 60 + 1, 7):
        pieces += sim.advance(START + timedelta(minutes=minutes))
    pieces += sim.advance(START + timedelta(hours=6))
    assert pieces == whole
    _, other = simulate(6, seed=4)
    assert other != whole


def test_every_message_fits_the_contract_and_comes_in_time_order() -> None:
    _, messages = simulate(12)
    assert {m.topic.split("/")[1] for m in messages} == {"camera", "wifi", "report", "kpi"}
    times = [m.time for m in messages]
    assert times == sorted(times)
    for m in messages:
        [point] = parse_message(m.topic, m.payload, m.time)  # raises if anything is off
        assert abs(point.time - m.time) < timedelta(milliseconds=1)


def test_power_cut_takes_a_wards_cameras_and_aps_down_together() -> None:
    options = SimOptions(status_interval=timedelta(minutes=5), power_cut_every=timedelta(hours=2))
    sim, messages = simulate(12, options=options)
    assert len(sim.power_cuts) >= 2
    reporting = {s.camera.camera_id for s in sim.cameras if not s.silent}
    for cut in sim.power_cuts:
        if cut.end >= START + timedelta(hours=12):
            continue
        ward_cameras = {
            s.camera.camera_id for s in sim.cameras if s.camera.ward == cut.ward
        } & reporting
        online_before = {
            i: p["online"]
            for i, p in decoded([m for m in messages if m.time < cut.start], "camera")
        }
        ward_aps = {a.ap_id for a in SMALL_TOWN.access_points if a.ward == cut.ward}
        during = [m for m in messages if cut.start <= m.time < cut.end]
        at_start = [m for m in during if m.time == cut.start]
        went_down = {
            i for i, p in decoded(at_start, "camera") if not p["online"] and p["ward"] == cut.ward
        }
        # every camera of the ward that was online went down at the same instant
        assert went_down == {i for i in ward_cameras if online_before.get(i)}
        assert went_down
        assert {i for i, p in decoded(at_start, "wifi") if not p["up"]} == ward_aps
        # and none of the ward's devices reports working until power is back
        assert not [i for i, p in decoded(during, "camera") if i in ward_cameras and p["online"]]
        assert not [i for i, p in decoded(during, "wifi") if i in ward_aps and p["up"]]
        # power back: the ward's cameras return together (bar any that failed meanwhile)
        at_end = decoded([m for m in messages if m.time == cut.end], "camera")
        back = {i for i, p in at_end if p["online"]}
        assert back <= ward_cameras and len(back) >= 0.8 * len(went_down)


def test_cameras_flap_few_are_silent_and_strangers_appear() -> None:
    sim, messages = simulate(
        12,
        options=SimOptions(
            status_interval=timedelta(minutes=5), power_cut_every=timedelta(days=30)
        ),
    )
    changes: dict[str, int] = defaultdict(int)
    last: dict[str, bool] = {}
    for camera_id, p in decoded(messages, "camera"):
        if camera_id in last and last[camera_id] != p["online"]:
            changes[camera_id] += 1
        last[camera_id] = p["online"]
    flaky = {s.camera.camera_id for s in sim.cameras if s.flaky}
    assert flaky and all(changes[c] >= 4 for c in flaky)
    steady = [c for c in last if c not in flaky]
    assert sum(changes[c] == 0 for c in steady) > 0.8 * len(steady)
    registered = {c.camera_id for c in SMALL_TOWN.cameras}
    assert set(last) - registered == {s.camera.camera_id for s in sim.cameras[60:]}
    silent = {s.camera.camera_id for s in sim.cameras if s.silent}
    assert not silent & set(last)


def wifi_samples(messages: list[SimMessage]) -> list[tuple[datetime, str, dict]]:
    """(local time, AP id, payload) of every WiFi message."""
    return [(m.time.astimezone(LOCAL_TZ), i, p) for m in messages for i, p in decoded([m], "wifi")]


def test_wifi_follows_the_day_and_the_festival_crowd_fills_the_holy_see() -> None:
    town = town_inventory(Settings())
    # Only WiFi matters here.
    inventory = Inventory(cameras=(), access_points=town.access_points, profile=town.profile)
    [holy_see] = [site.name for site in HOA_THANH.simulation.sites if site.crowd]
    festival, normal = date(2026, 11, 12), date(2026, 11, 11)
    options = SimOptions(
        festival_days=frozenset({festival}),
        power_cut_every=timedelta(days=30),
        status_interval=timedelta(minutes=10),
    )
    _, messages = simulate(48, inventory=inventory, options=options)
    samples = wifi_samples(messages)
    holy = {a.ap_id: a.capacity for a in inventory.access_points if a.site == holy_see}

    def holy_see_share(day: date) -> float:
        """Clients per capacity at the Holy See's APs over the daytime of one day."""
        shares = [
            p["clients"] / holy[i]
            for t, i, p in samples
            if t.date() == day and 8 <= t.hour < 18 and i in holy
        ]
        return sum(shares) / len(shares)

    assert holy_see_share(festival) > 0.9
    assert holy_see_share(normal) < 0.6

    def town_clients(hours: range) -> float:
        values = [
            p["clients"]
            for t, i, p in samples
            if t.date() == normal and t.hour in hours and i not in holy
        ]
        return sum(values) / len(values)

    assert town_clients(range(19, 22)) > 3 * town_clients(range(2, 5))  # evening peak vs night


def test_wifi_counters_never_give_a_negative_rate() -> None:
    _, messages = simulate(24, options=SimOptions(status_interval=timedelta(minutes=5)))
    rows = [
        {
            "time": pd.Timestamp(m.time),
            "ap_id": i,
            "rx_bytes": p["rx_bytes"],
            "tx_bytes": p["tx_bytes"],
        }
        for m in messages
        for i, p in decoded([m], "wifi")
    ]
    rates = throughput_from_counters(pd.DataFrame(rows))
    assert len(rates) > 1000
    assert (rates[["rx_bps", "tx_bps"]] >= 0).all().all()
    assert rates["rx_bps"].max() > 0


def test_reports_move_forward_along_allowed_paths_over_hours() -> None:
    _, messages = simulate(36)
    history: dict[str, list[dict]] = defaultdict(list)
    for report_id, p in decoded(messages, "report"):
        history[report_id].append(p)
    assert len(history) > 30
    assert {p[0]["category"] for p in history.values()} == set(REPORT_CATEGORIES)
    reached = defaultdict(int)
    for versions in history.values():
        assert versions[0]["status"] == "new"
        assert len({v["created"] for v in versions}) == 1
        for before, after in itertools.pairwise(versions):
            assert after["status"] in REPORT_TRANSITIONS[before["status"]]
            assert after["updated"] >= before["updated"]
        reached[versions[-1]["status"]] += 1
        if versions[-1]["status"] == "closed":
            created = datetime.fromisoformat(versions[0]["created"])
            closed = datetime.fromisoformat(versions[-1]["updated"])
            assert closed - created > timedelta(hours=1)
    assert (
        reached["closed"] and reached["rejected"] and reached["in_progress"] + reached["assigned"]
    )


def test_indicators_cover_sectors_with_targets_met_and_missed() -> None:
    _, messages = simulate(3)
    latest = dict(decoded(messages, "kpi"))
    assert len(latest) == len(INDICATORS) >= 15
    assert len({p["sector"] for p in latest.values()}) >= 6
    met = [i for i, p in latest.items() if p["value"] >= p["target"]]
    missed = [i for i, p in latest.items() if p["value"] < p["target"]]
    assert len(met) >= 3 and len(missed) >= 3
    assert all(p["name"] and p["unit"] and p["period"] for p in latest.values())


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_in_process_run_fills_the_store_then_follows_the_clock(store: Store) -> None:
    stop = threading.Event()
    started = datetime.now(UTC)
    run = run_in_process(
        store,
        Settings(),
        stop,
        seed=9,
        backfill=timedelta(hours=3),
        # Reports follow the hour of day (few at night): a high rate so the 3 h backfill has
        # some whatever time the test runs at.
        options=SimOptions(status_interval=timedelta(seconds=0.5), reports_per_day=2000),
        inventory=SMALL_TOWN,
    )
    try:
        assert run.backfilled.wait(60)
        cameras = store.latest("camera_status", "camera_id")
        reporting = [s for s in run.simulator.cameras if not s.silent]
        assert len(cameras) == len(reporting)
        assert set(cameras["ward"]) <= set(SMALL_TOWN.wards)
        assert len(store.latest("wifi_usage", "ap_id")) == len(SMALL_TOWN.access_points)
        assert len(store.latest("kpi", "indicator_id")) == len(INDICATORS)
        assert len(store.latest("field_report", "report_id")) > 0
        history = store.points("camera_status", started - timedelta(hours=3), started)
        assert history["time"].min() < pd.Timestamp(started - timedelta(hours=2))
        # live data follows at once, not after a backfill interval
        wait_for(
            lambda: store.latest("camera_status", "camera_id")["time"].min() > pd.Timestamp(started)
        )
    finally:
        stop.set()
        run.join(30)
    assert not run.thread.is_alive()


def test_open311_endpoint_serves_the_reports() -> None:
    server = Open311Server().start()
    try:
        options = SimOptions(status_interval=timedelta(minutes=10), publish_reports=False)
        sim = CitySimulator(SMALL_TOWN, seed=2, start=START, options=options)
        sim.on_report = server.update
        messages = list(sim.advance(START + timedelta(hours=30)))
        assert not [m for m in messages if "/report/" in m.topic]
        services = requests.get(f"{server.url}/services.json", timeout=5).json()
        assert {s["service_code"] for s in services} == set(REPORT_CATEGORIES)

        def get(**params) -> list[dict]:
            answer = requests.get(f"{server.url}/requests.json", params=params, timeout=5)
            assert answer.status_code == 200
            return answer.json()

        window = (START + timedelta(hours=10), START + timedelta(hours=20))
        chosen = get(start_date=window[0].isoformat(), end_date=window[1].isoformat())
        expected = {
            r.report_id for r in sim.reports.values() if window[0] <= r.created <= window[1]
        }
        assert {r["service_request_id"] for r in chosen} == expected
        for item in chosen:
            report = sim.reports[item["service_request_id"]]
            assert item["extended_attributes"]["detailed_status"] == report.status
            assert item["service_code"] == report.category
            assert item["status"] == (
                "open" if report.status in ("new", "assigned", "in_progress") else "closed"
            )
            assert datetime.fromisoformat(item["updated_datetime"]) == report.updated.replace(
                microsecond=0
            )
        closed = get(start_date=START.isoformat(), status="closed")
        assert closed and {r["status"] for r in closed} == {"closed"}
        some = sorted(expected)[:2]
        assert {r["service_request_id"] for r in get(service_request_id=",".join(some))} == set(
            some
        )
        one = requests.get(f"{server.url}/requests/{some[0]}.json", timeout=5).json()
        assert one[0]["service_request_id"] == some[0]
        missing = requests.get(f"{server.url}/requests/nope.json", timeout=5)
        assert missing.status_code == 404 and missing.json()[0]["code"] == 404
        bad = requests.get(f"{server.url}/requests.json", params={"start_date": "x"}, timeout=5)
        assert bad.status_code == 400 and "start_date" in bad.json()[0]["description"]
    finally:
        server.close()


def test_simulate_command_writes_into_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("IOC_STORE", url)
    argv = ["simulate", "--cameras", "30", "--aps", "6", "--backfill", "2h", "--duration", "1s"]
    assert main(argv) == 0
    with open_store(Settings(store=url)) as store:
        assert len(store.latest("camera_status", "camera_id")) >= 25


def test_simulate_command_reports_a_bad_inventory_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "city.csv"
    bad.write_text("kind,id,name,ward,lat,lon\ncamera,c1,X,Long Hoa,north,106.1\n")
    monkeypatch.setenv("IOC_INVENTORY", str(bad))
    monkeypatch.setenv("IOC_STORE", f"sqlite:///{tmp_path / 'x.db'}")
    assert main(["simulate", "--backfill", "0", "--duration", "1s"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"feeds: bad setting IOC_INVENTORY: {bad}:2: lat 'north' is not a number (use a decimal "
        "point)"
    )


@pytest.mark.parametrize(
    "argument",
    [["--backfill", "soon"], ["--rate", "0"], ["--festival", "x"], ["--open311-port", "99999"]],
)
def test_bad_simulate_arguments_exit_2(argument: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["simulate", *argument])
    assert caught.value.code == 2


def test_simulate_publishes_every_message_to_the_broker(
    mosquitto, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[str] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sim-sub")
    client.on_connect = lambda c, *args: c.subscribe("ioc/#", qos=1)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: received.append(message.topic)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        monkeypatch.setenv("IOC_MQTT_URL", mosquitto.url)
        caplog.set_level("INFO", logger="feeds.simulator")
        # A whole day of backfill: reports follow the hour of day, and 3 h of night may have none.
        argv = ["simulate", "--cameras", "40", "--aps", "8", "--backfill", "24h"]
        assert main([*argv, "--duration", "2s"]) == 0
        sent = int(next(r for r in caplog.messages if r.startswith("sent ")).split()[1])
        wait_for(lambda: len(received) >= sent, timeout=20)
        assert len(received) == sent > 1000
        assert {t.split("/")[1] for t in received} == {"camera", "wifi", "report", "kpi"}
    finally:
        client.loop_stop()
        client.disconnect()


def test_simulate_ends_soon_after_sigterm_when_the_broker_stops_acknowledging(
    tmp_path: Path,
) -> None:
    """A broker that hangs (SIGSTOP) fills the publisher's window: a SIGTERM (docker stop,
    systemctl stop) still ends the simulator within its flush time, saying what was not sent."""
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    env = {**os.environ, "IOC_MQTT_URL": broker.url, "IOC_STORE": f"sqlite:///{tmp_path}/x.db"}
    argv = ["simulate", "--cameras", "200", "--aps", "50", "--backfill", "2h", "--rate", "5000"]
    simulator = subprocess.Popen(
        [sys.executable, "-m", "feeds", *argv],
        env=env,
        cwd=Path(__file__).parent.parent,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)  # connected and publishing
        assert simulator.poll() is None
        os.kill(broker.process.pid, signal.SIGSTOP)
        time.sleep(3)  # the window of unacknowledged messages fills
        simulator.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = simulator.communicate(timeout=CLOSE_FLUSH_SECONDS + 20)
        took = time.monotonic() - started
    finally:
        if simulator.poll() is None:
            simulator.kill()
        os.kill(broker.process.pid, signal.SIGCONT)
        broker.stop()
    assert simulator.returncode == 0, stderr
    assert took < CLOSE_FLUSH_SECONDS + 3, f"{took:.1f} s after SIGTERM"
    assert "the broker has not acknowledged" in stderr
    assert "Traceback" not in stderr


def test_polling_worker_reads_the_simulated_open311_endpoint_exactly(tmp_path: Path) -> None:
    from feeds.open311 import Open311Config, Open311Source

    server = Open311Server().start()
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        options = SimOptions(status_interval=timedelta(minutes=10), publish_reports=False)
        sim = CitySimulator(
            SMALL_TOWN, seed=4, start=now - timedelta(hours=24), live_from=now, options=options
        )
        sim.on_report = server.update
        list(sim.advance(now))
        source = Open311Source(
            Open311Config(url=server.url),
            state_dir=tmp_path,
            timeout=5,
            session=requests.Session(),
        )
        points = source.fetch(now).points
        assert {p.fields["report_id"] for p in points} == set(sim.reports)
        for point in points:
            report = sim.reports[point.fields["report_id"]]
            assert point.tags["category"] == report.category
            assert point.tags["ward"] == report.ward
            assert point.fields["status"] == report.status
            assert point.fields["title"] == report.title
    finally:
        server.close()


def test_rate_option_sets_how_many_status_messages_a_second() -> None:
    options = SimOptions.for_rate(
        200, devices=len(SMALL_TOWN.cameras) + len(SMALL_TOWN.access_points)
    )
    sim = CitySimulator(SMALL_TOWN, seed=1, start=START, options=options)
    list(sim.advance(START + timedelta(minutes=1)))  # past the start-up spread
    minute = list(sim.advance(START + timedelta(minutes=3)))
    status = [m for m in minute if m.topic.split("/")[1] in ("camera", "wifi")]
    assert 0.9 * 200 * 120 < len(status) < 1.1 * 200 * 120


# -- injected events ----------------------------------------------------------------------------

# 2026-11-17 to 22 are ordinary days; the profile lists 2026-11-23 as a festival day.
EVENTS_START = datetime(2026, 11, 16, 17, 0, tzinfo=UTC)  # midnight local, Tuesday 17th
FESTIVAL_DAY = min(d for d in HOA_THANH.festival_days if d > EVENTS_START.date())


def local(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00"


def schedule_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A schedule of each kind, with the names of the profile and the small town."""
    crowd_site = next(iter(crowd_access_points(SMALL_TOWN)))
    ward_cut, ward_surge = SMALL_TOWN.wards[1], SMALL_TOWN.wards[2]
    category = REPORT_CATEGORIES[1]
    quiet_ap = next(
        a for a in SMALL_TOWN.access_points if a.site != crowd_site and a.ward != ward_cut
    )
    day = date(2026, 11, 18)
    names = {
        "site": crowd_site,
        "ward_cut": ward_cut,
        "ward_surge": ward_surge,
        "category": category,
        "ap": quiet_ap.ap_id,
    }
    path = tmp_path / "events.toml"
    path.write_text(
        f"""
[[events]]
kind = "festival_crowd"
start = {local(day, 14)}
hours = 4
site = "{crowd_site}"

[[events]]
kind = "power_cut"
start = {local(day, 9)}
hours = 1.5
ward = "{ward_cut}"

[[events]]
kind = "report_surge"
start = "{local(day, 10)}"
hours = 1
ward = "{ward_surge}"
category = "{category}"
reports = 12

[[events]]
kind = "ap_silent"
start = {local(day, 8)}+07:00
hours = 6
ap_id = "{quiet_ap.ap_id}"

[[events]]
kind = "festival_crowd"
start = {local(FESTIVAL_DAY, 9)}
hours = 3
""",
        encoding="utf-8",
    )
    return path, names


def run_with_events(tmp_path: Path, days: float, **kwargs) -> tuple[list, list[SimMessage]]:
    """The simulator run by the command's own path: schedule, options, ground-truth file."""
    from feeds.sim_events import TruthWriter

    sim = CitySimulator(
        SMALL_TOWN,
        seed=7,
        start=EVENTS_START,
        options=SimOptions(
            status_interval=timedelta(minutes=5), power_cut_every=timedelta(days=3650), **kwargs
        ),
    )
    truth = TruthWriter(tmp_path / "truth.csv")
    sim.on_event = truth
    messages = list(sim.advance(EVENTS_START + timedelta(days=days)))
    truth.close()
    assert read_truth(tmp_path / "truth.csv") == sim.events
    return sim.events, messages


def within(messages: list[SimMessage], start: datetime, end: datetime) -> list[SimMessage]:
    return [m for m in messages if start <= m.time < end]


def test_scheduled_events_show_in_the_data_where_and_when_the_ground_truth_says(
    tmp_path: Path,
) -> None:
    import random

    from feeds.sim_events import load_schedule

    path, names = schedule_file(tmp_path)
    events = tuple(load_schedule(path, SMALL_TOWN, random.Random(1)))
    truth, messages = run_with_events(tmp_path, 8, events=events)
    assert [e.kind for e in truth] == [
        "ap_silent", "power_cut", "report_surge", "festival_crowd", "festival_crowd"
    ]  # fmt: skip
    by_kind = {e.kind: e for e in truth}
    hour = timedelta(hours=1)
    day = timedelta(days=1)
    capacity = {a.ap_id: a.capacity for a in SMALL_TOWN.access_points}

    # An AP failing silently: says it is up, has 0 clients, only while the truth says.
    silent = by_kind["ap_silent"]
    assert silent.aps == (names["ap"],) and silent.end - silent.start == 6 * hour
    during = [p for i, p in decoded(within(messages, silent.start, silent.end), "wifi")
              if i == names["ap"]]  # fmt: skip
    # (an AP may still reboot now and then: down for one sample)
    assert len(during) >= 60 and sum(p["up"] for p in during) >= 0.9 * len(during)
    assert all(p["clients"] == 0 for p in during)
    day_before = [p for i, p in decoded(within(messages, silent.start - day, silent.end - day),
                  "wifi") if i == names["ap"]]  # fmt: skip
    assert sum(p["clients"] for p in day_before) > 10 * len(day_before)

    # A ward's power cut: every reporting camera and AP of that ward down, the others not.
    cut = by_kind["power_cut"]
    assert cut.ward == names["ward_cut"]
    ward_of = {c.camera_id: c.ward for c in SMALL_TOWN.cameras}
    ward_of |= {a.ap_id: a.ward for a in SMALL_TOWN.access_points}
    cams = decoded(within(messages, cut.start, cut.end), "camera")
    aps = decoded(within(messages, cut.start, cut.end), "wifi")
    assert {i for i, _ in cams if ward_of.get(i) == cut.ward}
    assert not [i for i, p in cams if ward_of.get(i) == cut.ward and p["online"]]
    assert not [i for i, p in aps if ward_of[i] == cut.ward and p["up"]]
    assert sum(p["online"] for i, p in cams if ward_of.get(i) != cut.ward) > 0.8 * sum(
        1 for i, _ in cams if ward_of.get(i) != cut.ward
    )
    after = decoded(within(messages, cut.end + 10 * timedelta(minutes=1), cut.end + hour), "wifi")
    assert any(p["up"] for i, p in after if ward_of[i] == cut.ward)

    # A surge: the reports of one category in one ward within its hour.
    surge = by_kind["report_surge"]
    assert (surge.ward, surge.category, surge.reports) == (
        names["ward_surge"], names["category"], 12
    )  # fmt: skip

    def new_reports(start: datetime, end: datetime) -> list[dict]:
        return [
            p
            for _, p in decoded(within(messages, start, end), "report")
            if p["status"] == "new" and p["ward"] == surge.ward and p["category"] == surge.category
        ]

    assert len(new_reports(surge.start, surge.end)) >= 12
    assert len(new_reports(surge.start - day, surge.end - day)) <= 2

    # A festival crowd on an ordinary day: the gathering place's APs near capacity, an anomaly;
    # on the profile's festival day the same crowd is expected.
    crowd, listed = [e for e in truth if e.kind == "festival_crowd"]
    assert crowd.site == names["site"] and crowd.anomaly
    assert listed.site == names["site"] and not listed.anomaly
    assert listed.start.astimezone(LOCAL_TZ).date() == FESTIVAL_DAY
    assert set(crowd.aps) == set(crowd_access_points(SMALL_TOWN)[names["site"]])

    def load(start: datetime, end: datetime) -> float:
        points = [p["clients"] / capacity[i] for i, p in decoded(within(messages, start, end),
                  "wifi") if i in crowd.aps]  # fmt: skip
        return sum(points) / len(points)

    assert load(crowd.start, crowd.end) > 0.85
    assert load(crowd.start - day, crowd.end - day) < 0.6
    assert load(crowd.end + hour, crowd.end + 2 * hour) < 0.6


def test_events_drawn_at_a_rate_are_seeded_and_all_written_to_the_ground_truth(
    tmp_path: Path,
) -> None:
    truth, messages = run_with_events(tmp_path, 4, events_per_day=3)
    again, _ = run_with_events(tmp_path, 4, events_per_day=3)
    assert truth == again and 5 <= len(truth) <= 25
    assert {e.kind for e in truth} >= {"power_cut", "report_surge", "ap_silent"}
    for event in truth:
        assert event.start < event.end <= event.start + timedelta(hours=8)
        if event.kind == "ap_silent":
            points = [p for i, p in decoded(within(messages, event.start, event.end), "wifi")
                      if i == event.aps[0]]  # fmt: skip
            assert points and all(p["clients"] == 0 for p in points if p["up"])


def test_no_events_asked_for_no_events_played(tmp_path: Path) -> None:
    truth, _ = run_with_events(tmp_path, 2)
    assert truth == []
    assert (tmp_path / "truth.csv").read_text().splitlines() == [
        "kind,anomaly,start,end,ward,site,aps,category,reports"
    ]


def test_simulate_command_plays_a_schedule_and_writes_the_ground_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ward = SMALL_TOWN.wards[0]
    now = datetime.now(UTC)
    schedule = tmp_path / "events.toml"
    start = (now - timedelta(hours=2)).isoformat(timespec="seconds")
    schedule.write_text(
        f'[[events]]\nkind = "power_cut"\nstart = "{start}"\nhours = 1\nward = "{ward}"\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("IOC_STORE", url)
    argv = ["simulate", "--cameras", "30", "--aps", "6", "--backfill", "3h", "--duration", "1s",
            "--events", str(schedule), "--truth", str(tmp_path / "truth.csv")]  # fmt: skip
    assert main(argv) == 0
    [cut] = read_truth(tmp_path / "truth.csv")
    assert (cut.kind, cut.ward, cut.anomaly) == ("power_cut", ward, True)
    with open_store(Settings(store=url)) as store:
        points = store.points("camera_status", cut.start, cut.end)
    in_ward = points[points["ward"] == ward]
    assert len(in_ward) and not in_ward["online"].astype(bool).any()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[events]]\nkind = "flood"\nstart = 2026-11-17T09:00:00\nhours = 1\n',
         "event 1: unknown kind 'flood'; known: festival_crowd, power_cut, report_surge, "
         "ap_silent"),
        ('[[events]]\nkind = "power_cut"\nstart = 2026-11-17T09:00:00\nhours = 1\n'
         'ward = "Atlantis"\n', "event 1: power_cut: unknown ward 'Atlantis'; known: "),
        ('[[events]]\nkind = "ap_silent"\nhours = 1\n', "event 1: start is missing"),
        ('[[events]]\nkind = "ap_silent"\nstart = "soon"\nhours = 1\n',
         "event 1: start 'soon' is not a date and time"),
        ("[[events]\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_simulate_command_names_what_is_wrong_in_a_schedule(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    text: str,
    message: str,
) -> None:
    schedule = tmp_path / "events.toml"
    schedule.write_text(text, encoding="utf-8")
    monkeypatch.setenv("IOC_STORE", f"sqlite:///{tmp_path / 'x.db'}")
    argv = ["simulate", "--cameras", "30", "--aps", "6", "--events", str(schedule)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("feeds simulate: ") and message in err
    assert "Traceback" not in err
