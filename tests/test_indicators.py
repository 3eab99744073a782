"""The indicator catalogue as a person reads it (`python -m wall indicators list`), and its
periods in the city's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.test_city_profile import run
from wall.periods import PeriodError, parse_period


@pytest.mark.parametrize(
    ("env", "lines"),
    [
        (
            {},
            [
                "Danh mục chỉ số điều hành: Hòa Thành (17)",
                "mã\ttên\tlĩnh vực\tđơn vị tính\tchỉ tiêu\tgiá trị của kỳ\tkỳ"
                "\tđơn vị chịu trách nhiệm\thạn nộp",
                "huy_dong_tre_5t\tHuy động trẻ 5 tuổi ra lớp\tGiáo dục\t%\t≥ 99,5 % (cao hơn là "
                "tốt)\tgiá trị cuối\tnăm\tPhòng Văn hóa - Xã hội\tngày thứ 30 sau kỳ",
                "thu_ngan_sach\tThu ngân sách so với dự toán\tTài chính\t%\t≥ 100 % (cao hơn là "
                "tốt)\tgiá trị cuối\tquý\tPhòng Kinh tế, Hạ tầng và Đô thị\tngày thứ 10 sau kỳ",
            ],
        ),
        (
            {"IOC_LANGUAGE": "en"},
            [
                "Operating indicators: Hòa Thành (17)",
                "khach_du_lich\tTourist visits\tTourism\tthousand visits\t≥ 320 thousand visits "
                "(higher is better)\tsum\tmonth\tCulture and Social Affairs Office"
                "\tday 5 after the period",
            ],
        ),
        (
            {"IOC_LANGUAGE": "en", "IOC_CITY": "lakeside"},
            [
                "Operating indicators: Lakeside (5)",
                "response_minutes\tPolice response time\tSafety\tmin\t≤ 15 min (lower is better)"
                "\tmean\tmonth\tPolice\tday 7 after the period",
            ],
        ),
    ],
)
def test_indicators_list_prints_the_catalogue_vietnamese_first(
    env: dict, lines: list[str], tmp_path: Path
) -> None:
    done = run("wall indicators list", tmp_path, **env)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    for line in lines:
        assert line in printed
    header = 2
    assert len(printed) == header + int(printed[0].rsplit("(", 1)[1].rstrip(")"))


VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(
    ("kind", "name", "utc_now", "zone", "is_open"),
    [
        # 1 December 00:30 in Hòa Thành is still 30 November in UTC: October has closed.
        ("month", "2026-10", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), VIETNAM, False),
        ("month", "2026-11", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), VIETNAM, True),
        ("month", "2026-12", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), VIETNAM, True),
        # The same instant in Lakeside's zone is 30 November 23:00: October is still open.
        ("month", "2026-10", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), KOLKATA, True),
        ("month", "2026-12", datetime(2026, 11, 30, 17, 30, tzinfo=UTC), KOLKATA, False),
        ("quarter", "2026-Q3", datetime(2026, 12, 31, 16, 59, tzinfo=UTC), VIETNAM, True),
        ("quarter", "2026-Q3", datetime(2026, 12, 31, 17, 0, tzinfo=UTC), VIETNAM, False),
        ("quarter", "2027-Q1", datetime(2026, 12, 31, 17, 0, tzinfo=UTC), VIETNAM, True),
        ("year", "2025", datetime(2026, 12, 31, 16, 59, tzinfo=UTC), VIETNAM, True),
        ("year", "2025", datetime(2026, 12, 31, 17, 0, tzinfo=UTC), VIETNAM, False),
    ],
)
def test_a_period_is_open_until_the_next_one_ends_in_the_citys_zone(
    kind: str, name: str, utc_now: datetime, zone: ZoneInfo, is_open: bool
) -> None:
    assert parse_period(kind, name).is_open(utc_now, zone) is is_open


@pytest.mark.parametrize(
    ("kind", "text"),
    [("month", "2026-13"), ("month", "2026-1"), ("quarter", "2026-Q5"), ("year", "26")],
)
def test_a_period_that_does_not_exist_is_refused(kind: str, text: str) -> None:
    with pytest.raises(PeriodError, match=f"{text!r} is not a {kind}"):
        parse_period(kind, text)
