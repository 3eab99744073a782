"""The wall's own settings (screens, cache, officers) and `Settings`, every part's
section joined in one object.

Code reads a setting as `settings.<name>`, whichever part declares it. To add a setting, add a
`setting(...)` field to the section of the part that uses it (its package's `settings.py`); a new
part adds its section class to the bases of `Settings`. Then run
`python scripts/update_readme_settings.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from feeds.settings import (
    IngestSettings,
    InventorySettings,
    MqttSettings,
    Open311Settings,
    PollSettings,
)
from wall.alerts.settings import AlertSettings
from wall.brief import BriefSettings
from wall.brief_mail import BriefMailSettings
from wall.city import CitySettings
from wall.heartbeat import HeartbeatSettings
from wall.i18n import LANGUAGES
from wall.notifications.settings import NotificationSettings
from wall.screen_health import ScreenHealthSettings
from wall.settings_core import (
    PROJECT_DIR,
    Section,
    boolean,
    masked_url,
    one_of,
    optional_text,
    positive_number,
    read_settings,
    section_docs,
    setting,
    text,
    whole_number,
)
from wall.store.settings import RetentionSettings, StoreSettings


def _tiles_url(value: Any) -> str | None:
    value = optional_text(value)
    if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"{value!r} must contain {{z}}, {{x}} and {{y}}")
    return value


@dataclass(frozen=True)
class ScreenSettings(Section):
    """Wall screens (layouts, callbacks, wall/app.py)"""

    language: str = setting(
        "vi", one_of(LANGUAGES), "Language of the wall: `vi` (default) or `en`."
    )
    refresh_seconds: float = setting(
        5.0, positive_number, "Auto-refresh interval of the wall screens, in seconds."
    )
    stale_after_seconds: float = setting(
        120.0,
        positive_number,
        "A tile whose newest data is older than this many seconds is shown as stale.",
    )
    history_refresh_seconds: float = setting(
        60.0,
        positive_number,
        "How long the wall reuses a 24-hour history query (timelines, curves) before asking "
        "the store again, in seconds.",
    )
    first_read_wait_seconds: float = setting(
        0.2,
        positive_number,
        "How long a refresh waits for a question the wall has no answer for yet (days of history "
        "after a start, or a history query due again) before it draws the screen without it: "
        "marked as loading (or its previous answer), filled in by a later refresh, in seconds.",
    )
    map_tiles_url: str | None = setting(
        None,
        _tiles_url,
        "Optional raster tile server for the field-report map (`https://…/{z}/{x}/{y}.png`); "
        "empty draws the map offline from coordinates alone, each report category with its own "
        "marker shape. Over tiles every marker is a circle (plotly fetches other shapes from a "
        "CDN the wall's CSP blocks): categories are then told apart by colour only.",
    )
    kiosk_reload_hours: float = setting(
        24.0,
        positive_number,
        "Every wall page (a rotating kiosk at a rotation boundary, a single screen within 30 s) "
        "reloads after this many hours, plus a random part of 5 %, and only when the server "
        "answers, so days of running never grow the browser's memory.",
    )


def _cache_url(value: Any) -> str:
    value = text(value)
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if value and parts.scheme not in ("file", "redis", "rediss"):
        raise ValueError(
            f"{shown!r} is not a cache URL; leave it empty for the default folder, or use "
            "file:///path/to/folder or redis://host:port/0"
        )
    if parts.scheme == "file" and (parts.netloc not in ("", "localhost") or not parts.path):
        raise ValueError(f"{shown!r} must name an absolute folder (file:///path/to/folder)")
    return value


@dataclass(frozen=True)
class CacheSettings(Section):
    """Query cache (wall/cache.py)"""

    cache_url: str = setting(
        "",
        _cache_url,
        "Where the wall caches query results for one refresh, shared by every worker process: "
        "empty for a folder under the system temp directory, `file:///path/to/folder`, or "
        "`redis://host:port/0` for wall replicas on several machines.",
    )


@dataclass(frozen=True)
class OfficerSettings(Section):
    """Duty officers' sign-in (wall/officer_console.py, wall/signin_limit.py)"""

    secret_key: str | None = setting(
        None,
        optional_text,
        "Key that signs officers' session cookies (at least 32 characters). Every wall replica "
        "needs the same one. Empty: read from `secret_key_file`.",
        secret=True,
    )
    secret_key_file: str = setting(
        str(PROJECT_DIR / "data" / "secret_key"),
        text,
        "File holding the session key when `secret_key` is empty; created with a random key "
        "(mode 600) when missing.",
    )
    officer_session_minutes: float = setting(
        480.0, positive_number, "A duty officer's sign-in lasts this many minutes (one shift)."
    )
    secure_cookies: bool = setting(
        False,
        boolean,
        "Send the session cookie over HTTPS only: set to true when the wall is served over TLS.",
    )
    trusted_proxies: int = setting(
        0,
        whole_number,
        "How many reverse proxies (load balancer, TLS terminator) stand in front of the wall and "
        "append the client's address to `X-Forwarded-For`: sign-in limits then count the "
        "client's own address. 0: the header is ignored (anyone could write it).",
    )


@dataclass(frozen=True)
class Settings(
    CitySettings,
    StoreSettings,
    RetentionSettings,
    ScreenSettings,
    CacheSettings,
    InventorySettings,
    MqttSettings,
    IngestSettings,
    PollSettings,
    Open311Settings,
    AlertSettings,
    NotificationSettings,
    BriefSettings,
    BriefMailSettings,
    HeartbeatSettings,
    ScreenHealthSettings,
    OfficerSettings,
):
    """Every part's section: the setting `name` is `settings.name`, IOC_NAME and `name` in the
    settings file."""


def load_settings(
    config_path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    return read_settings(Settings, config_path, environ)


def setting_docs() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, for README and --help."""
    return [line for section in Settings.__bases__ for line in section_docs(section)]
