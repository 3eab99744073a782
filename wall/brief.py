"""The leaders' brief: one period's headline figures as an A4 PDF and a CSV of the same figures.

`python -m wall brief --period day|week|month [--date YYYY-MM-DD] [--lang en] --out DIR`.
A period is the day, the Monday-to-Sunday week or the calendar month holding `--date` in the
city's zone (by default the last one that has ended). Figures come through the store interface
only; ward names are the city profile's. The PDF is drawn with ReportLab: vector charts, the
DejaVu fonts embedded so Vietnamese diacritics print right anywhere (docs/benchmarks.md says
why that library and how fast).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from wall.alerts.model import STREAM as ALERT_STREAM
from wall.brief_map import (
    BoundaryError,
    MapCounts,
    breakdown,
    category_label,
    located_counts,
    map_drawing,
    ward_label,
    ward_shapes,
)
from wall.brief_map import text as map_text
from wall.city import CityProfile
from wall.domain import CAMERA_STATUS, CLOSED_REPORT_STATUSES, FIELD_REPORT, WIFI_USAGE
from wall.indicator_projection import STATES as INDICATOR_STATES
from wall.periods import period_of
from wall.settings_core import PROJECT_DIR, Section, positive_whole_number, setting
from wall.settings_core import text as text_setting
from wall.store import Store

PERIODS = ("day", "week", "month")
# A brief's file name: brief-<period kind>-<first day>.pdf or .csv, and nothing else.
BRIEF_NAME = re.compile(r"brief-(day|week|month)-(\d{4}-\d{2}-\d{2})\.(pdf|csv)")
HOUR = timedelta(hours=1)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

TEXTS = {
    "title": ("Báo cáo tóm tắt cho lãnh đạo", "Leaders' brief"),
    "period_day": ("ngày", "day"),
    "period_week": ("tuần", "week"),
    "period_month": ("tháng", "month"),
    "made": ("Lập lúc", "Made"),
    "range": ("Dữ liệu", "Data"),
    "page": ("Trang {page}/{pages}", "Page {page} of {pages}"),
    "units": ("Xử lý phản ánh theo đơn vị", "Field reports by handling unit"),
    "unit": ("Đơn vị xử lý", "Handling unit"),
    "unit_reports": ("Phản ánh", "Reports"),
    "unit_handled": ("Đã xử lý", "Handled"),
    "unit_on_time": ("Đúng hạn", "On time"),
    "unit_overdue": ("Quá hạn", "Overdue"),
    "no_unit": ("chưa rõ đơn vị", "no unit"),
    "oldest_open": (
        "Phản ánh mở lâu nhất: {report} ({unit}), nhận lúc {time}",
        "Oldest open report: {report} ({unit}), received {time}",
    ),
    "indicators": ("Chỉ số điều hành", "Operating indicators"),
    "indicators_short": (
        "{count} chỉ số không đạt hoặc có nguy cơ không đạt mục tiêu",
        "Indicators missing or at risk of missing their target: {count}",
    ),
    "units_late": (
        "Đơn vị nộp chỉ số muộn hoặc chưa nộp: {units}",
        "Units late with their indicators, or not submitted: {units}",
    ),
    "reports_overdue": (
        "{count} phản ánh quá hạn xử lý vẫn còn mở",
        "Field reports open past their deadline: {count}",
    ),
    "ind_met": ("Đạt", "Met"),
    "ind_on_track": ("Đúng hướng", "On track"),
    "ind_at_risk": ("Có nguy cơ không đạt", "At risk"),
    "ind_missed": ("Không đạt", "Missed"),
    "ind_no_data": ("Chưa có số liệu", "No data"),
    "ind_line": (
        "{name} ({period}): {value} / mục tiêu {target}",
        "{name} ({period}): {value} / target {target}",
    ),
    "ind_late_title": ("Số liệu nộp muộn hoặc chưa nộp", "Values submitted late or not at all"),
    "ind_late": ("nộp muộn", "late"),
    "ind_missing": ("chưa nộp", "not submitted"),
    "ind_late_line": ("{name} ({period}) – {unit}: {state}", "{name} ({period}) – {unit}: {state}"),
    "ind_none_late": (
        "Mọi số liệu đến hạn đều nộp đúng hạn.",
        "Every value due was submitted on time.",
    ),
    "ind_changes_title": (
        "Thay đổi so với báo cáo trước ({period})",
        "Changes since the last brief ({period})",
    ),
    "ind_change_line": ("{name}: {before} → {now}", "{name}: {before} → {now}"),
    "ind_change_values": ("giá trị {before} → {now}", "value {before} → {now}"),
    "ind_no_change": ("Không thay đổi.", "No change."),
    "none_open": ("Cuối kỳ không còn phản ánh nào đang mở.", "No report was open at the end."),
    "headline": ("Số liệu chính so với kỳ trước", "Headline figures against the previous period"),
    "decide": ("Cần quyết định", "Needs a decision"),
    "nothing_to_decide": ("Không có việc cần quyết định.", "Nothing needs a decision."),
    "cameras": ("Camera", "Cameras"),
    "wifi": ("WiFi công cộng", "Public WiFi"),
    "reports": ("Phản ánh hiện trường", "Field reports"),
    "data": ("Về dữ liệu", "About the data"),
    "no_gaps": ("Không có khoảng trống dữ liệu trong kỳ.", "No gaps in the data this period."),
    "gap": (
        "Không có dữ liệu {source} từ {start} đến {end}",
        "No {source} data from {start} to {end}",
    ),
    "no_data": ("không có dữ liệu", "no data"),
    "camera_availability": ("Camera hoạt động", "Camera availability"),
    "wifi_users_mean": ("Người dùng WiFi trung bình", "WiFi users, mean"),
    "wifi_users_peak": ("Người dùng WiFi cao nhất (giờ)", "WiFi users, peak hour"),
    "reports_received": ("Phản ánh nhận được", "Field reports received"),
    "reports_resolved": ("Phản ánh đã xử lý", "Field reports resolved"),
    "alerts_raised": ("Cảnh báo phát sinh", "Alerts raised"),
    "alerts_acknowledged": ("Cảnh báo đã xác nhận", "Alerts acknowledged"),
    "minutes_to_acknowledge": ("Phút đến khi xác nhận (TB)", "Minutes to acknowledge, mean"),
    "alerts_escalated": ("Cảnh báo chuyển cấp", "Alerts escalated"),
    "indicators_met": ("Chỉ số đạt mục tiêu", "Indicators meeting target"),
    "unacknowledged": (
        "{count} cảnh báo phát sinh trong kỳ chưa được xác nhận",
        "Alerts raised this period and not acknowledged: {count}",
    ),
    "metric": ("Chỉ số", "Figure"),
    "this_period": ("Kỳ này", "This period"),
    "previous": ("Kỳ trước", "Previous"),
    "change": ("Thay đổi", "Change"),
    "up": ("▲ tăng", "▲ up"),
    "down": ("▼ giảm", "▼ down"),
    "same": ("= không đổi", "= same"),
    "ward": ("Phường/xã", "Ward"),
    "site": ("Điểm WiFi", "Site"),
    "low_availability": (
        "Camera tại {ward} chỉ hoạt động {value} thời gian",
        "Cameras in {ward} were up only {value} of the time",
    ),
    "backlog": (
        "Nhận {received} phản ánh, chỉ xử lý {resolved}: tồn đọng tăng",
        "{received} reports received, only {resolved} resolved: the backlog grows",
    ),
    "gaps_named": (
        "Dữ liệu bị thiếu trong kỳ: xem mục cuối",
        "Data missing this period: see the last section",
    ),
    "busiest_sites": (
        "Điểm WiFi đông nhất (người dùng trung bình)",
        "Busiest WiFi sites (mean users)",
    ),
    "by_ward": ("Theo phường/xã", "By ward"),
    "longest_outages": ("Camera mất kết nối lâu nhất", "Cameras offline longest"),
    "camera": ("Camera", "Camera"),
    "offline_hours": ("Số giờ mất kết nối", "Hours offline"),
    "wifi_peak": ("Giờ đông nhất: {at}, {users} người dùng", "Busiest hour: {at}, {users} users"),
}
AVAILABILITY_AT_RISK = 0.9  # a ward whose cameras were up less of the period needs a decision


def _language(value: object) -> str:
    if value not in ("vi", "en"):
        raise ValueError(f"{value!r} is not vi or en")
    return str(value)


@dataclass(frozen=True)
class BriefSettings(Section):
    """Leaders' briefs (wall/brief.py)"""

    brief_dir: str = setting(
        str(PROJECT_DIR / "data" / "briefs"),
        text_setting,
        "Folder where `python -m wall briefs` writes each ended day's, week's and month's brief "
        "(PDF and CSV); a brief whose PDF is there is not made again.",
    )
    brief_keep_days: int = setting(
        400,
        positive_whole_number,
        "Days a brief is kept (counted from its period's first day); older ones are removed, "
        "and periods older than this are not caught up.",
    )
    brief_lang: str = setting("vi", _language, "Language of the briefs: vi or en.")


class BriefError(ValueError):
    """A period or date that names no brief; the message says what one looks like."""


def text(key: str, lang: str, **values: object) -> str:
    vi, en = TEXTS[key]
    return (vi if lang == "vi" else en).format(**values)


@dataclass(frozen=True)
class BriefPeriod:
    kind: str
    first_day: date
    next_first_day: date

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.first_day, time(), zone)

    def end(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.next_first_day, time(), zone)

    def previous(self) -> BriefPeriod:
        return brief_period(self.kind, self.first_day - timedelta(days=1))


def brief_period(kind: str, day: date) -> BriefPeriod:
    """The day, Monday-to-Sunday week or calendar month holding `day`."""
    if kind == "day":
        return BriefPeriod(kind, day, day + timedelta(days=1))
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return BriefPeriod(kind, first, first + timedelta(days=7))
    if kind == "month":
        first = day.replace(day=1)
        return BriefPeriod(kind, first, (first + timedelta(days=32)).replace(day=1))
    raise BriefError(f"--period {kind!r} is not one of {', '.join(PERIODS)}")


def chosen_period(kind: str, date_text: str | None, now: datetime, zone: ZoneInfo) -> BriefPeriod:
    """The period of `--date`, or the last one that has ended; BriefError for one not ended."""
    if kind not in PERIODS:
        raise BriefError(f"--period {kind!r} is not one of {', '.join(PERIODS)}")
    today = now.astimezone(zone).date()
    if date_text is None:
        return brief_period(kind, brief_period(kind, today).first_day - timedelta(days=1))
    try:
        day = date.fromisoformat(date_text.strip())
    except ValueError:
        raise BriefError(f"--date {date_text!r} is not a date (YYYY-MM-DD)") from None
    period = brief_period(kind, day)
    if period.end(zone) > now:
        raise BriefError(
            f"--date {date_text}: that {kind} ends {period.next_first_day} and has not ended yet"
        )
    return period


@dataclass
class Figures:
    """What one period's brief says; the PDF and the CSV are both written from it."""

    camera_availability: float | None = None  # share of camera status points online
    camera_by_ward: dict[str, float] = field(default_factory=dict)
    wifi_users_mean: float | None = None  # the town's concurrent users, mean of hours
    wifi_users_peak: float | None = None  # the busiest hour's
    wifi_peak_at: datetime | None = None  # that hour's start
    wifi_by_site: dict[str, float] = field(default_factory=dict)
    reports_received: int = 0
    reports_resolved: int = 0
    # {today's ward or category code: (received, resolved)}, as the headline counts them
    reports_by_ward: dict[str, tuple[int, int]] = field(default_factory=dict)
    reports_by_category: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The ward map's counts (reports received by where they were made), when the profile has
    # boundaries the map can be drawn from; else None and, for a file it cannot, why not.
    report_map: MapCounts | None = None
    map_problem: BoundaryError | None = None
    alerts_raised: int = 0
    alerts_acknowledged: int = 0  # of those raised in the period
    alerts_escalated: int = 0
    minutes_to_acknowledge: float | None = None  # mean, of those acknowledged
    gaps: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    # Per handling unit (code): its reports of the period, handled, handled within their
    # category's deadline, open past it at the period's end (wall.accountability.standings).
    units: dict[str, UnitFigures] = field(default_factory=dict)
    oldest_open: tuple[str, datetime, str | None] | None = None  # report, created, unit
    # Each catalogue indicator judged at the period's end (wall.indicator_projection): id,
    # state, its period, value (None: no data); and those due and late or missing by then.
    indicators: list[tuple[str, str, str, float | None]] = field(default_factory=list)
    indicators_late: list[tuple[str, str, str]] = field(default_factory=list)  # id, period, state
    # The cameras offline longest in the period: name (or id), ward, hours offline (summed
    # over the hours it reported in, from its hourly share of points online).
    camera_downtime: list[tuple[str, str | None, float]] = field(default_factory=list)

    @property
    def indicators_met(self) -> int | None:
        """How many indicators met their target at the period's end: the first page's figure
        against target (None when none was judged)."""
        if not self.indicators:
            return None
        return sum(1 for _, state, _, _ in self.indicators if state == "met")


@dataclass(frozen=True)
class UnitFigures:
    reports: int
    handled: int
    handled_on_time: int
    overdue: int


def figures(
    store: Store,
    start: datetime,
    end: datetime,
    profile: CityProfile | None = None,
    shown: bool = True,
) -> Figures:
    """One pass over each telemetry measurement (hourly windows), reused for every figure of it
    and for its data gaps: the reads are most of a brief's time. `shown=False` (the previous
    period's, only compared against) leaves out what a brief lists of its own period alone:
    the indicator values due and late (a count of the MQTT values of each indicator's period
    just ended) and the names of the cameras offline longest (a read of their newest points)."""
    out = Figures()
    # Per camera and hour: the same pass gives the wards' availability and the longest outages.
    per_camera = ("ward", "camera_id")
    cams = store.aggregate(CAMERA_STATUS.name, "online", "mean", start, end, HOUR, by=per_camera)
    counts = store.aggregate(CAMERA_STATUS.name, "online", "count", start, end, HOUR, by=per_camera)
    if len(cams):
        keys = ["time", "ward", "camera_id"]
        both = cams.merge(counts, on=keys, how="left", suffixes=("_mean", "_count"))
        both["up"] = both["value_mean"] * both["value_count"]
        per_ward = both.groupby("ward")[["up", "value_count"]].sum()
        out.camera_by_ward = (per_ward["up"] / per_ward["value_count"]).to_dict()
        out.camera_availability = float(per_ward["up"].sum() / per_ward["value_count"].sum())
        if shown:
            out.camera_downtime = camera_downtime(store, both)
    per_ap = store.aggregate(
        WIFI_USAGE.name, "clients", "mean", start, end, HOUR, by=("site", "ap_id")
    )
    if len(per_ap):
        users = per_ap.groupby("time")["value"].sum()  # the town's users each hour
        out.wifi_users_mean, out.wifi_users_peak = float(users.mean()), float(users.max())
        out.wifi_peak_at = pd.Timestamp(users.idxmax()).to_pydatetime()
        per_site = per_ap.groupby(["time", "site"])["value"].sum()  # a site's users each hour
        out.wifi_by_site = per_site.groupby("site").mean().to_dict()
    out.gaps = [
        *data_gaps(CAMERA_STATUS.name, counts, start, end),
        *data_gaps(WIFI_USAGE.name, per_ap, start, end),
    ]
    reports = store.points(FIELD_REPORT.name, start, end)
    if len(reports) and "status" in reports.columns:
        received = reports[reports["status"] == "new"].drop_duplicates("report_id")
        out.reports_received = len(received)
        resolved = reports[reports["status"].isin(CLOSED_REPORT_STATUSES)]
        out.reports_resolved = resolved["report_id"].nunique()
        out.reports_by_ward = breakdown(reports, profile, "ward")
        out.reports_by_category = breakdown(reports, profile, "category")
        if profile is not None:
            unit_figures(profile, reports, end, out)
    if profile is not None and profile.boundaries:
        try:
            out.report_map = located_counts(ward_shapes(profile), reports)
        except BoundaryError as exc:
            out.map_problem = exc
    if profile is not None:
        indicator_figures(store, profile, end, out, late=shown)
    alert_figures(store, start, end, out)
    return out


LONGEST_OUTAGES = 5


def camera_downtime(store: Store, hourly: pd.DataFrame) -> list[tuple[str, str | None, float]]:
    """The cameras offline longest, from their hourly share of points online (`hourly`: time,
    ward, camera_id, value_mean), with the names their newest points give."""
    offline = (1 - hourly["value_mean"].astype(float)).groupby(hourly["camera_id"]).sum()
    worst = offline[offline > 0].sort_values(ascending=False).head(LONGEST_OUTAGES)
    if worst.empty:
        return []
    wards = hourly.drop_duplicates("camera_id", keep="last").set_index("camera_id")["ward"]
    newest = store.latest(CAMERA_STATUS.name, "camera_id", hourly["time"].min())
    names: dict[str, str] = {}
    if not newest.empty and "name" in newest.columns:
        named = newest[newest["camera_id"].isin(worst.index)]
        names = {c: str(n) for c, n in zip(named["camera_id"], named["name"], strict=True) if n}
    return [
        (names.get(camera, camera), wards.get(camera), round(float(hours), 1))
        for camera, hours in worst.items()
    ]


def unit_figures(profile: CityProfile, reports: pd.DataFrame, end: datetime, out: Figures) -> None:
    """On-time handling per handling unit and the oldest report still open at the period's end,
    of the reports with a version in the period (the accountability screen's rules)."""
    from wall.accountability import reports_by_unit, standings

    empty = pd.DataFrame({"indicator_id": [], "period": [], "time": []})
    for s in standings(profile, empty, reports, end.astimezone(UTC), ZoneInfo("UTC")):
        if s.reports:
            out.units[s.unit] = UnitFigures(s.reports, s.handled, s.handled_on_time, s.overdue_now)
    rows = reports_by_unit(profile, reports)
    still_open = rows[rows["open"].astype(bool)].sort_values("created_at")
    if len(still_open):
        first = still_open.iloc[0]
        created = pd.Timestamp(first["created_at"]).to_pydatetime()
        out.oldest_open = (str(first["report_id"]), created, first["unit"])


def indicator_figures(
    store: Store, profile: CityProfile, end: datetime, out: Figures, late: bool = True
) -> None:
    """Each indicator of the catalogue as the indicators screen judged it at the period's end
    (its latest accepted value, a unit's submission or an MQTT value, and the same projection:
    met, on track, at risk, missed, no data), and the values due by then that came late or not
    at all, an automated source's counting as delivered (the accountability screen's rules)."""
    from layouts.common import Context
    from layouts.indicators import assess
    from layouts.indicators import latest_values as shown_values
    from wall.accountability import indicators_due
    from wall.i18n import Translator
    from wall.submissions import delivered, sent_in_due_periods

    zone = end.tzinfo if isinstance(end.tzinfo, ZoneInfo) else ZoneInfo("UTC")
    submitted = submissions_at(store, end)
    ctx = Context(now=end, tz=zone, t=Translator("vi"), stale_after_seconds=0, profile=profile)
    daily = kpi_daily_at(store, end)
    data = {"kpi": kpi_newest_at(store, profile, end, zone, daily), "kpi_submitted": submitted}
    shown = assess(shown_values(data, ctx), daily, ctx)
    judged = {
        row["indicator_id"]: row["projection"]
        for row in shown.to_dict("records")
        if row.get("projection") is not None
    }
    for indicator in profile.indicators:
        found = judged.get(indicator.indicator_id)
        if found is None:
            period = period_of(indicator.period, end - timedelta(microseconds=1), zone)
            out.indicators.append((indicator.indicator_id, "no_data", period.name, None))
        else:
            out.indicators.append(
                (indicator.indicator_id, found.state, found.period.name, found.value)
            )
    if not late:
        return
    sent = sent_in_due_periods(store, profile, end, zone)
    order = {u.code: n for n, u in enumerate(profile.handling_units)}
    overdue = [
        due
        for due in indicators_due(profile, delivered(submitted, sent), end, zone)
        if due.state in ("late", "missing")
    ]
    overdue.sort(key=lambda d: order.get(d.indicator.responsible_unit, len(order)))  # per unit
    out.indicators_late = [(d.indicator.indicator_id, d.period, d.state) for d in overdue]


def submissions_at(store: Store, end: datetime) -> pd.DataFrame:
    """wall.submissions.latest_values as it stood at `end`: the newest value of each indicator
    and period given before then (a later correction is the next brief's)."""
    from wall.submissions import STREAM, values_of

    newest = {e.key: e for e in store.events(STREAM) if e.time < end}
    return values_of(newest)


def kpi_newest_at(
    store: Store, profile: CityProfile, end: datetime, zone: ZoneInfo, daily: pd.DataFrame
) -> pd.DataFrame:
    """The newest MQTT `kpi` point of each catalogue indicator before `end` (the screen's `kpi`
    part then): each one's last day with points, from `daily` (kpi_daily_at's days) or else a
    daily count of its own points back to the start of its period before the one holding `end`;
    only that day's points are read."""
    from wall.store.newest import newest_per_entity

    moment = end - timedelta(microseconds=1)
    last_day: dict[str, pd.Timestamp] = {}
    if not daily.empty:
        last_day.update(daily.groupby("indicator_id")["time"].max().to_dict())
    quiet: dict[datetime, list[str]] = {}  # not sent in those days: looked for further back
    for indicator in profile.indicators:
        if indicator.indicator_id not in last_day:
            since = period_of(indicator.period, moment, zone).previous().start(zone)
            quiet.setdefault(since, []).append(indicator.indicator_id)
    for since, ids in quiet.items():
        counts = store.aggregate(
            "kpi", "actual", "count", since, end, timedelta(days=1), by=["indicator_id"],
            where={"indicator_id": ids},
        )  # fmt: skip
        if not counts.empty:
            counts = counts[pd.to_numeric(counts["value"]) > 0]
            last_day.update(counts.groupby("indicator_id")["time"].max().to_dict())
    catalogue = {i.indicator_id for i in profile.indicators}
    by_day: dict[pd.Timestamp, list[str]] = {}
    for indicator_id, day in last_day.items():
        if indicator_id in catalogue:
            by_day.setdefault(pd.Timestamp(day), []).append(indicator_id)
    frames = []
    for day, ids in by_day.items():
        first = day.to_pydatetime()
        frames.append(
            store.points(
                "kpi", first, min(first + timedelta(days=1), end), where={"indicator_id": ids}
            )
        )
    return newest_per_entity([f for f in frames if not f.empty], "indicator_id")


def kpi_daily_at(store: Store, end: datetime) -> pd.DataFrame:
    """The screen's `kpi_daily` part at `end`: daily means of the MQTT values, the trend a
    period under way is projected from."""
    from layouts.indicators import TREND_POINTS

    return store.aggregate(
        "kpi", "actual", "mean", end - timedelta(days=TREND_POINTS), end, timedelta(days=1),
        ["indicator_id"],
    )  # fmt: skip


def indicator_changes(
    now: Figures, before: Figures
) -> list[tuple[str, str, str, float | None, float | None, str, str]]:
    """Each indicator whose state at this period's end differs from the previous period's end
    (both judged from the store, so a brief never made still counts): id, state before, state
    now, value before, value now, period before, period now."""
    was = {i: (state, period, value) for i, state, period, value in before.indicators}
    found = []
    for indicator_id, state, period, value in now.indicators:
        old_state, old_period, old_value = was.get(indicator_id, ("no_data", "", None))
        if state != old_state:
            found.append((indicator_id, old_state, state, old_value, value, old_period, period))
    return found


def alert_figures(store: Store, start: datetime, end: datetime, out: Figures) -> None:
    """Alerts raised in the period, how many of them were acknowledged (then or later) and
    how fast, and the escalations of the period."""
    end_ns = int(end.timestamp() * 1e9)
    raised_at, acknowledged_at = {}, {}
    for event in store.events(ALERT_STREAM, since=start):
        if event.kind == "raised" and event.time_ns < end_ns:
            raised_at.setdefault(event.key, event.time_ns)
        elif event.kind == "acknowledged":
            acknowledged_at.setdefault(event.key, event.time_ns)
        elif event.kind == "escalated" and event.time_ns < end_ns:
            out.alerts_escalated += 1
    waits = [acknowledged_at[k] - t for k, t in raised_at.items() if k in acknowledged_at]
    out.alerts_raised, out.alerts_acknowledged = len(raised_at), len(waits)
    if waits:
        out.minutes_to_acknowledge = sum(waits) / len(waits) / 60e9


def data_gaps(
    source: str, hourly: pd.DataFrame, start: datetime, end: datetime
) -> list[tuple[str, datetime, datetime]]:
    """(source, from, to) of each run of whole hours without a window in `hourly` (a source's
    hourly aggregate, its windows on the UTC hour: a period of a city half an hour off UTC
    starts at :30, in the window of the hour before)."""
    gaps = []
    hours = pd.date_range(start.astimezone(UTC), end.astimezone(UTC), freq="1h", inclusive="left")
    present = set(pd.to_datetime(hourly["time"], utc=True)) if len(hourly) else set()
    run_start = None
    for hour in [*hours, None]:
        missing = hour is not None and hour.floor("h") not in present
        if missing and run_start is None:
            run_start = hour
        elif not missing and run_start is not None:
            gaps.append((source, run_start.to_pydatetime(), (hour or end).astimezone(UTC)))
            run_start = None
    return gaps


def number(value: float | int | None, lang: str, percent: bool = False) -> str:
    """A figure as the language writes it (Vietnamese: 1.234,5)."""
    if value is None:
        return text("no_data", lang)
    if percent:
        shown = f"{value * 100:,.1f} %"
    elif isinstance(value, int) or value >= 10 or float(value).is_integer():
        shown = f"{value:,.0f}"
    else:
        shown = f"{value:,.1f}"
    if lang == "vi":
        shown = shown.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return shown


def change(now: float | None, before: float | None, lang: str, percent: bool = False) -> str:
    """An arrow and a word, so the direction is read without colour."""
    if now is None or before is None:
        return "–"
    diff = now - before
    if abs(diff) < 1e-9:
        return text("same", lang)
    word = text("up" if diff > 0 else "down", lang)
    amount = (
        f"{abs(diff) * 100:.1f} điểm %"
        if percent and lang == "vi"
        else (f"{abs(diff) * 100:.1f} pts" if percent else number(abs(diff), lang))
    )
    return f"{word} {amount}"


HEADLINES = (
    ("indicators_met", False),
    ("camera_availability", True),
    ("wifi_users_mean", False),
    ("wifi_users_peak", False),
    ("reports_received", False),
    ("reports_resolved", False),
    ("alerts_raised", False),
    ("alerts_acknowledged", False),
    ("minutes_to_acknowledge", False),
    ("alerts_escalated", False),
)


def decisions(now: Figures, profile: CityProfile, lang: str) -> list[str]:
    out = [
        text(
            "low_availability",
            lang,
            ward=profile.unit_name(ward, lang),
            value=number(share, lang, True),
        )
        for ward, share in sorted(now.camera_by_ward.items(), key=lambda item: item[1])
        if share < AVAILABILITY_AT_RISK
    ]
    if now.reports_received > now.reports_resolved:
        out.append(
            text("backlog", lang, received=now.reports_received, resolved=now.reports_resolved)
        )
    if now.alerts_raised > now.alerts_acknowledged:
        out.append(text("unacknowledged", lang, count=now.alerts_raised - now.alerts_acknowledged))
    missed = [i for i, state, _, _ in now.indicators if state in ("missed", "at_risk")]
    if missed:
        out.append(text("indicators_short", lang, count=len(missed)))
    unit_of = {i.indicator_id: i.responsible_unit for i in profile.indicators}
    late_units = dict.fromkeys(unit_of.get(i) for i, _, _ in now.indicators_late)
    if late_units:
        names = ", ".join(unit_name(profile, u, lang) for u in late_units)
        out.append(text("units_late", lang, units=names))
    overdue = sum(u.overdue for u in now.units.values())
    if overdue:
        out.append(text("reports_overdue", lang, count=overdue))
    if now.gaps:
        out.append(text("gaps_named", lang))
    return out


def csv_rows(
    now: Figures,
    before: Figures,
    profile: CityProfile,
    lang: str,
    period: BriefPeriod | None = None,
    made: datetime | None = None,
) -> list[list[str]]:
    """section, figure, key, this period, previous period: the numbers of the PDF; first the
    brief's own rows (its period, language and when it was made), which the console lists."""
    rows = [["section", "figure", "key", "value", "previous"]]
    if period is not None:
        last_day = period.next_first_day - timedelta(days=1)
        rows.append(["brief", "period", period.kind, period.first_day.isoformat(), str(last_day)])
    rows.append(["brief", "language", "", lang, ""])
    if made is not None:
        rows.append(["brief", "made", "", made.astimezone(UTC).isoformat(timespec="seconds"), ""])
    for name, _percent in HEADLINES:
        value, prev = getattr(now, name), getattr(before, name)
        rows.append(["headline", name, "", _csv(value), _csv(prev)])
    for ward, share in sorted(now.camera_by_ward.items()):
        rows.append(
            [
                "cameras",
                "availability",
                profile.unit_name(ward, lang),
                _csv(share),
                _csv(before.camera_by_ward.get(ward)),
            ]
        )
    for name, ward, hours in now.camera_downtime:
        where = profile.unit_name(ward, lang) if ward else ""
        rows.append(["cameras", "offline_hours", name, _csv(hours), where])
    for site, users in sorted(now.wifi_by_site.items()):
        rows.append(["wifi", "users_mean", site, _csv(users), _csv(before.wifi_by_site.get(site))])
    if now.wifi_peak_at is not None:
        peak = now.wifi_peak_at.astimezone(UTC).isoformat()
        rows.append(["wifi", "peak_hour", "", peak, _csv(now.wifi_users_peak)])
    rows += report_csv_rows(now, before, profile, lang)
    for code, u in now.units.items():
        name = unit_name(profile, code, lang)
        was = before.units.get(code)
        for figure in ("reports", "handled", "handled_on_time", "overdue"):
            rows.append(
                ["units", figure, name, _csv(getattr(u, figure)), _csv(getattr(was, figure, None))]
            )
    if now.oldest_open:
        report, created, unit = now.oldest_open
        rows.append(
            [
                "reports",
                "oldest_open",
                report,
                created.astimezone(UTC).isoformat(),
                unit_name(profile, unit, lang),
            ]
        )
    names = {i.indicator_id: i.name(lang) for i in profile.indicators}
    for indicator_id, state, period_name, value in now.indicators:
        rows.append(["indicators", state, names[indicator_id], _csv(value), period_name])
    for indicator_id, period_name, state in now.indicators_late:
        rows.append(["indicators", state, names[indicator_id], period_name, ""])
    changes = indicator_changes(now, before)
    for indicator_id, old_state, state, old_value, value, old_period, new_period in changes:
        rows.append(["indicator_changes", "state", names[indicator_id], state, old_state])
        rows.append(
            ["indicator_changes", "value", names[indicator_id], _csv(value), _csv(old_value)]
        )
        rows.append(["indicator_changes", "period", names[indicator_id], new_period, old_period])
    if not changes:
        rows.append(["indicator_changes", "no_change", "", "", ""])
    for source, start, end in now.gaps:
        rows.append(["data", "gap", source, start.isoformat(), end.isoformat()])
    return rows


def report_csv_rows(
    now: Figures, before: Figures, profile: CityProfile, lang: str
) -> list[list[str]]:
    """The field reports received and resolved per ward and per category, and the map's
    counts: the PDF's figures, named as the PDF names them."""
    rows = []
    for section, mine, theirs, label in (
        ("reports", now.reports_by_ward, before.reports_by_ward, ward_label),
        ("reports_by_category", now.reports_by_category, before.reports_by_category,
         category_label),
    ):  # fmt: skip
        for key in sorted(mine, key=lambda k: label(profile, k, lang)):
            name, was = label(profile, key, lang), theirs.get(key)
            for n, figure in enumerate(("received", "resolved")):
                rows.append([section, figure, name, _csv(mine[key][n]), _csv(was[n] if was else 0)])
    if now.report_map is not None:
        counts = now.report_map
        for ward, count in counts.by_ward.items():
            rows.append(["report_map", "received", ward_label(profile, ward, lang), str(count), ""])
        rows.append(["report_map", "received", map_text("outside", lang), str(counts.outside), ""])
        rows.append(
            ["report_map", "received", map_text("unlocated", lang), str(counts.unlocated), ""]
        )
    if now.map_problem:
        rows.append(["data", "map_left_out", "boundaries", now.map_problem.text(lang), ""])
    return rows


def _report_text(key: str, lang: str) -> str:
    return text(key, lang) if key in TEXTS else map_text(key, lang)


def change_lines(now: Figures, before: Figures, profile: CityProfile, lang: str) -> list[str]:
    """indicator_changes in words: "Name: Đạt → Có nguy cơ không đạt (giá trị 99 → 90,
    2026-11)", the periods named each side when they differ."""
    names = {i.indicator_id: i.name(lang) for i in profile.indicators}
    lines = []
    for change in indicator_changes(now, before):
        indicator_id, old_state, state, old_value, value, old_period, new_period = change
        if old_period == new_period:
            values = text(
                "ind_change_values", lang, before=number(old_value, lang), now=number(value, lang)
            )
            values = f"{values}, {new_period}"
        else:
            values = text(
                "ind_change_values",
                lang,
                before=f"{number(old_value, lang)} ({old_period})",
                now=f"{number(value, lang)} ({new_period})",
            )
        line = text(
            "ind_change_line",
            lang,
            name=names[indicator_id],
            before=text("ind_" + old_state, lang),
            now=text("ind_" + state, lang),
        )
        lines.append(f"• {line} ({values})")
    return lines


def period_words(period: BriefPeriod, lang: str) -> str:
    """A brief's period in words: "ngày 30/11/2026", "tuần 23/11/2026 – 29/11/2026", "tháng
    11/2026" (English: "November 2026")."""
    if period.kind == "month":
        first = period.first_day
        return f"{first:%B %Y}" if lang == "en" else f"{text('period_month', lang)} {first:%m/%Y}"
    last_day = period.next_first_day - timedelta(days=1)
    days = f"{period.first_day:%d/%m/%Y}"
    if last_day != period.first_day:
        days += f" – {last_day:%d/%m/%Y}"
    return f"{text('period_' + period.kind, lang)} {days}"


def unit_name(profile: CityProfile, code: str | None, lang: str) -> str:
    unit = profile.handling_unit(code) if code else None
    if unit is None:
        return code or text("no_unit", lang)
    return unit.name_vi if lang == "vi" else unit.name_en


def _csv(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.4f}".rstrip("0").rstrip(".")


def _fonts() -> tuple[str, str]:
    from reportlab.graphics import shapes
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVu" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVu", str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        # Charts start every drawing in this font: Helvetica, which a PDF does not embed.
        shapes.STATE_DEFAULTS["fontName"] = "DejaVu"
    return "DejaVu", "DejaVu-Bold"


def write_pdf(
    path: Path,
    period: BriefPeriod,
    now: Figures,
    before: Figures,
    profile: CityProfile,
    zone: ZoneInfo,
    made: datetime,
    lang: str,
) -> None:
    from xml.sax.saxutils import escape

    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import (
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=11, leading=15)
    spaced = ParagraphStyle("spaced", parent=body, spaceBefore=8, spaceAfter=2)
    bold_body = ParagraphStyle("bold", fontName=bold, fontSize=11, leading=15, spaceBefore=6)
    big = ParagraphStyle("big", fontName=bold, fontSize=20, leading=26, spaceAfter=6)
    heading = ParagraphStyle(
        "h", fontName=bold, fontSize=14, leading=19, spaceBefore=10, spaceAfter=6
    )
    last_day = period.next_first_day - timedelta(days=1)
    data_range = (
        f"{text('range', lang)}: {period.first_day:%d/%m/%Y} – {last_day:%d/%m/%Y} ({zone.key})"
    )
    made_text = f"{text('made', lang)}: {made.astimezone(zone):%d/%m/%Y %H:%M}"

    def every_page(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(regular, 8.5)
        canvas.setFillColor(colors.HexColor("#444444"))
        canvas.drawString(18 * mm, 287 * mm, f"{profile.name(lang)} · {text('title', lang)}")
        canvas.drawRightString(192 * mm, 287 * mm, data_range)
        canvas.drawString(18 * mm, 10 * mm, made_text)
        canvas.restoreState()

    class NumberedCanvas(Canvas):
        """Keeps each page until the end, so its footer can say "page X of N"."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._kept: list[dict] = []

        def showPage(self) -> None:
            self._kept.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for state in self._kept:
                self.__dict__.update(state)
                self.setFont(regular, 8.5)
                self.setFillColor(colors.HexColor("#444444"))
                page_of = text("page", lang, page=self._pageNumber, pages=len(self._kept))
                self.drawRightString(192 * mm, 10 * mm, page_of)
                super().showPage()
            super().save()

    def table(rows: list[list[str]], widths: list[float]) -> Table:
        t = Table(rows, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), regular, 10.5),
                    ("FONT", (0, 0), (-1, 0), bold, 10.5),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
                    ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ]
            )
        )
        return t

    def ward(name: str) -> str:
        return profile.unit_name(name, lang)

    title = f"{text('title', lang)} – {period_words(period, lang)}"
    story: list = [Paragraph(escape(title), big), Paragraph(escape(data_range), body), Spacer(1, 6)]
    story.append(Paragraph(text("headline", lang), heading))
    rows = [
        [
            text("metric", lang),
            text("this_period", lang),
            text("previous", lang),
            text("change", lang),
        ]
    ]
    for name, percent in HEADLINES:
        value, prev = getattr(now, name), getattr(before, name)
        rows.append(
            [
                text(name, lang),
                number(value, lang, percent),
                number(prev, lang, percent),
                change(value, prev, lang, percent),
            ]
        )
    story.append(table(rows, [72 * mm, 33 * mm, 33 * mm, 36 * mm]))  # no label runs into a value
    story.append(Paragraph(text("decide", lang), heading))
    for line in decisions(now, profile, lang) or [text("nothing_to_decide", lang)]:
        story.append(Paragraph("• " + escape(line), body))
    story.append(PageBreak())

    story.append(Paragraph(text("cameras", lang), heading))
    if now.camera_by_ward:
        wards = sorted(now.camera_by_ward, key=lambda w: now.camera_by_ward[w])
        chart = Drawing(170 * mm, 12 * mm + 7 * mm * len(wards))
        bars = HorizontalBarChart()
        bars.x, bars.y = 45 * mm, 8 * mm
        bars.width, bars.height = 115 * mm, 7 * mm * len(wards)
        bars.data = [[now.camera_by_ward[w] * 100 for w in wards]]
        bars.categoryAxis.categoryNames = [ward(w) for w in wards]
        bars.categoryAxis.labels.fontName = regular
        bars.valueAxis.labels.fontName = regular
        bars.valueAxis.valueMin, bars.valueAxis.valueMax = 0, 100
        bars.bars[0].fillColor = colors.HexColor("#1f6fb2")
        chart.add(bars)
        story.append(chart)
        rows = [[text("ward", lang), text("this_period", lang), text("previous", lang)]]
        rows += [
            [
                ward(w),
                number(now.camera_by_ward[w], lang, True),
                number(before.camera_by_ward.get(w), lang, True),
            ]
            for w in wards
        ]
        story.append(table(rows, [70 * mm, 40 * mm, 40 * mm]))
        if now.camera_downtime:
            story.append(Paragraph(text("longest_outages", lang), spaced))
            rows = [[text("camera", lang), text("ward", lang), text("offline_hours", lang)]]
            rows += [  # names wrap in a Paragraph, escaped: text from data is never markup
                [Paragraph(escape(name), body), ward(w) if w else "–", number(hours, lang)]
                for name, w, hours in now.camera_downtime
            ]
            story.append(table(rows, [78 * mm, 45 * mm, 52 * mm]))
    else:
        story.append(Paragraph(text("no_data", lang), body))

    story.append(Paragraph(text("wifi", lang), heading))
    if now.wifi_peak_at is not None:
        at = f"{now.wifi_peak_at.astimezone(zone):%d/%m %H:%M}"
        said = text("wifi_peak", lang, at=at, users=number(now.wifi_users_peak, lang))
        story.append(Paragraph(escape(said), body))
    if now.wifi_by_site:
        story.append(Paragraph(text("busiest_sites", lang), body))
        top = sorted(now.wifi_by_site.items(), key=lambda item: -item[1])[:10]
        rows = [[text("site", lang), text("this_period", lang), text("previous", lang)]]
        rows += [  # names wrap in a Paragraph, escaped: text from data is never markup
            [Paragraph(escape(s), body), number(v, lang), number(before.wifi_by_site.get(s), lang)]
            for s, v in top
        ]
        story.append(table(rows, [70 * mm, 40 * mm, 40 * mm]))
    else:
        story.append(Paragraph(text("no_data", lang), body))

    story.append(Paragraph(text("reports", lang), heading))
    for title_key, head_key, mine, theirs, label in (
        ("by_ward", "ward", now.reports_by_ward, before.reports_by_ward, ward_label),
        ("by_category", "category", now.reports_by_category, before.reports_by_category,
         category_label),
    ):  # fmt: skip
        if not mine:
            continue
        story.append(Paragraph(escape(_report_text(title_key, lang)), spaced))
        rows = [
            [
                _report_text(head_key, lang),
                map_text("received", lang),
                map_text("resolved", lang),
                map_text("received_before", lang),
            ]
        ]
        for key, (received, resolved) in sorted(mine.items(), key=lambda i: (-i[1][0], i[0])):
            was = theirs.get(key)
            rows.append(
                [
                    Paragraph(escape(label(profile, key, lang)), body),
                    number(received, lang),
                    number(resolved, lang),
                    number(was[0] if was else 0, lang),
                ]
            )
        story.append(table(rows, [70 * mm, 30 * mm, 30 * mm, 44 * mm]))
    if not now.reports_by_ward:
        story.append(Paragraph(text("no_data", lang), body))
    if now.report_map is not None:
        drawing = map_drawing(
            ward_shapes(profile), now.report_map, profile, lang, 174 * mm, (regular, bold)
        )
        map_title = Paragraph(escape(map_text("map", lang)), spaced)
        story.append(KeepTogether([map_title, Spacer(1, 4), drawing]))

    story.append(Paragraph(text("units", lang), heading))
    if now.units:
        rows = [
            [
                text("unit", lang),
                text("unit_reports", lang),
                text("unit_handled", lang),
                text("unit_on_time", lang),
                text("unit_overdue", lang),
            ]
        ]
        for code, u in now.units.items():
            on_time = number(u.handled_on_time / u.handled, lang, True) if u.handled else "–"
            rows.append(
                [
                    Paragraph(escape(unit_name(profile, code, lang)), body),
                    number(u.reports, lang),
                    number(u.handled, lang),
                    f"{number(u.handled_on_time, lang)} ({on_time})",
                    number(u.overdue, lang),
                ]
            )
        story.append(table(rows, [62 * mm, 24 * mm, 24 * mm, 36 * mm, 28 * mm]))
    if now.oldest_open:
        report, created, unit = now.oldest_open
        line = text(
            "oldest_open",
            lang,
            report=report,
            unit=unit_name(profile, unit, lang),
            time=f"{created.astimezone(zone):%d/%m/%Y %H:%M}",
        )
    else:
        line = text("none_open", lang)
    story.append(Paragraph(escape(line), body))

    story.append(Paragraph(text("indicators", lang), heading))
    catalogue = {i.indicator_id: i for i in profile.indicators}
    counts = {state: 0 for state in INDICATOR_STATES}
    for _, state, _, _ in now.indicators:
        counts[state] += 1
    story.append(
        Paragraph(
            " · ".join(f"{text('ind_' + state, lang)}: {counts[state]}" for state in counts), body
        )
    )
    for shown in ("missed", "at_risk"):
        for indicator_id, state, period_name, value in now.indicators:
            if state != shown:
                continue
            indicator = catalogue[indicator_id]
            line = text(
                "ind_line",
                lang,
                name=indicator.name(lang),
                period=period_name,
                value=number(value, lang),
                target=number(indicator.target, lang),
            )
            story.append(Paragraph(f"• {text('ind_' + state, lang)}: " + escape(line), body))
    previous = period.previous()
    story.append(
        Paragraph(
            escape(text("ind_changes_title", lang, period=period_words(previous, lang))), bold_body
        )
    )
    for line in change_lines(now, before, profile, lang) or [text("ind_no_change", lang)]:
        story.append(Paragraph(escape(line), body))
    story.append(Paragraph(text("ind_late_title", lang), bold_body))
    for indicator_id, period_name, state in now.indicators_late:
        indicator = catalogue[indicator_id]
        line = text(
            "ind_late_line",
            lang,
            name=indicator.name(lang),
            period=period_name,
            unit=unit_name(profile, indicator.responsible_unit, lang),
            state=text("ind_late" if state == "late" else "ind_missing", lang),
        )
        story.append(Paragraph("• " + escape(line), body))
    if not now.indicators_late:
        story.append(Paragraph(text("ind_none_late", lang), body))

    story.append(Paragraph(text("data", lang), heading))
    sources = {CAMERA_STATUS.name: text("cameras", lang), WIFI_USAGE.name: text("wifi", lang)}
    for source, gap_start, gap_end in now.gaps:
        story.append(
            Paragraph(
                "• "
                + escape(
                    text(
                        "gap",
                        lang,
                        source=sources[source],
                        start=f"{gap_start.astimezone(zone):%d/%m %H:%M}",
                        end=f"{gap_end.astimezone(zone):%d/%m %H:%M}",
                    )
                ),
                body,
            )
        )
    if now.map_problem:
        problem = now.map_problem.text(lang)
        said = map_text("map_left_out", lang, city=profile.folder.name, problem=problem)
        story.append(Paragraph("• " + escape(said), body))
    if not now.gaps:
        story.append(Paragraph(text("no_gaps", lang), body))

    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        initialFontName=regular,
        title=title,
        author=profile.name(lang),
    )
    doc.build(story, onFirstPage=every_page, onLaterPages=every_page, canvasmaker=NumberedCanvas)


def write_brief(
    store: Store,
    profile: CityProfile,
    zone: ZoneInfo,
    period: BriefPeriod,
    out: Path,
    lang: str = "vi",
    made: datetime | None = None,
) -> tuple[Path, Path]:
    """Write brief-<period>-<first day>.pdf and .csv into `out`; their paths."""
    made = made or datetime.now(UTC)
    now = figures(store, period.start(zone), period.end(zone), profile)
    previous = period.previous()
    before = figures(store, previous.start(zone), previous.end(zone), profile, shown=False)
    out.mkdir(parents=True, exist_ok=True)
    pdf, table_path = brief_paths(out, period)
    partial = pdf.with_suffix(".part")
    with table_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(csv_rows(now, before, profile, lang, period, made))
    write_pdf(partial, period, now, before, profile, zone, made, lang)
    partial.replace(pdf)  # last: a brief whose PDF is there is whole
    return pdf, table_path


def brief_paths(out: Path, period: BriefPeriod) -> tuple[Path, Path]:
    stem = out / f"brief-{period.kind}-{period.first_day.isoformat()}"
    return stem.with_suffix(".pdf"), stem.with_suffix(".csv")


def make_due_briefs(
    store: Store,
    profile: CityProfile,
    zone: ZoneInfo,
    out: Path,
    keep_days: int,
    lang: str,
    now: datetime,
    on_made: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Make the brief of every ended period of the last `keep_days` whose PDF is not in `out`
    (so a restart catches up after downtime and makes none twice), then remove the briefs of
    periods older than that; the PDFs made, each also handed to `on_made` as soon as it is
    (a later brief's failure does not lose the earlier ones' e-mail)."""
    oldest = now.astimezone(zone).date() - timedelta(days=keep_days)
    made = []
    for kind in PERIODS:
        period = chosen_period(kind, None, now, zone)
        while period.first_day >= oldest:
            if not brief_paths(out, period)[0].exists():
                made.append(write_brief(store, profile, zone, period, out, lang, now)[0])
                if on_made is not None:
                    on_made(made[-1])
            period = period.previous()
    for old in out.glob("brief-*-*.*"):
        try:
            first_day = date.fromisoformat(old.name.split("-", 2)[2].split(".")[0])
        except ValueError:
            continue  # not a brief's name
        if first_day < oldest:
            old.unlink(missing_ok=True)
    return made


@dataclass(frozen=True)
class KeptBrief:
    """A brief in the brief folder, as the console lists it."""

    stem: str  # brief-<kind>-<first day>
    kind: str
    first_day: date
    files: dict[str, int]  # "pdf"/"csv": size in bytes
    made: datetime  # from its CSV, else the PDF's modification time
    lang: str | None  # None: a brief from before the CSV said its language

    @property
    def period(self) -> BriefPeriod:
        return brief_period(self.kind, self.first_day)


def kept_briefs(out: Path) -> list[KeptBrief]:
    """Every whole brief (its PDF is there) in `out`, newest period first; OSError when the
    folder cannot be read."""
    found: dict[str, dict[str, int]] = {}
    for entry in out.iterdir():
        match = BRIEF_NAME.fullmatch(entry.name)
        if not match or not entry.is_file():
            continue
        try:
            date.fromisoformat(match.group(2))
            size = entry.stat().st_size
        except (ValueError, OSError):
            continue
        found.setdefault(entry.name.rsplit(".", 1)[0], {})[match.group(3)] = size
    briefs = []
    for stem, files in found.items():
        if "pdf" not in files:
            continue  # being written, or half removed
        _, kind, day = stem.split("-", 2)
        made, lang = _brief_rows(out / f"{stem}.csv") if "csv" in files else (None, None)
        if made is None:
            try:
                made = datetime.fromtimestamp((out / f"{stem}.pdf").stat().st_mtime, UTC)
            except OSError:
                continue
        briefs.append(KeptBrief(stem, kind, date.fromisoformat(day), files, made, lang))
    order = {kind: n for n, kind in enumerate(PERIODS)}
    briefs.sort(key=lambda b: (b.period.next_first_day, -order[b.kind]), reverse=True)
    return briefs


def _brief_rows(path: Path) -> tuple[datetime | None, str | None]:
    """When the brief of this CSV was made and in which language, from its first rows."""
    made = lang = None
    try:
        with path.open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.reader(f)):
                if n > 5 or (n and row[:1] != ["brief"]):
                    break
                if row[:2] == ["brief", "language"] and len(row) > 3:
                    lang = row[3] if row[3] in ("vi", "en") else None
                elif row[:2] == ["brief", "made"] and len(row) > 3:
                    try:
                        made = datetime.fromisoformat(row[3])
                    except ValueError:
                        made = None
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return made, lang
