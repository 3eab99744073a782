"""Alert rules: pure functions from the city's current data to the conditions that hold now.

Timing (a condition must hold for `minutes` before it raises, and be gone for `clear_minutes`
before it clears) is the evaluator's job; a rule only says what is true at this instant. Rules
whose data carry their own duration (a report past its deadline, a feed silent since a time) use
it directly, so they need no waiting after a restart of the evaluator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from wall.accountability import handling_unit, indicators_due, late_indicators
from wall.alerts.anomaly import UsualReader, empty_silent, empty_usual
from wall.baselines import MIN_HOUR_VALUES, count_high
from wall.city import CityProfile
from wall.domain import (
    CAMERA_STATUS,
    CLOSED_REPORT_STATUSES,
    FEED_HEALTH,
    FIELD_REPORT,
    SCREEN_HEALTH,
    WIFI_USAGE,
    is_open_report,
)
from wall.store import Store
from wall.store.newest import Previous, newest
from wall.submissions import (
    SENT_REREAD,
    delivered,
    due_periods,
    latest_values,
    sent_in_due_periods,
)

SEVERITIES = ("critical", "high", "medium", "low")

# Every rule and its parameters; the settings file's [alert_rules.<rule>] tables override them.
RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ward_cameras_offline": {
        "severity": "critical",
        "percent": 30.0,  # raise when more than this share of a ward's cameras is offline
        "clear_percent": 20.0,  # hysteresis: clear only below this share
        "min_cameras": 3,
        "minutes": 2.0,
        "clear_minutes": 5.0,
    },
    "camera_offline": {"severity": "high", "minutes": 5.0, "clear_minutes": 2.0},
    "ap_down": {"severity": "medium", "minutes": 5.0, "clear_minutes": 2.0},
    "ap_over_capacity": {
        "severity": "medium",
        "percent": 100.0,  # clients above this share of capacity …
        "clear_percent": 90.0,  # … until they fall below this one
        "minutes": 15.0,
        "clear_minutes": 5.0,
    },
    "report_overdue": {
        "severity": "medium",
        # A category's deadline is the city profile's `deadline_hours` (or `<category>_hours`
        # here); this is that of a category the profile does not know.
        "hours": 72.0,
        "minutes": 0.0,
        "clear_minutes": 0.0,
    },
    # One alert per responsible unit whose indicators are past their due day unsubmitted.
    "indicators_late": {"severity": "medium", "minutes": 0.0, "clear_minutes": 0.0},
    "feed_silent": {"severity": "high", "minutes": 10.0, "clear_minutes": 1.0},
    "rejected_spike": {
        "severity": "low",
        "per_10_minutes": 100.0,  # rejected messages of one feed within 10 minutes
        "minutes": 0.0,
        "clear_minutes": 10.0,
    },
    "screen_silent": {
        "severity": "medium",
        # A named wall screen (`?screen=…`) not heard from for this long: its browser closed,
        # hung or lost the network. Keep it above twice `screen_heartbeat_seconds`.
        "minutes": 5.0,
        "clear_minutes": 0.0,
        # A screen not heard from for this long is taken as taken away: no longer watched.
        "forget_hours": 24.0,
    },
    # A watched series (WiFi clients of an AP or a site, new reports of a ward or a category,
    # cameras down in a ward, an indicator's value) outside what is usual for the day of the
    # week and hour (wall.baselines; quiet until there is history).
    "anomaly": {
        "severity": "medium",
        "deviations": 4.0,  # the band: the usual median ± this many sigmas (MAD-based) …
        "clear_deviations": 3.0,  # … and while raised, the narrower band it must come back into
        "min_difference": 5.0,  # users, reports or cameras away from the median, at least
        # An indicator's value away from its median by at least this share of it (its units
        # differ from one indicator to the next: %, tonnes, minutes).
        "indicator_min_percent": 5.0,
        "weeks": 4.0,  # of hourly history learned from
        "minutes": 15.0,
        "clear_minutes": 15.0,
        # An AP failing silently: up, and 0 clients at every reading for this long (raised
        # then, without the `minutes` hold: the silence is its own) …
        "silent_minutes": 60.0,
        # … at hours of the day when a whole hour of 0 readings came on at most this share of
        # its learned days (at least five of them) …
        "silent_zero_percent": 5.0,
        # … and its usual then (the slots' medians of its hourly means) is at least this many
        # users. Cleared once it has users again.
        "silent_min_usual": 1.0,
    },
}
# Conditions a ward-wide outage stands for, in that ward.
GROUPED_IN_WARD = ("camera_offline", "ap_down", "anomaly")
# Anomaly series that are the ward's outage itself, said against what is usual: not grouped
# away (a power cut raises the ward's one camera anomaly, never one per camera).
WARD_LEVEL_KINDS = ("cameras",)
# Anomaly series a festival's crowd is expected to raise: above the band on a festival day is
# no anomaly. Cameras down and indicators are told on a festival day as on any other.
CROWD_KINDS = ("ap", "site", "reports", "category")
# Rules whose data already carry how long the condition has held.
SELF_TIMED = ("report_overdue", "indicators_late", "feed_silent", "rejected_spike", "screen_silent")
# Measurements whose silence means a feed stopped (reports and indicators arrive rarely).
WATCHED_FEEDS = (CAMERA_STATUS.name, WIFI_USAGE.name)


def check_rules(value: Any) -> dict[str, dict[str, Any]]:
    """Defaults overridden by the settings table; ValueError naming rule and key on bad input."""
    if not isinstance(value, Mapping):
        raise ValueError("must be a table of rules ([alert_rules.camera_offline] …)")
    rules = {name: dict(params) for name, params in RULE_DEFAULTS.items()}
    for name, overrides in value.items():
        if name not in RULE_DEFAULTS:
            raise ValueError(f"unknown rule {name!r}; known: {', '.join(RULE_DEFAULTS)}")
        if not isinstance(overrides, Mapping):
            raise ValueError(f"{name} must be a table of parameters")
        for key, item in overrides.items():
            if key == "enabled":
                if not isinstance(item, bool):
                    raise ValueError(f"{name}.enabled must be true or false")
            elif key == "severity":
                if item not in SEVERITIES:
                    raise ValueError(f"{name}.severity must be one of {', '.join(SEVERITIES)}")
            elif key in RULE_DEFAULTS[name] or (
                name == "report_overdue" and key.endswith("_hours")
            ):
                if isinstance(item, bool) or not isinstance(item, int | float) or item < 0:
                    raise ValueError(f"{name}.{key} must be a number >= 0, not {item!r}")
                item = float(item)
            else:
                known = ", ".join(["enabled", *RULE_DEFAULTS[name]])
                if name == "report_overdue":
                    known += ", <category>_hours"
                raise ValueError(f"{name}: unknown parameter {key!r}; known: {known}")
            rules[name][key] = item
    return rules


@dataclass(frozen=True)
class Condition:
    """A rule that holds for one entity now."""

    rule: str
    entity: str
    severity: str
    ward: str | None = None
    since: datetime | None = None  # when it started to hold, where the data say so
    facts: Mapping[str, Any] = field(default_factory=dict)  # figures for the alert's text

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.entity}"


@dataclass(frozen=True)
class CityNow:
    """The data the rules look at, fetched once per evaluation."""

    now: datetime
    cameras: pd.DataFrame  # newest camera_status per camera
    aps: pd.DataFrame  # newest wifi_usage per AP
    reports: pd.DataFrame  # newest field_report per report still open
    feed_times: Mapping[str, datetime | None]  # newest point of each watched measurement
    health: pd.DataFrame  # feed_health points of the last 10 minutes
    deadlines: Mapping[str, float] = field(default_factory=dict)  # {category: hours}
    # Newest screen_health point per screen heard within `forget_hours` (read only while the
    # screen_silent rule is on).
    screens: pd.DataFrame = field(default_factory=pd.DataFrame)
    profile: CityProfile | None = None  # handling units, categories, indicators
    zone: ZoneInfo | None = None  # the city's, for indicators' periods
    submissions: pd.DataFrame | None = None  # latest value per indicator and period; None: unread
    # The anomaly rule's series now beside their usual values (wall.alerts.anomaly); empty
    # when the rule is off.
    usual: pd.DataFrame = field(default_factory=empty_usual)
    # APs up with 0 clients at every reading since a time, with how rare that is for them
    # (wall.alerts.anomaly.UsualReader.silent_aps); empty when the rule is off.
    silent: pd.DataFrame = field(default_factory=empty_silent)


def _open_reports(store: Store, _: datetime) -> list[pd.DataFrame]:
    # A city keeps tens of thousands of closed reports; only the open ones can be overdue.
    closed = {"status": CLOSED_REPORT_STATUSES}
    return [store.latest(FIELD_REPORT.name, FIELD_REPORT.entity, unless=closed)]


def _still_open(reports: pd.DataFrame, _: datetime) -> pd.Series:
    return is_open_report(reports)


def _screens_heard(forget_hours: float):
    def heard(store: Store, now: datetime) -> list[pd.DataFrame]:
        since = now - timedelta(hours=forget_hours)
        return [store.latest(SCREEN_HEALTH.name, SCREEN_HEALTH.entity, since=since)]

    def recent(screens: pd.DataFrame, now: datetime) -> pd.Series:
        return screens["time"] >= now - timedelta(hours=forget_hours)

    return newest(SCREEN_HEALTH.name, SCREEN_HEALTH.entity, heard, recent)


class CityReader:
    """What the rules look at, read each pass. The newest points are folded forward between
    hourly full reads (wall.store.newest): on a month of a city's history in InfluxDB 1.6 a
    pass that read them whole took 7–8 s. What only a rule that is off looks at is not read."""

    def __init__(self, profile: CityProfile, rules: Mapping[str, dict] | None = None) -> None:
        self.profile = profile
        screens = (rules or {}).get("screen_silent", RULE_DEFAULTS["screen_silent"])
        self.read_submissions = bool(profile.indicators) and (rules or {}).get(
            "indicators_late", {}
        ).get("enabled", True)
        anomaly = (rules or RULE_DEFAULTS)["anomaly"]
        # A rule that is off reads nothing.
        silent = anomaly.get("silent_minutes", RULE_DEFAULTS["anomaly"]["silent_minutes"])
        self._usual = (
            UsualReader(profile, anomaly["weeks"], silent_minutes=silent)
            if anomaly.get("enabled", True)
            else None
        )
        self._questions = {
            CAMERA_STATUS.name: newest(CAMERA_STATUS.name, CAMERA_STATUS.entity),
            WIFI_USAGE.name: newest(WIFI_USAGE.name, WIFI_USAGE.entity),
            FIELD_REPORT.name: newest(
                FIELD_REPORT.name, FIELD_REPORT.entity, _open_reports, _still_open
            ),
        }
        if screens.get("enabled", True):
            self._questions[SCREEN_HEALTH.name] = _screens_heard(screens["forget_hours"])
        self._previous: dict[str, Previous] = {}
        self._sent: tuple[datetime, tuple[str, ...], pd.DataFrame] | None = None

    def _indicator_values(self, store: Store, now: datetime) -> pd.DataFrame:
        """The periods delivered by the units and by automated sources; what the sources sent is
        counted in the store (a year of points for a yearly indicator), so it is asked again only
        when a period ends, or after SENT_REREAD."""
        zone = ZoneInfo(self.profile.timezone)
        periods = due_periods(self.profile, now, zone)
        if self._sent is None or periods != self._sent[1] or now - self._sent[0] >= SENT_REREAD:
            self._sent = (now, periods, sent_in_due_periods(store, self.profile, now, zone))
        return delivered(latest_values(store), self._sent[2])

    def __call__(self, store: Store, now: datetime) -> CityNow:
        frames = {}
        for name, fetch in self._questions.items():
            self._previous[name] = fetch(store, now, self._previous.get(name))
            frames[name] = self._previous[name][1]
        for name, frame in frames.items():
            if "ward" in frame.columns:  # a former ward's points under the unit replacing it
                frames[name] = frame.assign(ward=self.profile.todays_units(frame["ward"]))
        feeds = {}
        for name in WATCHED_FEEDS:
            times = frames[name]["time"]
            feeds[name] = times.max().to_pydatetime() if len(times) else None
        return CityNow(
            now=now,
            cameras=frames[CAMERA_STATUS.name],
            aps=frames[WIFI_USAGE.name],
            reports=frames[FIELD_REPORT.name],
            feed_times=feeds,
            health=store.points(
                FEED_HEALTH.name, now - timedelta(minutes=10), now + timedelta(0, 1)
            ),
            deadlines={c.code: c.deadline_hours for c in self.profile.categories},
            screens=frames.get(SCREEN_HEALTH.name, pd.DataFrame()),
            profile=self.profile,
            zone=ZoneInfo(self.profile.timezone),
            submissions=self._indicator_values(store, now) if self.read_submissions else None,
            usual=empty_usual()
            if self._usual is None
            else self._usual(store, now, frames[WIFI_USAGE.name], frames[CAMERA_STATUS.name]),
            silent=empty_silent()
            if self._usual is None
            else self._usual.silent_aps(store, now, frames[WIFI_USAGE.name]),
        )


def _is(frame: pd.DataFrame, column: str, value: bool) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].map(lambda v: v is value or v == value if isinstance(v, bool) else False)


def ward_cameras_offline(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    cams = city.cameras
    if cams.empty or "ward" not in cams.columns:
        return []
    conditions = []
    offline = _is(cams, "online", False)
    for ward, in_ward in cams.groupby("ward").groups.items():
        total = len(in_ward)
        down = int(offline.loc[in_ward].sum())
        percent = 100.0 * down / total
        threshold = p["clear_percent"] if f"ward_cameras_offline:{ward}" in active else p["percent"]
        if total >= p["min_cameras"] and percent > threshold:
            facts = {"offline": down, "total": total, "percent": round(percent, 1)}
            conditions.append(
                Condition("ward_cameras_offline", ward, p["severity"], ward, None, facts)
            )
    return conditions


def camera_offline(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    cams = city.cameras[_is(city.cameras, "online", False)]
    return [
        Condition(
            "camera_offline",
            row["camera_id"],
            p["severity"],
            row.get("ward"),
            facts={"name": row.get("name") or row["camera_id"]},
        )
        for row in _records(cams)
    ]


def ap_down(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    aps = city.aps[_is(city.aps, "up", False)]
    return [
        Condition(
            "ap_down", row["ap_id"], p["severity"], row.get("ward"), facts={"site": row.get("site")}
        )
        for row in _records(aps)
    ]


def ap_over_capacity(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    if not {"clients", "capacity"} <= set(city.aps.columns):
        return []
    conditions = []
    for row in _records(city.aps):
        clients, capacity = row.get("clients"), row.get("capacity")
        if not _number(clients) or not _number(capacity) or capacity <= 0:
            continue
        percent = 100.0 * clients / capacity
        key = f"ap_over_capacity:{row['ap_id']}"
        if percent > (p["clear_percent"] if key in active else p["percent"]):
            facts = {"clients": int(clients), "capacity": int(capacity), "site": row.get("site")}
            conditions.append(
                Condition(
                    "ap_over_capacity", row["ap_id"], p["severity"], row.get("ward"), facts=facts
                )
            )
    return conditions


def report_overdue(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    """One condition per handling unit with open reports past their category's deadline: how
    many, and the one the longest past it."""
    reports = city.reports
    if reports.empty or "status" not in reports.columns:
        return []
    per_unit: dict[str, list[tuple[datetime, dict]]] = {}
    if "report_id" in reports.columns:  # a report's newest version says whether it is open
        reports = reports.sort_values("time").drop_duplicates("report_id", keep="last")
    for row in _records(reports[is_open_report(reports)]):
        created = _time(row.get("created")) or row["time"].to_pydatetime()
        category = row.get("category") or "other"
        hours = p.get(f"{category}_hours", city.deadlines.get(category, p["hours"]))
        deadline = created + timedelta(hours=hours)
        if city.now >= deadline:
            unit = None
            if city.profile is not None:
                unit = handling_unit(city.profile, row.get("agency"), category)
            row["hours"] = hours
            per_unit.setdefault(unit or "", []).append((deadline, row))
    conditions = []
    for unit, late in per_unit.items():
        deadline, oldest = min(late, key=lambda item: item[0])
        facts = {
            "count": len(late),
            "oldest": oldest["report_id"],
            "hours": oldest["hours"],
            "title": oldest.get("title") or "",
            **_unit_names(city.profile, unit),
        }
        conditions.append(
            Condition("report_overdue", unit or "-", p["severity"], None, deadline, facts)
        )
    return conditions


def indicators_late(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    """One condition per responsible unit with indicators past their due day and no value; quiet
    while the town has no submissions at all (indicators not kept on the wall)."""
    values = city.submissions
    if city.profile is None or city.zone is None or values is None or values.empty:
        return []
    due = indicators_due(city.profile, values, city.now, city.zone)
    conditions = []
    for unit, late in late_indicators(due).items():
        oldest = min(late, key=lambda d: d.due)
        facts = {
            "count": len(late),
            "oldest": oldest.indicator.indicator_id,
            "period": oldest.period,
            **_unit_names(city.profile, unit),
        }
        conditions.append(
            Condition("indicators_late", unit, p["severity"], None, oldest.due, facts)
        )
    return conditions


def _unit_names(profile: CityProfile | None, code: str) -> dict[str, str]:
    for unit in profile.handling_units if profile else ():
        if unit.code == code:
            return {"unit_vi": unit.name_vi, "unit_en": unit.name_en}
    return {"unit_vi": "Chưa rõ đơn vị", "unit_en": "Unit not known"}


def feed_silent(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    conditions = []
    for feed, heard in city.feed_times.items():
        if heard is not None and city.now - heard >= timedelta(minutes=p["minutes"]):
            conditions.append(
                Condition(
                    "feed_silent", feed, p["severity"], None, heard, {"since": heard.isoformat()}
                )
            )
    return conditions


def screen_silent(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    """Named screens only: a page without `?screen=` may be anyone's browser tab, gone for good."""
    screens = city.screens
    if screens.empty or "named" not in screens.columns:
        return []
    conditions = []
    for row in _records(screens[_is(screens, "named", True)]):
        heard = row["time"].to_pydatetime()
        if city.now - heard >= timedelta(minutes=p["minutes"]):
            facts = {"since": heard.isoformat(), "url": row.get("url") or ""}
            conditions.append(
                Condition("screen_silent", row["screen"], p["severity"], None, heard, facts)
            )
    return conditions


def rejected_spike(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    health = city.health
    if health.empty or not {"feed", "rejected"} <= set(health.columns):
        return []
    conditions = []
    for feed, rows in health.sort_values("time").groupby("feed"):
        counts = pd.to_numeric(rows["rejected"], errors="coerce").dropna()
        steps = counts.diff().dropna()
        rejected = float(
            steps.where(steps >= 0, counts.loc[steps.index]).sum()
        )  # resets count anew
        if rejected > p["per_10_minutes"]:
            conditions.append(
                Condition(
                    "rejected_spike", str(feed), p["severity"], facts={"rejected": int(rejected)}
                )
            )
    return conditions


def anomaly(city: CityNow, p: dict, active: set[str]) -> list[Condition]:
    usual = city.usual
    if usual.empty:
        return []
    centre, sigma = usual["centre"].astype(float), usual["sigma"].astype(float)
    measured = usual["kind"] == "indicator"  # a figure, not a count: any sign, any scale
    raised = ("anomaly:" + usual["series"]).isin(active)
    deviations = raised.map({True: p["clear_deviations"], False: p["deviations"]})
    # A value read inside the hour (WiFi clients): the band widened by how much the usual
    # changes around it (wall.baselines.HourlyHistory.usual_at); 0 of the other series.
    slack = usual["slack"] if "slack" in usual.columns else pd.Series(0.0, usual.index)
    slack = slack.astype(float).fillna(0.0)
    low, high = centre - deviations * sigma - slack, centre + deviations * sigma + slack
    low = low.where(measured, low.clip(lower=0.0))
    # Counts: never below what counting noise alone reaches (the band the screens draw).
    noise = {d: count_high(centre.to_numpy(), d) for d in (p["deviations"], p["clear_deviations"])}
    noise_high = np.where(raised, noise[p["clear_deviations"]], noise[p["deviations"]])
    high = high.where(measured, np.fmax(high, noise_high))
    value = usual["value"].astype(float)
    expected = usual["festival"].astype(bool) & usual["kind"].isin(CROWD_KINDS)
    above = (value > high) & ~expected  # a festival's crowd is expected
    least = centre.abs() * p["indicator_min_percent"] / 100.0
    away = (value - centre).abs() >= least.where(measured, p["min_difference"])
    out = (above | (value < low)) & away
    shown_low = centre - p["deviations"] * sigma - slack
    shown_low = shown_low.where(measured, shown_low.clip(lower=0.0))
    shown_high = centre + p["deviations"] * sigma + slack
    shown_high = shown_high.where(measured, np.fmax(shown_high, noise[p["deviations"]]))
    least_possible, most_possible = figure_bounds(usual)
    shown_low, shown_high = (
        shown_low.clip(lower=least_possible),
        shown_high.clip(upper=most_possible),
    )
    conditions = []
    for i in usual.index[out]:
        row = usual.loc[i]
        if measured[i]:  # a tenth of the indicator's unit
            shown = (round(float(value[i]), 1), round(float(shown_low[i]), 1))
            shown += (round(float(shown_high[i]), 1),)
        else:  # whole users, reports or cameras, the band widened to them
            shown = (round(float(value[i])), int(shown_low[i]), int(-(-shown_high[i] // 1)))
        facts = {
            "kind": row["kind"],
            "name": row["name"],
            "site": row["site"] if isinstance(row["site"], str) else None,
            "value": shown[0],
            "low": shown[1],
            "high": shown[2],
            "usual": round(float(centre[i]), 1),
            "score": round(float((value[i] - centre[i]) / sigma[i]), 1),
            "level": row["level"],
            "weekday": int(row["weekday"]),
            "hour": int(row["hour"]),
            # The instant the band is of (WiFi clients: between the slots around it).
            "minute": int(row["minute"]) if pd.notna(row.get("minute")) else 0,
        }
        facts |= holiday_fact(row)
        if pd.notna(row.get("rise")) and bool(row["rise"]):  # a running total's last hour
            facts["rise"] = True
        for key in ("name_vi", "name_en", "unit_vi", "unit_en"):  # from the city profile
            if isinstance(row.get(key), str):
                facts[key] = row[key]
        ward = row["ward"] if isinstance(row["ward"], str) else None
        conditions.append(Condition("anomaly", row["series"], p["severity"], ward, facts=facts))
    silent = silent_aps(city.silent, p, active)
    return [c for c in conditions if c.entity not in {s.entity for s in silent}] + silent


def figure_bounds(usual: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Where each series' figure can lie, so its band in words stays there ("usual 81–100 %",
    never "81–104 %"): an indicator in `%` within 0–100 and a running total's rise not below
    0; anything else anywhere (counts are clipped at 0 by their own rule)."""
    least = pd.Series(-np.inf, usual.index)
    most = pd.Series(np.inf, usual.index)
    if "unit_vi" in usual.columns:
        share = usual["kind"].eq("indicator") & usual["unit_vi"].astype(str).str.strip().eq("%")
        least, most = least.mask(share, 0.0), most.mask(share, 100.0)
    if "rise" in usual.columns:
        least = least.mask(usual["rise"].map(lambda r: r is True or r == 1) & least.lt(0), 0.0)
    return least, most


def holiday_fact(row: pd.Series) -> dict:
    """On a public holiday (judged by Sunday's usual values), the words must say so."""
    return {"holiday": True} if pd.notna(row.get("holiday")) and bool(row["holiday"]) else {}


def silent_aps(silent: pd.DataFrame, p: dict, active: set[str]) -> list[Condition]:
    """APs failing silently: up with 0 clients at every reading for `silent_minutes`, at hours
    when a whole hour at 0 is rare for them (`silent_zero_percent` of at least MIN_HOUR_VALUES
    learned days) and their usual is at least `silent_min_usual`; once raised, held until they
    have users again, whatever the hour. The condition carries since when (no `minutes` hold on
    top) and takes the place of the AP's band anomaly, its key the same."""
    if silent.empty:
        return []
    minutes = silent["minutes"].astype(float)
    rare = (
        (silent["days"].astype(float) >= MIN_HOUR_VALUES)
        & (silent["zero_share"].astype(float) * 100.0 <= p["silent_zero_percent"])
        & (silent["centre"].astype(float) >= p["silent_min_usual"])
    )
    held = ("anomaly:" + silent["series"]).isin(active)
    found = (minutes >= p["silent_minutes"]) & (rare | held)
    conditions = []
    for i in silent.index[found]:
        row = silent.loc[i]
        low, high = row["low"], row["high"]
        known = pd.notna(low) and pd.notna(high)
        facts = {
            "kind": "ap",
            "name": row["name"],
            "site": row["site"] if isinstance(row["site"], str) else None,
            "value": 0,
            "silent_minutes": int(minutes[i]),
            "low": round(float(low)) if known else None,
            "high": round(float(high)) if known else None,
            "usual": round(float(row["centre"]), 1) if pd.notna(row["centre"]) else None,
            "zero_share": round(float(row["zero_share"]), 3)
            if pd.notna(row["zero_share"])
            else None,
            "level": row["level"] if known else "all",
            "weekday": int(row["weekday"]),
            "hour": int(row["hour"]),
            "minute": 0,
        }
        facts |= holiday_fact(row)
        ward = row["ward"] if isinstance(row["ward"], str) else None
        since = pd.Timestamp(row["since"]).to_pydatetime()
        conditions.append(Condition("anomaly", row["series"], p["severity"], ward, since, facts))
    return conditions


RULES: dict[str, Callable[[CityNow, dict, set[str]], list[Condition]]] = {
    "ward_cameras_offline": ward_cameras_offline,
    "camera_offline": camera_offline,
    "ap_down": ap_down,
    "ap_over_capacity": ap_over_capacity,
    "report_overdue": report_overdue,
    "indicators_late": indicators_late,
    "feed_silent": feed_silent,
    "rejected_spike": rejected_spike,
    "screen_silent": screen_silent,
    "anomaly": anomaly,
}


def conditions_now(
    city: CityNow, rules: Mapping[str, dict], active: set[str]
) -> dict[str, Condition]:
    """Every condition that holds now, keyed by alert key.

    A ward whose cameras are down together (a power cut) is one grouped alert: its cameras'
    and access points' own conditions (and their anomalies) are left out while the ward
    condition holds, and counted in the ward's facts instead; the ward's cameras-down anomaly
    (the same outage against what is usual for the ward) stays, one for the ward.
    """
    found: dict[str, Condition] = {}
    for name, rule in RULES.items():
        params = rules[name]
        if params.get("enabled", True):
            found.update((c.key, c) for c in rule(city, params, active))
    wards = {c.entity for c in found.values() if c.rule == "ward_cameras_offline"}
    grouped: dict[str, Counter] = {ward: Counter() for ward in wards}
    kept = {}
    for key, c in found.items():
        ward_level = c.rule == "anomaly" and c.facts.get("kind") in WARD_LEVEL_KINDS
        if c.rule in GROUPED_IN_WARD and c.ward in wards and not ward_level:
            grouped[c.ward][c.rule] += 1
        else:
            kept[key] = c
    for key, c in kept.items():
        if c.rule == "ward_cameras_offline":
            kept[key] = replace(c, facts={**c.facts, "aps_down": grouped[c.entity]["ap_down"]})
    return kept


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: v for k, v in row.items() if not _missing(v)} for row in frame.to_dict("records")]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _time(value: Any) -> datetime | None:
    """A report's `created` field: RFC 3339 text or epoch milliseconds, as the feeds store it."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else None
    if _number(value):
        return pd.Timestamp(int(value), unit="ms", tz="UTC").to_pydatetime()
    return None
