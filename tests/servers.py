"""Real servers for tests (influxd, mosquitto, redis-server from Debian packages) on free ports.

Never mocks: each server is the real binary with a throw-away data folder, stopped after use.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests

INSTALL = {
    "influxd": "apt-get install -y influxdb",
    "mosquitto": "apt-get install -y mosquitto mosquitto-clients",
    "redis-server": "apt-get install -y redis-server",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if path is None:
        pytest.fail(f"{name} is not installed; install it with: {INSTALL[name]}", pytrace=False)
    return path


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ServerProcess:
    """A server binary with a config file in its own folder; start, stop and restart it."""

    def __init__(self, name: str, folder: Path, port: int):
        self.name = name
        self.folder = folder
        self.port = port
        self.process: subprocess.Popen | None = None
        self.log_path = folder / f"{name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return _port_open(self.port)

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: {self.log_path.read_text()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout} s: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


class Influxd(ServerProcess):
    def __init__(
        self,
        folder: Path,
        auth: bool = False,
        max_body_size: int | None = None,
        max_values_per_tag: int | None = None,
        retention_check: str | None = None,
    ):
        """`max_body_size` (bytes of a request as sent: gzipped) and `max_values_per_tag`:
        the server's limits, lowered so that a test reaches them (None: InfluxDB's default).
        `retention_check`: how often it removes expired shards ("1s"; default 30 minutes)."""
        super().__init__("influxd", folder, free_port())
        self.rpc_port = free_port()
        self.config = folder / "influxdb.conf"
        self.config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{folder / "meta"}"
[data]
  dir = "{folder / "data"}"
  wal-dir = "{folder / "wal"}"
  query-log-enabled = false
{"" if max_values_per_tag is None else f"  max-values-per-tag = {max_values_per_tag}"}
[retention]
  check-interval = "{retention_check or "30m"}"
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if auth else "false"}
{"" if max_body_size is None else f"  max-body-size = {max_body_size}"}
"""
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [binary("influxd"), "-config", str(self.config)]

    def query(self, statement: str, auth: tuple[bytes, bytes] | None = None) -> None:
        """InfluxQL a test runs itself, as the city's administrator would (user, password)."""
        answer = requests.post(self.url + "/query", data={"q": statement}, auth=auth, timeout=10)
        answer.raise_for_status()
        assert "error" not in answer.json()["results"][0], answer.text

    def ready(self) -> bool:
        try:
            return requests.get(self.url + "/ping", timeout=0.5).status_code == 204
        except requests.RequestException:
            return False


class Mosquitto(ServerProcess):
    def __init__(self, folder: Path):
        super().__init__("mosquitto", folder, free_port())
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"""listener {self.port} 127.0.0.1
{"user root" if os.geteuid() == 0 else ""}
allow_anonymous true
persistence true
persistence_location {folder}/
max_queued_messages 1000000
max_inflight_messages 1000
log_dest stderr
"""
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [binary("mosquitto"), "-c", str(self.config)]


class RedisServer(ServerProcess):
    """A throw-away redis-server: no persistence, its folder its own."""

    def __init__(self, folder: Path):
        super().__init__("redis-server", folder, free_port())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ready(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def command(self) -> list[str]:
        return [binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
