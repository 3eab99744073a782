"""The heartbeat of a long-running service that writes no feed_health point (the alert service,
retention): a file in `heartbeat_dir` touched after each pass it completes, read by
`python -m wall health alerts|maintain`, its container's health check."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from wall.settings_core import PROJECT_DIR, Section, setting, text
from wall.writable import require_writable, require_writable_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeartbeatSettings(Section):
    """Heartbeats (wall/heartbeat.py, `python -m wall health`)"""

    heartbeat_dir: str = setting(
        str(PROJECT_DIR / "data" / "heartbeat"),
        text,
        "Folder where `python -m wall alerts` and `maintain` note each pass they complete, "
        "for `python -m wall health alerts|maintain` (the container's health check).",
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
