"""How a setting is declared and read: the bottom of the import graph, importing no part.

A part declares its section, a frozen dataclass of `setting(...)` fields, in the `settings.py`
of its package (wall/store/settings.py, feeds/settings.py, …); `wall.settings.Settings` joins
the sections into the one settings object. A field `name` is read from the environment variable
`IOC_NAME`, else from `name` in the TOML file (IOC_CONFIG), else its default. A bad value raises
SettingsError naming the setting, which the command-line entry points turn into one line on
stderr and exit status 2.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A setting has a value the program cannot run with."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


def setting(default: Any, parse: Callable[[Any], Any], doc: str, secret: bool = False) -> Any:
    """One field of a section: `parse` turns a value from the environment (text) or the TOML
    file into the setting's value or raises ValueError saying what is wrong; `doc` is its line
    in README and --help; a `secret` is shown as *** by `python -m wall check`."""
    return field(default=default, metadata={"parse": parse, "doc": doc, "secret": secret})


@dataclass(frozen=True)
class Section:
    """A part's settings. A class made of several sections checks no name is declared twice."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        owner: dict[str, str] = {}
        for base in cls.__bases__:
            for f in fields(base) if issubclass(base, Section) else ():
                if owner.setdefault(f.name, base.__name__) != base.__name__:
                    raise TypeError(
                        f"setting {f.name!r} is declared by both {owner[f.name]} and "
                        f"{base.__name__}"
                    )

    def redacted(self) -> dict[str, Any]:
        """Effective settings for display, secrets (and passwords inside URLs) masked."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = "***"
            elif isinstance(value, str):
                value = masked_url(value)
            elif hasattr(value, "redacted"):  # a part's structured setting masks its own secrets
                value = value.redacted()
            shown[f.name] = value
        return shown


def env_name(name: str) -> str:
    return f"IOC_{name.upper()}"


def section_docs(section: type[Section]) -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting of `section`."""
    return [
        (env_name(f.name), "" if f.default is None else str(f.default), f.metadata["doc"])
        for f in fields(section)
    ]


S = TypeVar("S", bound=Section)


def read_settings(
    sections: type[S],
    config_path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> S:
    """`sections` from the TOML file (`config_path`, else IOC_CONFIG) and the environment."""
    environ = os.environ if environ is None else environ
    config_path = config_path or environ.get("IOC_CONFIG") or None
    known = {f.name: f for f in fields(sections)}
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
    return replace(sections(), **values)


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


def masked_url(url: str) -> str:
    """`url` as a log or a terminal may show it: the password of its user part as ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user_part, _, host = parts.netloc.rpartition("@")
    user = user_part.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# General parsers any section may use; a part's own parsers live in its section's module.


def positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{value!r} must be a number greater than 0")
    return number


def whole_number(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise ValueError(f"{value!r} must not be negative")
    return number


def positive_whole_number(value: Any) -> int:
    number = whole_number(value)
    if number < 1:
        raise ValueError(f"{value!r} must be at least 1")
    return number


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def optional_text(value: Any) -> str | None:
    return text(value) or None


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    words = str(value).strip().lower()
    if words in ("1", "true", "yes", "on"):
        return True
    if words in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false")


def one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    """A parser that accepts one of `choices` (surrounding spaces ignored)."""

    def parse(value: Any) -> str:
        value = str(value).strip()
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return parse


def json_or_value(value: Any) -> Any:
    """Tables and lists come from the TOML file as they are, from the environment as JSON."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc.msg} at character {exc.pos})") from None


def text_table(value: Any) -> dict[str, str]:
    value = json_or_value(value)
    if not isinstance(value, dict):
        raise ValueError(f"must be a table of text to text, not {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"table entry {key!r} must be non-empty text, not {item!r}")
    return dict(value)


def text_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """A text-to-text table, kept as sorted pairs so the settings stay immutable."""
    return tuple(sorted(text_table(value).items()))


def checked_port(url: str) -> None:
    """ValueError when the port of `url` is not a number from 0 to 65535."""
    try:
        urlsplit(url).port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"bad port in {masked_url(url)!r}") from exc


def optional_http_url(value: Any) -> str | None:
    value = text(value).strip()
    if not value:
        return None
    parts = urlsplit(value)
    shown = masked_url(value)  # a password never reaches a terminal
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown!r} is not an http:// or https:// URL with a host")
    return value
