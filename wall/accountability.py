"""Who is late: per responsible unit, its indicators of the period just ended and its field
reports; pure functions of the stored frames, the city profile and an injected `now`.

An indicator's period is the last one ended in the city's zone (at 00:30 on 1 December in
UTC+7, November has ended although it is still 30 November in UTC). Its value is due by the
end of the indicator's `due_day`-th day after that end: submitted by then is on time, after it
late, nothing yet past it missing, nothing yet before it still pending.

A field report is handled by the unit its Open311 `agency_responsible` names (a handling unit's
code or name), else by its category's `handling_unit`; its deadline is its category's
`deadline_hours`. Reports stored before the feed kept the agency get theirs from the category
when read. A closed report's handling time runs from `created` to the `updated` of its newest
version (the time it was closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from wall.city import CityProfile, Indicator, plain
from wall.domain import is_open_report
from wall.periods import Period, period_of

INDICATOR_STATES = ("on_time", "late", "missing", "pending")


def handling_unit(profile: CityProfile, agency: Any, category: Any) -> str | None:
    """The handling unit's code: the agency when it names one of the profile's handling units
    (code or either name, diacritics and case ignored), else the category's unit."""
    if isinstance(agency, str) and agency.strip():
        wanted = plain(agency)
        for unit in profile.handling_units:
            if wanted in (plain(unit.code), plain(unit.name_vi), plain(unit.name_en)):
                return unit.code
    for c in profile.categories:
        if c.code == category:
            return c.handling_unit
    return None


def deadline_hours(profile: CityProfile, category: Any) -> float | None:
    for c in profile.categories:
        if c.code == category:
            return c.deadline_hours
    return None


def due_period(indicator: Indicator, now: datetime, zone: ZoneInfo) -> Period:
    """The indicator's period that ended last, in the city's zone."""
    return period_of(indicator.period, now, zone).previous()


def due_at(indicator: Indicator, period: Period, zone: ZoneInfo) -> datetime:
    """The end of the `due_day`-th day after the period ends (local midnight, in the zone)."""
    return period.end(zone) + timedelta(days=indicator.due_day)


@dataclass(frozen=True)
class IndicatorDue:
    indicator: Indicator
    period: str
    due: datetime
    state: str  # INDICATOR_STATES
    submitted: datetime | None


def indicators_due(
    profile: CityProfile, values: pd.DataFrame, now: datetime, zone: ZoneInfo
) -> list[IndicatorDue]:
    """Each indicator's period just ended and where its value stands (`values`: the columns
    indicator_id, period, submitted_at of wall.submissions.latest_values): on time when the
    period's first value came before the due day ends, whatever was corrected later."""
    submitted: dict[tuple[str, str], datetime] = {}
    if not values.empty:
        for row in values[["indicator_id", "period", "submitted_at"]].itertuples(index=False):
            submitted[(row.indicator_id, row.period)] = pd.Timestamp(
                row.submitted_at
            ).to_pydatetime()
    found = []
    for indicator in profile.indicators:
        period = due_period(indicator, now, zone)
        due = due_at(indicator, period, zone)
        at = submitted.get((indicator.indicator_id, period.name))
        if at is not None:
            state = "on_time" if at < due else "late"
        else:
            state = "missing" if now >= due else "pending"
        found.append(IndicatorDue(indicator, period.name, due, state, at))
    return found


def reports_by_unit(profile: CityProfile, reports: pd.DataFrame) -> pd.DataFrame:
    """The newest version of each report with its `unit`, `deadline_hours`, `created_at`,
    `closed_at` (None while open) and `open` columns added."""
    columns = ["report_id", "unit", "deadline_hours", "created_at", "closed_at", "open"]
    if reports.empty or "report_id" not in reports.columns:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = reports.sort_values("time").drop_duplicates("report_id", keep="last")
    agency = frame["agency"] if "agency" in frame.columns else pd.Series(None, frame.index)
    category = frame["category"] if "category" in frame.columns else pd.Series(None, frame.index)
    is_open = is_open_report(frame)
    created = _times(frame, "created").fillna(pd.to_datetime(frame["time"], utc=True))
    updated = _times(frame, "updated").fillna(pd.to_datetime(frame["time"], utc=True))
    return pd.DataFrame(
        {
            "report_id": frame["report_id"],
            "unit": [handling_unit(profile, a, c) for a, c in zip(agency, category, strict=True)],
            "deadline_hours": [deadline_hours(profile, c) for c in category],
            "created_at": created,
            "closed_at": updated.where(~is_open),
            "open": is_open,
        }
    )


@dataclass(frozen=True)
class UnitStanding:
    """One unit's line of the league table."""

    unit: str
    indicators_due: int
    on_time: int
    late: int
    missing: int
    reports: int
    handled: int
    handled_on_time: int
    overdue_now: int
    oldest_overdue: datetime | None  # the deadline the longest past
    median_hours: float | None

    @property
    def on_time_percent(self) -> float | None:
        """Share of handled reports closed within their deadline (None before any is)."""
        return 100.0 * self.handled_on_time / self.handled if self.handled else None

    @property
    def indicator_percent(self) -> float | None:
        return 100.0 * self.on_time / self.indicators_due if self.indicators_due else None


def standings(
    profile: CityProfile,
    values: pd.DataFrame,
    reports: pd.DataFrame,
    now: datetime,
    zone: ZoneInfo,
) -> list[UnitStanding]:
    """Every handling unit's standing, best first: the league table. A unit ranks by its reports
    handled on time (%), then its indicators on time (%), then fewer overdue and missing; a unit
    with nothing to account for ranks last, in the profile's order."""
    due = indicators_due(profile, values, now, zone)
    handled = reports_by_unit(profile, reports)
    table = []
    for unit in profile.handling_units:
        mine = [d for d in due if d.indicator.responsible_unit == unit.code]
        rows = handled[handled["unit"] == unit.code]
        closed = rows[~rows["open"].astype(bool)]
        hours = (
            (
                pd.to_datetime(closed["closed_at"], utc=True)
                - pd.to_datetime(closed["created_at"], utc=True)
            )
            .dt.total_seconds()
            .div(3600)
        )
        limits = pd.to_numeric(closed["deadline_hours"], errors="coerce")
        open_rows = rows[rows["open"].astype(bool)]
        deadlines = [
            created + timedelta(hours=float(limit))
            for created, limit in zip(
                open_rows["created_at"], open_rows["deadline_hours"], strict=True
            )
            if limit is not None and limit == limit
        ]
        overdue = sorted(d.to_pydatetime() for d in deadlines if d <= now)
        counts = {s: sum(d.state == s for d in mine) for s in INDICATOR_STATES}
        table.append(
            UnitStanding(
                unit=unit.code,
                indicators_due=len(mine),
                on_time=counts["on_time"],
                late=counts["late"],
                missing=counts["missing"],
                reports=len(rows),
                handled=len(closed),
                handled_on_time=int((hours <= limits).sum()),
                overdue_now=len(overdue),
                oldest_overdue=overdue[0] if overdue else None,
                median_hours=float(hours.median()) if len(hours) else None,
            )
        )
    return sorted(table, key=_rank)


def _rank(s: UnitStanding) -> tuple:
    """Best first by the mean of the unit's on-time shares it has (its reports', its
    indicators'): a unit that only reports figures is ranked with one that only handles
    reports, not below it; then fewest overdue, missing and late."""
    shares = [p for p in (s.on_time_percent, s.indicator_percent) if p is not None]
    return (
        not shares,
        -(sum(shares) / len(shares)) if shares else 0.0,
        s.overdue_now + s.missing + s.late,
    )


def late_indicators(due: list[IndicatorDue]) -> Mapping[str, list[IndicatorDue]]:
    """Per responsible unit, its indicators past their due day without a submission."""
    found: dict[str, list[IndicatorDue]] = {}
    for d in due:
        if d.state == "missing":
            found.setdefault(d.indicator.responsible_unit, []).append(d)
    return found


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")


@dataclass(frozen=True)
class SourceHealth:
    """One data source's line: `feed` for a feed, `unit` for a unit's indicators."""

    kind: str  # "feed" or "indicators"
    key: str  # the feed's name, or the unit's code
    owner: str | None  # a handling unit's code; None when the profile names none
    freshness: timedelta | None  # None for indicators: they are due by their due day
    last_update: datetime | None
    live: bool


def source_health(
    profile: CityProfile,
    feeds: pd.DataFrame,
    due: list[IndicatorDue],
    values: pd.DataFrame,
    now: datetime,
    default_freshness: timedelta,
) -> list[SourceHealth]:
    """Each feed (declared in the profile's `[[data_sources]]`, or seen in `feeds`, the newest
    feed_health point per feed) and each unit's indicators: who answers for it, the freshness it
    must keep, when it last brought data, and whether it is live. A feed's last data is its
    newest point's time less its `last_message_age_s`; a unit's indicators are live while none
    is past its due day unsubmitted."""
    seen: dict[str, datetime | None] = {}
    if not feeds.empty and "feed" in feeds.columns:
        for row in feeds.to_dict("records"):
            at = pd.Timestamp(row["time"]).to_pydatetime()
            age = row.get("last_message_age_s")
            if isinstance(age, int | float) and not isinstance(age, bool) and age == age:
                at -= timedelta(seconds=float(age))
            seen[str(row["feed"])] = at
    declared = {d.feed: d for d in profile.data_sources}
    found = []
    for feed in dict.fromkeys([*declared, *sorted(seen)]):
        source = declared.get(feed)
        freshness = (
            timedelta(minutes=source.freshness_minutes) if source is not None else default_freshness
        )
        last = seen.get(feed)
        live = last is not None and now - last <= freshness
        found.append(
            SourceHealth("feed", feed, source.owner if source else None, freshness, last, live)
        )
    newest: dict[str, datetime] = {}
    if not values.empty:
        unit_of = {i.indicator_id: i.responsible_unit for i in profile.indicators}
        for row in values[["indicator_id", "time"]].itertuples(index=False):
            unit = unit_of.get(row.indicator_id)
            at = pd.Timestamp(row.time).to_pydatetime()
            if unit is not None and (unit not in newest or at > newest[unit]):
                newest[unit] = at
    for unit in dict.fromkeys(d.indicator.responsible_unit for d in due):
        missing = any(d.state == "missing" for d in due if d.indicator.responsible_unit == unit)
        found.append(SourceHealth("indicators", unit, unit, None, newest.get(unit), not missing))
    return found
