"""What the wall knows about the town: measurement schema, statuses, wards.

The measurement, tag and field names here are a public contract (the city's analysts query them
in InfluxDB); feeds write them and the wall reads them. Free text is always a field, never a tag,
so series cardinality stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    name: str
    entity: str  # the tag that identifies one thing (one camera, one AP, one report …)
    tags: tuple[str, ...]  # grouping keys, all bounded sets
    fields: tuple[str, ...]


CAMERA_STATUS = Measurement(
    "camera_status",
    entity="camera_id",
    tags=("camera_id", "ward"),
    fields=("online", "fps", "bitrate_kbps", "name", "lat", "lon"),
)
WIFI_USAGE = Measurement(
    "wifi_usage",
    entity="ap_id",
    tags=("ap_id", "ward", "site"),
    fields=("up", "clients", "rx_bytes", "tx_bytes", "capacity"),
)
FIELD_REPORT = Measurement(
    "field_report",
    entity="report_id",
    tags=("report_id", "category", "ward"),
    fields=("status", "title", "lat", "lon", "created", "updated"),
)
KPI = Measurement(
    "kpi",
    entity="indicator_id",
    tags=("indicator_id", "sector"),
    fields=("value", "target", "unit", "name", "period"),
)
FEED_HEALTH = Measurement(
    "feed_health",
    entity="feed",
    tags=("feed",),
    fields=("received", "written", "rejected", "spooled", "last_message_age_s", "lag_s"),
)
MEASUREMENTS = (CAMERA_STATUS, WIFI_USAGE, FIELD_REPORT, KPI, FEED_HEALTH)

REPORT_STATUSES = ("new", "assigned", "in_progress", "resolved", "closed", "rejected")
OPEN_REPORT_STATUSES = ("new", "assigned", "in_progress")

# Hòa Thành (Tây Ninh): four wards (phường) and four communes (xã).
WARDS = (
    "Long Hoa",
    "Long Thành Bắc",
    "Long Thành Trung",
    "Hiệp Tân",
    "Long Thành Nam",
    "Trường Tây",
    "Trường Đông",
    "Trường Hòa",
)
