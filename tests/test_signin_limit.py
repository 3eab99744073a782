"""Sign-in limits (wall.signin_limit) on the real caches: a folder and a real redis-server.

A clock passed to the limiter moves time in the window tests; the storm tests run the wall under
gunicorn with several worker processes, as a command room does.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask, current_app

from tests.servers import RedisServer, free_port
from tests.test_deployment import _healthy, _worker_pids
from tests.test_mqtt_worker import wait_for
from wall.app import create_app
from wall.cache import REDIS_TIMEOUT_SECONDS, init_cache
from wall.officer_console import register
from wall.officers import add_officer
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.signin_limit import (
    ADDRESS_LIMIT,
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    NAME_LIMIT,
    PAIR_LIMIT,
    WINDOW_SECONDS,
    Attempt,
    SigninLimiter,
)
from wall.store import open_store

PASSWORD = "ca trực đêm 2026"
OFFICER_DESK = "10.20.0.15"


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "redis"])
def cache_url(request, tmp_path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'cache'}"
    return request.getfixturevalue("redis_server").url


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limiter(cache_url) -> Iterator[SigninLimiter]:
    """A limiter on the cache with a clock the test moves, inside an app context (where the wall
    uses it)."""
    server = Flask(__name__)
    init_cache(server, Settings(cache_url=cache_url))
    with server.app_context():
        yield SigninLimiter(Clock())


def fail(limiter: SigninLimiter, name: str, address: str) -> Attempt | float:
    """One wrong password: counted unless refused (then the seconds to wait)."""
    attempt = limiter.begin(name, address)
    if isinstance(attempt, Attempt):
        limiter.end(attempt, signed_in=False)
    return attempt


def test_the_window_slides_so_no_burst_straddles_a_clock_edge(limiter) -> None:
    # 2 s before a multiple of 300 s: the edge of the old fixed window
    limiter.clock.now = 1_800_000_000.0 - 2
    for _ in range(3):
        assert isinstance(fail(limiter, "nguyen.an", "10.0.0.9"), Attempt)
    limiter.clock.now += 4  # across the edge
    for _ in range(PAIR_LIMIT - 3):
        assert isinstance(fail(limiter, "nguyen.an", "10.0.0.9"), Attempt)
    assert fail(limiter, "nguyen.an", "10.0.0.9") == FIRST_WAIT_SECONDS


def test_a_locked_pair_waits_then_waits_twice_as_long_each_time(limiter) -> None:
    waits = []
    for _ in range(5):
        for _ in range(PAIR_LIMIT):
            assert isinstance(fail(limiter, "nguyen.an", "10.0.0.9"), Attempt)
        waits.append(fail(limiter, "nguyen.an", "10.0.0.9"))
        limiter.clock.now += waits[-1] - 1
        assert fail(limiter, "nguyen.an", "10.0.0.9") == 1  # still waiting, a second to go
        limiter.clock.now += 1
    assert waits == [300, 600, 1200, 2400, MAX_WAIT_SECONDS]


def test_a_right_password_clears_its_pair(limiter) -> None:
    for _ in range(PAIR_LIMIT - 1):
        fail(limiter, "nguyen.an", OFFICER_DESK)
    attempt = limiter.begin("nguyen.an", OFFICER_DESK)
    limiter.end(attempt, signed_in=True)
    for _ in range(PAIR_LIMIT):  # a new shift's typos start from nothing
        assert isinstance(fail(limiter, "nguyen.an", OFFICER_DESK), Attempt)
    assert fail(limiter, "nguyen.an", OFFICER_DESK) > 0


def test_strangers_failing_with_an_officers_name_do_not_lock_the_officer_out(limiter) -> None:
    strangers = [f"203.0.113.{i}" for i in range(NAME_LIMIT)]
    for address in strangers:  # the name is under attack from many addresses
        assert isinstance(fail(limiter, "nguyen.an", address), Attempt)
    # each stranger now gets one try per window at this name, however few it used
    assert all(fail(limiter, "nguyen.an", a) == FIRST_WAIT_SECONDS for a in strangers)
    officer = limiter.begin("nguyen.an", OFFICER_DESK)
    assert isinstance(officer, Attempt), "the officer's own desk is not refused"
    limiter.end(officer, signed_in=True)
    limiter.clock.now += (
        WINDOW_SECONDS + 1
    )  # the attack stops: every address has its full limit again
    for _ in range(PAIR_LIMIT):
        assert isinstance(fail(limiter, "nguyen.an", "203.0.113.200"), Attempt)


def test_one_address_trying_many_names_is_stopped(limiter) -> None:
    for i in range(ADDRESS_LIMIT):
        assert isinstance(fail(limiter, f"name{i}", "198.51.100.7"), Attempt)
    assert fail(limiter, "nguyen.an", "198.51.100.7") == FIRST_WAIT_SECONDS
    assert isinstance(fail(limiter, "nguyen.an", OFFICER_DESK), Attempt)  # others unaffected


def test_attempts_are_counted_before_the_check_so_a_burst_gets_only_the_limit(limiter) -> None:
    """40 threads starting at once, none finished (the passwords still being checked): only
    PAIR_LIMIT may go on to a check; a lock around read-check-write, not a race."""
    start = threading.Barrier(40)
    server = current_app._get_current_object()

    def begin(_) -> bool:
        with server.app_context():
            start.wait()
            return isinstance(limiter.begin("nguyen.an", "10.0.0.9"), Attempt)

    with ThreadPoolExecutor(40) as pool:
        began = list(pool.map(begin, range(40)))
    assert began.count(True) == PAIR_LIMIT


def test_with_redis_stopped_attempts_are_counted_in_the_process_and_it_says_so_once(
    redis_server, caplog
) -> None:
    server = Flask(__name__)
    init_cache(server, Settings(cache_url=redis_server.url))
    limiter = SigninLimiter()
    with server.app_context(), caplog.at_level(logging.WARNING, "wall.signin_limit"):
        assert isinstance(fail(limiter, "nguyen.an", "10.0.0.9"), Attempt)
        redis_server.stop()
        for _ in range(PAIR_LIMIT):
            assert isinstance(fail(limiter, "nguyen.an", "10.0.0.9"), Attempt)
        assert fail(limiter, "nguyen.an", "10.0.0.9") == FIRST_WAIT_SECONDS  # still limited
        redis_server.start()
        assert isinstance(fail(limiter, "nguyen.an", "10.0.0.10"), Attempt)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "cache unavailable" in lines[0] and "in this process" in lines[0]
    assert "cache back" in lines[1]
    assert not any(r.exc_info for r in caplog.records)


def test_a_frozen_redis_slows_sign_in_by_seconds_but_never_stops_it(redis_server, tmp_path):
    """Redis that takes connections but never answers (frozen, or a network cut off without a
    reset): each sign-in waits the cache's timeout, then counts in the process (redis-py 5, which
    requirements.txt allows, would wait for ever by default)."""
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        store.check()
        add_officer(store, "nguyen.an", PASSWORD)
        settings = Settings(cache_url=redis_server.url, secret_key="k" * 40)
        server = Flask(__name__)
        init_cache(server, settings)
        register(server, settings, store)
        client = server.test_client()
        form = client.get("/officer/signin").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            data = {"name": "nguyen.an", "password": PASSWORD, "csrf_token": token}
            response = client.post("/officer/signin", data=data)
            took = time.monotonic() - started
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
    assert response.status_code == 302
    assert took < 3 * REDIS_TIMEOUT_SECONDS + 2, took


# -- through the wall's HTTP -------------------------------------------------------------------


def sign_in(session, url: str, name: str, password: str, **headers: str) -> requests.Response:
    form = session.get(f"{url}/officer/signin", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = {"name": name, "password": password, "csrf_token": token}
    return session.post(
        f"{url}/officer/signin", data=data, headers=headers, allow_redirects=False, timeout=60
    )


def forwarded_sign_in(app, forwarded: str, password: str = "sai mật khẩu") -> int:
    client = app.server.test_client()
    form = client.get("/officer/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    data = {"name": "nguyen.an", "password": password, "csrf_token": token}
    headers = {"X-Forwarded-For": forwarded}
    return client.post("/officer/signin", data=data, headers=headers).status_code


def test_forwarded_addresses_count_only_behind_trusted_proxies(tmp_path) -> None:
    """With `trusted_proxies=1` each client behind the balancer has its own count; without it the
    header is ignored (anyone can write it) and every request is the proxy's address."""
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"
    with open_store(Settings(store=store_url)) as store:
        store.check()
        add_officer(store, "nguyen.an", PASSWORD)
        for proxies, separate in ((1, True), (0, False)):
            app = create_app(
                Settings(
                    store=store_url,
                    cache_url=f"file://{tmp_path / f'cache{proxies}'}",
                    secret_key="k" * 40,
                    trusted_proxies=proxies,
                ),
                store=store,
            )

            wrong = [forwarded_sign_in(app, "198.51.100.1") for _ in range(PAIR_LIMIT + 1)]
            assert wrong == [401] * PAIR_LIMIT + [429]
            officer = forwarded_sign_in(app, OFFICER_DESK, PASSWORD)
            assert officer == (302 if separate else 429), f"trusted_proxies={proxies}"


@pytest.fixture(params=["file", "redis"])
def wall(request, tmp_path) -> Iterator[tuple[str, Path, RedisServer | None]]:
    """`python -m wall serve --workers 3` behind one trusted proxy (the test), its log file, and
    its redis-server if it uses one."""
    redis_server = request.getfixturevalue("redis_server") if request.param == "redis" else None
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"
    with open_store(Settings(store=store_url)) as store:
        store.check()
        add_officer(store, "nguyen.an", PASSWORD)
    port = free_port()
    env = {
        **os.environ,
        "IOC_STORE": store_url,
        "IOC_CACHE_URL": redis_server.url if redis_server else f"file://{tmp_path / 'cache'}",
        "IOC_SECRET_KEY": "k" * 40,
        "IOC_TRUSTED_PROXIES": "1",
    }
    log_path = tmp_path / "wall.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "wall", "serve", "--port", str(port), "--workers", "3"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), 60, "wall up")
        wait_for(lambda: len(_worker_pids(process.pid)) == 3, 60, "three wall workers")
        yield url, log_path, redis_server
    finally:
        process.terminate()
        process.wait(20)


def storm(url: str, address: str, password: str, n: int = 40) -> Counter:
    """`n` sign-ins sent at once (each with its own session and form token) from `address`."""
    sessions = [requests.Session() for _ in range(n)]
    tokens = []
    for session in sessions:
        form = session.get(f"{url}/officer/signin", timeout=30).text
        tokens.append(re.search(r'name="csrf_token" value="([^"]+)"', form).group(1))
    start = threading.Barrier(n)

    def post(i: int) -> int:
        data = {"name": "nguyen.an", "password": password, "csrf_token": tokens[i]}
        start.wait()
        response = sessions[i].post(
            f"{url}/officer/signin",
            data=data,
            headers={"X-Forwarded-For": address},
            allow_redirects=False,
            timeout=120,
        )
        return response.status_code

    with ThreadPoolExecutor(n) as pool:
        return Counter(pool.map(post, range(n)))


def test_a_storm_of_wrong_passwords_on_gunicorn_gets_only_the_limit_checked(wall) -> None:
    url, log_path, _ = wall
    answers = storm(url, "203.0.113.5", "sai mật khẩu")
    assert answers == {401: PAIR_LIMIT, 429: 40 - PAIR_LIMIT}, answers
    with requests.Session() as officer:  # the officer at their desk, behind the same balancer
        response = sign_in(officer, url, "nguyen.an", PASSWORD, **{"X-Forwarded-For": OFFICER_DESK})
        assert response.status_code == 302
        assert officer.get(f"{url}/officer", timeout=30).status_code == 200
    log = log_path.read_text()
    assert "Traceback" not in log
    assert log.count("failed sign-in for 'nguyen.an' from 203.0.113.5") == PAIR_LIMIT


@pytest.mark.parametrize("wall", ["redis"], indirect=True)
def test_with_redis_stopped_officers_still_sign_in(wall) -> None:
    url, log_path, redis_server = wall
    redis_server.stop()
    with requests.Session() as officer:
        response = sign_in(officer, url, "nguyen.an", PASSWORD, **{"X-Forwarded-For": OFFICER_DESK})
        assert response.status_code == 302
        assert officer.get(f"{url}/officer", timeout=30).status_code == 200
    # Each of the 3 workers counts on its own now: at most 3 × the limit checked, never a 500.
    answers = storm(url, "203.0.113.6", "sai mật khẩu", n=30)
    assert set(answers) == {401, 429} and answers[401] <= 3 * PAIR_LIMIT, answers
    redis_server.start()
    log = log_path.read_text()
    assert "Traceback" not in log
    assert "sign-in limits: cache unavailable" in log
