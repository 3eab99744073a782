"""The city profile: what the wall knows about its town, as data files in `cities/<name>/`.

IOC_CITY names a shipped profile (a folder of `cities/`) or a path to one. The profile's
`city.toml` holds the town's name, zone, map, administrative units with their former names
(aliases), report categories, handling units, indicators, festival days and the simulator's
model; `inventory.csv` its devices; an optional GeoJSON its boundaries. Schema:
docs/city-profile.md. A profile is read once per process; a wrong one raises ProfileError (a
SettingsError: one line naming file and key, exit status 2).
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from wall.alerts.text import RULE_NAMES
from wall.domain import UNKNOWN
from wall.periods import PERIOD_KINDS, SHORTEST_DAYS
from wall.settings_core import PROJECT_DIR, Section, SettingsError, optional_text, setting, text

CITIES_DIR = PROJECT_DIR / "cities"
PROFILE_FILE = "city.toml"
SOPS_FILE = "sops.toml"  # the standard operating procedures, when city.sops names no other
DEFAULT_CITY = "hoa-thanh"


def plain(value: str) -> str:
    """Lower case, no diacritics (đ → d), words separated by single spaces: for matching."""
    value = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    value = "".join(c for c in value if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", value).split())


def _city(value: Any) -> str:
    value = text(value).strip()
    if not value:
        raise ValueError("is empty: name a profile of cities/ or a folder holding city.toml")
    return value


def _timezone(value: Any) -> str | None:
    value = optional_text(value)
    if value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known IANA time zone") from None
    return value


@dataclass(frozen=True)
class CitySettings(Section):
    """City (wall/city.py)"""

    city: str = setting(
        DEFAULT_CITY,
        _city,
        "The city profile: the name of a folder of `cities/` (`hoa-thanh`) or the path of a "
        "folder holding `city.toml` (format in docs/city-profile.md).",
    )
    timezone: str | None = setting(
        None,
        _timezone,
        "The city's time zone (IANA name): times are stored in UTC and shown in this zone. "
        "Empty: the profile's.",
    )

    @property
    def profile(self) -> CityProfile:
        return load_profile(self.city)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone or self.profile.timezone)


class ProfileError(SettingsError):
    """The city profile cannot be used: `where` is file and key (or line), `problem` why."""


@dataclass(frozen=True)
class Unit:
    code: str
    name_vi: str
    name_en: str
    aliases: tuple[str, ...]  # former names and codes that now mean this unit

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en


@dataclass(frozen=True)
class Category:
    code: str
    label_vi: str
    label_en: str
    symbol: str
    service_codes: tuple[str, ...]
    keywords: tuple[str, ...]  # without diacritics, lower case (matched on plain text)
    deadline_hours: float
    handling_unit: str
    weight: float  # the simulator's share of reports
    titles: tuple[str, ...]  # the simulator's report titles ({street}, {cross}, {ward})


@dataclass(frozen=True)
class HandlingUnit:
    code: str
    name_vi: str
    name_en: str

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en


@dataclass(frozen=True)
class Step:
    """One step of a standard operating procedure, checked off by the officer in the console."""

    step_id: str
    text_vi: str
    text_en: str

    def text(self, lang: str) -> str:
        return self.text_vi if lang == "vi" else self.text_en


STEP_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class DataSource:
    """A feed (as its feed_health points name it) with the unit answering for it and how fresh
    its data must be."""

    feed: str
    name_vi: str
    name_en: str
    owner: str  # a handling unit's code
    freshness_minutes: float

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en


DIRECTIONS = ("higher", "lower")  # which way an indicator's value is better
AGGREGATIONS = ("last", "sum", "mean")  # how a period's value forms from its values


@dataclass(frozen=True)
class Indicator:
    indicator_id: str
    name_vi: str
    name_en: str
    sector: str
    unit: str  # in Vietnamese
    unit_en: str
    target: float
    direction: str  # DIRECTIONS
    aggregation: str  # AGGREGATIONS
    period: str  # wall.periods.PERIOD_KINDS
    responsible_unit: str  # a handling unit's code
    due_day: int  # the value is due by the end of this day after the period ends
    level: float  # where the town stands (simulator); on the good side of target means met
    from_cameras: bool = False  # the simulator computes it from the cameras' availability

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en

    def unit_in(self, lang: str) -> str:
        return self.unit if lang == "vi" else self.unit_en


@dataclass(frozen=True)
class Area:
    """A part of the town where the generated inventory places devices."""

    name: str
    unit: str
    centre: tuple[float, float]
    spread: float
    share: float


@dataclass(frozen=True)
class Site:
    """A place where people gather: APs of the generated inventory, busier than elsewhere."""

    name: str
    unit: str
    centre: tuple[float, float]
    aps: int
    capacity: int
    crowd: bool  # draws the festival crowds


@dataclass(frozen=True)
class Simulation:
    streets: tuple[str, ...]
    camera_spots: tuple[str, ...]  # camera names: "{street}", "{cross}" are two streets
    ap_name: str  # "{site}", "{n}"
    ap_sites: tuple[str, ...]  # "{ward}" is the area's name
    areas: tuple[Area, ...]
    sites: tuple[Site, ...]
    crowd_hours: tuple[float, ...]  # local hours of the gathering places' daily events


@dataclass(frozen=True)
class CityProfile:
    folder: Path
    name_vi: str
    name_en: str
    address: str  # what follows the ward in an address ("tỉnh Tây Ninh")
    town_names: tuple[str, ...]  # names of the whole town, never of one unit, in addresses
    source: str
    timezone: str
    centre: tuple[float, float]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    units: tuple[Unit, ...]
    categories: tuple[Category, ...]
    handling_units: tuple[HandlingUnit, ...]
    indicators: tuple[Indicator, ...]
    sector_labels: dict[str, tuple[str, str]]  # {indicator sector: (vi, en)}
    data_sources: tuple[DataSource, ...]
    festival_days: frozenset[date]
    # Public holidays, days off (Tết, 30/4, 2/9 …): the anomaly rule judges them as Sundays.
    holidays: frozenset[date]
    simulation: Simulation
    inventory_path: Path
    boundaries: dict[str, Any] | None
    # {alert kind: its standard operating procedure's steps} (`sops.toml`); a kind not here
    # has no procedure.
    procedures: dict[str, tuple[Step, ...]]

    def name(self, lang: str) -> str:
        return self.name_vi if lang == "vi" else self.name_en

    def handling_unit(self, code: str) -> HandlingUnit | None:
        return next((h for h in self.handling_units if h.code == code), None)

    @property
    def unit_names(self) -> tuple[str, ...]:
        """Today's units' Vietnamese names: the ward tag values the wall stores."""
        return tuple(u.name_vi for u in self.units)

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)

    @property
    def category_labels(self) -> dict[str, tuple[str, str]]:
        return {c.code: (c.label_vi, c.label_en) for c in self.categories}

    @property
    def ward_names(self) -> dict[str, str]:
        """{plain name, code or alias: today's unit name}."""
        return self._names_in("vi")

    def unit_of(self, ward: str) -> str | None:
        """Today's unit a ward name, code or former name means; None if none."""
        return self.ward_names.get(plain(ward))

    def unit_names_in(self, lang: str) -> tuple[str, ...]:
        return tuple(u.name(lang) for u in self.units)

    def _names_in(self, lang: str) -> dict[str, str]:
        """{plain name, code or alias: today's unit's name in `lang`}."""
        return {
            plain(name): unit.name(lang)
            for unit in self.units
            for name in (unit.name_vi, unit.name_en, unit.code, *unit.aliases)
        }

    def unit_name(self, ward: str, lang: str) -> str:
        """A stored ward value as its unit is called today in `lang`; a value the profile does
        not know, as it is."""
        return self._names_in(lang).get(plain(ward), ward)

    def todays_units(self, wards: pd.Series, lang: str = "vi") -> pd.Series:
        """Stored ward values as today's units, named in `lang`: a former ward groups under the
        unit that replaced it; `unknown` is missing; a value the profile does not know stays as
        it is."""
        names = self._names_in(lang)
        return wards.map(
            lambda w: w if not isinstance(w, str) or w == UNKNOWN else names.get(plain(w), w)
        ).mask(wards == UNKNOWN)

    def boundary_lines(self) -> tuple[list[float | None], list[float | None]]:
        """(latitudes, longitudes) of every unit's outline, one ring after another with a None
        between them (a gap in a plotly line); empty without boundaries."""
        lats: list[float | None] = []
        lons: list[float | None] = []
        for feature in (self.boundaries or {}).get("features", []):
            geometry = feature["geometry"]
            polygons = (
                [geometry["coordinates"]]
                if geometry["type"] == "Polygon"
                else geometry["coordinates"]
            )
            for ring in (ring for polygon in polygons for ring in polygon):
                lons += [point[0] for point in ring] + [None]
                lats += [point[1] for point in ring] + [None]
        return lats, lons

    def summary(self, cameras: int, access_points: int) -> str:
        """What `python -m wall check` says of the profile, with its inventory's counts."""
        units = ", ".join(
            f"{u.name_vi} (also {', '.join(u.aliases)})" if u.aliases else u.name_vi
            for u in self.units
        )
        return "\n".join(
            (
                f"city profile: {self.name_vi} ({self.folder})",
                f"  time zone: {self.timezone}",
                f"  units ({len(self.units)}): {units}",
                f"  categories ({len(self.categories)}): {', '.join(self.category_codes)}",
                f"  handling units: {len(self.handling_units)}",
                f"  devices: {cameras} cameras, {access_points} access points",
                f"  indicators: {len(self.indicators)}",
                f"  festival days: {len(self.festival_days)}",
                f"  public holidays: {len(self.holidays)}",
                f"  boundaries: {'yes' if self.boundaries else 'none (points only)'}",
                f"  procedures: {', '.join(sorted(self.procedures)) or 'none'}",
            )
        )


def profile_folder(city: str) -> Path:
    shipped = CITIES_DIR / city
    folder = shipped if (shipped / PROFILE_FILE).is_file() else Path(city).expanduser()
    if not (folder / PROFILE_FILE).is_file():
        shipped_names = sorted(p.parent.name for p in CITIES_DIR.glob(f"*/{PROFILE_FILE}"))
        raise ProfileError(
            "IOC_CITY",
            f"{city!r} is neither a shipped profile ({', '.join(shipped_names) or 'none here'}) "
            f"nor a folder holding {PROFILE_FILE}",
        )
    return folder.resolve()


@lru_cache(maxsize=8)
def load_profile(city: str = DEFAULT_CITY) -> CityProfile:
    """The profile IOC_CITY names, read once per process."""
    folder = profile_folder(city)
    path = folder / PROFILE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), f"cannot be read: {exc}") from None
    return _Reader(path).profile(data)


class _Reader:
    """Reads city.toml, each problem naming the file and key."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(f"{self.path}: {key}", problem)

    def only(self, table: dict, where: str, keys: str) -> None:
        """A key the schema does not know is a mistake (a misspelling, or a key written under
        the wrong [table]), never ignored."""
        unknown = sorted(set(table) - set(keys.split()))
        if unknown:
            raise self.fail(f"{where}{unknown[0]}", f"unknown key; known here: {keys}")

    def get(self, table: dict, key: str, where: str, kind: type | tuple, default: Any = ...):
        if key not in table:
            if default is ...:
                raise self.fail(f"{where}{key}", "is missing")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{where}{key}", f"must be {name}, not {value!r}"[:200])
        if isinstance(value, str) and not value.strip() and default is ...:
            raise self.fail(f"{where}{key}", "is empty")
        return value

    def texts(self, table: dict, key: str, where: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(table, key, where, list, default)
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise self.fail(f"{where}{key}", "must be a list of non-empty texts")
        return tuple(values)

    def point(self, table: dict, key: str, where: str) -> tuple[float, float]:
        value = self.get(table, key, where, list)
        if (
            len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or not (-90 <= value[0] <= 90 and -180 <= value[1] <= 180)
        ):
            raise self.fail(f"{where}{key}", f"must be [latitude, longitude], not {value!r}")
        return (float(value[0]), float(value[1]))

    def tables(self, data: dict, key: str, where: str = "") -> list[tuple[str, dict]]:
        items = self.get(data, key, where, list)
        if not items or not all(isinstance(i, dict) for i in items):
            raise self.fail(f"{where}{key}", f"must be one or more [[{where}{key}]] tables")
        return [(f"{where}{key}[{n}].", item) for n, item in enumerate(items, start=1)]

    def profile(self, data: dict) -> CityProfile:
        self.only(
            data,
            "",
            "source city units handling_units categories indicators sectors festival_days "
            "holidays data_sources simulator",
        )
        city = self.get(data, "city", "", dict)
        self.only(
            city,
            "city.",
            "name_vi name_en address town_names timezone centre south_west north_east inventory "
            "boundaries sops",
        )
        timezone = self.get(city, "timezone", "city.", str)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(
                "city.timezone", f"{timezone!r} is not a known IANA time zone"
            ) from None
        bounds = (self.point(city, "south_west", "city."), self.point(city, "north_east", "city."))
        units = tuple(self.unit(where, t) for where, t in self.tables(data, "units"))
        self.unique_names(units)
        handling = tuple(
            self.only(t, w, "code name_vi name_en")
            or HandlingUnit(
                self.get(t, "code", w, str),
                self.get(t, "name_vi", w, str),
                self.get(t, "name_en", w, str),
            )
            for w, t in self.tables(data, "handling_units")
        )
        categories = tuple(
            self.category(w, t, {h.code for h in handling})
            for w, t in self.tables(data, "categories")
        )
        self.unique("categories", [c.code for c in categories])
        indicators = tuple(
            self.indicator(w, t, {h.code for h in handling})
            for w, t in self.tables(data, "indicators")
        )
        sectors = {}
        for code, labels in self.get(data, "sectors", "", dict, {}).items():
            if not (
                isinstance(labels, list)
                and len(labels) == 2
                and all(isinstance(x, str) and x.strip() for x in labels)
            ):
                raise self.fail(f"sectors.{code}", 'must be ["Vietnamese label", "English label"]')
            sectors[code] = (labels[0], labels[1])
        self.unique("indicators", [i.indicator_id for i in indicators])
        sources = tuple(
            self.data_source(w, t, {h.code for h in handling})
            for w, t in (self.tables(data, "data_sources") if "data_sources" in data else [])
        )
        self.unique("data_sources", [d.feed for d in sources])
        folder = self.path.parent
        inventory = folder / self.get(city, "inventory", "city.", str, "inventory.csv")
        if not inventory.is_file():
            raise self.fail("city.inventory", f"file {str(inventory)!r} does not exist")
        boundaries_file = self.get(city, "boundaries", "city.", str, "")
        sops_file = self.get(city, "sops", "city.", str, "")
        if sops_file and not (folder / sops_file).is_file():
            raise self.fail("city.sops", f"file {str(folder / sops_file)!r} does not exist")
        sops_path = folder / (sops_file or SOPS_FILE)
        return CityProfile(
            folder=folder,
            name_vi=self.get(city, "name_vi", "city.", str),
            name_en=self.get(city, "name_en", "city.", str),
            address=self.get(city, "address", "city.", str),
            town_names=self.texts(city, "town_names", "city.", []),
            source=self.get(data, "source", "", str, ""),
            timezone=timezone,
            centre=self.point(city, "centre", "city."),
            bounds=bounds,
            units=units,
            categories=categories,
            handling_units=handling,
            indicators=indicators,
            sector_labels=sectors,
            data_sources=sources,
            festival_days=self.days(data, "festival_days"),
            holidays=self.days(data, "holidays"),
            simulation=self.simulation(self.get(data, "simulator", "", dict), units),
            inventory_path=inventory,
            boundaries=self.boundaries(folder / boundaries_file) if boundaries_file else None,
            procedures=_Reader(sops_path).procedures() if sops_path.is_file() else {},
        )

    def days(self, data: dict, key: str) -> frozenset[date]:
        """A top-level list of dates (festival days, public holidays)."""
        days = set()
        for day in self.get(data, key, "", list, []):
            try:
                days.add(date.fromisoformat(str(day)))
            except ValueError:
                raise self.fail(key, f"{day!r} is not a date (YYYY-MM-DD)") from None
        return frozenset(days)

    def data_source(self, where: str, table: dict, handling: set[str]) -> DataSource:
        self.only(table, where, "feed name_vi name_en owner freshness_minutes")
        freshness = self.get(table, "freshness_minutes", where, float)
        if freshness <= 0:
            raise self.fail(f"{where}freshness_minutes", "must be more than 0")
        return DataSource(
            feed=self.get(table, "feed", where, str),
            name_vi=self.get(table, "name_vi", where, str),
            name_en=self.get(table, "name_en", where, str),
            owner=self.handling_unit(table, "owner", where, handling),
            freshness_minutes=freshness,
        )

    def unit(self, where: str, table: dict) -> Unit:
        self.only(table, where, "code name_vi name_en aliases")
        return Unit(
            code=self.get(table, "code", where, str),
            name_vi=self.get(table, "name_vi", where, str),
            name_en=self.get(table, "name_en", where, str),
            aliases=self.texts(table, "aliases", where, []),
        )

    def unique_names(self, units: tuple[Unit, ...]) -> None:
        """A name, code or alias means one unit only."""
        owner: dict[str, str] = {}
        for n, unit in enumerate(units, start=1):
            for name in dict.fromkeys(
                plain(x) for x in (unit.name_vi, unit.name_en, unit.code, *unit.aliases)
            ):
                if name in owner:
                    raise self.fail(
                        f"units[{n}]",
                        f"{name!r} already names unit {owner[name]!r}: a name, code or alias "
                        "may mean one unit only",
                    )
                owner[name] = unit.code

    def unique(self, key: str, codes: list[str]) -> None:
        seen = set()
        for n, code in enumerate(codes, start=1):
            if code in seen:
                raise self.fail(f"{key}[{n}]", f"{code!r} is already used by another entry")
            seen.add(code)

    def category(self, where: str, table: dict, handling: set[str]) -> Category:
        self.only(
            table,
            where,
            "code label_vi label_en symbol service_codes keywords deadline_hours "
            "handling_unit weight titles",
        )
        unit = self.handling_unit(table, "handling_unit", where, handling)
        deadline = self.get(table, "deadline_hours", where, float)
        if deadline <= 0:
            raise self.fail(f"{where}deadline_hours", "must be more than 0")
        return Category(
            code=self.get(table, "code", where, str),
            label_vi=self.get(table, "label_vi", where, str),
            label_en=self.get(table, "label_en", where, str),
            symbol=self.get(table, "symbol", where, str),
            service_codes=self.texts(table, "service_codes", where, []),
            keywords=tuple(plain(k) for k in self.texts(table, "keywords", where, [])),
            deadline_hours=deadline,
            handling_unit=unit,
            weight=self.get(table, "weight", where, float, 1.0),
            titles=self.texts(table, "titles", where),
        )

    def indicator(self, where: str, table: dict, handling: set[str]) -> Indicator:
        self.only(
            table,
            where,
            "id name_vi name_en sector unit unit_en target direction aggregation period "
            "responsible_unit due_day level from_cameras",
        )
        unit = self.handling_unit(table, "responsible_unit", where, handling)
        period = self.choice(table, "period", where, PERIOD_KINDS)
        due_day = self.get(table, "due_day", where, int)
        if not 1 <= due_day <= SHORTEST_DAYS[period]:
            raise self.fail(
                f"{where}due_day",
                f"must be a day from 1 to {SHORTEST_DAYS[period]} after a {period} ends",
            )
        unit_vi = self.get(table, "unit", where, str)
        return Indicator(
            indicator_id=self.get(table, "id", where, str),
            name_vi=self.get(table, "name_vi", where, str),
            name_en=self.get(table, "name_en", where, str),
            sector=self.get(table, "sector", where, str),
            unit=unit_vi,
            unit_en=self.get(table, "unit_en", where, str, unit_vi),
            target=self.get(table, "target", where, float),
            direction=self.choice(table, "direction", where, DIRECTIONS),
            aggregation=self.choice(table, "aggregation", where, AGGREGATIONS),
            period=period,
            responsible_unit=unit,
            due_day=due_day,
            level=self.get(table, "level", where, float, 0.0),
            from_cameras=self.get(table, "from_cameras", where, bool, False),
        )

    def handling_unit(self, table: dict, key: str, where: str, handling: set[str]) -> str:
        unit = self.get(table, key, where, str)
        if unit not in handling:
            raise self.fail(f"{where}{key}", f"{unit!r} is not one of [[handling_units]]")
        return unit

    def choice(self, table: dict, key: str, where: str, choices: tuple[str, ...]) -> str:
        value = self.get(table, key, where, str)
        if value not in choices:
            raise self.fail(f"{where}{key}", f"{value!r} is not one of {', '.join(choices)}")
        return value

    def simulation(self, table: dict, units: tuple[Unit, ...]) -> Simulation:
        names = {
            plain(x): u.name_vi for u in units for x in (u.name_vi, u.name_en, u.code, *u.aliases)
        }

        def unit_of(t: dict, where: str) -> str:
            name = self.get(t, "unit", where, str)
            if plain(name) not in names:
                raise self.fail(f"{where}unit", f"{name!r} is not a unit nor an alias of one")
            return names[plain(name)]

        self.only(
            table, "simulator.", "streets camera_spots ap_name ap_sites areas sites crowd_hours"
        )
        areas = tuple(
            self.only(t, w, "name unit centre spread share")
            or Area(
                self.get(t, "name", w, str),
                unit_of(t, w),
                self.point(t, "centre", w),
                self.get(t, "spread", w, float),
                self.get(t, "share", w, float),
            )
            for w, t in self.tables(table, "areas", "simulator.")
        )
        sites = tuple(
            self.only(t, w, "name unit centre aps capacity crowd")
            or Site(
                self.get(t, "name", w, str),
                unit_of(t, w),
                self.point(t, "centre", w),
                self.get(t, "aps", w, int),
                self.get(t, "capacity", w, int),
                self.get(t, "crowd", w, bool, False),
            )
            for w, t in self.tables(table, "sites", "simulator.")
        )
        return Simulation(
            streets=self.texts(table, "streets", "simulator."),
            camera_spots=self.texts(table, "camera_spots", "simulator."),
            ap_sites=self.texts(table, "ap_sites", "simulator."),
            ap_name=self.get(table, "ap_name", "simulator.", str),
            areas=areas,
            sites=sites,
            crowd_hours=tuple(self.get(table, "crowd_hours", "simulator.", list, [])),
        )

    def procedures(self) -> dict[str, tuple[Step, ...]]:
        """The standard operating procedures (this reader's file is sops.toml): per alert kind,
        `[[<kind>]]` tables of steps, each with `id`, `vi` and `en`."""
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(str(self.path), f"not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(str(self.path), f"cannot be read: {exc}") from None
        procedures = {}
        for kind in data:
            if kind not in RULE_NAMES:  # a misspelt kind would never show its checklist
                raise self.fail(kind, f"is not an alert kind: one of {', '.join(RULE_NAMES)}")
            steps = []
            for where, table in self.tables(data, kind):
                self.only(table, where, "id vi en")
                step_id = self.get(table, "id", where, str)
                if not STEP_ID.fullmatch(step_id):
                    raise self.fail(
                        f"{where}id", f"{step_id!r} is not a step id: 1-40 of a-z, 0-9, '-'"
                    )
                steps.append(
                    Step(
                        step_id,
                        self.get(table, "vi", where, str),
                        self.get(table, "en", where, str),
                    )
                )
            self.unique(kind, [s.step_id for s in steps])
            procedures[kind] = tuple(steps)
        return procedures

    def boundaries(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise self.fail("city.boundaries", f"file {str(path)!r} does not exist") from None
        except (ValueError, OSError) as exc:
            raise ProfileError(str(path), f"not valid GeoJSON: {exc}") from None
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise ProfileError(str(path), "must be a GeoJSON FeatureCollection")
        for n, feature in enumerate(data.get("features") or [], start=1):
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            kind = geometry.get("type") if isinstance(geometry, dict) else None
            if kind not in ("Polygon", "MultiPolygon") or not _rings_ok(
                geometry.get("coordinates"), kind
            ):
                raise ProfileError(
                    f"{path}: features[{n}]",
                    "must be a Polygon or MultiPolygon of [longitude, latitude] points",
                )
        return data


def _rings_ok(coordinates: Any, kind: str) -> bool:
    polygons = [coordinates] if kind == "Polygon" else coordinates
    try:
        return all(
            len(point) >= 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in point[:2])
            for polygon in polygons
            for ring in polygon
            for point in ring
        )
    except TypeError:
        return False
