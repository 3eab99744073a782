"""`python -m wall indicators import PATH` as a unit's clerk runs it: CSV and XLSX files (the
workbooks made here with openpyxl), every class of bad row refused with the whole file, a good
file stored as one submission, periods in the city's zone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from wall.periods import period_of
from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore
from wall.submissions import STREAM, latest_values

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # Hòa Thành's, the default profile


def periods(kind: str) -> tuple[str, str, str, str]:
    """(open just ended, open under way, ended too long ago, not begun) periods of now."""
    now = period_of(kind, datetime.now(UTC), ZONE)
    return now.previous().name, now.name, now.previous().previous().name, now.following().name


LAST_MONTH, THIS_MONTH, OLD_MONTH, NEXT_MONTH = periods("month")
LAST_YEAR, THIS_YEAR, _, _ = periods("year")


def stored(tmp_path: Path) -> list:
    if not (tmp_path / "ioc.db").exists():
        return []
    with SQLiteStore(tmp_path / "ioc.db") as store:
        return store.events(STREAM)


def import_file(path: Path, tmp_path: Path, *options: str, **env: str):
    """The command as a person types it (each argument as the shell hands it over)."""
    return subprocess.run(
        [sys.executable, "-m", "wall", "indicators", "import", str(path), *options],
        cwd=PROJECT_DIR,
        env={**os.environ, "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def bad_rows(stderr: str) -> dict[int, str]:
    return {int(n): why for n, why in re.findall(r"^  (?:dòng|row) (\d+): (.*)$", stderr, re.M)}


def test_a_good_csv_is_stored_as_one_submission(tmp_path: Path) -> None:
    path = tmp_path / "vhxh-thang.csv"
    path.write_text(
        "indicator_id,period,value,note\n"
        f'khach_du_lich,{LAST_MONTH},35.2,"Số liệu sơ bộ, chưa gồm lễ hội"\n'
        f"tiem_chung,{LAST_MONTH},96,\n"
        "\n"  # a blank row is no value
        f"lao_dong_dao_tao,{LAST_YEAR},71.4,Điều tra lao động\n",
        encoding="utf-8-sig",  # Excel's "CSV UTF-8" starts with a BOM
    )
    done = import_file(path, tmp_path, "--unit", "vh-xh", "--by", "Nguyễn Thị Hoa")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"đã lưu lần nộp \w+: 3 giá trị của Phòng Văn hóa - Xã hội, người nộp Nguyễn Thị Hoa "
        r"\(vhxh-thang\.csv\)\n",
        done.stdout,
    )
    events = stored(tmp_path)
    assert len({e.data["submission"] for e in events}) == 1
    assert {(e.data["indicator_id"], e.data["period"], e.data["value"]) for e in events} == {
        ("khach_du_lich", LAST_MONTH, 35.2),
        ("tiem_chung", LAST_MONTH, 96.0),
        ("lao_dong_dao_tao", LAST_YEAR, 71.4),
    }
    assert {e.note for e in events} == {"Số liệu sơ bộ, chưa gồm lễ hội", None, "Điều tra lao động"}
    assert {(e.kind, e.actor, e.data["path"], e.data["source"]) for e in events} == {
        ("submitted", "Nguyễn Thị Hoa", "file", "vhxh-thang.csv")
    }

    # The same period again is a correction: refused without a reason, stored with one.
    again = tmp_path / "sua.csv"
    again.write_text(f"indicator_id,period,value\nkhach_du_lich,{LAST_MONTH},41.7\n")
    done = import_file(again, tmp_path, "--unit", "vh-xh", "--by", "Bình")
    assert done.returncode == 2
    assert "đã có giá trị 35.2 (Nguyễn Thị Hoa, " in bad_rows(done.stderr)[2]
    done = import_file(
        again, tmp_path, "--unit", "vh-xh", "--by", "Bình", "--reason", "Thêm khách lễ hội"
    )
    assert done.returncode == 0, done.stderr
    corrected = [e for e in stored(tmp_path) if e.kind == "corrected"]
    assert [(e.data["value"], e.data["reason"], e.actor) for e in corrected] == [
        (41.7, "Thêm khách lễ hội", "Bình")
    ]
    with SQLiteStore(tmp_path / "ioc.db") as store:
        latest = latest_values(store).set_index("indicator_id")
    assert latest.loc["khach_du_lich", "actual"] == 41.7


# Every class of bad row, and what each must say (Vietnamese).
BAD_ROWS = [
    ("chi_so_la", LAST_MONTH, "12", "", "chỉ số “chi_so_la” không có trong danh mục"),
    ("thu_gom_rac", LAST_MONTH, "97", "", "do moi-truong nộp, không phải vh-xh"),
    ("tiem_chung", "2026-13", "95", "", "“2026-13” không phải một tháng (YYYY-MM)"),
    ("lao_dong_dao_tao", LAST_MONTH, "70", "", f"“{LAST_MONTH}” không phải một năm (YYYY)"),
    ("tiem_chung", OLD_MONTH, "95", "", f"kỳ {OLD_MONTH} không mở để nộp"),
    ("tiem_chung", NEXT_MONTH, "95", "", f"kỳ {NEXT_MONTH} không mở để nộp"),
    ("khach_du_lich", THIS_MONTH, "ba mươi", "", "giá trị “ba mươi” không phải là số"),
    ("doanh_thu_du_lich", THIS_MONTH, "12,5", "", "có dấu phẩy"),
    ("huy_dong_tre_5t", THIS_YEAR, "", "chưa có số", "thiếu giá trị"),
    ("tiem_chung", LAST_MONTH, "96", "", None),  # good
    ("tiem_chung", LAST_MONTH, "97", "", "trùng dòng 11 (cùng chỉ số và kỳ)"),
]


def test_a_csv_with_every_class_of_bad_row_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    lines = ["indicator_id,period,value,note"]
    lines += [",".join(f'"{c}"' for c in row[:4]) for row in BAD_ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = import_file(path, tmp_path, "--unit", "vh-xh")
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(
        f"wall indicators import: {path}: bị từ chối, không lưu gì (10 dòng lỗi):\n"
    )
    found = bad_rows(done.stderr)
    expected = {n: why for n, (*_, why) in enumerate(BAD_ROWS, 2) if why}
    assert sorted(found) == sorted(expected)
    for n, why in expected.items():
        assert why in found[n], (n, found[n])
    assert "Traceback" not in done.stderr
    assert stored(tmp_path) == []


def test_bad_rows_are_named_in_english_with_the_language_setting(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"indicator_id,period,value\nchi_so_la,{LAST_MONTH},1\ntiem_chung,x,1\n")
    done = import_file(path, tmp_path, "--unit", "vh-xh", IOC_LANGUAGE="en")
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == [
        "  row 2: indicator “chi_so_la” is not in the catalogue",
        "  row 3: “x” is not a month (YYYY-MM)",
    ]


def workbook(rows: list[list], merged: list[str] = ()) -> Workbook:
    book = Workbook()
    sheet = book.active
    sheet.title = "Chỉ số tháng"
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    return book


def with_saved_results(path: Path, results: dict[str, str]) -> None:
    """The workbook as Excel saves it: each formula cell with the result it computed (openpyxl
    writes formulas without one)."""
    copy = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for cell, value in results.items():
                    text, n = re.subn(
                        rf'(<c r="{cell}"[^>]*><f>[^<]*</f>)<v ?/>', rf"\1<v>{value}</v>", text
                    )
                    assert n == 1, cell
                data = text.encode()
            target.writestr(item, data)
    shutil.move(copy, path)


def test_a_good_workbook_with_merged_cells_dates_and_saved_formula_results(tmp_path: Path):
    year, month = (int(x) for x in LAST_MONTH.split("-"))
    book = workbook(
        [
            ["indicator_id", "period", "value", "note"],
            # A spreadsheet turns "2026-11" typed in a cell into 1 November 2026.
            ["tiem_chung", datetime(year, month, 1), 96.4, "Trạm y tế phường Long Hoa"],
            [None, THIS_MONTH, 95.0, None],  # indicator_id merged over both rows
            ["khach_du_lich", LAST_MONTH, "=30+5.2", "Tổng hợp từ các điểm du lịch"],
            ["lao_dong_dao_tao", int(LAST_YEAR), 71, None],  # a year typed as a number
        ],
        merged=["A2:A3"],
    )
    path = tmp_path / "Báo cáo chỉ số.xlsx"
    book.save(path)
    with_saved_results(path, {"C4": "35.2"})
    done = import_file(path, tmp_path, "--unit", "vh-xh", "--by", "Hoa")
    assert done.returncode == 0, done.stderr
    events = stored(tmp_path)
    assert {
        (e.data["indicator_id"], e.data["period"], e.data["value"], e.note) for e in events
    } == {
        ("tiem_chung", LAST_MONTH, 96.4, "Trạm y tế phường Long Hoa"),
        ("tiem_chung", THIS_MONTH, 95.0, None),
        ("khach_du_lich", LAST_MONTH, 35.2, "Tổng hợp từ các điểm du lịch"),
        ("lao_dong_dao_tao", LAST_YEAR, 71.0, None),
    }


def test_a_workbook_with_bad_rows_formulas_without_results_and_merged_values_is_refused(
    tmp_path: Path,
) -> None:
    rows = [["indicator_id", "period", "value", "note"]]
    rows += [
        [i, p, float(v) if re.fullmatch(r"[\d.]+", v) else v or None, n]
        for i, p, v, n, _ in BAD_ROWS
    ]
    rows += [
        ["tiem_chung", THIS_MONTH, "=95+1", "công thức chưa tính"],  # row 13
        ["khach_du_lich", LAST_MONTH, 30.0, None],  # row 14: its value merged down to 15
        ["doanh_thu_du_lich", LAST_MONTH, None, None],  # row 15: good, from the merge
        ["den_chieu_sang", LAST_MONTH, 98, None, "cột thừa"],  # row 16
    ]
    path = tmp_path / "bad.xlsx"
    workbook(rows, merged=["C14:C15"]).save(path)
    done = import_file(path, tmp_path, "--unit", "vh-xh")
    assert done.returncode == 2, done.stdout
    found = bad_rows(done.stderr)
    expected = {n: why for n, (*_, why) in enumerate(BAD_ROWS, 2) if why}
    expected[13] = "cột value là công thức chưa có kết quả được lưu"
    expected[16] = "có hơn 4 cột"
    assert sorted(found) == sorted(expected)
    for n, why in expected.items():
        assert why in found[n], (n, found[n])
    assert stored(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        (
            "values.xls",
            b"old",
            ["--unit", "vh-xh"],
            "values.xls: tệp “.xls” không được hỗ trợ: dùng .csv (UTF-8) hoặc .xlsx",
        ),
        (
            "values.csv",
            "indicator_id,period,value\ntiem_chung,2026-11,96,Đơn\n".encode("cp1258"),
            ["--unit", "vh-xh"],
            "values.csv: tệp CSV không phải văn bản UTF-8 (lưu lại dạng “CSV UTF-8”)",
        ),
        (
            "values.csv",
            "mã chỉ số,kỳ,giá trị\n".encode(),
            ["--unit", "vh-xh"],
            "values.csv: dòng 1: tiêu đề phải là indicator_id, period, value[, note]",
        ),
        (
            "values.xlsx",
            b"not a zip",
            ["--unit", "vh-xh"],
            "values.xlsx: không phải tệp Excel .xlsx",
        ),
        (
            "values.csv",
            b"indicator_id,period,value\n",
            ["--unit", "so-y-te"],
            "--unit “so-y-te” không phải đơn vị xử lý của hồ sơ thành phố (có: qlđt, moi-truong",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_in_one_line(
    name: str, content: bytes, options: list, message: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    done = import_file(path, tmp_path, *options)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("wall indicators import: ") and message in line, line
    assert stored(tmp_path) == []
