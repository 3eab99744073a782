"""The wall's HTTP surface, served for real: gunicorn with two workers sharing a real Redis.

Every route answers with the security headers; and Dash's callback endpoint, fed what no wall
page sends (non-finite and wrong-typed values in every input of every server callback, missing
fields, broken or oversized bodies), answers 2xx or 4xx, never 5xx, with no traceback in the
server's log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.browser_fixtures import WallProcess, seed
from tests.servers import RedisServer
from wall.app import create_app
from wall.settings import load_settings
from wall.store.sqlite import SQLiteStore
from wall.web_surface import MAX_REQUEST_BYTES

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
CALLBACKS = "/_dash-update-component"


class Served:
    def __init__(self, wall: WallProcess, environ: dict[str, str]):
        self.wall = wall
        self.url = wall.url
        self.app = create_app(load_settings(environ=environ))  # the same app, to read its map

    def log(self) -> str:
        return self.wall.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("web-surface")
    store = SQLiteStore(folder / "ioc.db")
    seed(store, datetime.now(UTC))
    store.close()
    redis = RedisServer(folder)
    redis.start()
    environ = {
        "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
        "IOC_CACHE_URL": redis.url,
        "IOC_SECRET_KEY_FILE": str(folder / "secret_key"),
    }
    wall = WallProcess(environ, log_path=folder / "wall.log")
    wall.start()
    try:
        yield Served(wall, environ)
    finally:
        wall.stop()
        redis.stop()


def assert_secure_headers(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    scripts = directives["script-src"].split()
    assert scripts[0] == "'self'" and all(s.startswith("'sha256-") for s in scripts[1:])
    # Plain HTTP with secure cookies off: no HSTS (a browser would ignore it anyway).
    assert "Strict-Transport-Security" not in response.headers


def concrete_urls(served: Served) -> dict[str, tuple[str, str]]:
    """One real request per route of the app: rule → (method, path)."""
    page = requests.get(served.url + "/", timeout=10).text
    suite = re.search(r'src="(/_dash-component-suites/[^"]+)"', page).group(1)
    return {
        "/": ("GET", "/"),
        "/<path:path>": ("GET", "/kiosk?layouts=overview,alerts"),
        "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": ("GET", suite),
        "/_dash-dependencies": ("GET", "/_dash-dependencies"),
        "/_dash-layout": ("GET", "/_dash-layout"),
        CALLBACKS: ("POST", CALLBACKS),
        "/_favicon.ico": ("GET", "/_favicon.ico"),
        "/_reload-hash": ("GET", "/_reload-hash"),
        "/assets/<path:filename>": ("GET", "/assets/wall.css"),
        "/static/<path:filename>": ("GET", "/static/nothing.css"),
        "/healthz": ("GET", "/healthz"),
        "/officer": ("GET", "/officer"),
        "/officer/action": ("POST", "/officer/action"),
        "/officer/audit": ("GET", "/officer/audit"),
        "/officer/audit.csv": ("GET", "/officer/audit.csv"),
        "/officer/screens": ("GET", "/officer/screens"),
        "/officer/indicators": ("GET", "/officer/indicators"),
        "/officer/indicators/upload": ("POST", "/officer/indicators/upload"),  # 403: signed out
        "/officer/briefs": ("GET", "/officer/briefs"),
        "/officer/briefs/<name>": ("GET", "/officer/briefs/brief-day-2026-12-04.pdf"),
        # Signed out: each redirects to the sign-in page.
        "/officer/alerts/<path:key>": ("GET", "/officer/alerts/camera_offline:cam-1"),
        "/officer/indicators/<indicator_id>": ("GET", "/officer/indicators/tiem_chung"),
        "/officer/alerts/<path:key>/summary.txt": (
            "GET",
            "/officer/alerts/camera_offline:cam-1/summary.txt",
        ),
        "/officer/alerts/<path:key>/summary.csv": (
            "GET",
            "/officer/alerts/camera_offline:cam-1/summary.csv",
        ),
        "/officer/signin": ("GET", "/officer/signin"),
        "/officer/signout": ("POST", "/officer/signout"),
        "/api/indicators/submissions": ("POST", "/api/indicators/submissions"),  # 401: no token
        "/api/screens/heartbeat": ("POST", "/api/screens/heartbeat"),  # 415: no JSON
    }


def test_every_route_answers_with_the_security_headers(served):
    urls = concrete_urls(served)
    rules = {rule.rule for rule in served.app.server.url_map.iter_rules()}
    assert rules == set(urls), f"routes without a request in this test: {rules - set(urls)}"
    seen = set()
    for method, path in [
        *urls.values(),
        ("GET", "/assets/kiosk-start.html"),
        ("GET", "/officer/signin?lang=en"),
        ("GET", "/assets/no-such-file.js"),  # 404
        ("GET", "/_dash-component-suites/nope/x.js"),  # 404 (Dash itself: a 500)
        ("PUT", "/healthz"),  # 405
        ("POST", "/officer/signin"),  # refused: no CSRF token
    ]:
        response = requests.request(method, served.url + path, allow_redirects=False, timeout=20)
        assert response.status_code < 500, (path, response.status_code)
        assert_secure_headers(response)
        seen.add(response.status_code)
    assert {200, 302, 401, 403, 404, 405, 415} <= seen, seen
    assert "Traceback" not in served.log()


def valid_body(callback_key: str, callback: dict) -> dict:
    """The request the wall's page sends for this server callback (values of a fresh page)."""
    outputs = callback["output"] if isinstance(callback["output"], list) else [callback["output"]]
    declared = [{"id": o.component_id, "property": o.component_property} for o in outputs]
    return {
        "output": callback_key,
        "outputs": declared if isinstance(callback["output"], list) else declared[0],
        "inputs": [{**dep, "value": None} for dep in callback["inputs"]],
        "state": [{**dep, "value": None} for dep in callback["state"]],
        "changedPropIds": [f"{dep['id']}.{dep['property']}" for dep in callback["inputs"]],
    }


def with_value(body: dict, field: str, index: int, value: Any) -> dict:
    body = json.loads(json.dumps(body))
    body[field][index]["value"] = value
    return body


# What no wall page sends: JSON's non-finite numbers (Python's json writes NaN/Infinity, and
# Flask reads them), numbers past a float, the wrong types.
HUGE = 10**400
BAD_VALUES = [
    float("nan"),
    float("inf"),
    float("-inf"),
    HUGE,
    -HUGE,
    1e308,
    "abc",
    "nan",
    "",
    None,
    True,
    [],
    [1, "x", None],
    {},
    {"w": float("nan"), "n": float("inf"), "t": "abc"},
    {"w": "nan"},
    {"w": "inf"},
    {"w": HUGE},
    {"w": -HUGE},
    {"w": 1e308},
    {"w": None},
    {"w": [1920]},
    {"w": {"w": 1}},
    {"page": [1], "digests": ["x"]},
    {"page": None, "digests": {"a": [1]}},
    "x" * 20_000,
]


def post(served: Served, body: Any, **kwargs: Any) -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = kwargs.pop("headers", {"Content-Type": "application/json"})
    return requests.post(served.url + CALLBACKS, data=data, headers=headers, timeout=60, **kwargs)


def test_every_input_of_every_callback_fuzzed_gets_an_answer_never_a_500(served):
    callbacks = {k: c for k, c in served.app.callback_map.items() if "callback" in c}
    assert len(callbacks) >= 7  # the page and every screen's refresh
    answers: dict[int, int] = {}
    for key, callback in callbacks.items():
        body = valid_body(key, callback)
        assert post(served, body).status_code in (200, 204), key
        for field in ("inputs", "state"):
            for index in range(len(body[field])):
                for value in BAD_VALUES:
                    response = post(served, with_value(body, field, index, value))
                    what = (key[:40], field, index, repr(value)[:40])
                    assert response.status_code < 500, (*what, response.status_code)
                    answers[response.status_code] = answers.get(response.status_code, 0) + 1
                    assert_secure_headers(response)
    assert set(answers) <= {200, 204}, answers  # well-formed requests: graceful answers
    log = served.log()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


def test_malformed_callback_requests_are_refused_with_a_4xx_naming_the_problem(served):
    key, callback = next((k, c) for k, c in served.app.callback_map.items() if "-pull.data" in
                         str(c["raw_inputs"]) and "callback" in c)  # fmt: skip
    body = valid_body(key, callback)
    cases: list[tuple[str, Any, dict, int, str]] = [
        ("not JSON", "{not json", {}, 400, "not a JSON object"),
        ("empty", "", {}, 400, "not a JSON object"),
        ("not UTF-8", b"\xff\xfe{}", {}, 400, "not a JSON object"),
        ("a list", [body], {}, 400, "not a JSON object"),
        ("a number", "NaN", {}, 400, "not a JSON object"),
        ("too many digits", "1" * 5000, {}, 400, "not a JSON object"),
        ("text/plain", json.dumps(body), {"headers": {"Content-Type": "text/plain"}}, 415, "JSON"),
        (
            "form",
            "a=b",
            {"headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "JSON",
        ),
        ("no output", {k: v for k, v in body.items() if k != "output"}, {}, 400, "'output'"),
        ("unknown output", {**body, "output": "x.y"}, {}, 400, "'output'"),
        ("output a list", {**body, "output": [1]}, {}, 400, "'output'"),
        ("clientside output", {**body, "output": "overview-pull.data"}, {}, 400, "'output'"),
        ("no inputs", {k: v for k, v in body.items() if k != "inputs"}, {}, 400, "'inputs'"),
        ("inputs not a list", {**body, "inputs": {"a": 1}}, {}, 400, "'inputs'"),
        ("an input too few", {**body, "inputs": []}, {}, 400, "'inputs'"),
        ("an input not an object", {**body, "inputs": [7]}, {}, 400, "'inputs'"),
        (
            "another component",
            {**body, "inputs": [{"id": "x", "property": "data"}]},
            {},
            400,
            "'inputs'",
        ),
        ("no state", {k: v for k, v in body.items() if k != "state"}, {}, 400, "'state'"),
        ("state of nulls", {**body, "state": [None] * len(body["state"])}, {}, 400, "'state'"),
        ("no outputs", {k: v for k, v in body.items() if k != "outputs"}, {}, 400, "'outputs'"),
        ("outputs short", {**body, "outputs": body["outputs"][:1]}, {}, 400, "'outputs'"),
        (
            "outputs of text",
            {**body, "outputs": ["a"] * len(body["outputs"])},
            {},
            400,
            "'outputs'",
        ),
        ("changed not text", {**body, "changedPropIds": [1]}, {}, 400, "'changedPropIds'"),
        ("changed an object", {**body, "changedPropIds": {"a": 1}}, {}, 400, "changedPropIds"),
        ("oversized", {**body, "pad": "x" * (MAX_REQUEST_BYTES + 1)}, {}, 413, "Too Large"),
    ]
    for what, sent, kwargs, status, message in cases:
        response = post(served, sent, **kwargs)
        assert response.status_code == status, (what, response.status_code, response.text[:300])
        assert message in response.text.replace("&#39;", "'"), (what, response.text[:300])
        assert_secure_headers(response)
    # A body sent without its length (chunked) is held to the same limit, not cut short (the
    # first 64 kB of this one are a valid request).
    chunks = iter([json.dumps(body).encode(), b" " * MAX_REQUEST_BYTES])
    response = requests.post(served.url + CALLBACKS, data=chunks, timeout=30,
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413, response.status_code
    log = served.log()
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]
    assert "refused callback request" in log  # each refusal says why, in one line
