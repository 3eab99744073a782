"""The deployment, checked without a container engine: docker-compose.yml parses and names the
project's services; every command in it runs here, with the compose environment mapped onto
real local servers (mosquitto with deploy/mosquitto.conf, influxd, redis-server); and the
scaled-out shapes it relies on work across processes (gunicorn workers sharing a tick through
Redis, two `feeds mqtt` processes splitting one stream).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
import yaml

from tests.browser_fixtures import WallProcess
from tests.conftest import influx_store_url
from tests.servers import Influxd, Mosquitto, RedisServer, binary, free_port
from tests.test_callbacks import update_request
from tests.test_mqtt_worker import Publisher, ids, stored, wait_for
from wall.officers import add_officer
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR, env_name
from wall.store import open_store, sqlite_path
from wall.store.sqlite import SQLiteStore

COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_DIR / "deploy" / "env.example"
CADDYFILE = PROJECT_DIR / "deploy" / "Caddyfile"
PROJECT_SERVICES = {
    "store-setup": ["python", "-m", "wall", "check"],
    "wall": ["python", "-m", "wall", "serve"],
    "mqtt-worker-1": ["python", "-m", "feeds", "mqtt"],
    "mqtt-worker-2": ["python", "-m", "feeds", "mqtt"],
    "poll-worker": ["python", "-m", "feeds", "poll"],
    "alerts": ["python", "-m", "wall", "alerts"],
    "maintain": ["python", "-m", "wall", "maintain"],
    "simulator": ["python", "-m", "feeds", "simulate"],
}
# Run once before the others (which wait for it to exit 0), not kept running.
ONE_SHOT = {"store-setup"}
# The services that use InfluxDB's administrator: they create or change retention policies.
ADMIN_SERVICES = {"store-setup", "maintain"}
KNOWN_SETTINGS = {env_name(f.name) for f in fields(Settings)}
SECRET_SETTINGS = {env_name(f.name) for f in fields(Settings) if f.metadata["secret"]}
INTERPOLATION = re.compile(r"\$(\$|\{(\w+)(?::([-?])([^}]*))?\})")


def read_env_file(path: Path) -> dict[str, str]:
    variables = {}
    for line in path.read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not name.startswith("#"):
            variables[name.strip()] = value.strip()
    return variables


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?error} and $$, as `docker compose` does."""

    def one(match: re.Match) -> str:
        if match.group(1) == "$":
            return "$"
        name, kind, extra = match.group(2), match.group(3), match.group(4)
        if variables.get(name):
            return variables[name]
        if kind == "?":
            raise AssertionError(f"compose needs {name}: {extra}")
        return extra if kind == "-" else ""

    return INTERPOLATION.sub(one, value)


def compose(variables: dict[str, str] | None = None) -> dict:
    """The compose file as `docker compose config` would see it with .env = deploy/env.example."""
    text = interpolate(COMPOSE_FILE.read_text(), variables or read_env_file(ENV_EXAMPLE))
    return yaml.safe_load(text)


def test_compose_runs_the_project_services_with_restart_policies_and_health_checks():
    services = compose()["services"]
    assert set(services) == {*PROJECT_SERVICES, "mosquitto", "influxdb", "redis", "proxy"}
    for name, command in PROJECT_SERVICES.items():
        service = services[name]
        assert service["command"][: len(command)] == command, name
        assert service["image"] == "ioc-wall:latest" and service["build"] == "."
    for name, service in services.items():
        if name in ONE_SHOT:  # done when it exits 0: neither restarted nor health-checked
            assert service["restart"] == "no" and service["healthcheck"] == {"disable": True}
            continue
        assert service["healthcheck"]["test"] and "disable" not in service["healthcheck"], name
        assert service["restart"] == "unless-stopped", name
        for needed, condition in service.get("depends_on", {}).items():
            if needed in ONE_SHOT:
                assert condition == {"condition": "service_completed_successfully"}, name
                continue
            assert condition == {"condition": "service_healthy"}, (name, needed)
            assert "healthcheck" in services[needed], (name, needed)
    for name, service in services.items():  # every user of the store starts after store-setup
        uses_store = "IOC_STORE" in service.get("environment", {}) and name not in ONE_SHOT
        if uses_store and name != "simulator":  # which publishes to the broker only
            assert "store-setup" in service["depends_on"], name
    assert services["store-setup"]["depends_on"] == {"influxdb": {"condition": "service_healthy"}}
    for name in ("mqtt-worker-1", "mqtt-worker-2", "poll-worker", "alerts", "maintain"):
        kind, *command = services[name]["healthcheck"]["test"]
        assert kind == "CMD" and command[:4] == ["python", "-m", "wall", "health"], name
    assert services["simulator"]["profiles"] == ["simulator"]
    assert "--host" in services["wall"]["command"] and "0.0.0.0" in services["wall"]["command"]
    assert int(services["wall"]["command"][services["wall"]["command"].index("--workers") + 1]) > 1
    assert services["wall"]["environment"]["IOC_CACHE_URL"].startswith("redis://redis:")
    workers = [services[f"mqtt-worker-{n}"]["environment"] for n in (1, 2)]
    assert workers[0]["IOC_MQTT_SHARED_GROUP"] == workers[1]["IOC_MQTT_SHARED_GROUP"]
    assert workers[0]["IOC_MQTT_CLIENT_ID"] != workers[1]["IOC_MQTT_CLIENT_ID"]


def test_every_environment_variable_of_the_project_services_is_a_setting():
    for name in PROJECT_SERVICES:
        environment = compose()["services"][name]["environment"]
        unknown = set(environment) - KNOWN_SETTINGS
        assert not unknown, f"{name}: not settings of wall.settings.Settings: {unknown}"
        load_settings(environ={key: str(value) for key, value in environment.items()})


def test_secrets_come_from_the_env_file_never_from_the_compose_file():
    text = COMPOSE_FILE.read_text()
    raw = yaml.safe_load(text)
    for name in PROJECT_SERVICES:
        environment = {**raw["x-ioc-settings"], **raw["services"][name]["environment"]}
        for setting in SECRET_SETTINGS & set(environment):
            assert environment[setting].startswith("${"), f"{name}: {setting} written in the file"
    required = {m.group(2) for m in INTERPOLATION.finditer(text) if m.group(3) == "?"}
    assert required <= set(read_env_file(ENV_EXAMPLE)), "deploy/env.example lacks a variable"
    with pytest.raises(AssertionError, match="IOC_SECRET_KEY"):
        compose({k: v for k, v in read_env_file(ENV_EXAMPLE).items() if k != "IOC_SECRET_KEY"})


def test_influxdb_creates_the_database_and_the_accounts_the_services_sign_in_with():
    """The influxdb service (the official 1.x image) turns authentication on and, on its first
    start, creates the database and the two accounts the project services' IOC_STORE names:
    the administrator for the two that create or change retention policies, an account that
    may only read and write the database for every other."""
    services = compose()["services"]
    influxdb = services["influxdb"]
    settings = influxdb["environment"]
    assert re.fullmatch(r"influxdb:1\.\d+", influxdb["image"])
    assert settings["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert "influxdb-data:/var/lib/influxdb" in influxdb["volumes"]
    accounts = {
        "admin": (settings["INFLUXDB_ADMIN_USER"], settings["INFLUXDB_ADMIN_PASSWORD"]),
        "services": (settings["INFLUXDB_USER"], settings["INFLUXDB_USER_PASSWORD"]),
    }
    assert accounts["admin"] != accounts["services"]
    for name in PROJECT_SERVICES:
        environment = services[name]["environment"]
        assert "IOC_INFLUX_TOKEN" not in environment, name  # 1.x before 1.8 takes no token
        store = urlsplit(environment["IOC_STORE"])
        assert (store.scheme, store.hostname, store.port) == ("influxdb", "influxdb", 8086)
        assert store.path == f"/{settings['INFLUXDB_DB']}", name
        account = accounts["admin" if name in ADMIN_SERVICES else "services"]
        assert (unquote(store.username), unquote(store.password)) == account, name
    raw = yaml.safe_load(COMPOSE_FILE.read_text())  # the passwords come from .env
    assert raw["services"]["influxdb"]["environment"]["INFLUXDB_USER_PASSWORD"].startswith("${")
    assert raw["x-ioc-settings"]["IOC_STORE"].count("${INFLUXDB_WALL_PASSWORD:?") == 1
    assert raw["x-admin-store"].count("${INFLUXDB_ADMIN_PASSWORD:?") == 1


def test_docker_compose_accepts_the_file_and_refuses_it_without_a_secret(tmp_path):
    """The file as a compose implementation reads it (Debian's docker-compose 1.29 validates
    and interpolates without a container engine)."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose is not installed: apt-get install -y docker-compose")
    shutil.copy(COMPOSE_FILE, tmp_path)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")

    def config(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [tool, "--profile", "simulator", "config", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    resolved = config()
    assert resolved.returncode == 0, resolved.stderr
    # Its output escapes $ again as $$: read it back as compose would.
    services = yaml.safe_load(resolved.stdout.replace("$$", "$"))["services"]
    ours = compose()["services"]
    assert set(services) == set(ours)
    for name, service in services.items():  # what the tests below run is what compose runs
        assert service.get("command") == ours[name].get("command"), name
        assert service.get("environment") == ours[name].get("environment"), name
    for name, service in services.items():  # none turns the image's check off
        if name not in ONE_SHOT:
            assert service["healthcheck"]["test"] not in (["NONE"], "NONE"), name
    env = read_env_file(ENV_EXAMPLE)
    (tmp_path / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in env.items() if k != "IOC_MQTT_PASSWORD")
    )
    refused = config("-q")
    assert refused.returncode != 0 and "IOC_MQTT_PASSWORD" in refused.stderr


# -- the compose services, run here ------------------------------------------------------------


def image_files(folder: Path) -> Path:
    """The project files the Dockerfile copies into /app, copied into `folder`: the services
    below run from there, so a file the image lacks fails them as it would in the container."""
    app = folder / "app"
    app.mkdir()
    for line in (PROJECT_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            source, target = line.split()[1:3]
            destination = app / target.removeprefix("./")
            if (PROJECT_DIR / source).is_dir():
                shutil.copytree(PROJECT_DIR / source, destination,
                                ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
            else:
                shutil.copy(PROJECT_DIR / source, destination)
    return app


def dockerfile_commands() -> list[str]:
    """The shell commands of the Dockerfile's RUN lines, one per `&&`."""
    text = (PROJECT_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    runs = [line.removeprefix("RUN ") for line in text.splitlines() if line.startswith("RUN ")]
    return [command.strip() for run in runs for command in run.split("&&")]


def image_user() -> str:
    return [line.split()[1] for line in (PROJECT_DIR / "Dockerfile").read_text().splitlines()
            if line.startswith("USER ")][-1]  # fmt: skip


def image_folders() -> tuple[list[str], list[str]]:
    """The folders the Dockerfile creates, and those it gives (with all below) to its user."""
    made, given = [], []
    for command in dockerfile_commands():
        words = command.split()
        if words[:2] == ["mkdir", "-p"]:
            made += words[2:]
        if words[:2] == ["chown", "-R"] and words[2].split(":")[0] == image_user():
            given += words[3:]
    return made, given


def within(path: str, folders: list[str]) -> bool:
    return any(Path(path).is_relative_to(folder) for folder in folders)


def test_dockerfile_creates_every_folder_a_service_writes_owned_by_its_user():
    """A named volume starts as a copy of the image's folder it is mounted on, owner included;
    where the image has no such folder the engine creates the mount point as root, and the
    non-root service cannot write there (the spool and poll state of issue 19)."""
    made, given = image_folders()
    for name in PROJECT_SERVICES:
        service = compose()["services"][name]
        settings = load_settings(environ={k: str(v) for k, v in service["environment"].items()})
        store = sqlite_path(settings)
        written = [
            settings.ingest_spool_dir,
            settings.poll_state_dir,
            settings.heartbeat_dir,
            Path(settings.secret_key_file).parent,
            *([store.parent] if store else []),
        ]
        for path in (str(path).replace(str(PROJECT_DIR), "/app") for path in written):
            assert within(path, given), (name, path)  # PROJECT_DIR is /app in the image
        for volume in service.get("volumes", []):
            target = volume.split(":")[1]
            assert target in made and within(target, given), (name, volume)
    assert image_user() not in ("root", "0") and within("/app/data", given)


# The services' commands run as root with no capability at all: as unprivileged as the image's
# user (a folder another user owns is as closed to it). Another user would not do here: the
# venv's interpreter on these machines lives under /root, which only root may enter.
UNPRIVILEGED = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"]
NOBODY = 65534


def test_dockerfile_builds_a_slim_non_root_image_with_a_health_check():
    lines = (PROJECT_DIR / "Dockerfile").read_text().splitlines()
    assert [line for line in lines if line.startswith("FROM ")] == ["FROM python:3.11-slim"]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    installs = " ".join(line for line in lines if "pip install" in line)
    assert "requirements.txt" in installs and "requirements-dev" not in installs


def test_the_image_command_refuses_a_data_folder_not_its_own_then_serves(tmp_path):
    """`docker run ioc-wall` (the Dockerfile's CMD, every setting at its default: the embedded
    store and the session key file in /app/data) run unprivileged from the image's files."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the test gives folders to another user")
    app = image_files(tmp_path)
    data = app / "data"
    for folder in image_folders()[0]:
        (app / folder.removeprefix("/app/")).mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"  # /app, root's in the image
    home.mkdir()
    for path in (home, data, *data.rglob("*")):
        os.chown(path, NOBODY, NOBODY)
    command = json.loads(next(line.removeprefix("CMD ") for line in
                              (PROJECT_DIR / "Dockerfile").read_text().splitlines()
                              if line.startswith("CMD ")))  # fmt: skip
    port = free_port()
    command = [sys.executable, *command[1:]]
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("8050")] = str(port)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    environment |= {"HOME": str(home), "PYTHONPATH": str(app)}

    def run() -> subprocess.Popen:
        return subprocess.Popen([*UNPRIVILEGED, *command], cwd=app, env=environment,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # fmt: skip

    refused = run()
    assert refused.wait(60) == 2
    lines = refused.stderr.read().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"wall: bad setting IOC_STORE: cannot keep the store in '{data}': Permission denied"
    )
    assert "belongs to user nobody" in lines[0]

    for path in (data, *data.rglob("*")):  # the Dockerfile's chown
        os.chown(path, os.geteuid(), os.getegid())
    wall = run()
    try:
        wait_for(lambda: _healthy(f"http://127.0.0.1:{port}"), 60, "the image's wall up")
        assert (data / "ioc.db").is_file()
        assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    finally:
        os.killpg(wall.pid, signal.SIGTERM)
        wall.wait(20)
    errors = wall.stderr.read()
    assert "Traceback" not in errors and "Permission denied" not in errors, errors


class LocalStack:
    """The compose services as local processes, run from the image's files: container host
    names and paths mapped onto ports and folders of this machine."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.app = image_files(folder)
        (folder / "influxdb").mkdir()
        # Only its ports and folders in the file: authentication comes from the service's
        # environment, as in the image (influxd reads INFLUXDB_<SECTION>_<KEY>).
        self.influxd = Influxd(folder / "influxdb")
        self.ports = {
            "mosquitto": free_port(),
            "redis": free_port(),
            "wall": free_port(),
            "open311": free_port(),
        }
        self.influx_port = self.influxd.port
        self.services = compose()["services"]
        self.processes: dict[str, subprocess.Popen] = {}
        # The image's folders (`mkdir -p` of the Dockerfile), and the home of its user: /app,
        # root's in the image, so not the services' to write.
        self.data_folders = [Path(self.local(folder)) for folder in image_folders()[0]]
        for folder in self.data_folders:
            folder.mkdir(parents=True, exist_ok=True)
        self.home = self.folder / "home"
        self.home.mkdir()
        os.chown(self.home, NOBODY, NOBODY)

    def give_data_folders(self, uid: int) -> None:
        """What `chown -R ioc:ioc` of the Dockerfile does (or, given to another, what the engine
        does to a mount point the image lacks)."""
        for folder in {self.app / "data", *self.data_folders}:
            for path in (folder, *folder.rglob("*")):
                os.chown(path, uid, uid)

    def local(self, text: str) -> str:
        for container, here in (
            ("127.0.0.1:8086", f"127.0.0.1:{self.influx_port}"),
            ("influxdb:8086", f"127.0.0.1:{self.influx_port}"),
            ("mosquitto:1883", f"127.0.0.1:{self.ports['mosquitto']}"),
            ("redis:6379", f"127.0.0.1:{self.ports['redis']}"),
            ("simulator:8311", f"127.0.0.1:{self.ports['open311']}"),
            ("/app/data", str(self.app / "data")),
            ("/mosquitto/", f"{self.folder}/mosquitto/"),
            ("-p 1883", f"-p {self.ports['mosquitto']}"),
            ("0.0.0.0", "127.0.0.1"),
        ):
            text = text.replace(container, here)
        if os.geteuid() != 0:  # the container runs as root; here the broker is ours
            text = text.replace("chown mosquitto:mosquitto", f"chown {os.getuid()}")
        return text

    def command(self, name: str) -> list[str]:
        args = [self.local(arg) for arg in self.services[name]["command"]]
        ports = {"8050": self.ports["wall"], "8311": self.ports["open311"]}
        return [str(ports.get(arg, arg)) for arg in args]

    def environment(self, name: str) -> dict[str, str]:
        environment = self.services[name].get("environment", {})
        return {
            **os.environ,
            "PATH": f"{os.environ['PATH']}:/usr/sbin",
            "PYTHONPATH": str(self.app),
            **({"HOME": str(self.home)} if name in PROJECT_SERVICES else {}),
            **{key: self.local(str(value)) for key, value in environment.items()},
        }

    def start(
        self, name: str, command: list[str] | None = None, log_name: str | None = None
    ) -> subprocess.Popen:
        """The service's command; the project's run unprivileged, as the image's user."""
        command = command or self.command(name)
        if command[0] == "python":
            command = [sys.executable, *command[1:]]
        if name in PROJECT_SERVICES:
            command = [*UNPRIVILEGED, *command]
        log = (self.folder / f"{log_name or name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=self.app,
            env=self.environment(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def healthcheck(self, name: str, **environment: str) -> subprocess.CompletedProcess:
        """The service's health check, run in its environment (and as its user)."""
        kind, *test = self.services[name]["healthcheck"]["test"]
        args = ["sh", "-c", self.local(test[0])] if kind == "CMD-SHELL" else test
        args = [self.local(arg) for arg in args]
        if args[0] == "redis-cli":
            args = [args[0], "-p", str(self.ports["redis"]), *args[1:]]
        if args[0] == "python":
            args = [sys.executable, *args[1:]]
            for port in ("8050", "8311"):
                service = "wall" if port == "8050" else "open311"
                args[-1] = args[-1].replace(f":{port}/", f":{self.ports[service]}/")
        if name in PROJECT_SERVICES:
            args = [*UNPRIVILEGED, *args]
        return subprocess.run(
            args,
            cwd=self.app,
            env={**self.environment(name), **environment},
            capture_output=True,
            text=True,
            timeout=30,
        )

    def start_broker(self) -> None:
        config = self.folder / "mosquitto" / "config" / "mosquitto.conf"
        for sub in ("config", "auth", "data"):  # volumes of the mosquitto service
            (self.folder / "mosquitto" / sub).mkdir(parents=True, exist_ok=True)
        text = (PROJECT_DIR / "deploy" / "mosquitto.conf").read_text()
        text = text.replace("listener 1883", f"listener {self.ports['mosquitto']} 127.0.0.1")
        config.write_text(self.local(text) + ("user root\n" if os.geteuid() == 0 else ""))
        self.start("mosquitto")
        wait_for(lambda: self.healthcheck("mosquitto").returncode == 0, 15, "mosquitto healthy")

    def start_influxdb(self) -> None:
        """The influxdb service on its first start: influxd with the service's environment,
        the image's init, then its health check passes."""
        self.start("influxdb", [binary("influxd"), "-config", str(self.influxd.config)])
        wait_for(self.influxd.ready, 30, "influxd answers")
        for auth, statement in influxdb_image_init(self.services["influxdb"]["environment"]):
            self.influxd.query(statement, auth)
        wait_for(lambda: self.healthcheck("influxdb").returncode == 0, 15, "influxdb healthy")

    def run_once(self, name: str, log_name: str | None = None) -> subprocess.Popen:
        """A one-shot service (or a service that is to stop): started, waited for."""
        process = self.start(name, log_name=log_name)
        process.wait(90)
        del self.processes[name]
        return process

    def stop(self) -> None:
        for name, process in reversed(self.processes.items()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise AssertionError(f"{name} did not stop on SIGTERM") from None


def influxdb_image_init(environment: dict[str, str]) -> list[tuple[tuple | None, str]]:
    """(credentials, statement) the official influxdb:1.x image runs on its first start with
    these variables: its /init-influxdb.sh (influxdata/influxdata-docker, influxdb/1.11, commit
    d457cb9) with authentication on, an admin user, INFLUXDB_DB and INFLUXDB_USER set. The image
    itself (and its init) was never run here."""
    admin, admin_password = (
        environment["INFLUXDB_ADMIN_USER"],
        environment["INFLUXDB_ADMIN_PASSWORD"],
    )
    user, password = environment["INFLUXDB_USER"], environment["INFLUXDB_USER_PASSWORD"]
    database = environment["INFLUXDB_DB"]
    auth = (admin.encode(), admin_password.encode())
    return [
        (None, f"CREATE USER \"{admin}\" WITH PASSWORD '{admin_password}' WITH ALL PRIVILEGES"),
        (auth, f"CREATE DATABASE {database}"),
        (auth, f"CREATE USER \"{user}\" WITH PASSWORD '{password}'"),
        (auth, f'REVOKE ALL PRIVILEGES FROM "{user}"'),
        (auth, f'GRANT ALL ON "{database}" TO "{user}"'),
    ]


def stack_account(stack: LocalStack, name: str) -> tuple[str, str]:
    """The InfluxDB user and password of a project service's IOC_STORE."""
    store = urlsplit(stack.services[name]["environment"]["IOC_STORE"])
    return unquote(store.username), unquote(store.password)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("stack"))
    try:
        yield stack
    finally:
        stack.stop()


def test_broker_config_keeps_queued_messages_of_a_disconnected_worker_beyond_1000(stack):
    """deploy/mosquitto.conf on a real mosquitto: a worker that is down misses nothing."""
    passwords = stack.folder / "mosquitto" / "auth" / "passwd"
    passwords.parent.mkdir(parents=True)
    subprocess.run(["mosquitto_passwd", "-c", "-b", passwords, "gateway-1", "s3cret"], check=True)
    stack.start_broker()  # as at a restart: the file holds an account added by the operator
    env = stack.environment("mqtt-worker-1")
    user, password = env["IOC_MQTT_USERNAME"], env["IOC_MQTT_PASSWORD"]
    port = str(stack.ports["mosquitto"])
    gateway = ["mosquitto_pub", "-p", port, "-u", "gateway-1", "-P", "s3cret", "-t", "ioc/x"]
    assert subprocess.run([*gateway, "-m", "1"], timeout=10).returncode == 0, "account kept"
    anonymous = subprocess.run(
        ["mosquitto_pub", "-p", port, "-t", "ioc/x", "-m", "1"], capture_output=True, timeout=10
    )
    assert anonymous.returncode != 0, "the broker refuses anonymous clients"
    login = ["-p", port, "-u", user, "-P", password, "-q", "1"]
    session = ["-i", f"worker-{uuid.uuid4().hex[:6]}", "-c", "-t", "queued/#"]
    subscribed = subprocess.run(
        ["mosquitto_sub", *login, *session, "-E"], capture_output=True, timeout=10
    )
    assert subscribed.returncode == 0, subscribed.stderr
    lines = "".join(f"{n}\n" for n in range(2500))  # the worker is away: 2,500 messages
    published = subprocess.run(
        ["mosquitto_pub", *login, "-t", "queued/x", "-l"], input=lines.encode(), timeout=30
    )
    assert published.returncode == 0
    back = subprocess.run(
        ["mosquitto_sub", *login, *session, "-C", "2500", "-W", "15"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert back.stdout.split() == [str(n) for n in range(2500)], back.stderr


# What each service writes in the image's folders, and the setting naming it.
WRITES = {
    "mqtt-worker-1": ("IOC_INGEST_SPOOL_DIR", "/app/data/spool/ioc-mqtt-1"),
    "mqtt-worker-2": ("IOC_INGEST_SPOOL_DIR", "/app/data/spool/ioc-mqtt-2"),
    "poll-worker": ("IOC_POLL_STATE_DIR", "/app/data/poll"),
    "alerts": ("IOC_HEARTBEAT_DIR", "/app/data/heartbeat"),
    "maintain": ("IOC_HEARTBEAT_DIR", "/app/data/heartbeat"),
}


def test_every_compose_command_runs_here_and_does_its_job(stack):
    """Every project service runs unprivileged, as the image's user: given folders that are not
    its own (as a volume mounted where the image has no folder is root's), a service that must
    write there refuses to start, in one line naming the setting, the folder and its owner (exit
    2); once the folders are its own, as the Dockerfile makes them, every service starts and does
    its job, and every health check passes."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the test gives folders to another user")
    if "mosquitto" not in stack.processes:
        stack.start_broker()
    stack.start("redis", [*stack.command("redis"), "--port", str(stack.ports["redis"]),
                          "--bind", "127.0.0.1", "--dir", str(stack.folder)])  # fmt: skip
    wait_for(lambda: stack.healthcheck("redis").returncode == 0, 10, "redis healthy")

    stack.give_data_folders(NOBODY)
    refused = {name: stack.start(name, log_name=f"{name}-refused") for name in WRITES}
    for name, (setting, folder) in WRITES.items():
        assert refused[name].wait(60) == 2, name
        lines = stack.log(f"{name}-refused").splitlines()
        prog = stack.services[name]["command"][2]
        assert len(lines) == 1 and lines[0].startswith(f"{prog}: bad setting {setting}: "), lines
        assert f"'{stack.local(folder)}'" in lines[0], lines
        assert "Permission denied" in lines[0] and "belongs to user nobody" in lines[0], lines
    stack.give_data_folders(os.geteuid())

    # InfluxDB as on its first start: authentication on, database and accounts made by the
    # image's init. Before store-setup, the services' account may not create the retention
    # policies: each service using it stops with one line naming the statement.
    stack.start_influxdb()
    influx = f"http://127.0.0.1:{stack.influx_port}"
    anonymous = requests.get(f"{influx}/query", params={"q": "SHOW DATABASES"}, timeout=10)
    assert anonymous.status_code == 401, "InfluxDB demands authentication"
    before_setup = [name for name in PROJECT_SERVICES
                    if name not in ADMIN_SERVICES and name != "simulator"]  # fmt: skip
    refused = {name: stack.start(name, log_name=f"{name}-before-setup") for name in before_setup}
    for name, process in refused.items():
        assert process.wait(90) == 2, (name, stack.log(f"{name}-before-setup")[-2000:])
        output = stack.log(f"{name}-before-setup")
        prog = stack.services[name]["command"][2]
        # One line besides the log of what it did first (the alert service signs in to the
        # broker before it reads the store): no warning, no error, no traceback.
        lines = [line for line in output.splitlines() if not re.match(r"\S+ \S+ INFO ", line)]
        assert len(lines) == 1 and "Traceback" not in output, (name, output)
        assert lines[0].startswith(
            f"{prog}: bad setting IOC_STORE: InfluxDB database ioc has no retention policy raw_"
        ), lines
        assert "requires admin privilege" in lines[0], lines
        assert "an administrator creates it with CREATE RETENTION POLICY raw_" in lines[0], lines
    setup = stack.run_once("store-setup")
    assert setup.returncode == 0, stack.log("store-setup")[-3000:]
    assert "store ready: influxdb://admin:***@" in stack.log("store-setup")
    made = requests.get(f"{influx}/query", params={"q": "SHOW RETENTION POLICIES ON ioc"},
                        auth=stack_account(stack, "wall"), timeout=10).json()  # fmt: skip
    policies = {row[0] for row in made["results"][0]["series"][0]["values"]}
    raw = {"raw_camera_status", "raw_screen_health", "raw_wifi_usage"}
    assert policies == {"autogen", *raw, "rollup_5m", "rollup_1h"}
    # Why `maintain` is the administrator: the services' account may not change a duration.
    alter = "ALTER RETENTION POLICY rollup_5m ON ioc DURATION 40d"
    altered = requests.post(f"{influx}/query", auth=stack_account(stack, "wall"), timeout=10,
                            data={"q": alter})  # fmt: skip
    assert altered.status_code == 403 and "requires admin privilege" in altered.text

    for name in ("mqtt-worker-1", "mqtt-worker-2", "alerts", "maintain", "wall", "simulator"):
        stack.start(name)
    wait_for(lambda: _port_open(stack.ports["open311"]), 30, "simulator serves Open311")
    stack.start("poll-worker")
    wait_for(lambda: stack.healthcheck("wall").returncode == 0, 30, "wall healthy")
    for name in set(PROJECT_SERVICES) - ONE_SHOT:
        wait_for(lambda n=name: stack.healthcheck(n).returncode == 0, 60, f"{name} healthy")
    # The wall writes nothing: not even gunicorn's control socket in a home not its own.
    assert "Permission denied" not in stack.log("wall"), stack.log("wall")[-2000:]
    # An alert service stuck for 4 of its intervals (15 s) turns unhealthy.
    os.killpg(stack.processes["alerts"].pid, signal.SIGSTOP)
    try:
        long_ago = time.time() - 4 * 15
        os.utime(stack.app / "data" / "heartbeat" / "alerts", (long_ago, long_ago))
        stale = stack.healthcheck("alerts")
    finally:
        os.killpg(stack.processes["alerts"].pid, signal.SIGCONT)
    assert stale.returncode == 1 and "alerts: last pass completed 6" in stale.stderr, stale.stderr
    assert requests.get(f"http://127.0.0.1:{stack.ports['wall']}/healthz", timeout=5).ok
    environment = stack.environment("wall")
    with open_store(Settings(store=environment["IOC_STORE"])) as store:

        def latest(measurement: str, key: str):
            frame = store.latest(measurement, key)
            return frame.set_index(key) if not frame.empty else frame

        wait_for(lambda: len(latest("camera_status", "camera_id")) >= 300, 60, "cameras stored")
        screen = requests.post(
            f"http://127.0.0.1:{stack.ports['wall']}/_dash-update-component",
            json=update_request("cameras"),
            timeout=30,
        )
        assert screen.status_code == 200  # drawn from InfluxDB, through Redis
        both = {"mqtt:ioc-mqtt-1", "mqtt:ioc-mqtt-2"}
        wait_for(lambda: both <= set(latest("feed_health", "feed").index), 30, "workers' health")
        for worker in ("mqtt-worker-1", "mqtt-worker-2"):
            assert stack.healthcheck(worker).returncode == 0, stack.healthcheck(worker).stderr
        absent = stack.healthcheck("mqtt-worker-1", IOC_MQTT_CLIENT_ID="ioc-mqtt-never-ran")
        assert (
            absent.returncode == 1 and "no feed_health of mqtt:ioc-mqtt-never-ran" in absent.stderr
        )
        unreachable = stack.healthcheck(
            "mqtt-worker-1",
            IOC_STORE=f"influxdb://127.0.0.1:{free_port()}/ioc",
            IOC_INFLUX_RETRIES="0",
        )
        assert unreachable.returncode == 1 and "store not reachable" in unreachable.stderr
        assert "Traceback" not in absent.stderr + unreachable.stderr
        health = latest("feed_health", "feed")
        assert health.loc["mqtt:ioc-mqtt-1", "received"] > 0
        assert health.loc["mqtt:ioc-mqtt-2", "received"] > 0, "the shared group splits the stream"
        wait_for(lambda: len(latest("field_report", "report_id")) > 0, 30, "reports polled")
        reports = latest("field_report", "report_id")
        assert all(str(r).startswith("311-") for r in reports.index), "came through Open311"
    alerts = stack.log("alerts")
    assert "evaluating alert rules" in alerts and "connected to mqtt://" in alerts
    assert "retention pass done" in stack.log("maintain")
    assert "cannot read the store" not in stack.log("wall")
    for name, process in stack.processes.items():
        assert process.poll() is None, f"{name} exited: {stack.log(name)[-2000:]}"
        assert "Traceback" not in stack.log(name), stack.log(name)[-3000:]
    passwords = [stack_account(stack, name)[1] for name in ("wall", "maintain")]
    for log in stack.folder.glob("*.log"):  # the store's passwords are never printed
        assert not any(password in log.read_text() for password in passwords), log.name
    assert stack.healthcheck("mosquitto").returncode == 0
    stack.stop()
    for name, process in stack.processes.items():
        assert process.returncode in (0, -signal.SIGTERM), f"{name}: {process.returncode}"


def test_maintain_changes_a_duration_as_the_administrator_and_only_as_one(tmp_path):
    """Why `maintain` signs in as InfluxDB's administrator: a changed duration is an ALTER
    RETENTION POLICY. With the compose file's accounts on an influxd demanding authentication
    (initialised as the image does), the read-write account is refused in one line saying what
    to do; the administrator changes it."""
    services = compose()["services"]
    (tmp_path / "influxd").mkdir()
    server = Influxd(tmp_path / "influxd", auth=True)
    server.start()
    try:
        for auth, statement in influxdb_image_init(services["influxdb"]["environment"]):
            server.query(statement, auth)

        def run(name: str, command: list[str], **settings: str) -> subprocess.CompletedProcess:
            environment = {**services[name]["environment"], **settings}
            local = {k: str(v).replace("influxdb:8086", f"127.0.0.1:{server.port}")
                     for k, v in environment.items()}  # fmt: skip
            return subprocess.run(
                [sys.executable, *command[1:]],
                cwd=PROJECT_DIR,
                env={**os.environ, **local, "IOC_HEARTBEAT_DIR": str(tmp_path / "heartbeat")},
                capture_output=True,
                text=True,
                timeout=120,
            )

        assert run("store-setup", services["store-setup"]["command"]).returncode == 0
        once = [*services["maintain"]["command"], "--once"]
        longer = {"IOC_RETENTION_5M_ROLLUP_DAYS": "40"}
        refused = run("maintain", once, IOC_STORE=services["wall"]["environment"]["IOC_STORE"],
                      **longer)  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        lines = [line for line in refused.stderr.splitlines()
                 if not re.match(r"\S+ \S+ INFO ", line)]  # fmt: skip
        assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert lines[0].startswith(
            "wall: bad setting IOC_STORE: InfluxDB database ioc refused to change retention "
            "policy rollup_5m from 31 days to 40 days"
        ), lines
        assert "requires admin privilege" in lines[0] and "ALTER RETENTION POLICY" in lines[0]
        changed = run("maintain", once, **longer)
        assert changed.returncode == 0, changed.stderr
        assert "retention policy rollup_5m now keeps points 40 days (was 31 days)" in changed.stderr
    finally:
        server.stop()


# -- scaled out: processes sharing work -----------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path) -> Iterator[str]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _connected_to(pid: int, port: int) -> bool:
    """Has process `pid` a TCP connection to 127.0.0.1:`port`? (from /proc, no extra package)"""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            sockets.add(target[8:-1])
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if int(columns[2].split(":")[1], 16) == port and columns[9] in sockets:
            return True
    return False


def test_wall_worker_processes_share_one_tick_through_redis(tmp_path, redis_server):
    """`python -m wall serve` with 3 gunicorn workers: a screen's tick is queried once, by
    whichever worker comes first, and the other workers answer it from Redis."""
    (tmp_path / "influxd").mkdir()
    influx = Influxd(tmp_path / "influxd")
    influx.config.write_text(
        influx.config.read_text().replace("query-log-enabled = false", "query-log-enabled = true")
    )
    influx.start()
    store_url = f"influxdb://127.0.0.1:{influx.port}/ioc"
    with open_store(Settings(store=store_url)) as store:
        store.check()  # creates the database, as the influxdb image does on its first start
    port = free_port()
    env = {
        **os.environ,
        "IOC_STORE": store_url,
        "IOC_CACHE_URL": redis_server,
        "IOC_REFRESH_SECONDS": "600",
        "IOC_HISTORY_REFRESH_SECONDS": "600",
    }
    wall = subprocess.Popen(
        [sys.executable, "-m", "wall", "serve", "--port", str(port), "--workers", "3"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=(tmp_path / "wall.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), 30, "wall up")
        # One worker answering is not all three booted (a loaded machine starts them slowly).
        wait_for(lambda: len(_worker_pids(wall.pid)) == 3, 30, "three wall workers")
        if 600 - time.time() % 600 < 20:  # the whole test within one tick
            time.sleep(600 - time.time() % 600 + 0.1)

        def queries() -> int:
            log = influx.log_path.read_text(errors="replace")
            return len(re.findall(r'msg="Executing query" .* query="SELECT', log))

        request = update_request("cameras")
        before = queries()
        first = requests.post(f"{url}/_dash-update-component", json=request, timeout=30)
        assert first.status_code == 200
        one_tick = queries() - before
        assert one_tick > 0, "the first asker queries the store"

        def ask(_) -> int:
            with requests.Session() as session:  # a new connection: any worker may take it
                response = session.post(f"{url}/_dash-update-component", json=request, timeout=30)
            return response.status_code

        pids = _worker_pids(wall.pid)
        redis_port = int(redis_server.rsplit(":", 1)[1].split("/")[0])
        for _ in range(20):  # until at least two worker processes have answered
            with ThreadPoolExecutor(12) as pool:
                assert set(pool.map(ask, range(24))) == {200}
            answered = [pid for pid in pids if _connected_to(pid, redis_port)]
            if len(answered) >= 2:
                break
        assert len(pids) == 3 and len(answered) >= 2, (pids, answered)
        assert queries() - before == one_tick, "other workers answered from Redis"
        assert (
            first.json()
            == requests.post(f"{url}/_dash-update-component", json=request, timeout=30).json()
        )
    finally:
        wall.terminate()
        wall.wait(20)
        influx.stop()
    assert "Traceback" not in (tmp_path / "wall.log").read_text()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def test_two_mqtt_worker_processes_split_one_stream_without_loss_or_doubles(
    mosquitto: Mosquitto, influxd: Influxd, tmp_path: Path
):
    store_url = influx_store_url(influxd)
    group = f"g{uuid.uuid4().hex[:6]}"
    client_ids = [f"split-{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2)]
    workers = []
    for client_id in client_ids:
        env = {
            **os.environ,
            "IOC_STORE": store_url,
            "IOC_MQTT_URL": mosquitto.url,
            "IOC_MQTT_CLIENT_ID": client_id,
            "IOC_MQTT_SHARED_GROUP": group,
            "IOC_INGEST_SPOOL_DIR": str(tmp_path / "spool"),
            "IOC_INGEST_BATCH_SECONDS": "0.1",
            "IOC_FEED_HEALTH_SECONDS": "0.5",
        }
        log = tmp_path / f"{client_id}.log"
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "feeds", "mqtt"],
                cwd=PROJECT_DIR,
                env=env,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    publisher = Publisher(mosquitto.port)
    try:
        for client_id in client_ids:
            wait_for(lambda c=client_id: "connected to" in (tmp_path / f"{c}.log").read_text(), 15)
        time.sleep(0.5)  # the subscription follows the connection
        for camera_id in ids(0, 3000):
            publisher.camera(camera_id)
        with open_store(Settings(store=store_url)) as store:
            wait_for(lambda: len(stored(store)) == 3000, 30, "every message stored")

            def received() -> dict[str, float]:
                frame = store.latest("feed_health", "feed")
                return dict(zip(frame["feed"], frame["received"], strict=True))

            wait_for(lambda: sum(received().values()) >= 3000, 15, "health counted all")
            time.sleep(1.2)  # two more health intervals: a late double would show
            counts = received()
            assert len(stored(store)) == 3000
    finally:
        publisher.close()
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(20)
    assert set(counts) == {f"mqtt:{c}" for c in client_ids}
    assert sum(counts.values()) == 3000, counts  # each message went to one worker only
    assert min(counts.values()) > 0, counts  # and both took a share
    assert all(worker.returncode == 0 for worker in workers)


# -- the HTTPS proxy ------------------------------------------------------------------------------


def test_the_proxy_serves_the_wall_over_https_only_with_hsts_and_secure_cookies(tmp_path):
    """The `proxy` service's own command and deploy/Caddyfile on Debian's caddy (2.6), in front
    of a wall with the compose file's web settings: its ports and the wall's address mapped onto
    free local ones, Caddy's internal CA trusted by the client."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail("caddy is not installed: apt-get install -y caddy", pytrace=False)
    services = compose()["services"]
    assert "ports" not in services["wall"], "the wall is reached through the proxy only"
    proxy = services["proxy"]
    assert {"./deploy/Caddyfile:/etc/caddy/Caddyfile:ro", "caddy-data:/data"} <= set(
        proxy["volumes"]
    )
    assert [p.rsplit(":", 1)[1] for p in proxy["ports"]] == ["80", "443"]

    wall_settings = services["wall"]["environment"]
    assert wall_settings["IOC_SECURE_COOKIES"] == "true"
    store = SQLiteStore(tmp_path / "ioc.db")
    add_officer(store, "le.an", "Ca trực chiều 2026")
    store.close()
    wall = WallProcess(
        {
            "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}",
            "IOC_SECRET_KEY": wall_settings["IOC_SECRET_KEY"],
            "IOC_SECURE_COOKIES": wall_settings["IOC_SECURE_COOKIES"],
            "IOC_CACHE_URL": f"file://{tmp_path / 'cache'}",
        },
        log_path=tmp_path / "wall.log",
    )
    http_port, https_port, health_port = free_port(), free_port(), free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        CADDYFILE.read_text()
        .replace("\n{\n", f"\n{{\n\thttp_port {http_port}\n\thttps_port {https_port}\n", 1)
        .replace("127.0.0.1:2080", f"127.0.0.1:{health_port}")
        .replace("wall:8050", f"127.0.0.1:{wall.port}")
    )
    command = [caddy, *proxy["command"][1:]]
    command[command.index("/etc/caddy/Caddyfile")] = str(config)
    environment = {
        **os.environ,
        **proxy["environment"],
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),  # the container's /data
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    log = (tmp_path / "caddy.log").open("ab")
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    site = f"https://{proxy['environment']['WALL_SITE']}:{https_port}"
    root = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        wall.start()

        def answers() -> bool:
            try:
                return root.exists() and requests.get(f"{site}/healthz", verify=root).ok
            except requests.RequestException:
                return False

        wait_for(answers, 30, "the wall through the proxy")
        kind, *check = proxy["healthcheck"]["test"]
        check[-1] = check[-1].replace(":2080/", f":{health_port}/")
        assert kind == "CMD" and subprocess.run(check, timeout=10).returncode == 0

        answer = requests.get(f"{site}/overview", verify=root, timeout=10)
        assert answer.ok and answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]

        plain = requests.get(f"http://localhost:{http_port}/kiosk?layouts=overview",
                             allow_redirects=False, timeout=10)  # fmt: skip
        assert plain.status_code in (301, 308)
        # To the standard HTTPS port, the container's 443 (the test's is mapped elsewhere).
        assert plain.headers["Location"] == "https://localhost/kiosk?layouts=overview"

        # An officer signs in over HTTPS: the session cookie is Secure, and the console's
        # same-origin check holds through the proxy (the Host header goes through unchanged).
        browser = requests.Session()
        form = browser.get(f"{site}/officer/signin", verify=root, timeout=10)
        cookie = form.headers["Set-Cookie"]
        assert cookie.startswith("ioc_officer=") and "; Secure" in cookie, cookie
        assert "; HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        signed_in = browser.post(
            f"{site}/officer/signin",
            data={"csrf_token": token, "name": "le.an", "password": "Ca trực chiều 2026"},
            headers={"Origin": site},
            verify=root,
            timeout=10,
        )
        assert signed_in.url == f"{site}/officer" and "le.an" in signed_in.text
        assert "Traceback" not in wall.log_path.read_text()
    finally:
        wall.stop()
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
