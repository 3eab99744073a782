"""The one typed settings object, from defaults, an optional TOML file and IOC_* variables.

Precedence: environment variable > TOML file > default. A bad value raises SettingsError naming
the setting, which the command-line entry points turn into one line on stderr and exit status 2.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_STORE = f"sqlite:///{PROJECT_DIR / 'data' / 'ioc.db'}"
STORE_SCHEMES = ("sqlite", "influxdb", "influxdbs")
LANGUAGES = ("vi", "en")


class SettingsError(Exception):
    """A setting has a value the program cannot run with."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


def _store_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in STORE_SCHEMES:
        raise ValueError(
            f"unknown scheme {parts.scheme or '(none)'!r} in {value!r}; "
            "use sqlite:///path/to/file.db, influxdb://host:port/database "
            "or influxdbs://host:port/database"
        )
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ValueError(f"{value!r} names no database file (sqlite:///path/to/file.db)")
    else:
        if not parts.hostname:
            raise ValueError(f"{value!r} names no host (influxdb://host:port/database)")
        if not parts.path.strip("/") or "/" in parts.path.strip("/"):
            raise ValueError(f"{value!r} must name one database (influxdb://host:port/database)")
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"bad port in {value!r}") from exc
    return value


def _positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{value!r} must be a number greater than 0")
    return number


def _whole_number(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{value!r} must not be negative")
    return number


def _timezone(value: str) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA time zone") from None
    return str(value)


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"{value!r} is not one of {', '.join(LANGUAGES)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _optional_text(value: Any) -> str | None:
    return _text(value) or None


def _setting(default: Any, parse: Callable[[Any], Any], doc: str, secret: bool = False) -> Any:
    return field(default=default, metadata={"parse": parse, "doc": doc, "secret": secret})


def _cache_url(value: Any) -> str:
    value = _text(value)
    parts = urlsplit(value)
    if value and parts.scheme not in ("file", "redis", "rediss"):
        raise ValueError(
            f"{value!r} is not a cache URL; leave it empty for the default folder, or use "
            "file:///path/to/folder or redis://host:port/0"
        )
    if parts.scheme == "file" and not parts.path.startswith("/"):
        raise ValueError(f"{value!r} must name an absolute folder (file:///path/to/folder)")
    return value


def _tiles_url(value: Any) -> str | None:
    value = _optional_text(value)
    if value and not all(part in value for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"{value!r} must contain {{z}}, {{x}} and {{y}}")
    return value


@dataclass(frozen=True)
class Settings:
    store: str = _setting(
        DEFAULT_STORE,
        _store_url,
        "Time-series store: `sqlite:///path/to/file.db` (embedded, the default, under `data/`) "
        "or `influxdb://host:port/database` (`influxdbs://` for TLS; "
        "`influxdb://user:password@host:port/database` for InfluxDB 1.x with authentication).",
    )
    influx_token: str | None = _setting(
        None,
        _optional_text,
        "Token sent as `Authorization: Token …` to InfluxDB 2.x/3.x (1.8+ also takes "
        "`user:password` here). Needed when the server demands authentication.",
        secret=True,
    )
    influx_timeout_seconds: float = _setting(
        10.0, _positive_number, "Timeout of one HTTP request to InfluxDB, in seconds."
    )
    influx_retries: int = _setting(
        4,
        _whole_number,
        "How many times a failed InfluxDB request (connection error, 5xx, 429) is retried, "
        "with exponential backoff, before the store reports itself unavailable.",
    )
    timezone: str = _setting(
        "Asia/Ho_Chi_Minh",
        _timezone,
        "The city's time zone: times are stored in UTC and shown in this zone.",
    )
    language: str = _setting("vi", _language, "Language of the wall: `vi` (default) or `en`.")
    refresh_seconds: float = _setting(
        5.0, _positive_number, "Auto-refresh interval of the wall screens, in seconds."
    )

    cache_url: str = _setting(
        "",
        _cache_url,
        "Where the wall caches query results for one refresh, shared by every worker process: "
        "empty for a folder under the system temp directory, `file:///path/to/folder`, or "
        "`redis://host:port/0` for wall replicas on several machines.",
    )
    stale_after_seconds: float = _setting(
        120.0,
        _positive_number,
        "A tile whose newest data is older than this many seconds is shown as stale.",
    )
    history_refresh_seconds: float = _setting(
        60.0,
        _positive_number,
        "How long the wall reuses a 24-hour history query (timelines, curves) before asking "
        "the store again, in seconds.",
    )
    map_tiles_url: str | None = _setting(
        None,
        _tiles_url,
        "Optional raster tile server for the field-report map (`https://…/{z}/{x}/{y}.png`); "
        "empty draws the map offline from coordinates alone.",
    )
    kiosk_reload_hours: float = _setting(
        24.0,
        _positive_number,
        "A kiosk reloads its page after this many hours, at a rotation boundary and only when "
        "the server answers, so days of running never grow the browser's memory.",
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def redacted(self) -> dict[str, Any]:
        """Effective settings for display, secrets (and passwords inside URLs) masked."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = "***"
            elif isinstance(value, str) and (parts := urlsplit(value)).password:
                value = value.replace(f":{parts.password}@", ":***@", 1)
            shown[f.name] = value
        return shown


def env_name(name: str) -> str:
    return f"IOC_{name.upper()}"


def setting_docs() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, for README and --help."""
    return [
        (env_name(f.name), "" if f.default is None else str(f.default), f.metadata["doc"])
        for f in fields(Settings)
    ]


def load_settings(
    config_path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    config_path = config_path or environ.get("IOC_CONFIG") or None
    known = {f.name: f for f in fields(Settings)}
    raw: dict[str, tuple[str, Any]] = {}
    if config_path:
        for key, value in _read_toml(Path(config_path)).items():
            if key not in known:
                raise SettingsError(
                    f"{config_path}: {key}", f"unknown setting; known: {', '.join(known)}"
                )
            raw[key] = (f"{key} in {config_path}", value)
    for name in known:
        if env_name(name) in environ:
            raw[name] = (env_name(name), environ[env_name(name)])
    values = {}
    for name, (source, value) in raw.items():
        try:
            values[name] = known[name].metadata["parse"](value)
        except ValueError as exc:
            raise SettingsError(source, str(exc)) from None
    return replace(Settings(), **values)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError("IOC_CONFIG", f"settings file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            "IOC_CONFIG", f"settings file {str(path)!r} is not TOML: {exc}"
        ) from None
    except OSError as exc:
        raise SettingsError(
            "IOC_CONFIG", f"cannot read settings file {str(path)!r}: {exc}"
        ) from None
