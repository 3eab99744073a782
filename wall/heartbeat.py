"""The heartbeat of a long-running service that writes no feed_health point (the alert service,
retention): a file in `heartbeat_dir` touched after each pass it completes, read by
`python -m wall health alerts|maintain`, its container's health check, and by the wall, whose
screens say when the alert rules stopped running (layouts/alarm.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from wall.settings_core import PROJECT_DIR, Section, setting, text
from wall.writable import require_writable, require_writable_file

log = logging.getLogger(__name__)
# A service is healthy while its last pass is newer than this many of its intervals.
HEALTHY_WITHIN_INTERVALS = 3


@dataclass(frozen=True)
class HeartbeatSettings(Section):
    """Heartbeats (wall/heartbeat.py, `python -m wall health`)"""

    heartbeat_dir: str = setting(
        str(PROJECT_DIR / "data" / "heartbeat"),
        text,
        "Folder where `python -m wall alerts` and `maintain` note each pass they complete, "
        "for `python -m wall health alerts|maintain` (the container's health check). The wall "
        "reads the alert service's beat there too (every screen says when the alert rules "
        "stopped running): give the wall the same folder (docker-compose.yml shares a volume).",
    )


class Heartbeat:
    def __init__(self, settings: HeartbeatSettings, service: str):
        self.path = Path(settings.heartbeat_dir) / service

    def require_writable(self) -> None:
        """At the service's start: exit 2 with one line if it could never beat."""
        require_writable(self.path.parent, "IOC_HEARTBEAT_DIR", "note the heartbeat")
        require_writable_file(self.path, "IOC_HEARTBEAT_DIR", "note the heartbeat")

    def beat(self) -> None:
        try:
            self.path.touch()  # its modification time is the heartbeat
        except OSError as exc:  # the pass itself went well: the health check will tell
            log.warning("heartbeat not noted in %s: %s", self.path, exc)

    def age_seconds(self) -> float | None:
        """Seconds since the last beat; None if it never beat."""
        try:
            return max(0.0, time.time() - self.path.stat().st_mtime)
        except FileNotFoundError:
            return None

    def last_beat(self) -> datetime | None:
        """When the last pass completed (UTC); None if it never beat."""
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        except FileNotFoundError:
            return None


class Pulse(NamedTuple):
    """A service's last completed pass, and how often it passes."""

    last_pass: datetime | None
    every_seconds: float

    def stopped(self, now: datetime) -> bool:
        """No pass within HEALTHY_WITHIN_INTERVALS of its intervals (or none ever)."""
        if self.last_pass is None:
            return True
        return (
            now - self.last_pass
        ).total_seconds() > HEALTHY_WITHIN_INTERVALS * self.every_seconds
