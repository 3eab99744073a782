"""The indicator API over HTTP (Flask test client on a real store, SQLite and influxd), with
tokens made and revoked by `python -m wall indicators token` as an administrator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests.servers import Influxd
from wall.app import create_app
from wall.indicator_api import PATH, register
from wall.periods import period_of
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import open_store
from wall.submissions import STREAM

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LAST_MONTH = period_of("month", datetime.now(UTC), ZONE).previous().name


def command(store_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wall", "indicators", "token", *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": store_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def api(store_url: str):
    settings = Settings(store=store_url)
    with open_store(settings) as store:
        store.check()
        server = Flask(__name__)
        register(server, settings, store)
        yield server.test_client(), store


def post(client, token: str | None, body, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if not isinstance(body, str | bytes):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    return client.post(PATH, data=body, headers=headers)


VALUES = {
    "by": "Hệ thống quản lý y tế",
    "values": [
        {"indicator_id": "tiem_chung", "period": LAST_MONTH, "value": 96.3, "note": "Trạm y tế"},
        {"indicator_id": "khach_du_lich", "period": LAST_MONTH, "value": "35.2"},
    ],
}


def test_a_units_token_submits_and_a_revoked_one_is_refused(api, store_url: str) -> None:
    client, store = api
    made = command(store_url, "add", "--unit", "vh-xh", "--label", "Phần mềm báo cáo")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("ioc_") and "shown this once" in made.stderr
    token_id = token.split("_")[1]
    assert token not in json.dumps([e.data for e in store.events("indicator_tokens")])

    answer = post(client, token, VALUES)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["values"] == 2 and answer.get_json()["unit"] == "vh-xh"
    events = store.events(STREAM)
    assert {(e.data["indicator_id"], e.data["value"], e.actor, e.data["path"]) for e in events} == {
        ("tiem_chung", 96.3, "Hệ thống quản lý y tế", "api"),
        ("khach_du_lich", 35.2, "Hệ thống quản lý y tế", "api"),
    }

    listed = command(store_url, "list")
    assert listed.stdout.splitlines()[0].startswith(f"{token_id}\tvh-xh\t")
    assert listed.stdout.splitlines()[0].endswith("\tPhần mềm báo cáo\tlive")
    revoked = command(store_url, "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert command(store_url, "list").stdout.splitlines()[0].endswith("\trevoked")

    correction = {**VALUES, "reason": "Số liệu đã rà soát"}
    answer = post(client, token, correction)
    assert answer.status_code == 401
    assert answer.get_json() == {"error": f"token {token_id} is revoked"}
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(store.events(STREAM)) == 2
    again = command(store_url, "revoke", token_id)
    assert again.returncode == 1 and "revoked already" in again.stderr


def test_bad_values_are_refused_whole_naming_each(api, store_url: str) -> None:
    client, store = api
    token = command(store_url, "add", "--unit", "moi-truong").stdout.strip()
    answer = post(
        client,
        token,
        {
            "values": [
                {"indicator_id": "thu_gom_rac", "period": LAST_MONTH, "value": 97.5},
                {"indicator_id": "tiem_chung", "period": LAST_MONTH, "value": 96},
                {"indicator_id": "den_chieu_sang", "period": "2026-13", "value": 98},
                {"indicator_id": "den_chieu_sang", "period": LAST_MONTH, "value": "cao"},
            ]
        },
    )
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["error"] == "3 bad value(s); nothing stored"
    reasons = {r["row"]: r["reason"] for r in body["rows"]}
    assert sorted(reasons) == [2, 3, 4]
    assert "do vh-xh nộp, không phải moi-truong" in reasons[2]
    assert "“2026-13” không phải một tháng" in reasons[3]
    assert "“cao” không phải là số" in reasons[4]
    assert store.events(STREAM) == []


def test_requests_without_a_good_token_or_body_get_a_clear_4xx(api, store_url: str) -> None:
    client, store = api
    token = command(store_url, "add", "--unit", "vh-xh").stdout.strip()
    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    cases = [
        (None, VALUES, {}, 401, "no token: send Authorization: Bearer <token>"),
        ("ioc_nope", VALUES, {}, 401, "malformed token"),
        (wrong_secret, VALUES, {}, 401, "unknown token"),
        (token, "indicator_id,period,value", {"Content-Type": "text/csv"}, 415, "must be JSON"),
        (token, "{not json", {"Content-Type": "application/json"}, 400, "JSON object"),
        (token, [1, 2], {}, 400, "JSON object"),
        (token, {"values": []}, {}, 400, "`values` must be a non-empty list"),
        (token, {"values": ["tiem_chung"]}, {}, 400, "values[1] must be an object"),
        (token, {**VALUES, "unit": "qlđt"}, {}, 400, "unknown key 'unit'"),
        (token, {"values": [{"indicator_id": 5}]}, {}, 400, "values[1].indicator_id must be"),
        (token, {"values": [{"value": 1, "periode": "x"}]}, {}, 400, "unknown key 'periode'"),
        (token, {**VALUES, "by": ["x"]}, {}, 400, "`by` must be text"),
        (token, {"values": [{"x": "y" * 70_000}]}, {}, 413, "larger than 64 KiB"),
    ]
    for sent, body, headers, status, message in cases:
        answer = post(client, sent, body, **headers)
        assert answer.status_code == status, (body if len(str(body)) < 200 else status, answer)
        assert message in answer.get_json()["error"], answer.get_json()
    assert client.get(PATH).status_code == 405
    assert store.events(STREAM) == []


def test_the_wall_serves_the_api_with_its_security_headers(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ioc.db'}"
    token = command(url, "add", "--unit", "vh-xh").stdout.strip()
    app = create_app(
        Settings(
            store=url,
            cache_url=f"file://{tmp_path / 'cache'}",
            secret_key_file=str(tmp_path / "secret_key"),
        )
    )
    client = app.server.test_client()
    answer = post(client, token, VALUES)
    assert answer.status_code == 201, answer.get_json()
    assert "default-src" in answer.headers["Content-Security-Policy"]
    refused = post(client, token, {"values": [{"x": "y" * 70_000}]})
    assert refused.status_code == 413
    assert refused.get_json() == {"error": "the body is larger than 64 KiB"}


def test_a_store_outage_answers_503_and_stores_nothing_half(tmp_path) -> None:
    influx = Influxd(tmp_path)
    influx.start()
    url = f"influxdb://127.0.0.1:{influx.port}/ioc"
    settings = Settings(store=url, influx_retries=0)
    try:
        token = command(url, "add", "--unit", "vh-xh").stdout.strip()
        with open_store(settings) as store:
            server = Flask(__name__)
            register(server, settings, store)
            client = server.test_client()
            influx.stop()
            down = post(client, token, VALUES)
            assert down.status_code == 503
            assert down.get_json() == {
                "error": "the store cannot be reached; nothing stored, try again later"
            }
            influx.start()
            assert post(client, token, VALUES).status_code == 201
            assert len(store.events(STREAM)) == 2
    finally:
        influx.stop()
