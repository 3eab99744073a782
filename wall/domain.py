"""What the wall knows of any town: measurement schema, statuses (the town itself: wall/city.py).

The measurement, tag and field names here are a public contract (the city's analysts query them
in InfluxDB); feeds write them and the wall reads them. Free text is always a field, never a tag,
so series cardinality stays bounded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Measurement:
    name: str
    entity: str  # the tag (a field for reports) that identifies one thing (one camera, one AP …)
    tags: tuple[str, ...]  # grouping keys, all bounded sets
    fields: tuple[str, ...]
    # Of the fields whose rollups (wall.store.retention) keep other parts than those of their
    # type (numbers: sum, count, min, max; booleans: count, last; text: last), those parts.
    rollups: tuple[tuple[str, tuple[str, ...]], ...] = ()


CAMERA_STATUS = Measurement(
    "camera_status",
    entity="camera_id",
    tags=("camera_id", "ward"),
    fields=("online", "fps", "bitrate_kbps", "name", "lat", "lon"),
    rollups=(("lat", ("last",)), ("lon", ("last",))),  # its place: the last one says it
)
WIFI_USAGE = Measurement(
    "wifi_usage",
    entity="ap_id",
    tags=("ap_id", "ward", "site"),
    fields=("up", "clients", "rx_bytes", "tx_bytes", "capacity"),
    # Byte counters: the traffic of a span is the difference of two lasts.
    rollups=(("rx_bytes", ("last",)), ("tx_bytes", ("last",)), ("capacity", ("last",))),
)
FIELD_REPORT = Measurement(
    "field_report",
    entity="report_id",  # a field: one series per report would be tag values without limit
    tags=("category", "ward", "report_slot"),
    fields=("report_id", "status", "title", "agency", "lat", "lon", "created", "updated"),
)
KPI = Measurement(
    "kpi",
    entity="indicator_id",
    tags=("indicator_id", "sector"),
    # The payload's `value` is stored as `actual`: `value` is the store's aggregate column.
    fields=("actual", "target", "unit", "name", "period"),
)
FEED_HEALTH = Measurement(
    "feed_health",
    entity="feed",
    tags=("feed",),
    fields=(
        "received",
        "written",
        "rejected",
        "unknown_values",
        "spooled",
        "last_message_age_s",
        "lag_s",
        "store_problem",
    ),
)
# What each wall page (a kiosk or a single screen) says of itself every `screen_heartbeat_seconds`
# (wall/screen_health.py): `screen` is the name its URL gives (`?screen=…`), or `browser:<id>`
# for a page without one (the id its browser keeps); `named` tells which.
SCREEN_HEALTH = Measurement(
    "screen_health",
    entity="screen",
    tags=("screen",),
    fields=("named", "url", "uptime_s", "refresh_age_s", "reconnects", "heap_bytes"),
)
REPORT_SLOTS = 64  # field_report series per ward and category (tag report_slot)


def report_slot(report_id: str) -> str:
    """One of REPORT_SLOTS tag values, the same for every version of a report.

    A report's id is a field, not a tag (one series per report would add tag values without
    limit): two reports' points in one series at the same millisecond would be one point. The
    slot spreads the reports of a ward and category over REPORT_SLOTS series, so that takes the
    same millisecond and the same slot."""
    return f"{zlib.crc32(report_id.encode()) % REPORT_SLOTS:02x}"


MEASUREMENTS = (CAMERA_STATUS, WIFI_USAGE, FIELD_REPORT, KPI, FEED_HEALTH, SCREEN_HEALTH)
ROLLUP_PARTS_OF = {m.name: dict(m.rollups) for m in MEASUREMENTS if m.rollups}

REPORT_STATUSES = ("new", "assigned", "in_progress", "resolved", "closed", "rejected")
OPEN_REPORT_STATUSES = ("new", "assigned", "in_progress")
CLOSED_REPORT_STATUSES = tuple(s for s in REPORT_STATUSES if s not in OPEN_REPORT_STATUSES)


def is_open_report(reports: pd.DataFrame) -> pd.Series:
    """Which rows of `field_report` points are of a report still open (a row without a status
    is not)."""
    if "status" not in reports.columns:
        return pd.Series(False, reports.index, dtype=bool)
    return reports["status"].isin(OPEN_REPORT_STATUSES)


# What a report of none of the city profile's categories is filed as (Open311 services the town
# did not map).
OTHER_CATEGORY = "other"
# The value a bounded tag (ward, site, category) holds when the town does not know what the
# sender gave; the original is kept in the field `<tag>_given` (feeds.known_values).
UNKNOWN = "unknown"
# The label of a value the town does not know (the city profile labels the others).
UNKNOWN_LABEL = ("Không rõ", "Unknown")


def throughput_from_counters(frame: pd.DataFrame) -> pd.DataFrame:
    """Bits per second per AP between consecutive `wifi_usage` counter points.

    `frame` has columns time, ap_id, rx_bytes, tx_bytes (as `Store.points` returns them). The
    rate is computed on read because APs send raw counters. A counter that went down (AP reboot,
    32-bit wrap) is taken to have restarted from zero, as Prometheus' rate() does: the interval
    counts the new value, never a negative rate. Returns time (end of the interval), ap_id,
    rx_bps, tx_bps.
    """
    columns = ["time", "ap_id", "rx_bps", "tx_bps"]
    if frame.empty or not {"time", "ap_id"} <= set(frame.columns):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    data = frame.sort_values(["ap_id", "time"], kind="stable")
    seconds = data.groupby("ap_id")["time"].diff().dt.total_seconds()
    result = pd.DataFrame({"time": data["time"], "ap_id": data["ap_id"]})
    for counter, rate in (("rx_bytes", "rx_bps"), ("tx_bytes", "tx_bps")):
        if counter not in data.columns:
            result[rate] = float("nan")
            continue
        values = pd.to_numeric(data[counter], errors="coerce")
        delta = values.groupby(data["ap_id"]).diff()
        delta = delta.mask(delta < 0, values)  # a reset: the counter restarted from zero
        result[rate] = delta * 8 / seconds
    result = result[seconds > 0]
    result = result[result[["rx_bps", "tx_bps"]].notna().any(axis=1)]
    return result.sort_values(["time", "ap_id"], kind="stable").reset_index(drop=True)
