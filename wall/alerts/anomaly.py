"""The `anomaly` rule's data: what each watched series is now, beside what is usual for it.

Watched series: the WiFi clients of each access point (while it says it is up: one that is down
is `ap_down`'s) and of each site (its access points together), and the new field reports of each
ward in the last hour. Their hourly history (wall.baselines) is read from the store once, on the
rule's first pass — `weeks` of hourly means, which the store answers from its hourly rollups past
the raw points' retention — and then only the hours ended since are folded in, one aggregate
a new hour: a pass never learns again from scratch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from wall.baselines import HourlyHistory, last_hour_end
from wall.city import CityProfile
from wall.domain import FIELD_REPORT, WIFI_USAGE
from wall.store import Store

HOUR = timedelta(hours=1)
FRESH = timedelta(minutes=15)  # an AP's newest point older than this says nothing of now
COLUMNS = ["series", "kind", "name", "site", "ward", "value"]
USUAL_COLUMNS = [*COLUMNS, "level", "centre", "sigma", "weekday", "hour", "festival"]


def empty_usual() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in USUAL_COLUMNS})


class UsualReader:
    """Each pass: the watched series' values now, each with what is usual at this hour."""

    def __init__(self, profile: CityProfile, weeks: float):
        self.profile = profile
        self.weeks = weeks
        self.wifi = HourlyHistory(profile.timezone, profile.festival_days, weeks)
        self.reports = HourlyHistory(profile.timezone, profile.festival_days, weeks)
        self.learned_until: datetime | None = None

    def learn(self, store: Store, now: datetime) -> None:
        """Fold in the hours ended since the last pass (the first pass: the last `weeks`)."""
        end = last_hour_end(now)
        start = self.learned_until or end - timedelta(weeks=self.weeks)
        if start >= end:
            return
        self.wifi.add(wifi_hours(store, start, end))
        self.reports.add(report_hours(store, start, end, self.profile))
        self.learned_until = end

    def __call__(self, store: Store, now: datetime, aps: pd.DataFrame) -> pd.DataFrame:
        self.learn(store, now)
        recent = store.points(FIELD_REPORT.name, now - HOUR, now + timedelta(seconds=1))
        frames = []
        for history, current, at in (
            (self.wifi, wifi_now(aps, now), now),
            # The last hour's reports are held against the hour it mostly covers.
            (self.reports, reports_now(recent, self.profile), now - HOUR / 2),
        ):
            usual = history.usual(at)
            joined = current.join(usual.frame, on="series", how="inner")
            frames.append(
                joined.assign(weekday=usual.weekday, hour=usual.hour, festival=usual.festival)
            )
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else empty_usual()


def wifi_hours(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly mean clients of each AP, and their sum per site: time, series, value."""
    means = store.aggregate(WIFI_USAGE.name, "clients", "mean", start, end, HOUR, ["ap_id", "site"])
    if means.empty:
        return pd.DataFrame(columns=["time", "series", "value"])
    aps = pd.DataFrame(
        {
            "time": means["time"],
            "series": "ap:" + means["ap_id"].astype(str),
            "value": means["value"],
        }
    )
    sites = means.dropna(subset=["site"]).groupby(["time", "site"], as_index=False)["value"].sum()
    sites = pd.DataFrame(
        {
            "time": sites["time"],
            "series": "site:" + sites["site"].astype(str),
            "value": sites["value"],
        }
    )
    return pd.concat([aps, sites], ignore_index=True)


def new_reports(points: pd.DataFrame, profile: CityProfile) -> pd.DataFrame:
    """The first point of each report (status new), its ward as today's unit: time, ward."""
    if points.empty or not {"status", "ward", "report_id"} <= set(points.columns):
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "ward": []})
    first = points[points["status"] == "new"].drop_duplicates("report_id")
    wards = profile.todays_units(first["ward"]).fillna(first["ward"])
    return pd.DataFrame({"time": first["time"], "ward": wards})


def report_hours(
    store: Store, start: datetime, end: datetime, profile: CityProfile
) -> pd.DataFrame:
    """New reports per ward per hour, 0 for an hour without any: time, series, value."""
    new = new_reports(store.points(FIELD_REPORT.name, start, end), profile)
    hours = pd.date_range(start, end, freq="h", inclusive="left", tz="UTC")
    wards = sorted({*profile.unit_names, *new["ward"].dropna()})
    counts = (
        new.assign(time=pd.to_datetime(new["time"], utc=True).dt.floor("h"))
        .groupby(["time", "ward"])
        .size()
    )
    grid = pd.MultiIndex.from_product([hours, wards], names=["time", "ward"])
    counts = counts.reindex(grid, fill_value=0).reset_index(name="value")
    return pd.DataFrame(
        {
            "time": counts["time"],
            "series": "reports:" + counts["ward"].astype(str),
            "value": counts["value"],
        }
    )


def wifi_now(aps: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Clients now of each AP that says it is up, and of each site (a down AP counts 0)."""
    needed = {"ap_id", "clients", "up", "time"}
    if aps.empty or not needed <= set(aps.columns):
        return pd.DataFrame(columns=COLUMNS)
    fresh = aps[aps["time"] >= pd.Timestamp(now - FRESH)]
    up = fresh["up"].map(lambda v: v is True or v == True)  # noqa: E712 - numpy booleans too
    clients = pd.to_numeric(fresh["clients"], errors="coerce")
    site = fresh["site"] if "site" in fresh.columns else pd.Series(None, index=fresh.index)
    ward = fresh["ward"] if "ward" in fresh.columns else pd.Series(None, index=fresh.index)
    live = up & clients.notna()
    aps_now = pd.DataFrame(
        {
            "series": "ap:" + fresh["ap_id"][live].astype(str),
            "kind": "ap",
            "name": fresh["ap_id"][live],
            "site": site[live],
            "ward": ward[live],
            "value": clients[live],
        }
    )
    per_site = pd.DataFrame(
        {"site": site, "ward": ward, "value": clients.where(up, 0.0).fillna(0.0)}
    ).dropna(subset=["site"])
    per_site = per_site.groupby("site", as_index=False).agg(
        ward=("ward", "first"), value=("value", "sum")
    )
    sites_now = pd.DataFrame(
        {
            "series": "site:" + per_site["site"].astype(str),
            "kind": "site",
            "name": per_site["site"],
            "site": per_site["site"],
            "ward": per_site["ward"],
            "value": per_site["value"],
        }
    )
    return pd.concat([aps_now, sites_now], ignore_index=True)


def reports_now(recent: pd.DataFrame, profile: CityProfile) -> pd.DataFrame:
    """New reports of each ward in the last hour (0 for a ward without any)."""
    new = new_reports(recent, profile)
    counts = new.groupby("ward").size()
    wards = sorted({*profile.unit_names, *counts.index})
    counts = counts.reindex(wards, fill_value=0)
    return pd.DataFrame(
        {
            "series": ["reports:" + w for w in wards],
            "kind": "reports",
            "name": wards,
            "site": None,
            "ward": wards,
            "value": counts.to_numpy(float),
        }
    )
