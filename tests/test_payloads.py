"""The feed contract: every accepted shape becomes the documented Points, every bad class is
refused with a reason naming the problem."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from feeds.payloads import (
    MAX_PAYLOAD_BYTES,
    RejectedMessage,
    parse_message,
    parse_record,
    topic_for,
)
from wall.domain import MEASUREMENTS, report_slot, throughput_from_counters

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def parse(topic: str, payload) -> list:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_message(topic, raw, NOW)


def test_camera_status_becomes_one_point_with_ward_as_tag_and_name_as_field() -> None:
    [point] = parse(
        "ioc/camera/cam-0001/status",
        {
            "online": True,
            "fps": 25,
            "bitrate_kbps": 2048.5,
            "name": "Ngã tư Tòa Thánh",
            "ward": "Long Thành Bắc",
            "lat": 11.2905,
            "lon": 106.1366,
        },
    )
    assert point.measurement == "camera_status"
    assert point.tags == {"camera_id": "cam-0001", "ward": "Long Thành Bắc"}
    assert point.fields == {
        "online": True,
        "fps": 25.0,
        "bitrate_kbps": 2048.5,
        "name": "Ngã tư Tòa Thánh",
        "lat": 11.2905,
        "lon": 106.1366,
    }
    assert isinstance(point.fields["fps"], float)  # one type per field, whatever the sender
    assert point.time == NOW


def test_wifi_usage_keeps_raw_counters_as_integers() -> None:
    [point] = parse(
        "ioc/wifi/ap-017/usage",
        {
            "up": True,
            "clients": 42.0,
            "rx_bytes": 123456789012,
            "tx_bytes": 0,
            "site": "Tòa Thánh",
            "ward": "Long Thành Bắc",
            "capacity": 120,
        },
    )
    assert point.measurement == "wifi_usage"
    assert point.tags == {"ap_id": "ap-017", "site": "Tòa Thánh", "ward": "Long Thành Bắc"}
    assert point.fields == {
        "up": True,
        "clients": 42,
        "rx_bytes": 123456789012,
        "tx_bytes": 0,
        "capacity": 120,
    }
    assert isinstance(point.fields["clients"], int)


def test_field_report_keeps_title_as_field_and_times_as_utc_text() -> None:
    [point] = parse(
        "ioc/report/PA-2026-00123",
        {
            "category": "lighting",
            "status": "in_progress",
            "title": "Đèn đường hỏng, đường Phạm Hùng",
            "ward": "Hiệp Tân",
            "lat": 11.30,
            "lon": 106.12,
            "created": "2026-11-26T09:15:00+07:00",
            "updated": 1795662000000,
        },
    )
    assert point.measurement == "field_report"
    # The id is a field: the series (ward, category, one of 64 slots) stay bounded.
    assert point.tags == {"category": "lighting", "ward": "Hiệp Tân", "report_slot": "0c"}
    assert point.fields["report_id"] == "PA-2026-00123"
    assert point.fields["status"] == "in_progress"
    assert point.fields["title"] == "Đèn đường hỏng, đường Phạm Hùng"
    assert point.fields["created"] == "2026-11-26T02:15:00.000Z"
    assert point.fields["updated"] == "2026-11-26T03:00:00.000Z"


def test_every_version_of_a_report_is_in_one_of_64_series_of_its_ward_and_category() -> None:
    def slot(report_id: str, status: str) -> str:
        [point] = parse(f"ioc/report/{report_id}", {"category": "traffic", "status": status})
        return point.tags["report_slot"]

    ids = [f"PA-{n:06d}" for n in range(5000)]
    assert all(slot(r, "new") == slot(r, "closed") for r in ids[:50])
    assert {slot(r, "new") for r in ids} == {f"{n:02x}" for n in range(64)}


def test_kpi_becomes_a_point_with_sector_tag() -> None:
    [point] = parse(
        "ioc/kpi/hs_dung_han",
        {
            "value": 97,
            "target": 95,
            "unit": "%",
            "name": "Hồ sơ giải quyết đúng hạn",
            "sector": "hanh_chinh",
            "period": "2026-11",
        },
    )
    assert point.measurement == "kpi"
    assert point.tags == {"indicator_id": "hs_dung_han", "sector": "hanh_chinh"}
    assert point.fields == {
        "actual": 97.0,
        "target": 95.0,
        "unit": "%",
        "name": "Hồ sơ giải quyết đúng hạn",
        "period": "2026-11",
    }


def test_every_point_uses_the_public_schema() -> None:
    schema = {m.name: m for m in MEASUREMENTS}
    examples = [
        ("ioc/camera/c1/status", {"online": False, "ward": "Trường Tây", "name": "x"}),
        ("ioc/wifi/a1/usage", {"up": True, "clients": 1, "site": "Chợ", "ward": "Trường Hòa"}),
        ("ioc/report/r1", {"category": "traffic", "status": "new", "ward": "Long Hoa"}),
        ("ioc/kpi/k1", {"value": 1.5, "sector": "kinh_te", "name": "x"}),
    ]
    for topic, payload in examples:
        [point] = parse(topic, payload)
        measurement = schema[point.measurement]
        assert set(point.tags) <= set(measurement.tags), topic
        assert set(point.fields) <= set(measurement.fields), topic
        entity = {**point.tags, **point.fields}[measurement.entity]  # a report's id: a field
        assert entity == topic.split("/")[2]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-26T14:30:00+07:00", datetime(2026, 11, 26, 7, 30, tzinfo=UTC)),
        ("2026-11-26T07:30:00Z", datetime(2026, 11, 26, 7, 30, tzinfo=UTC)),
        ("2026-11-26t07:30:00.123456789z", datetime(2026, 11, 26, 7, 30, 0, 123000, tzinfo=UTC)),
        (1764142200000, datetime(2025, 11, 26, 7, 30, tzinfo=UTC)),
        (1764142200000.7, datetime(2025, 11, 26, 7, 30, tzinfo=UTC)),
    ],
)
def test_ts_is_rfc3339_or_epoch_ms(ts, expected: datetime) -> None:
    [point] = parse("ioc/camera/c1/status", {"online": True, "ts": ts})
    assert point.time == expected


def test_absent_or_null_ts_means_receive_time() -> None:
    assert parse("ioc/camera/c1/status", {"online": True})[0].time == NOW
    assert parse("ioc/camera/c1/status", {"online": True, "ts": None})[0].time == NOW


def test_vietnamese_in_decomposed_form_lands_in_one_series() -> None:
    ward = "Long Thành Bắc"
    decomposed = unicodedata.normalize("NFD", ward)
    assert decomposed != ward
    [point] = parse("ioc/camera/c1/status", {"online": True, "ward": decomposed})
    assert point.tags["ward"] == ward


def test_unknown_keys_are_ignored_for_forward_compatibility() -> None:
    [point] = parse("ioc/camera/c1/status", {"online": True, "firmware": "2.1", "extra": [1]})
    assert point.fields == {"online": True}


def test_parse_record_applies_the_same_rules_to_decoded_objects() -> None:
    [point] = parse_record("report", "r9", {"category": "flooding", "status": "new"}, NOW)
    assert point.tags == {"category": "flooding", "report_slot": report_slot("r9")}
    assert point.fields == {"report_id": "r9", "status": "new"}
    with pytest.raises(RejectedMessage, match="status"):
        parse_record("report", "r9", {"category": "flooding", "status": "open"}, NOW)
    with pytest.raises(RejectedMessage, match="unknown kind"):
        parse_record("bus", "b1", {}, NOW)


@pytest.mark.parametrize("kind", ["camera", "wifi", "report", "kpi"])
def test_topic_for_round_trips(kind: str) -> None:
    payload = {
        "camera": {"online": True},
        "wifi": {"up": True, "clients": 0},
        "report": {"category": "traffic", "status": "new"},
        "kpi": {"value": 1},
    }[kind]
    [point] = parse(topic_for(kind, "x-1"), payload)
    assert "x-1" in {**point.tags, **point.fields}.values()


REJECTED = [
    # (topic, payload, words the reason must contain)
    ("ioc/camera/c1/status", b"not json", "not JSON"),
    ("ioc/camera/c1/status", b"\xff\xfe{}", "not UTF-8"),
    ("ioc/camera/c1/status", b'{"online": true, "fps": NaN}', "NaN"),
    ("ioc/camera/c1/status", b"[" * 5000 + b"]" * 5000, "JSON"),
    ("ioc/camera/c1/status", b"[1, 2]", "JSON object"),
    ("ioc/camera/c1/status", b'"online"', "JSON object"),
    ("ioc/camera/c1/status", b"{}", "'online' is missing"),
    ("ioc/camera/c1/status", {"online": "yes"}, "'online' must be true or false"),
    ("ioc/camera/c1/status", {"online": 1}, "'online' must be true or false"),
    ("ioc/camera/c1/status", {"online": True, "fps": "25"}, "'fps' must be a number"),
    ("ioc/camera/c1/status", {"online": True, "fps": -1}, "'fps' must be >= 0"),
    ("ioc/camera/c1/status", {"online": True, "lat": 91}, "'lat' must be <= 90"),
    ("ioc/camera/c1/status", {"online": True, "name": 7}, "'name' must be text"),
    ("ioc/camera/c1/status", {"online": True, "name": "x" * 201}, "'name' is longer"),
    ("ioc/camera/c1/status", {"online": True, "ward": "a\nb"}, "control character"),
    ("ioc/camera/c1/status", {"online": True, "ward": "x" * 65}, "'ward' is longer"),
    ("ioc/camera/c1/status", {"online": True, "ward": "  "}, "'ward' is empty"),
    ("ioc/camera/c1/status", {"online": True, "ward": "a\\"}, "backslash"),
    ("ioc/camera/c1/status", {"online": True, "ts": "yesterday"}, "RFC 3339"),
    ("ioc/camera/c1/status", {"online": True, "ts": "2026-11-26T08:00:00"}, "offset"),
    ("ioc/camera/c1/status", {"online": True, "ts": "2026-02-30T08:00:00Z"}, "not a valid"),
    ("ioc/camera/c1/status", {"online": True, "ts": 1764142200}, "seconds sent by mistake"),
    ("ioc/camera/c1/status", {"online": True, "ts": True}, "'ts'"),
    ("ioc/camera/c1/status", {"online": True, "ts": 1e300}, "out of range"),
    ("ioc/camera/c1/status", {"online": True, "ts": "2026-11-26T16:00:00+07:00"}, "ahead"),
    ("ioc/wifi/a1/usage", {"up": True}, "'clients' is missing"),
    ("ioc/wifi/a1/usage", {"up": True, "clients": -1}, "'clients' must be an integer >= 0"),
    ("ioc/wifi/a1/usage", {"up": True, "clients": 2.5}, "'clients' must be an integer >= 0"),
    ("ioc/wifi/a1/usage", {"up": True, "clients": 1, "rx_bytes": 2**64}, "64-bit"),
    ("ioc/wifi/a1/usage", {"up": True, "clients": 1, "tx_bytes": "9"}, "'tx_bytes' must be"),
    ("ioc/wifi/a1/usage", {"clients": 3}, "'up' is missing"),
    ("ioc/report/r1", {"status": "new"}, "'category' is missing"),
    ("ioc/report/r1", {"category": "traffic"}, "'status' is missing"),
    ("ioc/report/r1", {"category": "traffic", "status": "open"}, "must be one of"),
    ("ioc/report/r1", {"category": "Đèn hỏng ở chợ", "status": "new"}, "'category' must be a code"),
    (
        "ioc/report/r1",
        {
            "category": "traffic",
            "status": "new",
            "created": 1764142200000,
            "updated": 1764000000000,
        },
        "earlier",
    ),
    ("ioc/kpi/k1", {"target": 3}, "'value' is missing"),
    ("ioc/kpi/k1", {"value": "97%"}, "'value' must be a number"),
    ("ioc/kpi/k1", {"value": 1, "sector": "kinh tế"}, "'sector' must be a code"),
    ("ioc/kpi/k1", {"value": 1e400}, "JSON"),  # json.dumps writes Infinity
    ("ioc/kpi/k1", {"value": 1, "period": "x" * 33}, "'period' is longer"),
    ("ioc/camera/c1", {"online": True}, "unknown topic"),
    ("ioc/camera/c1/state", {"online": True}, "unknown topic"),
    ("ioc/bus/b1", {"online": True}, "unknown topic"),
    ("city/camera/c1/status", {"online": True}, "unknown topic"),
    ("ioc/report/r1/extra", {"category": "traffic", "status": "new"}, "unknown topic"),
    ("ioc/camera//status", {"online": True}, "camera id ''"),
    ("ioc/camera/cam 1/status", {"online": True}, "camera id 'cam 1'"),
    ("ioc/camera/camé/status", {"online": True}, "must be 1–128 ASCII"),
    ("ioc/kpi/" + "k" * 129, {"value": 1}, "kpi id"),
]


@pytest.mark.parametrize(("topic", "payload", "reason"), REJECTED)
def test_bad_messages_are_rejected_with_a_reason(topic: str, payload, reason: str) -> None:
    with pytest.raises(RejectedMessage) as caught:
        parse(topic, payload)
    assert reason in caught.value.reason


def test_oversized_payload_is_rejected_before_decoding() -> None:
    payload = json.dumps({"online": True, "name": "x" * MAX_PAYLOAD_BYTES}).encode()
    with pytest.raises(RejectedMessage, match="over the limit of 16384"):
        parse_message("ioc/camera/c1/status", payload, NOW)


def test_ts_slightly_ahead_is_accepted_as_clock_skew() -> None:
    ahead = NOW + timedelta(minutes=2)
    [point] = parse("ioc/camera/c1/status", {"online": True, "ts": ahead.isoformat()})
    assert point.time == ahead


def counters(rows: list[tuple[str, int, int | None, int | None]]) -> pd.DataFrame:
    t0 = pd.Timestamp(NOW)
    return pd.DataFrame(
        [
            {"time": t0 + pd.Timedelta(seconds=s), "ap_id": ap, "rx_bytes": rx, "tx_bytes": tx}
            for ap, s, rx, tx in rows
        ]
    )


def test_throughput_is_bits_per_second_between_counter_points() -> None:
    frame = counters([("a", 0, 1000, 0), ("a", 60, 7000, 600), ("b", 0, 0, 0), ("b", 30, 30, 60)])
    rates = throughput_from_counters(frame)
    assert rates["ap_id"].tolist() == ["b", "a"]  # ordered by time
    assert rates.set_index("ap_id")["rx_bps"].to_dict() == {"a": 800.0, "b": 8.0}
    assert rates.set_index("ap_id")["tx_bps"].to_dict() == {"a": 80.0, "b": 16.0}


def test_counter_reset_never_shows_as_negative_rate() -> None:
    frame = counters([("a", 0, 5_000_000, 9_000), ("a", 60, 600, 1200), ("a", 120, 1200, 1800)])
    rates = throughput_from_counters(frame)
    assert (rates[["rx_bps", "tx_bps"]] >= 0).all().all()
    assert rates["rx_bps"].tolist() == [80.0, 80.0]  # after reset: counted from zero


def test_throughput_of_missing_counters_or_no_data() -> None:
    assert throughput_from_counters(pd.DataFrame()).empty
    frame = counters([("a", 0, None, None), ("a", 60, 600, None), ("a", 60, 600, None)])
    assert throughput_from_counters(frame).empty  # no full interval, no zero-length interval
