"""Generic HTTP JSON status sources (a VMS camera list, a WiFi controller's AP list), configured
in the settings file, against a real HTTP server and both store backends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from feeds.http_sources import HttpStatusSource, SourceError, retry_after_seconds
from feeds.poll_worker import PollWorker
from tests.poll_fixtures import JsonServer, Reply, dead_letters
from wall.settings import load_settings
from wall.settings_core import SettingsError
from wall.store import Store

TOKEN = "Bearer vms-7c1e"

VMS_TOML = """
[[poll_sources]]
name = "vms"
kind = "camera"
url = "{url}/api/v1/cameras?page=all"
interval_seconds = 15
headers = {{ Authorization = "{token}" }}
items = "data.cameras"
id = "deviceId"

[poll_sources.fields]
online = "state"
fps = "stream.fps"
bitrate_kbps = "stream.kbps"
name = "label"
ward = "location.ward"
lat = "location.coords.0"
lon = "location.coords.1"
ts = "lastSeen"

[poll_sources.values.online]
ONLINE = true
OFFLINE = false
DEGRADED = true
"""

WIFI_TOML = """
[[poll_sources]]
name = "wlc"
kind = "wifi"
url = "{url}/aps"
id = "mac"

[poll_sources.fields]
up = "status"
clients = "num_sta"
rx_bytes = "rx"
tx_bytes = "tx"
site = "site_name"
capacity = "max_clients"

[poll_sources.values.up]
1 = true
0 = false
"""


def vms_answer(now: datetime) -> dict:
    seen = (now - timedelta(seconds=20)).isoformat()
    return {
        "status": "ok",
        "data": {
            "cameras": [
                {
                    "deviceId": "cam-lhb-001",
                    "label": "Ngã tư Phạm Hùng – Lạc Long Quân",
                    "state": "ONLINE",
                    "stream": {"fps": "25", "kbps": 4096},
                    "location": {"ward": "Long Thành Bắc", "coords": [11.2871, 106.1302]},
                    "lastSeen": seen,
                },
                {
                    "deviceId": "cam-ht-002",
                    "label": "Cổng Tòa Thánh",
                    "state": "OFFLINE",
                    "location": {"ward": "Hiệp Tân", "coords": [11.2905, 106.1355]},
                    "lastSeen": seen,
                },
                {"deviceId": "cam-bad-003", "state": "REBOOTING", "lastSeen": seen},
                {"deviceId": "cam-bad-004", "state": "ONLINE", "stream": {"fps": "fast"}},
                "not an object",
                {"label": "no id", "state": "ONLINE"},
            ]
        },
    }


@pytest.fixture
def vms() -> Iterator[JsonServer]:
    def answer(path: str, query: dict, headers: dict) -> Reply:
        if headers.get("authorization") != TOKEN:
            return Reply(401, {"message": "missing or bad token"})
        return Reply(body=vms_answer(datetime.now(UTC)))

    server = JsonServer(answer).start()
    yield server
    server.stop()


def sources_from(toml: str, tmp_path: Path) -> list[dict]:
    config = tmp_path / "ioc.toml"
    config.write_text(toml)
    return list(load_settings(config, environ={}).poll_sources)


def test_a_vms_camera_list_is_mapped_by_settings_alone_into_camera_status(
    vms: JsonServer, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (config,) = sources_from(VMS_TOML.format(url=vms.url, token=TOKEN), tmp_path)
    source = HttpStatusSource(config, timeout=2, session=requests.Session())
    caplog.set_level(logging.WARNING)
    worker = PollWorker(store, [source], dead_letters(tmp_path))
    assert worker.poll(source) == 15

    now = datetime.now(UTC)
    frame = store.points("camera_status", now - timedelta(minutes=5), now)
    rows = {r["camera_id"]: r for r in frame.to_dict("records")}
    assert set(rows) == {"cam-lhb-001", "cam-ht-002"}
    first, second = rows["cam-lhb-001"], rows["cam-ht-002"]
    assert first["online"] is True or first["online"] == 1
    assert (first["fps"], first["bitrate_kbps"]) == (25.0, 4096.0)
    # The VMS still says the former wards: stored as today's, what it said kept.
    assert (first["ward"], first["ward_given"]) == ("Long Hoa", "Long Thành Bắc")
    assert first["name"] == "Ngã tư Phạm Hùng – Lạc Long Quân"
    assert (first["lat"], first["lon"]) == (11.2871, 106.1302)
    assert not second["online"] and second["ward"] == "Thanh Điền"
    assert first["time"].to_pydatetime() < now - timedelta(seconds=19)  # the VMS's lastSeen

    assert worker.health["vms"].rejected == 4
    lines = "\n".join(caplog.messages)
    assert "vms: camera cam-bad-003 rejected: field 'online': value 'REBOOTING' is not in" in lines
    assert "vms: camera cam-bad-004 rejected: field 'fps' must be a number, not text" in lines
    assert "item 5 of the list is not an object" in lines
    assert "item 6 has no id at 'deviceId'" in lines
    assert vms.seen[0].query == {"page": "all"}

    caplog.clear()
    worker.poll(source)
    assert caplog.messages == []  # the same bad items again: not logged again


def test_a_wifi_controller_ap_list_becomes_wifi_usage(store: Store, tmp_path: Path) -> None:
    aps = [
        {
            "mac": "ap-tth-01",
            "status": 1,
            "num_sta": 87,
            "rx": 10**12,
            "tx": 5 * 10**11,
            "site_name": "Tòa Thánh Tây Ninh",
            "max_clients": 150,
        },
        {"mac": "ap-lh-02", "status": 0, "num_sta": 0, "site_name": "Chợ Long Hoa"},
    ]
    server = JsonServer(lambda *_: Reply(body=aps)).start()
    try:
        (config,) = sources_from(WIFI_TOML.format(url=server.url), tmp_path)
        source = HttpStatusSource(config, timeout=2, session=requests.Session())
        PollWorker(store, [source], dead_letters(tmp_path)).poll(source)
    finally:
        server.stop()
    now = datetime.now(UTC)
    rows = {r["ap_id"]: r for r in store.latest("wifi_usage", "ap_id").to_dict("records")}
    assert set(rows) == {"ap-tth-01", "ap-lh-02"}
    assert rows["ap-tth-01"]["clients"] == 87 and rows["ap-tth-01"]["rx_bytes"] == 10**12
    assert (
        rows["ap-tth-01"]["site"] == "Tòa Thánh Tây Ninh" and rows["ap-tth-01"]["capacity"] == 150
    )
    assert not rows["ap-lh-02"]["up"]
    assert abs((rows["ap-lh-02"]["time"].to_pydatetime() - now).total_seconds()) < 30


def test_wrong_credentials_or_a_missing_list_fail_the_poll_with_the_reason(
    vms: JsonServer, tmp_path: Path
) -> None:
    (config,) = sources_from(VMS_TOML.format(url=vms.url, token="Bearer wrong"), tmp_path)
    with pytest.raises(SourceError, match=r"HTTP 401 from .*/api/v1/cameras: missing or bad token"):
        HttpStatusSource(config, timeout=2, session=requests.Session()).fetch(datetime.now(UTC))
    (config,) = sources_from(VMS_TOML.format(url=vms.url, token=TOKEN), tmp_path)
    source = HttpStatusSource(
        {**config, "items": "data.devices"}, timeout=2, session=requests.Session()
    )
    with pytest.raises(SourceError, match=r"vms: answer from .* has no list at 'data.devices'"):
        source.fetch(datetime.now(UTC))


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"kind": "camera"}, "source 1 ('unnamed'): key 'name' is missing"),
        (
            {"name": "vms", "kind": "cam", "url": "http://x/", "id": "id", "fields": {}},
            "source 1 ('vms'): key 'kind' must be one of camera, wifi, not 'cam'",
        ),
        (
            {"name": "vms", "kind": "camera", "url": "x", "id": "id", "fields": {"online": "s"}},
            "source 1 ('vms'): key 'url': 'x' is not an http:// or https:// URL",
        ),
        (
            {"name": "vms", "kind": "camera", "url": "http://x/", "id": "id", "fields": {}},
            "source 1 ('vms'): fields: the camera field 'online' is required",
        ),
        (
            {
                "name": "w",
                "kind": "wifi",
                "url": "http://x/",
                "id": "id",
                "fields": {"up": "u", "clients": "c", "fps": "f"},
            },
            "source 1 ('w'): fields: 'fps' is not a wifi field",
        ),
        (
            {
                "name": "vms",
                "kind": "camera",
                "url": "http://x/",
                "id": "id",
                "fields": {"online": "s"},
                "interval_seconds": -1,
            },
            "source 1 ('vms'): key 'interval_seconds': -1 must be a number greater than 0",
        ),
        (
            {
                "name": "vms",
                "kind": "camera",
                "url": "http://x/",
                "id": "id",
                "fields": {"online": "s"},
                "headers": {"X-Key": 5},
            },
            "source 1 ('vms'): key 'headers': table entry 'X-Key' must be non-empty text",
        ),
        (
            {
                "name": "vms",
                "kind": "camera",
                "url": "http://x/",
                "id": "id",
                "fields": {"online": "s"},
                "values": {"fps": {"a": 1}},
            },
            "source 1 ('vms'): values: 'fps' is not one of this source's fields",
        ),
        (
            {
                "name": "vms",
                "kind": "camera",
                "url": "http://x/",
                "id": "id",
                "fields": {"online": "s"},
                "secret": "x",
            },
            "source 1 ('vms'): unknown key 'secret'",
        ),
    ],
)
def test_bad_poll_sources_name_the_source_and_the_key(source: dict, problem: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(environ={"IOC_POLL_SOURCES": json.dumps([source])})
    assert error.value.setting == "IOC_POLL_SOURCES"
    assert problem in error.value.problem


def test_two_sources_of_one_name_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text(VMS_TOML.format(url="http://a", token="t") * 2)
    with pytest.raises(SettingsError, match="another source has the name 'vms'") as error:
        load_settings(config, environ={})
    assert error.value.setting == f"poll_sources in {config}"


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Thu, 26 Nov 2026 08:01:30 GMT", now) == 90
    assert retry_after_seconds("soon", now) is None
