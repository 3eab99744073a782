"""Every wall page reports its own health: what a heartbeat says, how it is checked, and how the
officers' console lists the screens.

Each wall page (a rotating kiosk or a single screen; assets/wall.js) posts a heartbeat every
`screen_heartbeat_seconds` to `POST /api/screens/heartbeat` (wall/screen_api.py): its URL, its
name (the URL's `?screen=`, else `browser:<id>` of an id its browser keeps in localStorage), how
long the page has run, how long ago its last refresh succeeded, how often it lost the server and
got it back, and its JS heap where the browser tells it. Each kept one is a `screen_health`
point (wall/domain.py) in the store, so every wall replica sees every screen; the alert rule
`screen_silent` (wall/alerts/rules.py) raises when a named screen falls silent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from wall.domain import SCREEN_HEALTH
from wall.settings_core import Section, setting

# A screen's name in `?screen=`: letters (Vietnamese too), digits, '-', '_', '.'.
SCREEN_NAME = re.compile(r"[^\W_][\w.-]{0,63}")
BROWSER_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
MAX_URL_CHARS = 2000
MAX_SECONDS = 10 * 366 * 86_400  # ten years: more is not a page's age
MAX_COUNT = 2**53  # what a browser's number holds exactly
FIELDS = ("screen", "browser", "url", "uptime_s", "refresh_age_s", "reconnects", "heap_bytes")
# The server keeps at most one heartbeat per screen per this share of the interval.
KEPT_AT_MOST_EVERY = 0.5


def heartbeat_seconds(value: Any) -> float:
    number = float(value)
    if not (math.isfinite(number) and 5 <= number <= 3600):
        raise ValueError(f"must be a number of seconds from 5 to 3600, not {value!r}")
    return number


@dataclass(frozen=True)
class ScreenHealthSettings(Section):
    """Screen heartbeats (wall/screen_health.py, `/officer/screens`)"""

    screen_heartbeat_seconds: float = setting(
        60.0,
        heartbeat_seconds,
        "How often each wall page (kiosk or single screen) reports its health to the wall "
        "(`POST /api/screens/heartbeat`), in seconds (5–3600), give or take a tenth at random; "
        "the wall keeps at most one report per screen per half of it. A named screen "
        "(`?screen=`) silent for the `screen_silent` alert rule's `minutes` (5) raises an alert "
        "(docs/alerts.md): keep those above twice this.",
    )


class BadHeartbeat(ValueError):
    """A heartbeat that cannot be kept; `field` names what was wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Heartbeat:
    screen: str  # the name, or browser:<id>
    named: bool
    url: str
    uptime_s: float
    refresh_age_s: float | None
    reconnects: int
    heap_bytes: int | None

    def fields(self) -> dict[str, Any]:
        values = {
            "named": self.named,
            "url": self.url,
            "uptime_s": self.uptime_s,
            "refresh_age_s": self.refresh_age_s,
            "reconnects": self.reconnects,
            "heap_bytes": self.heap_bytes,
        }
        return {k: v for k, v in values.items() if v is not None}


def screen_name_problem(name: str) -> str | None:
    """Why `name` cannot name a screen, or None."""
    if not SCREEN_NAME.fullmatch(name):
        return (
            "a screen's name is 1 to 64 letters, digits, '-', '_' or '.', starting with a "
            "letter or digit"
        )
    return None


def parse_heartbeat(body: Any) -> Heartbeat:
    """A heartbeat's JSON body, checked field by field; BadHeartbeat naming the first bad one."""
    if not isinstance(body, Mapping):
        raise BadHeartbeat("body", "must be a JSON object")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadHeartbeat(unknown[0], f"unknown field; known: {', '.join(FIELDS)}")
    screen = body.get("screen")
    if screen is not None:
        if not isinstance(screen, str):
            raise BadHeartbeat("screen", "must be text")
        if problem := screen_name_problem(screen):
            raise BadHeartbeat("screen", f"{problem}, not {screen[:80]!r}")
    browser = body.get("browser")
    if not isinstance(browser, str) or not BROWSER_ID.fullmatch(browser):
        raise BadHeartbeat("browser", "must be an id of 8 to 64 letters, digits or '-'")
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadHeartbeat("url", "must be the page's http:// or https:// address")
    if len(url) > MAX_URL_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadHeartbeat("url", f"must be at most {MAX_URL_CHARS} characters, none a control")
    return Heartbeat(
        screen=screen if screen is not None else f"browser:{browser}",
        named=screen is not None,
        url=url,
        uptime_s=_seconds(body, "uptime_s", required=True),
        refresh_age_s=_seconds(body, "refresh_age_s", required=False),
        reconnects=_count(body, "reconnects", required=True),
        heap_bytes=_count(body, "heap_bytes", required=False),
    )


def _number(body: Mapping, key: str, required: bool) -> float | int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise BadHeartbeat(key, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadHeartbeat(key, f"must be a number, not {value!r}")
    return value


def _seconds(body: Mapping, key: str, required: bool) -> float | None:
    value = _number(body, key, required)
    if value is not None and not 0 <= value <= MAX_SECONDS:
        raise BadHeartbeat(key, f"must be seconds from 0 to {MAX_SECONDS}, not {value!r}")
    return None if value is None else float(value)


def _count(body: Mapping, key: str, required: bool) -> int | None:
    value = _number(body, key, required)
    if value is not None and (value != int(value) or not 0 <= value <= MAX_COUNT):
        raise BadHeartbeat(key, f"must be a whole number from 0 to {MAX_COUNT}, not {value!r}")
    return None if value is None else int(value)


@dataclass(frozen=True)
class ScreenRow:
    """One screen as the console lists it."""

    screen: str
    named: bool
    url: str
    heard: datetime
    uptime_s: float | None
    last_refresh: datetime | None
    reconnects: int | None
    heap_bytes: int | None
    live: bool


def screen_rows(screens: pd.DataFrame, now: datetime, silent_after: timedelta) -> list[ScreenRow]:
    """The newest `screen_health` point of each screen as rows: silent ones first (longest
    silent first), then the live ones by name."""
    rows = []
    for row in screens.to_dict("records") if not screens.empty else []:
        heard = row["time"].to_pydatetime()
        age = _present(row.get("refresh_age_s"))
        rows.append(
            ScreenRow(
                screen=row[SCREEN_HEALTH.entity],
                named=row.get("named") is True,
                url=row.get("url") or "",
                heard=heard,
                uptime_s=_present(row.get("uptime_s")),
                last_refresh=heard - timedelta(seconds=age) if age is not None else None,
                reconnects=_whole(row.get("reconnects")),
                heap_bytes=_whole(row.get("heap_bytes")),
                live=now - heard < silent_after,
            )
        )
    return sorted(rows, key=lambda r: (r.live, 0 if r.live else r.heard.timestamp(), r.screen))


def _present(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _whole(value: Any) -> int | None:
    number = _present(value)
    return int(number) if number is not None else None
