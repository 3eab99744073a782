"""What an alert says, in the wall's two languages, from its rule and the figures it found."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wall.alerts.model import Alert

# rule: (Vietnamese, English); fields come from the alert's facts, entity and ward.
TITLES: dict[str, tuple[str, str]] = {
    "ward_cameras_offline": (
        "{ward}: {offline}/{total} camera mất kết nối ({percent}%)",
        "{ward}: {offline} of {total} cameras offline ({percent}%)",
    ),
    # The same, when the outage took the ward's WiFi access points down too (a power cut).
    "ward_cameras_offline+aps": (
        "{ward}: {offline}/{total} camera mất kết nối ({percent}%), {aps_down} điểm WiFi ngừng",
        "{ward}: {offline} of {total} cameras offline ({percent}%), {aps_down} WiFi APs down",
    ),
    "camera_offline": ("Camera {name} mất kết nối", "Camera {name} offline"),
    "ap_down": ("Điểm WiFi {entity} ngừng hoạt động", "WiFi access point {entity} down"),
    "ap_over_capacity": (
        "Điểm WiFi {entity} quá tải: {clients}/{capacity} người dùng",
        "WiFi access point {entity} over capacity: {clients}/{capacity} clients",
    ),
    "report_overdue": (
        "{unit}: {count} phản ánh quá hạn xử lý, lâu nhất {oldest} ({hours} giờ)",
        "{unit}: {count} field reports past their deadline, oldest {oldest} ({hours} h)",
    ),
    "indicators_late": (
        "{unit}: {count} chỉ số quá hạn chưa báo cáo, sớm nhất {oldest} kỳ {period}",
        "{unit}: {count} indicators past their due day unsubmitted, earliest {oldest} ({period})",
    ),
    "feed_silent": (
        "Nguồn dữ liệu {entity} ngừng gửi dữ liệu",
        "Feed {entity} has stopped sending data",
    ),
    "rejected_spike": (
        "Nguồn {entity}: {rejected} bản tin bị từ chối trong 10 phút",
        "Feed {entity}: {rejected} messages rejected in 10 minutes",
    ),
    "screen_silent": (
        "Màn hình {entity} ngừng báo tín hiệu",
        "Wall screen {entity} has stopped reporting",
    ),
}
RULE_NAMES: dict[str, tuple[str, str]] = {
    "ward_cameras_offline": ("Mất điện / mất kết nối cả phường", "Ward-wide outage"),
    "camera_offline": ("Camera mất kết nối", "Camera offline"),
    "ap_down": ("Điểm WiFi ngừng hoạt động", "WiFi access point down"),
    "ap_over_capacity": ("Điểm WiFi quá tải", "WiFi access point over capacity"),
    "report_overdue": ("Phản ánh quá hạn", "Field reports overdue"),
    "indicators_late": ("Chỉ số chưa báo cáo đúng hạn", "Indicators not submitted on time"),
    "feed_silent": ("Nguồn dữ liệu ngừng gửi", "Feed stopped"),
    "rejected_spike": ("Bản tin bị từ chối tăng vọt", "Spike of rejected messages"),
    "screen_silent": ("Màn hình ngừng báo tín hiệu", "Wall screen silent"),
    "anomaly": ("Bất thường so với mọi khi", "Unusual for the time"),
}
# The anomaly rule's explanation: what the series is now, and what is usual then.
WEEKDAYS = (
    ("thứ Hai", "a Monday"),
    ("thứ Ba", "a Tuesday"),
    ("thứ Tư", "a Wednesday"),
    ("thứ Năm", "a Thursday"),
    ("thứ Sáu", "a Friday"),
    ("thứ Bảy", "a Saturday"),
    ("Chủ nhật", "a Sunday"),
)
HOLIDAY = ("ngày nghỉ lễ", "a public holiday")  # judged by Sunday's slots
ANOMALY_NOW: dict[str, tuple[str, str]] = {
    "site": ("{name}: {value} người dùng lúc này", "{name}: {value} users now"),
    "ap": (
        "Điểm WiFi {name} ({site}): {value} người dùng lúc này",
        "WiFi access point {name} ({site}): {value} users now",
    ),
    "reports": (
        "{name}: {value} phản ánh mới trong 1 giờ qua",
        "{name}: {value} new field reports in the last hour",
    ),
    "category": (
        "Lĩnh vực {name}: {value} phản ánh mới trong 1 giờ qua",
        "Category {name}: {value} new field reports in the last hour",
    ),
    # An AP failing silently: up, and 0 at every reading for a while (`silent_minutes`).
    "ap_silent": (
        "Điểm WiFi {name} ({site}): 0 người dùng suốt {duration}",
        "WiFi access point {name} ({site}): 0 users for {duration}",
    ),
    "cameras": (
        "{name}: {value} camera mất kết nối lúc này",
        "{name}: {value} cameras offline now",
    ),
    "indicator": (
        "{name}: {value}{unit} (trung bình 1 giờ qua)",
        "{name}: {value}{unit} (mean of the last hour)",
    ),
    # A running total's (`rise` in the facts): how much it grew in the last hour.
    "indicator_rise": (
        "{name}: tăng {value}{unit} trong 1 giờ qua",
        "{name}: up {value}{unit} in the last hour",
    ),
}
ANOMALY_USUAL: dict[str, tuple[str, str]] = {
    "weekday_hour": (
        "bình thường {weekday} {hour} là {low}–{high}",
        "usual for {weekday} at {hour} is {low}–{high}",
    ),
    "hour": ("bình thường lúc {hour} là {low}–{high}", "usual at {hour} is {low}–{high}"),
    "all": ("bình thường là {low}–{high}", "usual is {low}–{high}"),
}
STATES: dict[str, tuple[str, str]] = {
    "active_unack": ("Chưa xác nhận", "Unacknowledged"),
    "active_ack": ("Đã xác nhận", "Acknowledged"),
    "cleared_unack": ("Đã hết – chưa xác nhận", "Cleared – unacknowledged"),
    "closed": ("Đã đóng", "Closed"),
}
SEVERITIES: dict[str, tuple[str, str]] = {
    "critical": ("Khẩn cấp", "Critical"),
    "high": ("Cao", "High"),
    "medium": ("Trung bình", "Medium"),
    "low": ("Thấp", "Low"),
}


def anomaly_text(facts: Mapping[str, Any], lang: str) -> str:
    """E.g. "<site>: 400 users now; usual for a Friday at 10:00 is 25–40". The ward, category or
    indicator is named as the city profile names it in `lang` (kept in the facts when raised)."""
    return "; ".join(anomaly_parts(facts, lang))


def anomaly_parts(facts: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """The anomaly's explanation in two parts: what the series is now, and what is usual then
    (the alerts screen shows them on two lines, so neither is cut)."""
    index = 1 if lang == "en" else 0
    suffix = "_en" if index else "_vi"
    unit = facts.get("unit" + suffix) or ""
    values = {
        **facts,
        "name": facts.get("name" + suffix) or facts["name"],
        "site": facts.get("site") or "–",
        "weekday": HOLIDAY[index]
        if facts.get("holiday")
        else WEEKDAYS[int(facts.get("weekday", 0)) % 7][index],
        "hour": f"{int(facts.get('hour', 0)):02d}:{int(facts.get('minute') or 0):02d}",
        "unit": f" {unit}" if unit else "",
    }
    for key in ("value", "low", "high"):  # 8.7 in English, 8,7 in Vietnamese
        values[key] = number(facts[key], lang)
    kind = facts["kind"]
    if facts.get("rise"):
        kind += "_rise"
    if facts.get("silent_minutes") is not None:
        kind += "_silent"
        values["duration"] = duration(int(facts["silent_minutes"]), lang)
    now = ANOMALY_NOW[kind][index].format(**values)
    return now, ANOMALY_USUAL[facts["level"]][index].format(**values)


def duration(minutes: int, lang: str) -> str:
    """ "45 phút" / "45 min" under two hours; past that whole hours ("3 giờ" / "3 h")."""
    if minutes < 120:
        return f"{minutes} phút" if lang != "en" else f"{minutes} min"
    return f"{minutes // 60} giờ" if lang != "en" else f"{minutes // 60} h"


def anomaly_usual(alert: Alert, lang: str) -> str:
    """What is usual, of an anomaly alert ("" for any other, or an event of an older rule)."""
    if alert.rule != "anomaly":
        return ""
    try:
        return anomaly_parts(alert.facts, lang)[1]
    except (KeyError, ValueError, TypeError):
        return ""


def number(value: Any, lang: str) -> str:
    """A figure to a tenth (no exponent however large), with the language's decimal mark."""
    if isinstance(value, float):
        text = f"{value:.1f}".removesuffix(".0")
        return text if lang == "en" else text.replace(".", ",")
    return str(value)


def alert_title(alert: Alert, lang: str) -> str:
    index = 1 if lang == "en" else 0
    if alert.rule == "anomaly":
        try:
            return anomaly_text(alert.facts, lang)
        except (KeyError, ValueError, TypeError):  # an event from an older rule version
            return alert.title
    template = TITLES.get(alert.rule + ("+aps" if alert.facts.get("aps_down") else ""))
    if template is None:
        return alert.title
    values = {"entity": alert.entity, "ward": alert.ward or "", "name": alert.entity}
    for key, value in alert.facts.items():
        if isinstance(value, float):  # 8.7 in English, 8,7 in Vietnamese
            value = f"{value:g}" if index else f"{value:g}".replace(".", ",")
        if value is not None:
            values[key] = value
    if "unit_vi" in alert.facts:  # the unit's name in the wall's language
        values["unit"] = alert.facts["unit_en" if index else "unit_vi"]
    try:
        return template[index].format(**values)
    except (KeyError, ValueError):  # an event from an older rule version: say what we know
        return alert.title


def label(labels: dict[str, tuple[str, str]], code: str, lang: str) -> str:
    pair = labels.get(code)
    return pair[1 if lang == "en" else 0] if pair else code
