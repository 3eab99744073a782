"""The values the town knows for each bounded tag, and what a value it does not know becomes.

Every tag value is a series in InfluxDB, which refuses new values of a tag past
`max-values-per-tag` (then every point with a new value is refused). A misbehaving device that
sends a new ward in every message must not get there: a ward, site or category the town does not
know is stored as the tag value `unknown` with what was sent kept in the field `<tag>_given`
(e.g. `ward_given`), so nothing the device said is lost and the series stay bounded.

Wards and categories come from the city profile (wall/city.py: a former ward's name is stored as
the unit that replaced it, the name sent in `ward_given`), sites from the inventory. This module
is the one place they are looked up (`town_values`), so a city profile can replace it.

Device ids (camera_id, ap_id) stay as sent, inventory or not: a device is an entity the wall
shows, and folding unknown devices into one series would mix their states (and lose points of
the same time). They are bounded by who may publish (the broker's accounts), not here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from feeds.inventory import Inventory, load_inventory
from wall.city import load_profile, plain
from wall.domain import OTHER_CATEGORY, UNKNOWN
from wall.settings import Settings, load_settings
from wall.store.base import Point

log = logging.getLogger(__name__)

MAX_LOGGED_VALUES = 10_000  # unknown values logged once each, up to this many


@dataclass(frozen=True)
class KnownValues:
    """{bounded tag: the values the town knows}."""

    wards: frozenset[str]  # today's units
    sites: frozenset[str]
    categories: frozenset[str]
    # {plain name, code or former name of a unit: the unit}: a ward sent so is stored as the unit
    names: Mapping[str, str] = field(default_factory=dict)
    # (tag, value) of the unknown values logged so far: each once, up to MAX_LOGGED_VALUES.
    _logged: set[tuple[str, str]] = field(default_factory=set, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def of(cls, inventory: Inventory, categories: Iterable[str] | None = None) -> KnownValues:
        if categories is None:
            categories = (*inventory.profile.category_codes, OTHER_CATEGORY)
        return cls(
            frozenset(inventory.profile.unit_names),
            frozenset(a.site for a in inventory.access_points),
            frozenset(categories),
            inventory.profile.ward_names,
        )

    def bound(self, points: list[Point]) -> tuple[list[Point], int]:
        """The points with each unknown value of a bounded tag replaced (see the module), and
        how many values were replaced."""
        known = {"ward": self.wards, "site": self.sites, "category": self.categories}
        replaced = 0
        result = []
        for point in points:
            point = self._todays_ward(point)
            unknown = {
                tag: value
                for tag, value in point.tags.items()
                if tag in known and value not in known[tag] and value != UNKNOWN
            }
            if unknown:
                for tag, value in unknown.items():
                    self._log_once(tag, value)
                replaced += len(unknown)
                point = Point(
                    point.measurement,
                    {**point.tags, **dict.fromkeys(unknown, UNKNOWN)},
                    {**point.fields, **{f"{tag}_given": v for tag, v in unknown.items()}},
                    point.time,
                )
            result.append(point)
        return result, replaced

    def _todays_ward(self, point: Point) -> Point:
        """A former ward's name (or a unit's code) as today's unit, what was sent in
        `ward_given`."""
        ward = point.tags.get("ward")
        unit = self.names.get(plain(ward)) if ward and ward != UNKNOWN else None
        if unit is None or unit == ward:
            return point
        return Point(
            point.measurement,
            {**point.tags, "ward": unit},
            {**point.fields, "ward_given": ward},
            point.time,
        )

    def _log_once(self, tag: str, value: str) -> None:
        with self._lock:
            if (tag, value) in self._logged or len(self._logged) >= MAX_LOGGED_VALUES:
                return
            self._logged.add((tag, value))
        log.warning(
            "%s %r is not one the town knows: stored as %r, the original in %s_given",
            tag,
            value,
            UNKNOWN,
            tag,
        )


def town_values(settings: Settings | None = None) -> KnownValues:
    """The known values of the settings' town (default: the environment's), read once."""
    settings = settings or load_settings()
    return _town_values(settings.city, settings.inventory)


@lru_cache(maxsize=4)
def _town_values(city: str, inventory: str | None) -> KnownValues:
    profile = load_profile(city)
    return KnownValues.of(load_inventory(inventory or profile.inventory_path, profile))
