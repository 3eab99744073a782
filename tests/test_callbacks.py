"""The wall's callbacks and routing through the real Flask app, on a real SQLite store."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import html, no_update

from callbacks.pages import plan_for
from callbacks.queries import PARTS, Queries
from callbacks.screens import Drawing, builders, digest, for_kiosk, refresh, scale_for
from feeds.payloads import parse_record
from layouts import SCREENS
from layouts.common import BLANK_FIGURE
from tests.browser_fixtures import seed
from tests.servers import RedisServer
from wall.app import create_app
from wall.cache import cache, remember, remembered
from wall.city import load_profile
from wall.i18n import Translator
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR, SettingsError
from wall.store import Point, Store, StoreUnavailable
from wall.store.newest import REFOLD_EVERY
from wall.store.sqlite import SQLiteStore


class CountingStore(SQLiteStore):
    """A real SQLite store that counts the questions it is asked."""

    def __init__(self, path):
        super().__init__(path)
        self.calls: list[str] = []
        self._count_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._count_lock:
            self.calls.append(name)

    def latest(self, *args, **kwargs):
        self._count(f"latest:{args[0]}")
        return super().latest(*args, **kwargs)

    def points(self, *args, **kwargs):
        self._count(f"points:{args[0]}")
        return super().points(*args, **kwargs)

    def changes(self, *args, **kwargs):
        self._count(f"changes:{args[0]}")
        return super().changes(*args, **kwargs)

    def aggregate(self, *args, **kwargs):
        self._count(f"aggregate:{args[0]}")
        return super().aggregate(*args, **kwargs)

    def events(self, *args, **kwargs):
        self._count("events")
        return super().events(*args, **kwargs)

    def latest_events(self, *args, **kwargs):
        self._count("latest_events")
        return super().latest_events(*args, **kwargs)

    def key_states(self, *args, **kwargs):
        self._count("key_states")
        return super().key_states(*args, **kwargs)


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("wall") / "ioc.db"
    with SQLiteStore(path) as store:
        seed(store, datetime.now(UTC), history_hours=3)
    return path


TICK = 4.0
PAGE_ID = "a-page"
# Tests of what a screen shows wait for every part's first read, however busy the machine.
WHOLE_READS = 60.0


def settings_for(db, cache_dir, **extra) -> Settings:
    return Settings(
        store=f"sqlite:///{db}",
        cache_url=f"file://{cache_dir}",
        refresh_seconds=TICK,
        first_read_wait_seconds=WHOLE_READS,
        **extra,
    )


def wait_for_tick_start() -> None:
    """Ticks are aligned to the clock; start a burst of requests just after one begins."""
    time.sleep(TICK - time.time() % TICK + 0.05)


def update_request(
    screen: str, width: int = 1920, lang: str = "vi", shown: dict | None = None
) -> dict:
    """The refresh request a browser sends; `shown`: the digests the kiosk holds (none: a page
    just loaded)."""
    module = SCREENS[screen]
    outputs = [*builders(module), f"{screen}-status.children", f"{screen}-shown.data"]
    return {
        "output": "".join(f"..{o}." for o in outputs) + ".",
        "outputs": [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in outputs],
        "inputs": [
            {"id": f"{screen}-pull", "property": "data", "value": {"n": 1, "w": width, "t": 7}}
        ],
        "state": [
            {"id": "page-lang", "property": "data", "value": lang},
            {"id": f"{screen}-shown", "property": "data", "value": shown},
            {"id": "page-id", "property": "data", "value": PAGE_ID},
        ],
        "changedPropIds": [f"{screen}-pull.data"],
    }


def test_fifty_kiosks_on_one_screen_cause_one_set_of_store_queries_per_tick(seeded_db, tmp_path):
    store = CountingStore(seeded_db)
    app = create_app(settings_for(seeded_db, tmp_path / "cache"), store=store)
    request = json.dumps(update_request("overview"))

    def ask(_):
        client = app.server.test_client()
        response = client.post(
            "/_dash-update-component", data=request, content_type="application/json"
        )
        return response.status_code, response.get_json()

    wait_for_tick_start()
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(50)))
    assert all(code == 200 for code, _ in answers)
    first = answers[0][1]["response"]
    assert " / 320" in json.dumps(first, ensure_ascii=False)  # every camera of the town
    one_set = sorted(store.calls)
    assert one_set == sorted(
        [
            "latest:camera_status",
            "latest:wifi_usage",
            "latest:field_report",  # the open reports of 90 days, folded from scratch
            "latest:field_report",  # and those changed in the last 24 h
            "latest:kpi",
            "latest:feed_health",
            "key_states",
            "latest_events",  # the units' latest indicator values (wall.submissions)
        ]
    )
    wait_for_tick_start()  # the next tick asks again, once; reports only what changed since
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(ask, range(20)))
    assert len(store.calls) == 2 * len(one_set) - 1


def test_screens_share_a_question_they_both_ask(seeded_db, tmp_path):
    store = CountingStore(seeded_db)
    app = create_app(settings_for(seeded_db, tmp_path / "cache"), store=store)
    client = app.server.test_client()
    wait_for_tick_start()
    for screen in ("overview", "cameras"):
        response = client.post("/_dash-update-component", json=update_request(screen))
        assert response.status_code == 200
    assert store.calls.count("latest:camera_status") == 1


def test_the_alarm_banner_costs_every_screen_one_shared_alerts_read_per_tick(seeded_db, tmp_path):
    """Cameras, WiFi, reports and indicators draw no alerts of their own; their banner reads the
    alerts part, once a tick for all of them (and for the screens that do draw alerts)."""
    store = CountingStore(seeded_db)
    app = create_app(settings_for(seeded_db, tmp_path / "cache"), store=store)
    client = app.server.test_client()
    wait_for_tick_start()
    for screen in ("cameras", "wifi", "reports", "indicators", "alerts"):
        response = client.post("/_dash-update-component", json=update_request(screen))
        assert response.status_code == 200
        # The seed's unacknowledged critical alert, on every screen.
        banner = response.get_json()["response"][f"{screen}-alarm"]["children"]
        assert "1 khẩn cấp chưa xác nhận" in json.dumps(banner, ensure_ascii=False), screen
    assert store.calls.count("key_states") == 1  # the kept alert state (wall.alerts.state)
    assert "events" not in store.calls  # no alert log folded


def test_the_filesystem_cache_is_shared_between_processes(seeded_db, tmp_path):
    """What gunicorn's workers rely on: one process's answer serves the others."""
    cache = tmp_path / "cache"
    remaining = 600 - time.time() % 600  # both processes must ask within one 600 s tick
    if remaining < 20:
        time.sleep(remaining + 0.1)
    program = (
        "from wall.app import create_app; from callbacks.queries import Queries;"
        "from wall.settings import Settings;"
        f"s = Settings(store='sqlite:///{seeded_db}', cache_url='file://{cache}', "
        "refresh_seconds=600.0); app = create_app(s);"
        "ctx = app.server.app_context(); ctx.push(); print(len(Queries(s).part('cameras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "320"
    store = CountingStore(seeded_db)
    settings = Settings(
        store=f"sqlite:///{seeded_db}", cache_url=f"file://{cache}", refresh_seconds=600.0
    )
    app = create_app(settings, store=store)
    with app.server.app_context():
        assert len(Queries(settings, store).part("cameras")) == 320
    assert store.calls == []


def test_an_unreachable_store_keeps_the_picture_and_says_so(tmp_path):
    settings = Settings(
        store="influxdb://127.0.0.1:9/nothing",
        influx_retries=0,
        influx_timeout_seconds=0.5,
        cache_url=f"file://{tmp_path / 'cache'}",
    )
    app = create_app(settings)
    response = app.server.test_client().post(
        "/_dash-update-component", json=update_request("cameras")
    )
    assert response.status_code == 200
    answer = response.get_json()["response"]
    # Nothing on the screen is replaced: the last data stays; only the status line speaks.
    assert set(answer) == {"cameras-status"}
    status = json.dumps(answer["cameras-status"], ensure_ascii=False)
    assert "Không truy cập được kho dữ liệu" in status
    assert "Traceback" not in response.get_data(as_text=True)


def test_every_screen_refreshes_in_english_when_asked(seeded_db, tmp_path):
    settings = settings_for(seeded_db, tmp_path / "cache")
    app = create_app(settings)
    queries = Queries(settings, SQLiteStore(seeded_db))
    with app.server.app_context():
        for name, screen in SCREENS.items():
            values = refresh(screen, queries, settings, "en", {"w": 3840, "t": 1})
            assert len(values) == len(builders(screen)) + 2, name
            assert values[-2] is None  # no trouble to report in the status line
            for key, value in zip(builders(screen), values, strict=False):
                if key.endswith(".figure"):
                    go.Figure(value)  # plotly refuses a property it does not know
        shown = json.dumps(
            refresh(SCREENS["indicators"], queries, settings, "en", {"w": 1920, "t": 2})[0],
            default=str,
        )
    assert "targets met" in shown


def test_figures_scale_with_the_wall_width():
    assert scale_for({"w": 1920}) == 1.0
    assert scale_for({"w": 3840}) == 2.0
    assert scale_for({"w": 100_000}) == 4.0
    assert scale_for("garbage") == 1.0


KEYS = ("s-head.children", "s-chart.figure", "s-list.children")


def drawing(*values) -> Drawing:
    return Drawing(list(values), [digest(v) for v in values])


def tile(text: str) -> html.Div:
    return html.Div([html.Span("Camera"), html.Span(text)], className="tile")


def test_a_kiosk_is_sent_only_the_outputs_it_does_not_already_show():
    chart = {**BLANK_FIGURE, "data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}]}
    first = drawing(tile("12 giây"), chart, tile("A"))
    *values, shown = for_kiosk(KEYS, first, None, "page-1")
    assert values == first.values  # a page that just loaded gets everything
    assert shown == {"page": "page-1", "digests": dict(zip(KEYS, first.digests, strict=True))}
    assert for_kiosk(KEYS, first, shown, "page-1") == [no_update] * 4
    # The next tick: only the age in the head changed, and the chart was drawn again alike.
    again = {**BLANK_FIGURE, "data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}]}
    second = drawing(tile("17 giây"), again, tile("A"))
    *values, shown_next = for_kiosk(KEYS, second, shown, "page-1")
    assert values == [second.values[0], no_update, no_update]
    assert shown_next["digests"]["s-head.children"] != shown["digests"]["s-head.children"]
    # One number deep in the chart changes: the chart is sent.
    moved = {**BLANK_FIGURE, "data": [{"type": "bar", "x": [1, 2], "y": [3, 5]}]}
    third = drawing(tile("17 giây"), moved, tile("A"))
    assert for_kiosk(KEYS, third, shown_next, "page-1")[:3] == [no_update, moved, no_update]


def test_digests_recorded_on_another_rendering_of_the_page_or_garbled_count_for_nothing():
    first = drawing(tile("1"), BLANK_FIGURE, tile("2"))
    *_, shown = for_kiosk(KEYS, first, None, "page-1")
    # A response that was on its way when the page was rendered anew vouches for nothing.
    assert for_kiosk(KEYS, first, shown, "page-2")[:3] == first.values
    for garbage in ("x", [1, 2], {"page": "page-1", "digests": ["a"]}, {"digests": 5}, 7):
        *values, written = for_kiosk(KEYS, first, garbage, "page-1")
        assert values == first.values, garbage
        assert written == shown


def test_an_unchanged_tick_sends_what_changed_and_a_new_report_reaches_the_kiosk(
    seeded_db, tmp_path
):
    db = tmp_path / "ioc.db"
    shutil.copy(seeded_db, db)
    app = create_app(settings_for(db, tmp_path / "cache"))
    client = app.server.test_client()
    outputs = [*builders(SCREENS["reports"])]

    def ask(shown):
        response = client.post(
            "/_dash-update-component", json=update_request("reports", shown=shown)
        )
        assert response.status_code == 200
        return response.get_json()["response"]

    wait_for_tick_start()
    full = ask(None)
    assert set(full) == {o.rsplit(".", 1)[0] for o in outputs} | {"reports-status", "reports-shown"}
    shown = full["reports-shown"]["data"]
    assert set(ask(shown)) == {"reports-status"}  # the same tick: nothing to send
    wait_for_tick_start()  # a new drawing, from the same data
    unchanged = ask(shown)
    assert "reports-map" not in unchanged and "reports-category" not in unchanged
    new_shown = unchanged.get("reports-shown", {}).get("data", shown)
    for output in outputs:  # sent exactly when its digest changed
        key = output.rsplit(".", 1)[0]
        assert (key in unchanged) == (new_shown["digests"][output] != shown["digests"][output])
    with SQLiteStore(db) as store:
        report = {"category": "flooding", "ward": "Long Hoa", "status": "new", "title": "Ngập"}
        report |= {"lat": 11.2987, "lon": 106.1234}
        store.write(parse_record("report", "pa-9999", report, datetime.now(UTC)))
    wait_for_tick_start()
    changed = ask(new_shown)

    def legend(answer):  # e.g. "≈ Ngập úng (12)": open reports per category
        return [t["name"] for t in answer["reports-map"]["figure"]["data"] if t.get("name")]

    flooding = Translator("vi").label(load_profile("hoa-thanh").category_labels, "flooding")
    [before] = [name for name in legend(full) if flooding in name]
    [after] = [name for name in legend(changed) if flooding in name]
    count = int(before.rsplit("(", 1)[1].rstrip(")"))
    assert after.endswith(f"({count + 1})")


def test_the_page_for_a_url_names_every_bad_parameter_and_keeps_the_good_parts():
    plan = plan_for("/kiosk", "?layouts=overview,nope,wifi&rotate=abc&lang=fr&x=1", "vi")
    assert plan.screens == ("overview", "wifi")
    assert plan.rotate_seconds == 30.0
    assert plan.lang == "vi"
    problems = {key: values for key, values in plan.problems}
    assert problems["param.unknown_layout"]["value"] == "nope"
    assert problems["param.bad_rotate"]["value"] == "abc"
    assert problems["param.bad_lang"]["value"] == "fr"
    assert problems["param.unknown"]["param"] == "x"


def test_kiosk_defaults_and_single_screens():
    kiosk = plan_for("/kiosk", "?rotate=12&lang=en", "vi")
    assert kiosk.screens == ("overview", "cameras", "wifi", "reports")
    assert kiosk.rotate_seconds == 12.0 and kiosk.lang == "en" and not kiosk.problems
    assert plan_for("/", "", "vi").screens == ("overview",)
    single = plan_for("/alerts", "", "en")
    assert single.screens == ("alerts",) and single.rotate_seconds is None
    lost = plan_for("/nowhere", "", "vi")
    assert lost.screens == ("overview",) and lost.problems[0][0] == "page.not_found"
    nothing = plan_for("/kiosk", "?layouts=,zzz", "vi")
    assert nothing.screens == ("overview", "cameras", "wifi", "reports")
    assert [k for k, _ in nothing.problems] == ["param.unknown_layout", "param.no_layouts"]
    assert plan_for("/kiosk", "?rotate=1", "vi").problems[0][0] == "param.bad_rotate"


def test_the_page_callback_shows_bad_parameters_on_screen(tmp_path):
    app = create_app(Settings(store=f"sqlite:///{tmp_path / 'x.db'}", cache_url=""))
    body = {
        "output": "..page.children...page.className...page-lang.data..",
        "outputs": [
            {"id": "page", "property": "children"},
            {"id": "page", "property": "className"},
            {"id": "page-lang", "property": "data"},
        ],
        "inputs": [
            {"id": "url", "property": "pathname", "value": "/kiosk"},
            {"id": "url", "property": "search", "value": "?layouts=overview,bogus&rotate=-3"},
        ],
        "changedPropIds": ["url.pathname"],
    }
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200
    text = json.dumps(response.get_json(), ensure_ascii=False)
    assert "Tham số “layouts”: không có màn hình “bogus”" in text
    assert "Tham số “rotate”: “-3”" in text
    assert "page page--kiosk" in text


def test_production_mode_only():
    app = create_app(Settings(store="sqlite:////tmp/ioc-wall-test-unused.db", cache_url=""))
    assert not app.config.get("debug", False)
    client = app.server.test_client()
    html = client.get("/kiosk").get_data(as_text=True)
    assert '"ui":false' in html and '"props_check":false' in html
    assert client.get("/healthz").get_data(as_text=True) == "ok"


def test_building_the_wall_opens_no_store(tmp_path):
    """gunicorn forks its web workers from the process that built the app, and SQLite's locks
    do not survive a fork: that process must never have opened the store (the prepared first
    request included)."""
    folder = tmp_path / "store"
    create_app(Settings(store=f"sqlite:///{folder / 'ioc.db'}", cache_url=""))
    assert not folder.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("IOC_CACHE_URL", "memcached://x"), ("IOC_CACHE_URL", "file://relative/path")],
)
def test_bad_cache_settings_name_the_setting(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={name: value})


def test_bad_tiles_url_names_the_setting():
    with pytest.raises(SettingsError, match="IOC_MAP_TILES_URL"):
        load_settings(environ={"IOC_MAP_TILES_URL": "https://tiles.example/x.png"})


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server (Debian package) on a free port, for wall replicas sharing a cache."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


def test_wall_replicas_share_answers_through_redis(seeded_db, redis_url):
    settings = Settings(
        store=f"sqlite:///{seeded_db}",
        cache_url=redis_url,
        refresh_seconds=600.0,
        first_read_wait_seconds=WHOLE_READS,
    )
    remaining = 600 - time.time() % 600
    if remaining < 10:
        time.sleep(remaining + 0.1)
    first, second = CountingStore(seeded_db), CountingStore(seeded_db)
    for store in (first, second):  # two replicas: separate apps, one Redis
        app = create_app(settings, store=store)
        response = app.server.test_client().post(
            "/_dash-update-component", json=update_request("alerts")
        )
        assert response.status_code == 200
    assert first.calls == ["key_states"]
    assert second.calls == []


def test_refresh_answers_travel_compressed(seeded_db, tmp_path):
    app = create_app(settings_for(seeded_db, tmp_path / "cache"))
    client = app.server.test_client()
    wait_for_tick_start()  # both answers drawn in one tick: the same drawing
    plain = client.post("/_dash-update-component", json=update_request("cameras"))
    packed = client.post(
        "/_dash-update-component",
        json=update_request("cameras"),
        headers={"Accept-Encoding": "gzip"},
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(packed.data) * 5 < len(plain.data)
    assert json.loads(gzip.decompress(packed.data)) == json.loads(plain.data)


def test_camera_outages_fold_forward_and_are_rebuilt_hourly(seeded_db):
    store = CountingStore(seeded_db)
    fetch = PARTS["camera_outages"].fetch
    now = datetime.now(UTC)
    first = fetch(store, now, None)
    later = now + timedelta(minutes=1)
    second = fetch(store, later, first)
    assert second[2] == first[2] == now  # folded forward, not from scratch
    pd.testing.assert_frame_equal(second[1], fetch(store, later, None)[1])
    rebuilt = fetch(store, now + REFOLD_EVERY, second)
    assert rebuilt[2] == now + REFOLD_EVERY


def test_reports_part_keeps_open_reports_of_any_age_and_the_last_day_of_changes(tmp_path):
    """A city's wall reads its 90 days of reports once an hour, and between those only what
    changed: open reports stay however old, closed ones only while they count in the 24 h."""
    store = SQLiteStore(tmp_path / "reports.db")
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def report(report_id: str, ago: timedelta, status: str) -> Point:
        [point] = parse_record(
            "report", report_id, {"category": "environment", "status": status}, now - ago
        )
        return point

    store.write(
        [
            report("old-open", timedelta(days=40), "new"),
            report("old-closed", timedelta(days=40), "new"),
            report("old-closed", timedelta(days=3), "resolved"),
            report("closed-today", timedelta(days=2), "assigned"),
            report("closed-today", timedelta(hours=23), "resolved"),
            report("too-old", timedelta(days=100), "new"),
        ]
    )
    fetch = PARTS["reports"].fetch
    first = fetch(store, now, None)
    assert sorted(first[1]["report_id"]) == ["closed-today", "old-open"]

    # A report closed, one opened, and a version that arrives a few minutes late.
    store.write(
        [
            report("old-open", timedelta(minutes=-1), "resolved"),
            report("new-today", timedelta(minutes=-2), "new"),
            report("late", timedelta(minutes=3), "assigned"),
        ]
    )
    later = now + timedelta(minutes=5)
    second = fetch(store, later, first)
    assert second[2] == now  # folded forward, not from scratch
    pd.testing.assert_frame_equal(second[1], fetch(store, later, None)[1])
    current = second[1].set_index("report_id")["status"].to_dict()
    assert current == {
        "closed-today": "resolved",
        "old-open": "resolved",
        "new-today": "new",
        "late": "assigned",
    }
    # Two hours on, the report closed 25 h ago no longer counts; the open ones stay.
    third = fetch(store, now + timedelta(hours=2), second)
    assert sorted(third[1]["report_id"]) == ["late", "new-today", "old-open"]
    assert fetch(store, now + REFOLD_EVERY, second)[2] == now + REFOLD_EVERY


def test_newest_camera_states_fold_forward_to_what_a_fresh_read_gives(seeded_db):
    """Between hourly refolds a tick reads only the last minutes, and still ends up with the
    answer a full read gives: new states, a camera heard for the first time, a late point."""
    store = CountingStore(seeded_db)
    fetch = PARTS["cameras"].fetch
    now = datetime.now(UTC)
    first = fetch(store, now, None)
    later = now + timedelta(minutes=2)
    cameras = first[1]["camera_id"].tolist()
    # Stamped before the first read but written after it (a worker's late batch).
    newest_seen = first[1]["time"].iloc[1].to_pydatetime()
    late = newest_seen + (now - newest_seen) / 2

    def camera(camera_id: str, at: datetime, online: bool) -> Point:
        return Point("camera_status", {"camera_id": camera_id}, {"online": online}, at)

    store.write(
        [
            camera(cameras[0], now + timedelta(minutes=1), False),
            camera("cam-new", now + timedelta(minutes=1), True),
            camera(cameras[1], late, False),
        ]
    )
    store.calls.clear()
    second = fetch(store, later, first)
    assert second[2] == now  # folded forward
    assert store.calls == ["latest:camera_status"]
    pd.testing.assert_frame_equal(second[1], fetch(store, later, None)[1])
    states = second[1].set_index("camera_id")["online"]
    assert not states[cameras[0]] and states["cam-new"] and not states[cameras[1]]
    assert len(second[1]) == len(first[1]) + 1


def test_with_the_cache_down_screens_are_drawn_from_the_store(seeded_db):
    """Redis away (a restart, a network blip): slower refreshes, never a blank wall."""
    from tests.servers import free_port

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    store = CountingStore(seeded_db)
    app = create_app(
        Settings(
            store=f"sqlite:///{seeded_db}",
            cache_url=dead_redis,
            first_read_wait_seconds=WHOLE_READS,
        ),
        store=store,
    )
    response = app.server.test_client().post(
        "/_dash-update-component", json=update_request("alerts")
    )
    assert response.status_code == 200
    assert "tile--error" not in response.get_data(as_text=True)
    assert store.calls == ["key_states"]


class RecordingStore(Store):
    """A real store (either backend) that records the camera questions it is asked: whether a
    newest-point read was whole (from scratch) or folded forward. Whole reads wait for `gate`,
    which a test holds closed to keep a refold running."""

    def __init__(self, real: Store):
        self.real = real
        self.newest: list[str] = []  # "whole" or "fold", in the order asked
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def latest(self, measurement, entity, since=None, unless=None):
        whole = since is None
        with self._lock:
            self.newest.append("whole" if whole else "fold")
        if whole:
            assert self.gate.wait(30), "the gate was never opened"
        return self.real.latest(measurement, entity, since, unless)

    def check(self):
        self.real.check()

    def write(self, points):
        return self.real.write(points)

    def write_frame(self, measurement, frame, tags):
        return self.real.write_frame(measurement, frame, tags)

    def points(self, *args, **kwargs):
        return self.real.points(*args, **kwargs)

    def changes(self, *args, **kwargs):
        return self.real.changes(*args, **kwargs)

    def aggregate(self, *args, **kwargs):
        return self.real.aggregate(*args, **kwargs)

    def aggregate_points(self, *args, **kwargs):
        return self.real.aggregate_points(*args, **kwargs)

    def shape(self, measurement):
        return self.real.shape(measurement)

    def append_events(self, events):
        self.real.append_events(events)

    def events(self, *args, **kwargs):
        return self.real.events(*args, **kwargs)

    def latest_events(self, stream):
        return self.real.latest_events(stream)

    def count_events(self, *args, **kwargs):
        return self.real.count_events(*args, **kwargs)

    def key_states(self, *args, **kwargs):
        return self.real.key_states(*args, **kwargs)

    def put_key_states(self, *args, **kwargs):
        return self.real.put_key_states(*args, **kwargs)


def camera(camera_id: str, at: datetime, online: bool) -> Point:
    return Point("camera_status", {"camera_id": camera_id}, {"online": online}, at)


def next_tick(part: str, settings: Settings) -> None:
    """Forget the part's answer for this tick, as a new tick would."""
    cache.delete(f"part:{part}@{int(time.time() // settings.refresh_seconds)}")


def make_refold_due(part: str) -> None:
    """The part's previous answer as it stands, but read from scratch more than an hour ago."""
    asked, frame, born = remembered(f"previous:{part}")
    remember(f"previous:{part}", (asked, frame, born - REFOLD_EVERY), 3600)


def wait_for_background_reads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("background:"):
            thread.join(30)


def test_a_due_refold_is_read_behind_the_tick_and_the_next_tick_folds_from_it(
    store, store_url, tmp_path
):
    now = datetime.now(UTC)
    store.write([camera("cam-a", now - timedelta(hours=2), True), camera("cam-b", now, True)])
    recording = RecordingStore(store)
    settings = Settings(
        store=store_url, cache_url=f"file://{tmp_path / 'cache'}", refresh_seconds=600.0
    )
    app = create_app(settings, store=recording)
    queries = Queries(settings, recording)
    with app.server.app_context():
        assert sorted(queries.part("cameras")["camera_id"]) == ["cam-a", "cam-b"]
        assert recording.newest == ["whole"]  # nothing to fold forward from: read here
        make_refold_due("cameras")
        # Stamped long before the last fold, written only now (a feed's spool replayed): only a
        # read from scratch finds it.
        store.write([camera("cam-late", now - timedelta(hours=3), False)])
        recording.newest.clear()
        recording.gate.clear()  # the read from scratch cannot finish before the tick answers
        next_tick("cameras", settings)
        due_tick = queries.part("cameras")
        assert sorted(due_tick["camera_id"]) == ["cam-a", "cam-b"]  # folded: no late point yet
        folded_from_old = remembered("previous:cameras")
        recording.gate.set()
        wait_for_background_reads()
        assert sorted(recording.newest) == ["fold", "whole"]  # the whole read ran behind
        # A slower tick that folded the old answer forward writes it after the refold finished.
        remember("previous:cameras", folded_from_old, 3600)

        recording.newest.clear()
        next_tick("cameras", settings)
        after = queries.part("cameras").set_index("camera_id")["online"]
        assert recording.newest == ["fold"]
        assert sorted(after.index) == ["cam-a", "cam-b", "cam-late"] and not after["cam-late"]
        # Folded forward from the refold's answer: not due for another hour.
        assert datetime.now(UTC) - remembered("previous:cameras")[2] < timedelta(minutes=1)


@pytest.mark.parametrize("cache_kind", ["file", "redis"])
def test_one_refold_at_a_time_however_many_ticks_and_replicas_find_it_due(
    cache_kind, seeded_db, tmp_path, request
):
    """A read from scratch slower than a tick is not started again by the next ticks, in this
    process or another wall replica sharing the cache."""
    cache_url = (
        request.getfixturevalue("redis_url")
        if cache_kind == "redis"
        else f"file://{tmp_path / 'cache'}"
    )
    settings = Settings(
        store=f"sqlite:///{seeded_db}",
        cache_url=cache_url,
        refresh_seconds=600.0,
        first_read_wait_seconds=WHOLE_READS,
    )
    replicas = []
    for _ in range(2):
        recording = RecordingStore(SQLiteStore(seeded_db))
        app = create_app(settings, store=recording)
        replicas.append((app, Queries(settings, recording), recording))
    (first_app, first, first_store), (second_app, second, second_store) = replicas
    with first_app.server.app_context():
        cache.clear()
        cameras = len(first.part("cameras"))
        make_refold_due("cameras")
        first_store.gate.clear()
        first_store.newest.clear()

    def tick(app, queries) -> int:
        with app.server.app_context():
            next_tick("cameras", settings)
            return len(queries.part("cameras"))

    try:
        with ThreadPoolExecutor(4) as pool:  # ticks of both replicas at once, and after
            counts = list(pool.map(tick, *zip(*[(a, q) for a, q, _ in replicas * 3], strict=True)))
    finally:
        first_store.gate.set()
        second_store.gate.set()
        wait_for_background_reads()
    assert counts == [cameras] * 6  # every tick answered while the read from scratch was held
    assert first_store.newest.count("whole") + second_store.newest.count("whole") == 1
    with second_app.server.app_context():
        next_tick("cameras", settings)
        second_store.newest.clear()
        second.part("cameras")
        assert second_store.newest == ["fold"]
        assert datetime.now(UTC) - remembered("previous:cameras")[2] < timedelta(minutes=1)


def test_a_screens_parts_are_asked_at_once_and_one_failing_keeps_the_picture(store, tmp_path):
    """A cold screen waits for its slowest part, not for all of them one after another."""
    now = datetime.now(UTC)
    store.write([camera("cam-a", now - timedelta(hours=1), False), camera("cam-a", now, True)])
    both_asked = threading.Barrier(2, timeout=10)

    class BothAtOnce(RecordingStore):
        """Each of the cameras screen's two questions waits until the other is asked too."""

        def latest(self, *args, **kwargs):
            both_asked.wait()
            return super().latest(*args, **kwargs)

        def changes(self, *args, **kwargs):
            both_asked.wait()
            if failing_changes:
                raise StoreUnavailable("the outages query timed out")
            return super().changes(*args, **kwargs)

    failing_changes = False
    settings = Settings(
        cache_url=f"file://{tmp_path / 'cache'}",
        refresh_seconds=600.0,
        first_read_wait_seconds=WHOLE_READS,
    )
    recording = BothAtOnce(store)
    app = create_app(settings, store=recording)
    queries = Queries(settings, recording)
    screen = SCREENS["cameras"]
    with app.server.app_context():
        values = refresh(screen, queries, settings, "vi", {"w": 1920})
        assert values[-2] is None  # drawn, no trouble
        assert "1/1 · 100%" in json.dumps(values, default=str, ensure_ascii=False)
        cache.clear()
        failing_changes = True
        values = refresh(screen, queries, settings, "vi", {"w": 1920})
    assert values[: len(builders(screen))] == [no_update] * len(builders(screen))
    assert "Không truy cập được kho dữ liệu" in json.dumps(
        values[-2], default=str, ensure_ascii=False
    )


def drawing_key(screen, settings: Settings) -> str:
    return f"drawing:{screen.NAME}:vi:1.00@{int(time.time() // settings.refresh_seconds)}"


def test_a_cold_screen_answers_at_once_marks_a_slow_part_loading_and_fills_it_in(store, tmp_path):
    """A wall started on days of history does not hold every kiosk for its slowest first read:
    the tick answers within `first_read_wait_seconds`, the outputs of the part still being read
    say so, and a later tick draws them."""
    now = datetime.now(UTC)
    store.write([camera("cam-a", now - timedelta(hours=1), False), camera("cam-a", now, True)])
    recording = RecordingStore(store)
    recording.gate.clear()  # the newest-point read of the cameras waits
    settings = Settings(
        cache_url=f"file://{tmp_path / 'cache'}", refresh_seconds=600.0, first_read_wait_seconds=0.2
    )
    app = create_app(settings, store=recording)
    queries = Queries(settings, recording)
    screen = SCREENS["cameras"]
    try:
        with app.server.app_context():
            started = time.monotonic()
            values = refresh(screen, queries, settings, "vi", {"w": 1920})
            waited = time.monotonic() - started
            text = json.dumps(values, default=str, ensure_ascii=False)
            assert "Đang tải dữ liệu…" in json.dumps(values[-2], default=str, ensure_ascii=False)
            outputs = dict(zip(screen.OUTPUTS, values, strict=False))
            assert "Đang tải dữ liệu…" in json.dumps(
                outputs["cameras-offline.children"], default=str, ensure_ascii=False
            )
            assert "tile--error" not in text  # loading, not "no data"
            assert "1/1" not in text
    finally:
        recording.gate.set()
    assert waited < 5  # the gated read alone would hold it 30 s
    with app.server.app_context():
        assert queries.wait_for_reads(30)
        cache.delete(drawing_key(screen, settings))  # the next tick
        values = refresh(screen, queries, settings, "vi", {"w": 1920})
    assert values[-2] is None
    assert "1/1 · 100%" in json.dumps(values, default=str, ensure_ascii=False)
    assert recording.newest == ["whole"]  # the read that ran behind the first tick, not another


@pytest.mark.parametrize("process", ["the same", "a new"])
def test_a_history_part_due_again_is_drawn_from_its_last_answer_while_it_is_read(
    process, store, tmp_path
):
    """When the WiFi curves are due again (once a minute), the ticks meanwhile show the last
    ones instead of waiting or going blank: in the wall process that drew them, and in a new one
    (restarted, or a worker asked for this screen the first time) from the shared cache, where
    they are kept for an hour."""
    now = datetime.now(UTC)
    store.write(
        [
            Point(
                "wifi_usage",
                {"ap_id": "ap-1"},
                {"clients": 7, "up": True},
                now - timedelta(minutes=m),
            )
            for m in range(0, 60, 5)
        ]
    )
    released = threading.Event()
    released.set()

    class SlowCurves(RecordingStore):
        def aggregate(self, *args, **kwargs):
            assert released.wait(30), "never released"
            return super().aggregate(*args, **kwargs)

    recording = SlowCurves(store)
    settings = Settings(
        cache_url=f"file://{tmp_path / 'cache'}",
        refresh_seconds=600.0,
        history_refresh_seconds=86_400.0,  # no period turns by itself during the test
        first_read_wait_seconds=0.2,
    )
    app = create_app(settings, store=recording)
    queries = Queries(settings, recording)
    screen = SCREENS["wifi"]
    with app.server.app_context():
        refresh(screen, queries, settings, "vi", {"w": 1920})
        # the first reads may outlive the first tick's 0.2 s on a loaded machine: the next tick
        # draws what they read
        assert queries.wait_for_reads(30)
        cache.delete(drawing_key(screen, settings))
        first = refresh(screen, queries, settings, "vi", {"w": 1920})
        assert first[-2] is None
        curve = dict(zip(screen.OUTPUTS, first, strict=False))["wifi-curve.figure"]
        period = int(time.time() // settings.history_refresh_seconds)
        for part in ("wifi_clients_48h", "wifi_throughput_3h"):  # the period turns
            cache.delete(f"part:{part}@{period}")
        cache.delete(drawing_key(screen, settings))
        if process == "a new":
            queries = Queries(settings, recording)
        released.clear()
        try:
            started = time.monotonic()
            again = refresh(screen, queries, settings, "vi", {"w": 1920})
            waited = time.monotonic() - started
        finally:
            released.set()
    assert waited < 5
    assert again[-2] is None  # nothing loading
    assert digest(dict(zip(screen.OUTPUTS, again, strict=False))["wifi-curve.figure"]) == digest(
        curve
    )


def test_a_failed_read_is_logged_once_by_its_screen_or_if_no_tick_waited_for_it_by_itself(
    store, tmp_path, caplog
):
    """A first read that outlives its tick ends unseen by any screen: its failure goes to the log,
    once however many ticks passed it over. One a tick waited for is logged by the screen only."""

    class FailingLate(RecordingStore):
        def latest(self, *args, **kwargs):
            super().latest(*args, **kwargs)  # waits for the gate
            raise StoreUnavailable("the newest cameras query timed out")

    recording = FailingLate(store)
    recording.gate.clear()
    settings = Settings(
        cache_url=f"file://{tmp_path / 'cache'}", refresh_seconds=600.0, first_read_wait_seconds=0.1
    )
    app = create_app(settings, store=recording)
    queries = Queries(settings, recording)
    screen = SCREENS["cameras"]
    with app.server.app_context():
        for _ in range(3):  # three ticks pass the same read over
            cache.delete(drawing_key(screen, settings))
            status = refresh(screen, queries, settings, "vi", {"w": 1920})[-2]
            assert "Đang tải dữ liệu…" in json.dumps(status, default=str, ensure_ascii=False)
    recording.gate.set()
    assert queries.wait_for_reads(30)

    def failures() -> list[str]:
        return [r.getMessage() for r in caplog.records if "timed out" in r.getMessage()]

    deadline = time.monotonic() + 5
    while not failures() and time.monotonic() < deadline:  # logged just after the read ends
        time.sleep(0.05)
    time.sleep(0.2)  # and nothing more after that
    assert failures() == ["part cameras: the newest cameras query timed out"]
    with app.server.app_context():  # a read the tick waited for fails on the screen, once
        cache.delete(drawing_key(screen, settings))
        status = refresh(screen, queries, settings, "vi", {"w": 1920})[-2]
    assert "Không truy cập được kho dữ liệu" in json.dumps(status, default=str, ensure_ascii=False)
    assert len(failures()) == 2
    assert failures()[1].startswith("screen cameras: cannot read the store")


STOPS_WHILE_A_READ_RUNS = """
import sys, threading, time
from callbacks.queries import Queries
from callbacks.screens import refresh
from layouts import SCREENS
from wall.app import create_app
from wall.settings import Settings
from wall.store.sqlite import SQLiteStore

store = SQLiteStore(sys.argv[1])
store.latest = lambda *args, **kwargs: threading.Event().wait()  # a read that never ends
settings = Settings(cache_url="file://" + sys.argv[2], first_read_wait_seconds=0.2)
app = create_app(settings, store=store)
queries = Queries(settings, store)
with app.server.app_context():
    refresh(SCREENS["cameras"], queries, settings, "vi", {"w": 1920})
print("drawn", flush=True)
"""


def test_a_wall_process_that_stops_does_not_wait_for_a_read_still_running(tmp_path):
    """A read a tick stopped waiting for goes on behind it; a wall process told to stop (a
    gunicorn worker within its `graceful_timeout`) must not wait for it, or it is killed."""
    started = time.monotonic()
    ended = subprocess.run(
        [
            sys.executable,
            "-c",
            STOPS_WHILE_A_READ_RUNS,
            str(tmp_path / "s.db"),
            str(tmp_path / "c"),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ended.returncode == 0, ended.stderr
    assert "drawn" in ended.stdout
    assert time.monotonic() - started < 20  # it hung until the timeout before
