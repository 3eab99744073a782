"""Open311 GeoReport v2 → field reports, against a real HTTP server and both store backends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from feeds.inventory import generate_inventory
from feeds.open311 import Open311Config, Open311Mapping, Open311Source, unwrap_list
from feeds.open311_server import Open311Server
from feeds.payloads import RejectedMessage
from feeds.poll_worker import PollWorker
from feeds.simulator import CitySimulator, SimOptions
from tests.poll_fixtures import Open311Fixture, Reply, dead_letters
from wall.city import load_profile
from wall.settings import Settings, load_settings
from wall.settings_core import SettingsError
from wall.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now_is_this_tests_start() -> None:
    """Requests are made relative to the poll's clock: NOW taken when the module was imported
    would lag it by however long the suite ran before (past the cursor's overlap in CI)."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


VIETNAM = timezone(timedelta(hours=7))


def vn(ts: datetime) -> str:
    """W3C date-time as the spec writes it, here in Vietnam's offset: 2026-11-26T08:30:00+07:00."""
    return ts.astimezone(VIETNAM).isoformat()


def request(rid: str | int, hours_ago: float, **extra: object) -> dict:
    made = NOW - timedelta(hours=hours_ago)
    item = {
        "service_request_id": rid,
        "status": "open",
        "status_notes": None,
        "service_name": "Ổ gà, hư hỏng mặt đường",
        "service_code": "GT01",
        "description": "Ổ gà lớn trước cổng trường\nXe máy dễ té",
        "requested_datetime": vn(made),
        "updated_datetime": vn(made),
        "address": "12 Phạm Hùng, phường Long Thành Bắc, thị xã Hòa Thành, Tây Ninh",
        "lat": 11.2871,
        "long": 106.1302,
    }
    item.update(extra)
    return item


@pytest.fixture
def server() -> Iterator[Open311Fixture]:
    fixture = Open311Fixture(jurisdiction="hoathanh.tayninh.gov.vn").start()
    yield fixture
    fixture.stop()


def config(server: Open311Fixture, **overrides: object) -> Open311Config:
    values = {
        "url": server.endpoint,
        "jurisdiction_id": "hoathanh.tayninh.gov.vn",
        "interval": 0.05,
        "overlap": timedelta(minutes=10),
        "backfill": timedelta(days=7),
        **overrides,
    }
    return Open311Config(**values)


def source(cfg: Open311Config, state_dir: Path, timeout: float = 2.0) -> Open311Source:
    return Open311Source(cfg, state_dir=state_dir, timeout=timeout, session=requests.Session())


def reports(store: Store) -> list[dict]:
    frame = store.points("field_report", NOW - timedelta(days=30), NOW + timedelta(hours=1))
    return frame.to_dict("records")


@pytest.mark.parametrize("shape", ["bare", "service_requests", "fixmystreet"])
def test_requests_in_every_json_shape_become_field_reports_in_the_store(
    shape: str, store: Store, tmp_path: Path
) -> None:
    server = Open311Fixture(shape=shape).start()
    try:
        server.requests = [
            request(101, 5),
            request(
                "HT-2026-0102",
                3,
                service_code="CS03",
                service_name="Đèn đường không sáng",
                description="Đèn đường tắt cả dãy",
                status="closed",
                status_notes="Đã khắc phục, thay bóng đèn mới",
                updated_datetime=vn(NOW - timedelta(hours=1)),
                address="Đường Lạc Long Quân, Long Hoa",
                lat="11.2790",
                long="106.1233",
            ),
            # Only a code: its name comes from services.json (in the same JSON shape).
            request(103, 2, service_code="NG04", service_name=None, description=None),
        ]
        worker = PollWorker(
            store, [source(config(server, jurisdiction_id=None), tmp_path)], dead_letters(tmp_path)
        )
        worker.poll(worker.sources[0])
    finally:
        server.stop()

    rows = {r["report_id"]: r for r in reports(store)}
    assert set(rows) == {"101", "HT-2026-0102", "103"}
    assert (rows["103"]["category"], rows["103"]["title"]) == ("flooding", "Ngập nước sau mưa")
    pothole, lamp = rows["101"], rows["HT-2026-0102"]
    assert (pothole["category"], pothole["status"], pothole["ward"]) == (
        "traffic",
        "new",
        "Long Hoa",  # the former Long Thành Bắc is part of phường Long Hoa since 1 July 2025
    )
    assert pothole["title"] == "Ổ gà lớn trước cổng trường"
    assert (pothole["lat"], pothole["lon"]) == (11.2871, 106.1302)
    assert pothole["created"] == pothole["updated"]
    assert (lamp["category"], lamp["status"], lamp["ward"]) == ("lighting", "resolved", "Long Hoa")
    assert (lamp["lat"], lamp["lon"]) == (11.279, 106.1233)
    # The point stands at the request's updated_datetime: the wall's history is the city's.
    assert lamp["time"].to_pydatetime() == NOW - timedelta(hours=1)
    assert lamp["created"] == (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_an_update_to_an_older_request_is_seen_and_no_version_is_written_twice(
    server: Open311Fixture, store: Store, tmp_path: Path
) -> None:
    old = request(7, hours_ago=24 * 3)
    server.requests = [old, request(8, hours_ago=1)]
    worker = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    open311 = worker.sources[0]
    worker.poll(open311)
    # The window of the next poll starts near the newest update seen: request 7 is outside it,
    # so only the look-up by id can notice that it was closed as a duplicate.
    old.update(
        status="closed",
        status_notes="Duplicate request. Trùng với phản ánh 5",
        updated_datetime=vn(NOW - timedelta(minutes=5)),
    )
    worker.poll(open311)
    worker.poll(open311)

    history = [(r["report_id"], r["status"]) for r in reports(store) if r["report_id"] == "7"]
    assert history == [("7", "new"), ("7", "rejected")]
    assert worker.health["open311"].written == 3  # the third poll wrote nothing again
    by_id = [s for s in server.request_queries() if "service_request_id" in s.query]
    # Poll 2 asks for 7 (open, before the window); poll 3 for 8, whose time is now before the
    # window too, but no longer for 7, which is closed.
    assert [s.query["service_request_id"] for s in by_id] == ["7", "8"]


def test_a_restart_resumes_from_the_saved_cursor_without_writing_again(
    server: Open311Fixture, store: Store, tmp_path: Path
) -> None:
    server.requests = [request(1, 30), request(2, 2)]
    first = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    first.poll(first.sources[0])
    assert first.health["open311"].written == 2

    restarted = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    server.requests.append(request(3, 0.5))
    restarted.poll(restarted.sources[0])

    assert restarted.health["open311"].written == 1
    assert sorted(r["report_id"] for r in reports(store)) == ["1", "2", "3"]
    last_window = [s for s in server.request_queries() if "start_date" in s.query][-1]
    start = datetime.fromisoformat(last_window.query["start_date"].replace("Z", "+00:00"))
    # the newest update seen before the restart (request 2's) less the overlap
    assert start == NOW - timedelta(hours=2) - timedelta(minutes=10)


def test_a_future_dated_request_is_written_at_the_polls_time_and_hides_no_later_request(
    server: Open311Fixture, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The server wrote request 2's local time (an hour ago) with a "Z": six hours ahead.
    wrong_zone = (NOW - timedelta(hours=1)).astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.requests = [request(1, 2), request(2, 1, updated_datetime=wrong_zone)]
    caplog.set_level(logging.WARNING)
    worker = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    open311 = worker.sources[0]
    before = datetime.now(UTC).replace(microsecond=0)
    worker.poll(open311)
    after = datetime.now(UTC)

    rows = {r["report_id"]: r for r in reports(store)}
    assert set(rows) == {"1", "2"}
    # Written (the report is real) at the poll's time, with the server's time kept as given.
    assert before <= rows["2"]["time"].to_pydatetime() <= after
    assert rows["2"]["updated"] == (NOW + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cursor = json.loads((tmp_path / "open311.json").read_text())["cursor_ms"]
    assert cursor <= after.timestamp() * 1000

    # A request made after that poll is still fetched: the cursor is not six hours ahead.
    server.requests.append(request(3, 0))
    worker.poll(open311)
    worker.poll(open311)
    assert sorted(r["report_id"] for r in reports(store)) == ["1", "2", "3"]
    assert worker.health["open311"].written == 3 and worker.health["open311"].rejected == 0
    ahead = [m for m in caplog.messages if "ahead of this poll's clock" in m]
    assert len(ahead) == 1  # once, naming the request, though every poll asks for it again
    assert ahead[0].startswith(f"open311: request 2: updated_datetime {wrong_zone} is ")


def test_a_request_that_appears_on_the_server_late_is_fetched_by_the_periodic_rescan(
    server: Open311Fixture, store: Store, tmp_path: Path
) -> None:
    """A request held in a moderation queue shows up made hours ago, before the overlap:
    only the re-scan of the last open311_rescan_days finds it."""
    clock = [NOW]
    server.requests = [request(1, 1), request("closed-2d", 48, status="closed")]
    cfg = config(server, rescan_every=timedelta(hours=6), rescan_span=timedelta(days=3))
    worker = PollWorker(
        store, [source(cfg, tmp_path)], dead_letters(tmp_path), clock=lambda: clock[0]
    )
    open311 = worker.sources[0]
    worker.poll(open311)

    server.requests.append(request("moderated", 5))  # made 5 hours ago, published only now
    clock[0] = NOW + timedelta(minutes=1)
    worker.poll(open311)
    assert sorted(r["report_id"] for r in reports(store)) == ["1", "closed-2d"]  # not in window

    clock[0] = NOW + timedelta(hours=6)
    worker.poll(open311)
    assert sorted(r["report_id"] for r in reports(store)) == ["1", "closed-2d", "moderated"]
    windows = [s.query["start_date"] for s in server.request_queries() if "start_date" in s.query]
    assert windows[-1] == (NOW + timedelta(hours=6) - timedelta(days=3)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    # The next poll is an ordinary one again: from the cursor, less the overlap.
    clock[0] = NOW + timedelta(hours=6, minutes=1)
    worker.poll(open311)
    windows = [s.query["start_date"] for s in server.request_queries() if "start_date" in s.query]
    assert windows[-1] == (NOW - timedelta(hours=1, minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The re-scan wrote only the new request: the closed one is remembered, not written again.
    assert worker.health["open311"].written == 3


def test_a_state_file_of_the_version_before_heals_its_cursor_and_writes_nothing_again(
    server: Open311Fixture, store: Store, tmp_path: Path
) -> None:
    """Written before digests, by a poll whose cursor a future-dated request pushed 6 h ahead
    (and just after a re-scan, so that the cursor alone decides what is asked for)."""
    lamp = request(8, 2)
    server.requests = [lamp, request(9, 0)]  # 9 was made after the cursor went wrong
    made = int((NOW - timedelta(hours=2)).timestamp() * 1000)
    (tmp_path / "open311.json").write_text(
        json.dumps(
            {
                "version": 2,
                "endpoint": server.endpoint,
                "cursor_ms": int((NOW + timedelta(hours=6)).timestamp() * 1000),
                "versions": {"8": [made, False, made]},
                "rescanned_ms": int(NOW.timestamp() * 1000),
            }
        )
    )
    worker = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    worker.poll(worker.sources[0])
    # Request 9 is fetched; request 8 was written by the version before digests: not again.
    assert [r["report_id"] for r in reports(store)] == ["9"]
    lamp.update(status="closed")
    worker.poll(worker.sources[0])
    assert [(r["report_id"], r["status"]) for r in reports(store) if r["report_id"] == "8"] == [
        ("8", "closed")
    ]


@pytest.mark.parametrize("with_updated_time", [True, False], ids=["same-time", "no-time"])
def test_a_status_change_without_a_new_updated_datetime_is_written_once(
    server: Open311Fixture, store: Store, tmp_path: Path, with_updated_time: bool
) -> None:
    lamp = request(5, 3, **({} if with_updated_time else {"updated_datetime": None}))
    server.requests = [lamp, request(6, 2)]
    worker = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    open311 = worker.sources[0]
    worker.poll(open311)
    # The city closes request 5 without touching its updated_datetime.
    lamp.update(status="closed", status_notes="Đã khắc phục, thay bóng đèn mới")
    before = datetime.now(UTC).replace(microsecond=0)
    worker.poll(open311)
    worker.poll(open311)

    history = [(r["report_id"], r["status"]) for r in reports(store)]
    assert sorted(history) == [("5", "new"), ("5", "resolved"), ("6", "new")]
    assert worker.health["open311"].written == 3  # request 6 and the third poll: nothing again
    resolved = next(r for r in reports(store) if r["status"] == "resolved")
    # The server gave no time for the change: it stands at the poll that saw it.
    assert resolved["time"].to_pydatetime() >= before


def city_endpoint(server: Open311Fixture) -> dict[str, str]:
    return {"open311_url": server.endpoint, "open311_jurisdiction_id": "hoathanh.tayninh.gov.vn"}


def test_times_without_an_offset_are_read_in_the_city_zone_unless_set_to_reject(
    server: Open311Fixture, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    made = NOW - timedelta(hours=3)
    local = made.astimezone(VIETNAM).replace(tzinfo=None)
    server.requests = [
        request(71, 3, requested_datetime=local.isoformat(), updated_datetime=local.isoformat()),
        request(72, 3, updated_datetime=f"{local.isoformat(sep=' ')}.250"),
    ]
    caplog.set_level(logging.WARNING)
    refusing = Settings(**city_endpoint(server), open311_naive_times="reject")
    worker = PollWorker(
        store, [source(Open311Config.from_settings(refusing), tmp_path)], dead_letters(tmp_path)
    )
    worker.poll(worker.sources[0])
    assert reports(store) == [] and worker.health["open311"].rejected == 2
    assert any(
        m.startswith("open311: request 71 rejected: field 'requested_datetime'=")
        and 'has no offset; set open311_naive_times = "city"' in m
        for m in caplog.messages
    )

    # The default: read in the city's zone (Asia/Ho_Chi_Minh, +07:00).
    city = Open311Config.from_settings(Settings(**city_endpoint(server)))
    worker = PollWorker(store, [source(city, tmp_path)], dead_letters(tmp_path))
    worker.poll(worker.sources[0])
    rows = {r["report_id"]: r for r in reports(store)}
    assert rows["71"]["time"].to_pydatetime() == made
    assert rows["71"]["created"] == made.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert rows["72"]["time"].to_pydatetime() == made + timedelta(milliseconds=250)


def test_bad_requests_are_rejected_one_by_one_with_a_log_line_and_the_good_ones_kept(
    server: Open311Fixture, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.requests = [
        request(11, 4),
        request(12, 4, status="pending_review"),
        request(13, 4, lat="north"),
        request("has space", 4),
        request(15, 4, requested_datetime="yesterday", updated_datetime=None),
        request(16, 4),
        # Wrong types everywhere: rejected or ignored, never a crash.
        request({"id": 1}, 4),
        request(18, 4, status=5, lat=[1, 2], long={"x": 1}),
        request(19, 4, description=7, service_code=None, service_name=["a", "b"], address={}),
        request(20, 4, extended_attributes="none", status_notes=3, updated_datetime=True),
        7,
        None,
    ]
    caplog.set_level(logging.WARNING)
    worker = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    worker.poll(worker.sources[0])

    assert sorted(r["report_id"] for r in reports(store)) == ["11", "16", "19"]
    assert worker.health["open311"].rejected == 9
    lines = "\n".join(caplog.messages)
    assert "open311: request 12 rejected: status 'pending_review' is not a known status" in lines
    assert "open311: request 13 rejected: field 'lat' must be a number, not text" in lines
    assert "open311: request has space rejected: report id 'has space' must be" in lines
    assert "requested_datetime" in lines and "is not an RFC 3339 time" in lines
    assert "open311: request 18 rejected: field 'status' must be text, not 5" in lines


def test_a_request_rejected_for_its_status_is_written_once_the_status_is_mapped(
    server: Open311Fixture, store: Store, tmp_path: Path
) -> None:
    server.requests = [request(91, 5, status="pending_review"), request(92, 1)]
    first = PollWorker(store, [source(config(server), tmp_path)], dead_letters(tmp_path))
    first.poll(first.sources[0])
    assert [r["report_id"] for r in reports(store)] == ["92"]

    # The operator maps the status and restarts; request 91 is now before the poll's window.
    mapped = config(server, statuses={"pending review": "new"})
    restarted = PollWorker(store, [source(mapped, tmp_path)], dead_letters(tmp_path))
    restarted.poll(restarted.sources[0])
    assert sorted((r["report_id"], r["status"]) for r in reports(store)) == [
        ("91", "new"),
        ("92", "new"),
    ]
    asked = [s.query.get("service_request_id") for s in server.request_queries()]
    assert asked[-1] == "91"


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Reply(500, "Internal Server Error"), "HTTP 500 from http://127.0.0.1:"),
        (Reply(200, "<html>maintenance</html>"), "is not JSON: Expecting value at character 0"),
        (Reply(200, {"error": "oops"}), "is an object without a list of requests"),
        (Reply(200, b"[]", delay=1.5), "no complete answer from"),
        (Reply(200, b" " * 40 + b"[]", trickle=0.05), "no complete answer from"),
        (
            Reply(403, [{"code": 403, "description": "api_key không hợp lệ"}]),
            "HTTP 403 from http://127.0.0.1:",
        ),
    ],
    ids=["500", "html", "wrong-object", "slow", "trickling", "403"],
)
def test_a_failed_poll_logs_the_problem_writes_nothing_and_the_next_poll_catches_up(
    server: Open311Fixture,
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: Reply,
    problem: str,
) -> None:
    server.requests = [request(21, 1), request(22, 2)]
    caplog.set_level(logging.WARNING)
    worker = PollWorker(
        store,
        [source(config(server), tmp_path, timeout=0.5)],
        dead_letters(tmp_path),
        backoff_max=30,
    )
    open311 = worker.sources[0]
    open311.load_services()  # so the fault hits requests.json
    server.fail_next(fault)

    delay = worker.poll(open311)
    assert reports(store) == []
    assert worker.health["open311"].failures == 1
    failure = next(m for m in caplog.messages if m.startswith("open311: "))
    assert problem in failure and "/open311/v2/requests.json" in failure
    assert "hoathanh" not in failure  # no query string (it may carry the api_key) in logs
    assert 0.04 <= delay <= 0.05

    worker.poll(open311)
    assert sorted(r["report_id"] for r in reports(store)) == ["21", "22"]
    assert worker.health["open311"].failures == 0


def test_a_full_answer_splits_the_time_window_until_every_request_is_fetched(
    store: Store, tmp_path: Path
) -> None:
    server = Open311Fixture(limit=3).start()
    try:
        server.requests = [request(100 + n, hours_ago=n * 7) for n in range(10)]
        worker = PollWorker(
            store, [source(config(server, page_limit=3), tmp_path)], dead_letters(tmp_path)
        )
        worker.poll(worker.sources[0])
    finally:
        server.stop()
    assert sorted(r["report_id"] for r in reports(store)) == [str(100 + n) for n in range(10)]


def settings(**values: object) -> Settings:
    return Settings(open311_url="http://127.0.0.1:1/open311/v2", **values)


def mapping(**values: object) -> Open311Mapping:
    return Open311Mapping(Open311Config.from_settings(settings(**values)))


@pytest.mark.parametrize(
    ("code", "name", "category"),
    [
        ("GT01", "Ổ gà, hư hỏng mặt đường", "traffic"),
        ("A1", "Pothole in street", "traffic"),
        ("MT02", "Rác thải không được thu gom", "environment"),
        ("B2", "Street or Sidewalk Cleaning", "environment"),
        ("CS03", "ĐÈN ĐƯỜNG KHÔNG SÁNG", "lighting"),
        ("C3", "Streetlight out", "lighting"),
        ("NG04", "Ngập nước sau mưa", "flooding"),
        ("TT05", "Lấn chiếm vỉa hè", "urban_order"),
        ("XX99", "Góp ý khác", "other"),
        ("rac", None, "environment"),  # a code alone, no name
        ("trace", "Tracking number request", "other"),  # "rac" only as a whole word
    ],
)
def test_service_codes_and_names_map_onto_the_walls_categories(
    code: str, name: str | None, category: str
) -> None:
    assert mapping().category({"service_code": code, "service_name": name}) == category


def test_configured_categories_come_before_the_keyword_rules() -> None:
    m = mapping(open311_categories=(("GT01", "flooding"), ("Góp ý khác", "urban_order")))
    assert m.category({"service_code": "GT01", "service_name": "Ổ gà"}) == "flooding"
    assert m.category({"service_code": "X", "service_name": "Góp ý khác"}) == "urban_order"


@pytest.mark.parametrize(
    ("item", "status"),
    [
        ({"status": "open"}, "new"),
        ({"status": "closed"}, "closed"),
        ({"status": "closed", "status_notes": "Duplicate request."}, "rejected"),
        ({"status": "closed", "status_notes": "Đã xử lý xong, hoàn thành"}, "resolved"),
        ({"status": "open", "status_notes": "Đã phân công đội công trình"}, "assigned"),
        ({"status": "open", "status_notes": "fixed? no: in progress"}, "in_progress"),
        ({"status": "in_progress"}, "in_progress"),  # FixMyStreet-style extended status
        ({"status": "Action Scheduled"}, "assigned"),
        (
            {"status": "open", "extended_attributes": {"detailed_status": "Đang xử lý"}},
            "in_progress",
        ),
        ({"status": "closed", "detailed_status": "FIXED"}, "resolved"),
    ],
)
def test_open_closed_and_extended_statuses_map_onto_the_walls_statuses(
    item: dict, status: str
) -> None:
    assert mapping().status(item) == status


def test_unknown_statuses_are_refused_until_configured() -> None:
    with pytest.raises(RejectedMessage, match="'Chờ duyệt' is not a known status"):
        mapping().status({"status": "Chờ duyệt"})
    assert (
        mapping(open311_statuses=(("Chờ duyệt", "new"),)).status({"status": "chờ duyệt"}) == "new"
    )


def test_ward_from_the_address_or_a_configured_field_and_lookup() -> None:
    m = mapping()
    # A former ward's name is read as today's ward that replaced it.
    assert m.ward({"address": "Hẻm 3, Trường Hòa, Hòa Thành"}) == "Long Hoa"
    assert m.ward({"address": "ap Long Thanh Trung, xa Long Thanh Trung"}) == "Hòa Thành"
    assert m.ward({"address": "5 Phạm Hùng, phường Long Hoa, tỉnh Tây Ninh"}) == "Long Hoa"
    assert m.ward({"address": "12 Trần Phú, phường Hòa Thành, Tây Ninh"}) == "Hòa Thành"
    assert m.ward({"address": "ấp Hiệp Trường, xã Hiệp Tân, thị xã Hòa Thành"}) == "Thanh Điền"
    assert m.ward({"address": "Thị xã Hòa Thành"}) is None  # the former town, not a ward
    coded = mapping(
        open311_ward_field="extended_attributes.ward",
        open311_wards=(("7", "Hiệp Tân"),),
    )
    assert coded.ward({"extended_attributes": {"ward": 7}}) == "Thanh Điền"
    assert coded.ward({"address": "Hiệp Tân"}) is None


def test_wrapped_and_bare_lists_are_unwrapped_and_other_shapes_named() -> None:
    wrappers = ("service_requests", "requests", "request")
    assert unwrap_list([{"a": 1}], wrappers, "requests") == [{"a": 1}]
    assert unwrap_list({"service_requests": [{"a": 1}]}, wrappers, "requests") == [{"a": 1}]
    assert unwrap_list({"requests": [{"request": [{"a": 1}]}]}, wrappers, "requests") == [{"a": 1}]
    assert unwrap_list({"requests": [{"request": []}]}, wrappers, "requests") == []
    with pytest.raises(ValueError, match="is not a list of requests"):
        unwrap_list("nope", wrappers, "requests")


@pytest.mark.parametrize(
    ("environ", "setting", "problem"),
    [
        ({"IOC_OPEN311_URL": "ftp://city/open311"}, "IOC_OPEN311_URL", "not an http:// or"),
        ({"IOC_OPEN311_CATEGORIES": "{bad"}, "IOC_OPEN311_CATEGORIES", "is not JSON"),
        ({"IOC_OPEN311_STATUSES": '{"x": 1}'}, "IOC_OPEN311_STATUSES", "entry 'x' must be"),
        ({"IOC_OPEN311_INTERVAL_SECONDS": "0"}, "IOC_OPEN311_INTERVAL_SECONDS", "greater than 0"),
        (
            {"IOC_OPEN311_NAIVE_TIMES": "local"},
            "IOC_OPEN311_NAIVE_TIMES",
            "not one of city, reject",
        ),
        ({"IOC_OPEN311_RESCAN_DAYS": "-1"}, "IOC_OPEN311_RESCAN_DAYS", "greater than 0"),
    ],
)
def test_bad_open311_settings_name_the_setting(environ: dict, setting: str, problem: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ=environ)
    assert error.value.setting == setting and problem in error.value.problem


@pytest.mark.parametrize(
    ("values", "setting", "problem"),
    [
        ({"open311_categories": (("GT01", "roads"),)}, "open311_categories", "'roads'"),
        ({"open311_statuses": (("x", "done"),)}, "open311_statuses", "'done', which is not"),
        ({"open311_wards": (("7", "Phường 7"),)}, "open311_wards", "not one of the wards"),
    ],
)
def test_mappings_onto_unknown_categories_statuses_or_wards_are_refused(
    values: dict, setting: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as error:
        Open311Config.from_settings(settings(**values))
    assert error.value.setting == setting and problem in error.value.problem


def test_the_simulators_open311_endpoint_end_to_end_into_the_store(
    store: Store, tmp_path: Path
) -> None:
    """Simulator → its Open311 server → poll worker → store: the wall ends up with each
    report's current status, though most changed status on the server between two polls."""
    now = datetime.now(UTC)
    simulator = CitySimulator(
        generate_inventory(load_profile("hoa-thanh"), seed=5, cameras=4, access_points=2),
        seed=5,
        start=now - timedelta(hours=30),
        live_from=now,  # sparse device status: only the reports matter here
        options=SimOptions(reports_per_day=40, publish_reports=False),
    )
    endpoint = Open311Server().start()
    simulator.on_report = endpoint.update
    try:
        cfg = Open311Config.from_settings(
            Settings(open311_url=endpoint.url, open311_backfill_days=3)
        )
        worker = PollWorker(store, [source(cfg, tmp_path)], dead_letters(tmp_path))
        for until in (now - timedelta(hours=8), now):
            for _ in simulator.advance(until):
                pass
            worker.poll(worker.sources[0])
    finally:
        endpoint.close()

    latest = {
        r["report_id"]: r for r in store.latest("field_report", "report_id").to_dict("records")
    }
    expected = {
        rid: (r.status, r.category, r.ward, r.title) for rid, r in simulator.reports.items()
    }
    assert len(expected) >= 20
    assert {
        rid: (r["status"], r["category"], r["ward"], r["title"]) for rid, r in latest.items()
    } == expected
    health = worker.health["open311"]
    assert health.rejected == 0 and health.failures == 0


def test_the_agency_responsible_is_kept_to_assign_the_report_to_a_unit() -> None:
    m = mapping()
    assert m.agency({"agency_responsible": "  Ban quản lý\n dịch vụ công ích "}) == (
        "Ban quản lý dịch vụ công ích"
    )
    assert m.agency({"agency_responsible": ""}) is None
    assert m.agency({"agency_responsible": 7}) is None
    assert m.agency({}) is None
