"""What only the InfluxDB backend meets: authentication, an unreachable or restarting server,
and data the server refuses. All against real influxd processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.conftest import ADMIN
from tests.servers import Influxd, free_port
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store import Point, PointsRefused, StoreError, StoreUnavailable, open_store

# Recent, within the raw points' retention policy (15 days by default): a fixed date passed it.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)


def wifi(ap: str, minute: int, clients: float | int) -> Point:
    return Point("wifi_usage", {"ap_id": ap}, {"clients": clients}, T0 + timedelta(minutes=minute))


@pytest.fixture(scope="module")
def limited_influxd(tmp_path_factory) -> Iterator[Influxd]:
    """Requests of at most 4,000 bytes (gzipped) and 3 values per tag key: limits a city meets
    at its own size, reached here with a few points."""
    server = Influxd(
        tmp_path_factory.mktemp("influxd-limits"), max_body_size=4000, max_values_per_tag=3
    )
    server.start()
    yield server
    server.stop()


def test_server_demanding_authentication_without_credentials_is_a_settings_error(
    secured_influxd,
) -> None:
    store = open_store(Settings(store=f"influxdb://127.0.0.1:{secured_influxd.port}/ioc"))
    with pytest.raises(SettingsError) as caught:
        store.check()
    assert caught.value.setting == "IOC_INFLUX_TOKEN"
    assert "demands authentication" in caught.value.problem


def test_wrong_token_is_a_settings_error(secured_influxd) -> None:
    url = f"influxdb://127.0.0.1:{secured_influxd.port}/ioc"
    store = open_store(Settings(store=url, influx_token="not-the-token"))
    with pytest.raises(SettingsError, match="refused the credentials"):
        store.check()


def test_wrong_password_in_the_store_url_names_the_store_setting(secured_influxd) -> None:
    """The deployment's services sign in with the user and password of IOC_STORE (Basic
    authentication, which every 1.x takes): a refusal names that setting, not the token's."""
    url = f"influxdb://ioc:wrong@127.0.0.1:{secured_influxd.port}/ioc"
    store = open_store(Settings(store=url))
    with pytest.raises(SettingsError, match="refused the credentials") as caught:
        store.check()
    assert caught.value.setting == "IOC_STORE"


def test_user_and_password_in_the_store_url_authenticate(secured_influxd) -> None:
    url = f"influxdb://ioc:m%E1%BA%ADt%20kh%E1%BA%A9u@127.0.0.1:{secured_influxd.port}/ioc"
    settings = Settings(store=url)
    assert "mật" not in str(settings.redacted())
    with open_store(settings) as store:
        store.check()
        store.write([wifi("ap1", 0, 5)])
        assert store.latest("wifi_usage", "ap_id")["clients"].tolist() == [5]


def test_check_shows_the_store_url_without_its_password(secured_influxd) -> None:
    """`python -m wall check` reaches the store with the URL's credentials and prints neither
    the password nor its percent-encoded form."""
    url = f"influxdb://ioc:m%E1%BA%ADt%20kh%E1%BA%A9u@127.0.0.1:{secured_influxd.port}/ioc"
    result = subprocess.run(
        [sys.executable, "-m", "wall", "check"],
        env={"IOC_STORE": url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"store ready: influxdb://ioc:***@127.0.0.1:{secured_influxd.port}/ioc" in result.stdout
    shown = result.stdout + result.stderr
    assert "m%E1%BA%ADt" not in shown and "mật khẩu" not in shown


def test_cli_stops_with_one_line_naming_the_token_setting(secured_influxd, tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wall", "check"],
        env={"IOC_STORE": f"influxdb://127.0.0.1:{secured_influxd.port}/ioc", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "IOC_INFLUX_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_server_reports_unavailable_after_retries() -> None:
    port = free_port()
    store = open_store(
        Settings(
            store=f"influxdb://127.0.0.1:{port}/ioc", influx_retries=2, influx_timeout_seconds=1
        )
    )
    store.backoff_seconds = 0.05
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        store.write([wifi("ap1", 0, 1)])
    assert time.monotonic() - started < 5


def test_write_survives_a_server_restart_by_retrying(tmp_path) -> None:
    server = Influxd(tmp_path)
    server.start()
    try:
        store = open_store(
            Settings(store=f"influxdb://127.0.0.1:{server.port}/ioc", influx_retries=10)
        )
        store.check()
        store.write([wifi("ap1", 0, 1)])
        server.stop()
        restarter = threading.Timer(1.0, server.start)
        restarter.start()
        store.write([wifi("ap1", minute, minute) for minute in range(1, 200)])
        restarter.join()
        frame = store.points("wifi_usage", T0, T0 + timedelta(hours=4))
        assert frame["clients"].tolist() == [1, *range(1, 200)]
    finally:
        server.stop()


def test_refused_data_is_a_clear_error_and_the_good_points_around_it_land(influxd) -> None:
    from tests.conftest import influx_store_url

    with open_store(Settings(store=influx_store_url(influxd))) as store:
        store.check()
        store.write([wifi("ap1", 0, 10)])  # clients is an integer field from now on
        bad = wifi("ap3", 1, 2.5)
        with pytest.raises(PointsRefused, match="clients") as caught:
            store.write([wifi("ap2", 1, 11), bad, wifi("ap4", 1, 12), wifi("ap5", 1, 7.5)])
        assert not isinstance(caught.value, StoreUnavailable)
        assert [point for point, _ in caught.value.refused] == [bad, wifi("ap5", 1, 7.5)]
        assert "field type conflict" in caught.value.refused[0][1]
        assert caught.value.written == 2
        latest = store.latest("wifi_usage", "ap_id")
        assert latest[["ap_id", "clients"]].values.tolist() == [
            ["ap1", 10],
            ["ap2", 11],
            ["ap4", 12],
        ]


class FlakyProxy:
    """A real HTTP hop in front of the real influxd that answers the first requests with an
    error status, as an overloaded server or load balancer does; later ones pass through."""

    def __init__(self, target: str, failures: list[int]):
        import http.server

        self.failures = list(failures)
        self.requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failures:
                    status = proxy.failures.pop(0)
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = requests.request(
                    self.command, target + self.path, data=body, headers=headers, timeout=10
                )
                self.send_response(answer.status_code)
                for key in ("Content-Type",):
                    if key in answer.headers:
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("failures", [[503, 503], [429], [500, 502, 504]])
def test_overloaded_server_answers_are_retried(influxd, failures: list[int]) -> None:
    with open_store(Settings(store=f"influxdb://127.0.0.1:{influxd.port}/flaky")) as direct:
        direct.check()
    proxy = FlakyProxy(influxd.url, failures)
    try:
        store = open_store(Settings(store=f"influxdb://127.0.0.1:{proxy.port}/flaky"))
        store.backoff_seconds = 0.01
        store.write([wifi("ap-retry", len(failures), 7)])
        # The database's retention policies (read once, wall.store.policies), then the write.
        assert proxy.requests == len(failures) + 2
        latest = store.latest("wifi_usage", "ap_id")
        assert latest[latest["ap_id"] == "ap-retry"]["clients"].tolist() == [7]
    finally:
        proxy.close()


def test_refused_data_is_not_retried(influxd) -> None:
    with open_store(Settings(store=f"influxdb://127.0.0.1:{influxd.port}/refused")) as direct:
        direct.check()
        direct.write([wifi("ap1", 0, 1)])
    proxy = FlakyProxy(influxd.url, [])
    try:
        store = open_store(Settings(store=f"influxdb://127.0.0.1:{proxy.port}/refused"))
        with pytest.raises(StoreError, match="field type conflict"):
            store.write([wifi("ap1", 1, 1.5)])
        assert proxy.requests == 2  # the retention policies, read once, and the write
    finally:
        proxy.close()


def test_a_frame_is_sent_as_the_lines_of_its_points() -> None:
    from tests.test_store_contract import frame_points, tricky_camera_frame
    from wall.store.base import frame_columns
    from wall.store.lineprotocol import encode_frame, encode_point

    frame, tags = tricky_camera_frame(), ["ward", "camera_id"]
    assert encode_frame(frame_columns("camera_status", frame, tags)) == [
        encode_point(p) for p in frame_points("camera_status", frame, tags)
    ]


# -- refusals about the store, not the points: StoreUnavailable, never PointsRefused -----------


def test_a_missing_database_is_a_store_failure_not_a_refused_point(influxd) -> None:
    """404 `database not found` (a dropped database; on InfluxDB 2 a missing DBRP mapping)."""
    store = open_store(Settings(store=f"influxdb://127.0.0.1:{influxd.port}/never_created"))
    with pytest.raises(StoreUnavailable, match="database not found"):
        store.write([wifi("ap1", 0, 1)])


def test_a_user_that_may_not_write_is_a_store_failure_until_it_may(secured_influxd) -> None:
    secured_influxd.query("CREATE DATABASE readonly", ADMIN)
    secured_influxd.query("CREATE USER reader WITH PASSWORD 'r'", ADMIN)
    secured_influxd.query("GRANT READ ON readonly TO reader", ADMIN)
    store = open_store(
        Settings(store=f"influxdb://reader:r@127.0.0.1:{secured_influxd.port}/readonly")
    )
    with pytest.raises(StoreUnavailable, match=r"403.*not authorized"):
        store.write([wifi("ap1", 0, 1)])
    secured_influxd.query("GRANT WRITE ON readonly TO reader", ADMIN)
    assert store.write([wifi("ap1", 0, 1)]) == 1


def test_a_request_over_the_size_limit_is_split_and_one_point_over_it_is_a_store_failure(
    limited_influxd,
) -> None:
    store = open_store(Settings(store=f"influxdb://127.0.0.1:{limited_influxd.port}/big"))
    store.check()
    points = [wifi("ap1", minute, minute) for minute in range(3000)]
    assert store.write(points) == 3000
    assert store.lines_per_request < 3000  # halved until the requests fit, and kept
    frame = store.points("wifi_usage", T0, T0 + timedelta(days=3))
    assert frame["clients"].tolist() == list(range(3000))
    huge = Point("wifi_usage", {"ap_id": "ap1"}, {"note": os.urandom(6000).hex()}, T0)
    with pytest.raises(StoreUnavailable, match="413"):
        store.write([wifi("ap2", minute, 1) for minute in range(300)] + [huge])
    assert store.lines_per_request >= 100  # one huge point does not make every request small


def test_the_tag_values_limit_is_a_store_failure_not_a_refused_point(limited_influxd) -> None:
    """max-values-per-tag answers 400 `partial write`, as a refused point does; but the points
    are fine, the city outgrew the setting: they must wait for it to be raised, not be dropped."""
    store = open_store(Settings(store=f"influxdb://127.0.0.1:{limited_influxd.port}/tags"))
    store.check()
    for ap in ("ap1", "ap2", "ap3"):
        store.write([wifi(ap, 0, 1)])
    with pytest.raises(StoreUnavailable, match="max-values-per-tag"):
        store.write([wifi("ap1", 1, 2), wifi("ap4", 1, 2)])


def test_one_refused_point_among_5000_costs_a_bounded_number_of_requests(influxd) -> None:
    with open_store(Settings(store=f"influxdb://127.0.0.1:{influxd.port}/bisect")) as direct:
        direct.check()
        direct.write([wifi("ap0", 0, 1)])  # clients: an integer field
    proxy = FlakyProxy(influxd.url, [])
    try:
        store = open_store(Settings(store=f"influxdb://127.0.0.1:{proxy.port}/bisect"))
        points = [wifi(f"ap{i % 50}", 1 + i // 50, i) for i in range(5000)]
        points[3217] = wifi("ap17", 1 + 3217 // 50, 0.5)
        with pytest.raises(PointsRefused) as caught:
            store.write(points)
        requests_made = proxy.requests
    finally:
        proxy.close()
    assert [point for point, _ in caught.value.refused] == [points[3217]]
    assert caught.value.written == 4999
    assert requests_made <= 1 + 2 * 13  # the batch, then both halves at each of ceil(log2 5000)
    print(f"one refused point in 5,000: {requests_made} requests")
    frame = direct.points("wifi_usage", T0 + timedelta(minutes=1), T0 + timedelta(days=1))
    assert len(frame) == 4999
