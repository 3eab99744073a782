"""The `anomaly` rule's data: what each watched series is now, beside what is usual for it.

Watched series: the WiFi clients of each access point (while it says it is up: one that is down
is `ap_down`'s) and of each site (its access points together); the new field reports of each
ward and of each category in the last hour; the cameras down in each ward now (the newest
status of each camera, as the cameras screen and `ward_cameras_offline` read it; a ward's power
cut is one series, so one alert, however many cameras it takes down); and each operating
indicator's value sent by its source over MQTT (`kpi`, the mean of the last hour). Their hourly
history (wall.baselines) is read from the store once, on the rule's first pass — `weeks` of
hourly means (of the cameras: each one's last status of each hour), which the store answers from
its hourly rollups past the raw points' retention — and then only the hours ended since are
folded in, one aggregate a new hour: a pass never learns again from scratch.

Beside them, access points that fail silently (`silent_aps`): up, and 0 clients at every
reading for a while. Such a 0 is often inside an AP's band (of an AP with 3–10 users, 0 is less
than 4 sigmas and 5 users below its usual), yet an hour of only 0 readings may never have
happened to it at that hour of the day: its hourly history says how rare one is.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from wall.baselines import HourlyHistory, Usual, last_hour_end
from wall.city import CityProfile
from wall.domain import CAMERA_STATUS, FIELD_REPORT, KPI, WIFI_USAGE
from wall.periods import period_of
from wall.store import Store

HOUR = timedelta(hours=1)
FRESH = timedelta(minutes=15)  # an AP's newest point older than this says nothing of now
# name: as stored (a ward's Vietnamese name, a site, an AP, a category's code, an indicator's
# id); name_vi, name_en: what the alert's words call it, from the city profile; unit_vi,
# unit_en: an indicator's unit.
COLUMNS = ["series", "kind", "name", "name_vi", "name_en", "unit_vi", "unit_en", "site", "ward"]
COLUMNS += ["value", "rise"]  # rise: the value is a running total's rise in the last hour
# The watched series, by what they count.
WATCHED = ("wifi", "reports", "categories", "cameras", "indicators")
REPORT_PREFIXES = {"reports": "reports:", "categories": "category:"}
USUAL_COLUMNS = [*COLUMNS, "level", "centre", "sigma", "slack", "weekday", "hour", "minute"]
USUAL_COLUMNS += ["festival", "holiday"]
# An AP read 0 at every reading since `since` (silent_aps): its words, and how rare an hour of
# only 0 readings is for it over the last `minutes` (wall.baselines.HourlyHistory.zero_hours:
# the fewest days, largest share of them at 0 and least usual of the hours they cover), with
# the range of its hourly values at now's slot for the explanation.
SILENT_COLUMNS = ["series", "kind", "name", "site", "ward", "since", "minutes", "days"]
SILENT_COLUMNS += ["zero_share", "centre", "low", "high", "level", "weekday", "hour", "holiday"]


def empty_usual() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in USUAL_COLUMNS})


def empty_silent() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SILENT_COLUMNS})


class UsualReader:
    """Each pass: the watched series' values now, each with what is usual at this hour."""

    def __init__(
        self,
        profile: CityProfile,
        weeks: float,
        watch: Collection[str] = WATCHED,
        silent_minutes: float = 60.0,
    ):
        """`watch`: which of WATCHED (all by default; fewer to measure what each costs);
        `silent_minutes`: the last minutes whose hours of the day a silent AP is judged by."""
        unknown = set(watch) - set(WATCHED)
        if unknown:
            raise ValueError(f"unknown series {sorted(unknown)}; known: {', '.join(WATCHED)}")
        self.profile = profile
        self.weeks = weeks
        self.watch = frozenset(watch)

        def history(counts: bool = True) -> HourlyHistory:
            return HourlyHistory(
                profile.timezone, profile.festival_days, weeks, counts, profile.holidays
            )

        self.wifi = history()
        self.reports = history()  # per ward and per category
        self.cameras = history()
        self.indicators = history(counts=False)
        self.learned_until: datetime | None = None
        self.reports_from: datetime | None = None  # the first hour the store has reports of
        self.silent_minutes = silent_minutes
        self.zero_since: pd.Series | None = None  # of each AP at 0 now: since when; None: unread

    def learn(self, store: Store, now: datetime) -> None:
        """Fold in the hours ended since the last pass (the first pass: the last `weeks`)."""
        end = last_hour_end(now)
        start = self.learned_until or end - timedelta(weeks=self.weeks)
        if start >= end:
            return
        watch = self.watch
        if "wifi" in watch:
            self.wifi.add(wifi_hours(store, start, end))
        if watch & {"reports", "categories"}:
            hours, self.reports_from = report_hours(
                store, start, end, self.profile, self.reports_from
            )
            wanted = tuple(p for w, p in REPORT_PREFIXES.items() if w in watch)
            self.reports.add(hours[hours["series"].str.startswith(wanted)])
        if "cameras" in watch:
            self.cameras.add(camera_hours(store, start, end, self.profile))
        if "indicators" in watch:
            self.indicators.add(indicator_hours(store, start, end, self.profile))
        self.learned_until = end

    def __call__(
        self, store: Store, now: datetime, aps: pd.DataFrame, cameras: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """`aps`, `cameras`: the newest point of each (the rules' CityNow reads them)."""
        self.learn(store, now)
        watch, profile, soon = self.watch, self.profile, now + timedelta(seconds=1)
        recent = pd.DataFrame()
        if watch & {"reports", "categories"}:
            recent = store.points(FIELD_REPORT.name, now - HOUR, soon)

        # A value read now (clients) against what is usual at this instant, between the slots
        # around it; what covers the last hour against the two clock hours it overlaps; cameras
        # down (a count that steps, not a curve) against the slot of the hour.
        def last_hour(history: HourlyHistory) -> Usual:
            return last_hour_usual(history, now)

        series = {
            "wifi": lambda: (wifi_now(aps, now), lambda: self.wifi.usual_at(now)),
            "reports": lambda: (reports_now(recent, profile), lambda: last_hour(self.reports)),
            "categories": lambda: (
                categories_now(recent, profile),
                lambda: last_hour(self.reports),
            ),
            "cameras": lambda: (cameras_now(cameras, profile), lambda: self.cameras.usual(now)),
            "indicators": lambda: (
                indicators_now(store.points(KPI.name, now - 2 * HOUR, soon), profile, now),
                lambda: last_hour(self.indicators),
            ),
        }
        frames = []
        for name in WATCHED:
            if name not in watch:
                continue
            current, usual_now = series[name]()
            if current.empty:
                continue
            usual = usual_now()
            joined = current.join(usual.frame, on="series", how="inner")
            frames.append(
                joined.assign(
                    weekday=usual.weekday,
                    hour=usual.hour,
                    minute=usual.minute,
                    festival=usual.festival,
                    holiday=usual.holiday,
                )
            )
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else empty_usual()

    def silent_aps(self, store: Store, now: datetime, aps: pd.DataFrame) -> pd.DataFrame:
        """The APs up with 0 clients at every reading since some time (SILENT_COLUMNS), after
        `__call__` of the same pass. The run of 0s is followed from each pass's newest reading
        of each AP (every reading while the evaluator looks more often than the APs report); on
        the first pass it starts where the AP's hourly history and one read of its readings
        since the last whole hour say (an evaluator restarted does not wait a whole silence
        again)."""
        if "wifi" not in self.watch:
            return empty_silent()
        needed = {"ap_id", "clients", "up", "time"}
        if aps.empty or not needed <= set(aps.columns):
            self.zero_since = pd.Series(dtype="datetime64[ns, UTC]")
            return empty_silent()
        fresh = aps[aps["time"] >= pd.Timestamp(now - FRESH)]
        up = fresh["up"].map(lambda v: v is True or v == True)  # noqa: E712 - numpy booleans too
        zero = up & (pd.to_numeric(fresh["clients"], errors="coerce") == 0)
        at_zero = fresh[zero]
        ids = at_zero["ap_id"].astype(str).to_numpy()
        read = pd.Series(
            pd.to_datetime(at_zero["time"], utc=True).array, index=pd.Index(ids, dtype=object)
        )
        if self.zero_since is None:  # the first pass: what the store says of the run before
            read = self._runs_before(store, now, read)
        known = (self.zero_since if self.zero_since is not None else read.iloc[:0]).reindex(
            read.index
        )
        self.zero_since = known.fillna(read)
        if at_zero.empty:
            return empty_silent()
        series = "ap:" + at_zero["ap_id"].astype(str)
        since = pd.to_datetime(self.zero_since.loc[ids], utc=True)
        minutes = (pd.Timestamp(now) - since).dt.total_seconds().to_numpy() / 60.0
        # The hours of the day the last `silent_minutes` cover, now's last.
        covered, step = [], timedelta(minutes=self.silent_minutes)
        at = now - step
        while at < now:
            covered.append(self.wifi.zero_hours(at))
            at += HOUR
        covered.append(self.wifi.zero_hours(now))
        index = pd.Index(series.to_numpy(), dtype=object)
        hours = [c.reindex(index) for c in covered]
        shown = hours[-1]
        weekday, hour, _, holiday = self.wifi.slot(now)
        site = at_zero["site"] if "site" in at_zero.columns else None
        ward = at_zero["ward"] if "ward" in at_zero.columns else None
        return pd.DataFrame(
            {
                "series": index,
                "kind": "ap",
                "name": at_zero["ap_id"].to_numpy(),
                "site": None if site is None else site.to_numpy(),
                "ward": None if ward is None else ward.to_numpy(),
                "since": since.array,
                "minutes": minutes,
                "days": np.fmin.reduce([h["days"].to_numpy(float) for h in hours]),
                "zero_share": np.fmax.reduce([h["zero_share"].to_numpy(float) for h in hours]),
                "centre": np.fmin.reduce([h["centre"].to_numpy(float) for h in hours]),
                "low": shown["low"].to_numpy(float),
                "high": shown["high"].to_numpy(float),
                "level": shown["level"].to_numpy(object),
                "weekday": weekday,
                "hour": hour,
                "holiday": holiday,
            }
        )[SILENT_COLUMNS]

    def _runs_before(self, store: Store, now: datetime, read: pd.Series) -> pd.Series:
        """Of APs at 0 now, seen for the first time: where no reading since the last whole hour
        had clients, the run of 0s began then, or at the start of the whole hours at 0 just
        before it (their hourly means)."""
        end = last_hour_end(now)
        if read.empty or self.wifi.until != end:
            return read
        since_end = store.aggregate(
            WIFI_USAGE.name, "clients", "max", end, now + timedelta(seconds=1), HOUR, ["ap_id"]
        )
        busy = set()
        if not since_end.empty:
            busy = set(since_end.loc[since_end["value"] > 0, "ap_id"].astype(str))
        runs = self.wifi.zero_run()
        hours = runs.reindex("ap:" + read.index.to_series()).fillna(0).to_numpy()
        start = pd.Series(pd.Timestamp(end) - pd.to_timedelta(hours, unit="h"), read.index)
        quiet = ~read.index.isin(list(busy))
        return read.where(~quiet, start)


def last_hour_usual(history: HourlyHistory, now: datetime) -> Usual:
    """What is usual for a count (or mean) of the last hour, which overlaps two clock hours:
    their centres weighted by how much of each it covers, the larger of their spreads; the
    weekday, hour and level of the one it covers most. Held against that one alone, the hour
    at 7:29 (half of it past 7:00, when the town's reports pick up) was judged against 6:00's
    night-time values."""
    earlier, later = history.usual(now - HOUR), history.usual(now)
    weight = 1.0 - (now.minute * 60 + now.second) / 3600.0  # of the earlier hour
    main = earlier if weight >= 0.5 else later
    both = earlier.frame.merge(
        later.frame, how="outer", left_index=True, right_index=True, suffixes=("_a", "_b")
    )
    centre_a, centre_b = both["centre_a"].astype(float), both["centre_b"].astype(float)
    centre = (weight * centre_a + (1.0 - weight) * centre_b).fillna(centre_a).fillna(centre_b)
    sigma = np.fmax(both["sigma_a"].astype(float), both["sigma_b"].astype(float))
    first, second = ("level_a", "level_b") if main is earlier else ("level_b", "level_a")
    frame = pd.DataFrame(
        {
            "level": both[first].where(both[first].notna(), both[second]),
            "centre": centre,
            "sigma": sigma,
        },
        index=both.index,
    )
    return replace(main, frame=frame)


def current_frame(**columns) -> pd.DataFrame:
    """A frame of COLUMNS: those not given are empty (None)."""
    frame = pd.DataFrame(columns)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[COLUMNS]


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
    """The first point of each report (status new), its ward as today's unit: time, ward,
    category."""
    if points.empty or not {"status", "ward", "report_id"} <= set(points.columns):
        return pd.DataFrame(
            {"time": pd.Series(dtype="datetime64[ns, UTC]"), "ward": [], "category": []}
        )
    first = points[points["status"] == "new"].drop_duplicates("report_id")
    wards = profile.todays_units(first["ward"]).fillna(first["ward"])
    category = first["category"] if "category" in first.columns else None
    return pd.DataFrame({"time": first["time"], "ward": wards, "category": category})


def report_hours(
    store: Store,
    start: datetime,
    end: datetime,
    profile: CityProfile,
    known_from: datetime | None = None,
) -> tuple[pd.DataFrame, datetime | None]:
    """New reports per ward and per category per hour, 0 for an hour without any (one read of
    the reports for both): time, series, value; and from when the store holds reports. Hours
    before its first report (`known_from`, else the first in this read) are not 0 but
    unknown: a store with two days of reports has two days of history, not four weeks."""
    points = store.points(FIELD_REPORT.name, start, end)
    if known_from is None and not points.empty:
        first = pd.to_datetime(points["time"], utc=True).min().floor("h")
        known_from = first.to_pydatetime()
    if known_from is None:
        return pd.DataFrame(columns=["time", "series", "value"]), None
    new = new_reports(points, profile)
    new = new.assign(time=pd.to_datetime(new["time"], utc=True).dt.floor("h"))
    hours = pd.date_range(max(start, known_from), end, freq="h", inclusive="left", tz="UTC")
    per_ward = hourly_counts(new, hours, "ward", profile.unit_names, "reports:")
    per_category = hourly_counts(new, hours, "category", profile.category_codes, "category:")
    return pd.concat([per_ward, per_category], ignore_index=True), known_from


def hourly_counts(
    new: pd.DataFrame, hours: pd.DatetimeIndex, column: str, known: tuple[str, ...], prefix: str
) -> pd.DataFrame:
    """Rows of `new` per hour and value of `column` (every known value, 0 where none)."""
    keys = sorted({*known, *new[column].dropna()})
    counts = new.groupby(["time", column]).size()
    grid = pd.MultiIndex.from_product([hours, keys], names=["time", column])
    counts = counts.reindex(grid, fill_value=0).reset_index(name="value")
    return pd.DataFrame(
        {
            "time": counts["time"],
            "series": prefix + counts[column].astype(str),
            "value": counts["value"],
        }
    )


def camera_hours(
    store: Store, start: datetime, end: datetime, profile: CityProfile
) -> pd.DataFrame:
    """Cameras down per ward per hour (each camera's last status of the hour, as its hourly
    rollup keeps it past the raw points' retention): time, series, value."""
    last = store.aggregate(
        CAMERA_STATUS.name, "online", "last", start, end, HOUR, ["camera_id", "ward"]
    )
    if last.empty or "ward" not in last.columns:
        return pd.DataFrame(columns=["time", "series", "value"])
    wards = profile.todays_units(last["ward"]).fillna(last["ward"])
    down = last.assign(ward=wards, down=is_flag(last["value"], False)).dropna(subset=["ward"])
    down = down.groupby(["time", "ward"], as_index=False)["down"].sum()
    return pd.DataFrame(
        {
            "time": down["time"],
            "series": "cameras:" + down["ward"].astype(str),
            "value": down["down"].astype(float),
        }
    )


def indicator_hours(
    store: Store, start: datetime, end: datetime, profile: CityProfile
) -> pd.DataFrame:
    """Each indicator's hourly mean of what its source sent (`ioc/kpi/<id>`); of a running
    total (the catalogue's `sum`: visits to date, restarting with each period), its rise in
    the hour instead (`hourly_rises`), so a new period's first hours are no fall."""
    means = store.aggregate(KPI.name, "actual", "mean", start, end, HOUR, ["indicator_id"])
    totals = running_totals(profile)
    if not means.empty:
        means = means[~means["indicator_id"].astype(str).isin(totals)]
    if totals:
        lasts = store.aggregate(
            KPI.name, "actual", "last", start - HOUR, end, HOUR, ["indicator_id"]
        )
        lasts = lasts[lasts["indicator_id"].astype(str).isin(totals)] if len(lasts) else lasts
        rises = hourly_rises(lasts, totals)
        means = pd.concat([means, rises[rises["time"] >= pd.Timestamp(start)]], ignore_index=True)
    if means.empty:
        return pd.DataFrame(columns=["time", "series", "value"])
    return pd.DataFrame(
        {
            "time": means["time"],
            "series": "indicator:" + means["indicator_id"].astype(str),
            "value": means["value"],
        }
    )


def running_totals(profile: CityProfile) -> dict[str, tuple[str, ZoneInfo]]:
    """{indicator id: (its period's kind, the city's zone)} of the catalogue's running totals."""
    zone = ZoneInfo(profile.timezone)
    return {i.indicator_id: (i.period, zone) for i in profile.indicators if i.aggregation == "sum"}


def _period_start(kind_zone: tuple[str, ZoneInfo], moment: pd.Timestamp) -> date:
    """The first day of the running total's period that holds `moment`."""
    return period_of(kind_zone[0], moment.to_pydatetime(), kind_zone[1]).first_day


def hourly_rises(lasts: pd.DataFrame, totals: dict[str, tuple[str, ZoneInfo]]) -> pd.DataFrame:
    """A running total's rise in each hour (lasts: time, indicator_id, value, the hour's last
    value): its last value less the hour before's, or the whole of it in the hour a new period
    began (the total restarted); an hour after a gap is left out (its rise is not known)."""
    rows = []
    for indicator_id, group in lasts.groupby(lasts["indicator_id"].astype(str)):
        group = group.sort_values("time")
        times = pd.to_datetime(group["time"], utc=True)
        ends = times + HOUR - pd.Timedelta(seconds=1)  # the hour's last value is of its end
        period = [_period_start(totals[indicator_id], t) for t in ends]
        values = group["value"].astype(float).to_numpy()
        for i in range(1, len(group)):
            if period[i] != period[i - 1]:
                rise = values[i]  # restarted in this hour
            elif times.iloc[i] - times.iloc[i - 1] == HOUR:
                rise = values[i] - values[i - 1]
            else:
                continue
            rows.append({"time": times.iloc[i], "indicator_id": indicator_id, "value": rise})
    return pd.DataFrame(rows, columns=["time", "indicator_id", "value"])


def is_flag(values: pd.Series, flag: bool) -> pd.Series:
    """Which values are the boolean `flag` (numpy's too, or 1/0 as a store may give it back);
    missing and anything else is neither."""
    return values.map(lambda v: not isinstance(v, str) and v is not None and v == flag)


def wifi_now(aps: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Clients now of each AP that says it is up, and of each site (a down AP counts 0)."""
    needed = {"ap_id", "clients", "up", "time"}
    if aps.empty or not needed <= set(aps.columns):
        return current_frame()
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
    return pd.concat([aps_now, sites_now], ignore_index=True).reindex(columns=COLUMNS)


def reports_now(recent: pd.DataFrame, profile: CityProfile) -> pd.DataFrame:
    """New reports of each ward in the last hour (0 for a ward without any)."""
    new = new_reports(recent, profile)
    counts = new.groupby("ward").size()
    wards = sorted({*profile.unit_names, *counts.index})
    counts = counts.reindex(wards, fill_value=0)
    return ward_frame("reports", wards, counts.to_numpy(float), profile)


def ward_frame(
    kind: str, wards: list[str], values: np.ndarray, profile: CityProfile
) -> pd.DataFrame:
    """A value per ward as series `<kind>:<ward>`, named in English as the profile names the
    ward (a ward it does not know keeps its stored name)."""
    names = {u.name_vi: u.name_en for u in profile.units}
    return current_frame(
        series=[f"{kind}:{w}" for w in wards],
        kind=kind,
        name=wards,
        name_vi=wards,
        name_en=[names.get(w, w) for w in wards],
        ward=wards,
        value=values,
    )


def categories_now(recent: pd.DataFrame, profile: CityProfile) -> pd.DataFrame:
    """New reports of each category in the last hour (0 for a category without any)."""
    new = new_reports(recent, profile)
    counts = new.groupby("category").size()
    codes = sorted({*profile.category_codes, *counts.index})
    counts = counts.reindex(codes, fill_value=0)
    labels = profile.category_labels
    return current_frame(
        series=["category:" + c for c in codes],
        kind="category",
        name=codes,
        name_vi=[labels.get(c, (c, c))[0] for c in codes],
        name_en=[labels.get(c, (c, c))[1] for c in codes],
        value=counts.to_numpy(float),
    )


def cameras_now(cameras: pd.DataFrame | None, profile: CityProfile) -> pd.DataFrame:
    """Cameras down now in each ward that has cameras: those whose newest status says offline
    (what `ward_cameras_offline` counts; a camera not heard from at all is not counted)."""
    if cameras is None or cameras.empty or not {"online", "ward"} <= set(cameras.columns):
        return current_frame()
    wards = profile.todays_units(cameras["ward"]).fillna(cameras["ward"])
    down = is_flag(cameras["online"], False).groupby(wards).sum()
    return ward_frame("cameras", [str(w) for w in down.index], down.to_numpy(float), profile)


def indicators_now(kpi: pd.DataFrame, profile: CityProfile, now: datetime) -> pd.DataFrame:
    """The mean of what each indicator's source sent in the last hour (`kpi`: its points of
    the last two hours); of a running total, its rise in the last hour (the newest value less
    the newest an hour ago, or the whole of it when its period began since). An indicator
    that sent nothing in the last hour says nothing now."""
    if kpi.empty or not {"indicator_id", "actual", "time"} <= set(kpi.columns):
        return current_frame()
    kpi = kpi.assign(
        time=pd.to_datetime(kpi["time"], utc=True),
        actual=pd.to_numeric(kpi["actual"], errors="coerce"),
        indicator_id=kpi["indicator_id"].astype(str),
    ).dropna(subset=["actual"])
    hour_ago = pd.Timestamp(now) - HOUR
    recent = kpi[kpi["time"] > hour_ago]
    totals = running_totals(profile)
    means = recent[~recent["indicator_id"].isin(totals)].groupby("indicator_id")["actual"].mean()
    rises = {}
    for indicator_id, group in recent[recent["indicator_id"].isin(totals)].groupby("indicator_id"):
        newest = group.sort_values("time").iloc[-1]
        before = kpi[(kpi["indicator_id"] == indicator_id) & (kpi["time"] <= hour_ago)]
        began = _period_start(totals[indicator_id], newest["time"])
        if began != _period_start(totals[indicator_id], hour_ago):
            rises[indicator_id] = float(newest["actual"])
        elif len(before):
            rises[indicator_id] = float(newest["actual"]) - float(
                before.sort_values("time")["actual"].iloc[-1]
            )
    means = pd.concat([means, pd.Series(rises, dtype=float)])
    catalogue = {i.indicator_id: i for i in profile.indicators}
    ids = [str(i) for i in means.index]

    def of(indicator_id: str, attribute: str, default: str = "") -> str:
        known = catalogue.get(indicator_id)
        return getattr(known, attribute) if known else default

    return current_frame(
        series=["indicator:" + i for i in ids],
        kind="indicator",
        name=ids,
        name_vi=[of(i, "name_vi", i) for i in ids],
        name_en=[of(i, "name_en", i) for i in ids],
        unit_vi=[of(i, "unit") for i in ids],
        unit_en=[of(i, "unit_en") for i in ids],
        value=means.to_numpy(float),
        rise=[i in rises for i in ids],
    )
