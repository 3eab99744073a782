"""Events the simulator can inject on top of the town's usual day, and their ground truth.

Four kinds, each what an operator would want the wall to notice (or, for a crowd on one of the
profile's festival days, not to):
- `festival_crowd`: the APs near one of the profile's gathering places (`crowd = true`) near
  capacity for hours. On a day of the profile's festival list it is expected (`anomaly` false);
  on any other day it is an anomaly;
- `power_cut`: every camera and AP of one ward down, for an hour or two;
- `report_surge`: many field reports of one category in one ward within the event's time;
- `ap_silent`: an AP that keeps saying it is up, with 0 clients, for hours.

Events come from a schedule file (`load_schedule`: TOML, every name checked against the city
profile and the inventory) or are drawn at a seeded random rate by the simulator. The simulator
appends each event as it begins to its `events` list and hands it to `on_event` — `TruthWriter`
keeps them in a CSV file a bench scores alerts against (`read_truth`).
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from feeds.inventory import Inventory
from wall.city import CityProfile

EVENT_KINDS = ("festival_crowd", "power_cut", "report_surge", "ap_silent")
# How long a drawn event lasts (hours, low and high) and, for a surge, how many reports it brings.
DRAWN_HOURS = {
    "festival_crowd": (3.0, 5.0),
    "power_cut": (1.0, 2.0),
    "report_surge": (1.0, 1.0),
    "ap_silent": (3.0, 8.0),
}
SURGE_REPORTS = 15
TRUTH_COLUMNS = ("kind", "anomaly", "start", "end", "ward", "site", "aps", "category", "reports")


@dataclass(frozen=True)
class SimEvent:
    """One injected event as the simulator plays it: the ground truth a bench scores against.

    `ward`, `site`, `aps` and `category` are what it concerns (empty where the kind has none:
    a power cut concerns a ward and all its devices, `aps` lists the access points whose data it
    changes for a crowd or a silent AP)."""

    kind: str
    start: datetime  # UTC
    end: datetime  # UTC
    ward: str = ""
    site: str = ""
    aps: tuple[str, ...] = ()
    category: str = ""
    reports: int = 0  # report_surge: how many
    anomaly: bool = True  # False: a crowd on one of the profile's festival days

    def row(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "anomaly": "true" if self.anomaly else "false",
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "ward": self.ward,
            "site": self.site,
            "aps": " ".join(self.aps),
            "category": self.category,
            "reports": str(self.reports) if self.reports else "",
        }


class ScheduleError(ValueError):
    """A schedule that cannot be played; the message names the event and what is wrong."""


class EventPicker:
    """Turns a kind, a start and (optionally) a place into a `SimEvent` of this town, checking
    names against the profile and the inventory, or drawing what is not given."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self.profile: CityProfile = inventory.profile
        self.zone = ZoneInfo(self.profile.timezone)
        self.crowd_aps = crowd_access_points(inventory)

    def kinds(self) -> tuple[str, ...]:
        """The kinds this town can play (no gathering place: no festival crowd)."""
        return tuple(k for k in EVENT_KINDS if k != "festival_crowd" or self.crowd_aps)

    def festival_day(self, when: datetime) -> bool:
        return when.astimezone(self.zone).date() in self.profile.festival_days

    def make(
        self,
        kind: str,
        start: datetime,
        hours: float,
        rng: Any,
        *,
        ward: str = "",
        site: str = "",
        ap_id: str = "",
        category: str = "",
        reports: int = 0,
    ) -> SimEvent:
        if kind not in EVENT_KINDS:
            raise ScheduleError(f"unknown kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
        if not hours > 0:
            raise ScheduleError(f"hours must be greater than 0, not {hours!r}")
        start = start.astimezone(UTC)
        event = SimEvent(kind, start, start + timedelta(hours=hours))
        inv = self.inventory
        if kind == "festival_crowd":
            if not self.crowd_aps:
                raise ScheduleError(
                    "festival_crowd: the city profile has no gathering place (a simulator site "
                    "with crowd = true) with access points near it"
                )
            site = site or rng.choice(sorted(self.crowd_aps))
            if site not in self.crowd_aps:
                raise ScheduleError(
                    f"festival_crowd: site {site!r} is not a gathering place of the profile; "
                    f"known: {', '.join(sorted(self.crowd_aps))}"
                )
            aps = self.crowd_aps[site]
            wards = {a.ward for a in inv.access_points if a.ap_id in aps}
            return replace(
                event,
                site=site,
                aps=aps,
                ward=wards.pop() if len(wards) == 1 else "",
                anomaly=not self.festival_day(start),
            )
        if kind in ("power_cut", "report_surge"):
            wards = sorted(inv.wards)
            ward = ward or rng.choice(wards)
            if ward not in wards:
                raise ScheduleError(f"{kind}: unknown ward {ward!r}; known: {', '.join(wards)}")
            if kind == "power_cut":
                return replace(event, ward=ward)
            codes = list(self.profile.category_codes)
            category = (
                category or rng.choices(codes, [c.weight for c in self.profile.categories])[0]
            )
            if category not in codes:
                raise ScheduleError(
                    f"report_surge: unknown category {category!r}; known: {', '.join(codes)}"
                )
            if reports < 0 or isinstance(reports, bool) or not isinstance(reports, int):
                raise ScheduleError(
                    f"report_surge: reports must be a whole number, not {reports!r}"
                )
            return replace(event, ward=ward, category=category, reports=reports or SURGE_REPORTS)
        aps = {a.ap_id: a for a in inv.access_points}
        if not aps:
            raise ScheduleError("ap_silent: the inventory has no access point")
        ap_id = ap_id or rng.choice(sorted(aps))
        if ap_id not in aps:
            raise ScheduleError(f"ap_silent: unknown access point {ap_id!r}")
        ap = aps[ap_id]
        return replace(event, ward=ap.ward, site=ap.site, aps=(ap_id,))

    def draw(self, now: datetime, rng: Any) -> SimEvent:
        """A random event starting about now (a crowd in the daytime: the next day's if late)."""
        kind = rng.choice(self.kinds())
        low, high = DRAWN_HOURS[kind]
        start = now
        if kind == "festival_crowd":
            local = now.astimezone(self.zone)
            if not 8 <= local.hour < 17:
                day = local.date() + timedelta(days=1 if local.hour >= 17 else 0)
                start = datetime(day.year, day.month, day.day, 8, tzinfo=self.zone)
                start += timedelta(hours=rng.uniform(0, 8))
        return self.make(kind, start, rng.uniform(low, high), rng)


def crowd_access_points(inventory: Inventory) -> dict[str, tuple[str, ...]]:
    """The access points near each gathering place of the profile (within about 300 m)."""
    found: dict[str, tuple[str, ...]] = {}
    for site in inventory.profile.simulation.sites:
        if not site.crowd:
            continue
        aps = tuple(
            a.ap_id
            for a in inventory.access_points
            if math.dist((a.lat, a.lon), site.centre) < 0.003
        )
        if aps:
            found[site.name] = aps
    return found


def _start(value: Any, zone: ZoneInfo, where: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ScheduleError(f"{where}: start {value!r} is not a date and time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise ScheduleError(f"{where}: start {value} needs a time of day too")
    if not isinstance(value, datetime):
        raise ScheduleError(f"{where}: start must be a date and time like 2026-11-18T09:00")
    return value if value.tzinfo else value.replace(tzinfo=zone)  # no offset: the city's time


def load_schedule(path: Path, inventory: Inventory, rng: Any) -> list[SimEvent]:
    """The events of a TOML schedule: `[[events]]` tables with kind, start (the city's local
    time unless an offset is given), hours and, as the kind needs, ward, site, ap_id, category,
    reports (what is left out is drawn with `rng`)."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScheduleError(f"cannot read the event schedule {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"event schedule {path} is not valid TOML: {exc}") from None
    picker = EventPicker(inventory)
    known = {"kind", "start", "hours", "ward", "site", "ap_id", "category", "reports"}
    events = []
    entries = table.get("events", [])
    if not isinstance(entries, list):
        raise ScheduleError(f"event schedule {path}: events must be [[events]] tables")
    for number, entry in enumerate(entries, start=1):
        where = f"event schedule {path}, event {number}"
        if not isinstance(entry, dict):
            raise ScheduleError(f"{where}: must be a table")
        unknown = set(entry) - known
        if unknown:
            raise ScheduleError(
                f"{where}: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}"
            )
        for key in ("kind", "start", "hours"):
            if key not in entry:
                raise ScheduleError(f"{where}: {key} is missing")
        hours = entry["hours"]
        if isinstance(hours, bool) or not isinstance(hours, int | float):
            raise ScheduleError(f"{where}: hours must be a number, not {hours!r}")
        texts = {k: entry.get(k, "") for k in ("ward", "site", "ap_id", "category")}
        for key, value in texts.items():
            if not isinstance(value, str):
                raise ScheduleError(f"{where}: {key} must be text, not {value!r}")
        try:
            events.append(
                picker.make(
                    str(entry["kind"]),
                    _start(entry["start"], picker.zone, where),
                    float(hours),
                    rng,
                    reports=entry.get("reports", 0),
                    **texts,
                )
            )
        except ScheduleError as exc:
            if str(exc).startswith(where):
                raise
            raise ScheduleError(f"{where}: {exc}") from None
    return events


class TruthWriter:
    """Appends each event, as it begins, to a CSV file (TRUTH_COLUMNS), flushed at once so a
    reader sees it while the simulator runs."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file: TextIO = self.path.open("w", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(self._file, TRUTH_COLUMNS)
        self._csv.writeheader()
        self._file.flush()

    def __call__(self, event: SimEvent) -> None:
        self._csv.writerow(event.row())
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_truth(path: Path) -> list[SimEvent]:
    """The events of a ground-truth file that TruthWriter wrote."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        return [
            SimEvent(
                kind=row["kind"],
                start=datetime.fromisoformat(row["start"]),
                end=datetime.fromisoformat(row["end"]),
                ward=row["ward"],
                site=row["site"],
                aps=tuple(row["aps"].split()),
                category=row["category"],
                reports=int(row["reports"] or 0),
                anomaly=row["anomaly"] == "true",
            )
            for row in csv.DictReader(f)
        ]


def write_truth(path: Path, events: Iterable[SimEvent]) -> None:
    writer = TruthWriter(path)
    try:
        for event in events:
            writer(event)
    finally:
        writer.close()
