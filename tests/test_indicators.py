"""The indicator catalogue as a person reads it: `python -m wall indicators list`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_city_profile import run


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
                "khach_du_lich\tTourist visits\tTourism\tnghìn lượt\t≥ 320 nghìn lượt (higher is "
                "better)\tsum\tmonth\tCulture and Social Affairs Office\tday 5 after the period",
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
