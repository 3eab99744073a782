"""A seeded store and the wall served for real (gunicorn on a free port) for the wall's tests.

The seed follows wall/domain.py and the town's inventory: 320 cameras, 100 access points, field
reports, 17 indicators and a few alerts, with a day of history so every chart has something to
draw. It is deterministic (fixed random seed) relative to `now`.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from feeds.inventory import load_inventory
from wall.alerts.state import record
from wall.city import load_profile
from wall.domain import report_slot
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Point, Store

MINUTES_3 = timedelta(minutes=3)
INVENTORY = load_profile("hoa-thanh").inventory_path
CATEGORIES = ("traffic", "environment", "lighting", "flooding", "urban_order")
TITLES = {
    "traffic": "Đèn tín hiệu giao lộ không hoạt động",
    "environment": "Rác thải tập kết sai nơi quy định",
    "lighting": "Đèn đường bị hỏng",
    "flooding": "Ngập nước sau mưa lớn",
    "urban_order": "Lấn chiếm vỉa hè buôn bán",
}
INDICATORS = (
    ("hc-01", "hanh_chinh", "Hồ sơ giải quyết đúng hạn", 98.5, 95, "%"),
    ("hc-02", "hanh_chinh", "Hồ sơ nộp trực tuyến", 71.0, 80, "%"),
    ("hc-03", "hanh_chinh", "Mức hài lòng của người dân", 92.0, 90, "%"),
    ("gt-01", "giao_thong", "Camera giao thông hoạt động", 96.0, 95, "%"),
    ("gt-02", "giao_thong", "Tai nạn giảm so với cùng kỳ", 12.0, 10, "%"),
    ("mt-01", "moi_truong", "Rác thải được thu gom", 93.0, 95, "%"),
    ("mt-02", "moi_truong", "Hộ dùng nước sạch", 99.2, 98, "%"),
    ("yt-01", "y_te", "Tiêm chủng đầy đủ", 97.0, 95, "%"),
    ("yt-02", "y_te", "Hồ sơ sức khỏe điện tử", 88.0, 85, "%"),
    ("gd-01", "giao_duc", "Trường đạt chuẩn quốc gia", 82.0, 80, "%"),
    ("gd-02", "giao_duc", "Học sinh đi học đúng độ tuổi", 99.5, 99, "%"),
    ("an-01", "an_ninh", "Phản ánh xử lý trong 48 giờ", 64.0, 90, "%"),
    ("an-02", "an_ninh", "Khu dân cư an toàn", 30.0, 28, "khu"),
    ("kt-01", "kinh_te", "Thu ngân sách so với kế hoạch", 104.0, 100, "%"),
    ("kt-02", "kinh_te", "Doanh nghiệp thành lập mới", 41.0, 50, "DN"),
    ("sh-01", "so_hoa", "Thanh toán không dùng tiền mặt", 58.0, 60, "%"),
    ("sh-02", "so_hoa", "Điểm WiFi công cộng hoạt động", 100.0, 100, "điểm"),
)
# (rule, entity, severity, ward, facts): as wall.alerts' rules raise them.
ALERTS = (
    ("ward_cameras_offline", "Long Hoa", "critical", "Long Hoa",
     {"offline": 6, "total": 69, "percent": 8.7}),
    ("ap_over_capacity", "ap-001", "high", "Long Thành Bắc", {"clients": 262, "capacity": 250}),
    ("camera_offline", "Cầu Lý Thường Kiệt", "high", "Long Hoa", {}),
    ("report_overdue", "qlđt", "medium", None,
     {"count": 3, "oldest": "pa-0007", "hours": 48, "title": "Đèn đường không sáng",
      "unit_vi": "Phòng Kinh tế, Hạ tầng và Đô thị",
      "unit_en": "Economy, Infrastructure and Urban Office"}),
    ("feed_silent", "open311", "low", None, {}),
)  # fmt: skip


def seed(
    store: Store,
    now: datetime,
    *,
    history_hours: int = 26,
    fresh: bool = True,
    kept_alert_state: bool = True,
) -> None:
    """Write a day of plausible town data ending at `now` (stale data when fresh=False); alerts
    recorded with their kept state, or (kept_alert_state=False) only appended to the log, as a
    store of a version before the kept state holds them."""
    rng = random.Random(2026)
    inventory = load_inventory(INVENTORY, load_profile("hoa-thanh"))
    step = timedelta(minutes=15)
    steps = int(timedelta(hours=history_hours) / step)
    points: list[Point] = []
    # Cameras: most always online; a few with outages, some still going.
    flaky = {c.camera_id for c in rng.sample(inventory.cameras, 14)}
    down_now = set(rng.sample(sorted(flaky), 6))
    for cam in inventory.cameras:
        outage = (rng.randrange(steps // 3, steps - 4), rng.randrange(2, 12))
        for i in range(steps + 1):
            at = now - step * (steps - i)
            online = True
            if cam.camera_id in flaky and outage[0] <= i < outage[0] + outage[1]:
                online = False
            if cam.camera_id in down_now and i >= steps - rng.choice((2, 5, 9)):
                online = False
            points.append(_camera(cam, online, at))
    # Access points: clients follow the time of day; byte counters rise.
    for ap in inventory.access_points:
        rx = tx = rng.randrange(10**9)
        for i in range(2 * steps + 1):
            at = now - step * (2 * steps - i)
            hour = at.astimezone(UTC).hour + 7
            daytime = max(0.05, 1 - abs((hour % 24) - 15) / 10)
            clients = int(ap.capacity * daytime * rng.uniform(0.3, 0.95))
            rx += int(clients * rng.uniform(2e6, 6e6))
            tx += int(clients * rng.uniform(0.4e6, 1.5e6))
            points.append(
                Point(
                    "wifi_usage",
                    {"ap_id": ap.ap_id, "ward": ap.ward, "site": ap.site},
                    {
                        "up": ap.ap_id != "ap-007",
                        "clients": clients,
                        "rx_bytes": rx,
                        "tx_bytes": tx,
                        "capacity": ap.capacity,
                    },
                    at,
                )
            )
    # Field reports over the last two days.
    for n in range(60):
        category = CATEGORIES[n % len(CATEGORIES)]
        cam = rng.choice(inventory.cameras)
        created = now - timedelta(minutes=rng.randrange(20, 48 * 60))
        status = rng.choice(("new", "assigned", "in_progress", "resolved", "resolved", "closed"))
        updated = min(now, created + timedelta(minutes=rng.randrange(5, 600)))
        points.append(
            Point(
                "field_report",
                {"category": category, "ward": cam.ward, "report_slot": report_slot(f"pa-{n:04d}")},
                {
                    "report_id": f"pa-{n:04d}",
                    "status": status,
                    "title": f"{TITLES[category]} – {cam.name}",
                    "lat": cam.lat + rng.uniform(-0.002, 0.002),
                    "lon": cam.lon + rng.uniform(-0.002, 0.002),
                    "created": _rfc3339(created),
                    "updated": _rfc3339(updated),
                },
                updated,
            )
        )
    # Indicators: one value a day for two weeks, drifting towards today's.
    for ident, sector, name, value, target, unit in INDICATORS:
        for day in range(14, -1, -1):
            drift = value * (1 - 0.004 * day * rng.uniform(-1, 2))
            points.append(
                Point(
                    "kpi",
                    {"indicator_id": ident, "sector": sector},
                    {
                        "actual": round(drift if day else value, 1),
                        "target": float(target),
                        "unit": unit,
                        "name": name,
                        "period": "2026-11",
                    },
                    now - timedelta(days=day, minutes=1),
                )
            )
    if not fresh:
        shift = timedelta(hours=2)
        points = [Point(p.measurement, p.tags, p.fields, p.time - shift) for p in points]
    store.write(points)
    events = []
    for n, (rule, entity, severity, ward, facts) in enumerate(ALERTS):
        key = f"{rule}:{entity}"
        raised = now - timedelta(minutes=7 + 23 * n)
        data = {"severity": severity, "title": key, "ward": ward, "facts": facts, "rule": rule}
        events.append(Event.new("alerts", key, "raised", actor="system", data=data, at=raised))
        if n in (1, 4):
            events.append(
                Event.new(
                    "alerts", key, "acknowledged", actor="Nguyễn Văn An", at=raised + MINUTES_3
                )
            )
    cleared_raise = {"severity": "high", "title": "ap_down:ap-009", "rule": "ap_down"}
    events.append(Event.new("alerts", "ap_down:ap-009", "raised", data=cleared_raise, at=now))
    events.append(Event.new("alerts", "ap_down:ap-009", "acknowledged", actor="Lê Thị Hoa", at=now))
    events.append(Event.new("alerts", "ap_down:ap-009", "cleared", at=now + MINUTES_3 / 60))
    if kept_alert_state:
        record(store, events)
    else:
        store.append_events(events)


def _camera(cam, online: bool, at: datetime) -> Point:
    return Point(
        "camera_status",
        {"camera_id": cam.camera_id, "ward": cam.ward},
        {
            "online": online,
            "fps": 25.0 if online else 0.0,
            "name": cam.name,
            "lat": cam.lat,
            "lon": cam.lon,
        },
        at,
    )


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Until the wall at `url` answers /healthz; an error if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wall exited with {process.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"wall did not answer on {url} within {timeout} s")


class WallProcess:
    """`python -m wall serve` on a port, with the given environment; start/stop/restart."""

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        log_path: Path | None = None,
        workers: int = 2,
    ):
        self.env = {**os.environ, **env}
        self.port = port or free_port()
        self.log_path = log_path
        self.workers = workers
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [sys.executable, "-m", "wall", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(self.workers)],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        wait_healthy(self.url, self.process, timeout)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wall_on_sqlite(folder: Path, **env: str) -> WallProcess:
    """The wall (not started yet) serving the SQLite store folder/ioc.db, with its file cache,
    its log and the heartbeat folder it reads (folder/heartbeat: no alert service beats there
    unless the test does) in that folder; `env` adds settings."""
    return WallProcess(
        {
            "IOC_STORE": f"sqlite:///{folder / 'ioc.db'}",
            "IOC_CACHE_URL": f"file://{folder / 'cache'}",
            "IOC_HEARTBEAT_DIR": str(folder / "heartbeat"),
            **env,
        },
        log_path=folder / "wall.log",
    )


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium(
    width: int = 1920, height: int = 1080, profile: Path | None = None, flags: tuple[str, ...] = ()
):
    """Debian's headless Chromium with a fresh profile, its viewport one wall panel's size;
    `flags` adds command-line switches (a kiosk's, e.g. its autoplay policy)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    profile = profile or Path(tempfile.mkdtemp(prefix="wall-chromium-"))
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(20)
    resize(driver, width, height)
    return driver


def resize(driver, width: int, height: int) -> None:
    """The page's viewport exactly this size, as on a wall panel (no window decorations)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
