from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.browser_fixtures import chromium
from tests.servers import Influxd, Mosquitto
from wall.settings import Settings
from wall.store import Store, open_store


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    server = Influxd(tmp_path_factory.mktemp("influxd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """A private influxd a test may stop, restart or drop databases on."""
    server = Influxd(tmp_path_factory.mktemp("own-influxd"))
    server.start()
    yield server
    server.stop()


# The administrator of `secured_influxd` (user name and password as UTF-8, as the store sends them).
ADMIN = (b"ioc", "mật khẩu".encode())


@pytest.fixture(scope="module")
def secured_influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Influxd]:
    """An influxd demanding authentication, with one administrator (ADMIN)."""
    server = Influxd(tmp_path_factory.mktemp("influxd-auth"), auth=True)
    server.start()
    server.query("CREATE USER ioc WITH PASSWORD 'mật khẩu' WITH ALL PRIVILEGES")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


def influx_store_url(influxd: Influxd) -> str:
    """A fresh database on the shared test server, so tests never see each other's points."""
    return f"influxdb://127.0.0.1:{influxd.port}/test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "influxdb"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ioc.db'}"
    return influx_store_url(request.getfixturevalue("influxd"))


# Raw points kept a century: on InfluxDB the retained measurements live in policies of their own
# (wall.store.policies), which refuse points older than their duration (the tests' fixed dates).
CENTURY_OF_RAW_POINTS = (("camera_status", 36500.0), ("wifi_usage", 36500.0))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """Each backend in turn: the contract tests run unchanged against both."""
    with open_store(Settings(store=store_url, retention_raw_days=CENTURY_OF_RAW_POINTS)) as s:
        s.check()
        yield s


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium at a wall panel's size, one per test module."""
    driver = chromium()
    yield driver
    driver.quit()
