"""A unit's file of indicator values: `.csv` (UTF-8) or `.xlsx` rows `indicator_id, period,
value[, note]` under that header, numbered as a spreadsheet numbers them (the header is row 1).

In a workbook (its first sheet) a merged cell's value is read into every cell of the range, as a
person sees it; a formula gives the result the spreadsheet program last saved with the file,
and a formula with none saved (a file written by a program that does not compute formulas) is
a bad row, never a guess.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from wall.i18n import Translator
from wall.submissions import MAX_VALUES, Row

HEADER = ("indicator_id", "period", "value", "note")
SUFFIXES = (".csv", ".xlsx")
MAX_FILE_BYTES = 10 * 2**20


class FileRefused(Exception):
    """The file cannot be read as rows of values at all (the message says why)."""


def read_rows(path: Path, t: Translator) -> tuple[list[Row], list[tuple[int, str]]]:
    """The file's rows of values, and the rows that cannot be read (row number, reason)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise FileRefused(t("imp.suffix", suffix=path.suffix or "–"))
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FileRefused(t("imp.too_big", mib=MAX_FILE_BYTES // 2**20))
        cells = _csv_cells(path, t) if suffix == ".csv" else _xlsx_cells(path, t)
    except FileNotFoundError:
        raise FileRefused(t("imp.missing")) from None
    except OSError as exc:
        raise FileRefused(t("imp.unreadable", error=exc.strerror or exc)) from None
    return _rows(cells, t)


def _rows(cells: list[tuple[int, list]], t: Translator) -> tuple[list[Row], list[tuple[int, str]]]:
    cells = [(n, _trimmed(values)) for n, values in cells]
    cells = [(n, values) for n, values in cells if values]  # blank rows
    if not cells:
        raise FileRefused(t("imp.empty"))
    number, header = cells[0]
    names = tuple(str(v or "").strip().lower() for v in header)
    if names not in (HEADER[:3], HEADER):
        raise FileRefused(t("imp.header", row=number, header=", ".join(HEADER[:3]) + "[, note]"))
    rows, problems = [], []
    for number, values in cells[1 : MAX_VALUES + 2]:
        if len(values) > len(names):
            problems.append((number, t("imp.columns", n=len(names))))
            continue
        if any(isinstance(v, _NoResult) for v in values):
            columns = [names[i] for i, v in enumerate(values) if isinstance(v, _NoResult)]
            problems.append((number, t("imp.formula", columns=", ".join(columns))))
            continue
        values = values + [None] * (4 - len(values))
        rows.append(
            Row(
                number,
                _text(values[0]),
                _period_text(values[1]),
                values[2],
                _text(values[3]),
            )
        )
    return rows, problems


class _NoResult:
    """A formula cell without the result the spreadsheet program would have saved."""


def _trimmed(values: list) -> list:
    """Cells without the empty ones at the end of the row."""
    values = [None if isinstance(v, str) and not v.strip() else v for v in values]
    while values and values[-1] is None:
        values.pop()
    return values


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _period_text(value: object) -> str:
    """A period as written. A spreadsheet turns `2026-11` typed into a cell into the date
    1 November 2026, and `2026` into a number: both are read back as written."""
    if isinstance(value, datetime | date):
        return f"{value:%Y-%m}" if value.day == 1 else value.isoformat()[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _csv_cells(path: Path, t: Translator) -> list[tuple[int, list]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(t("imp.not_utf8")) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    try:
        return [
            (n, list(values))
            for n, values in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
        ]
    except csv.Error as exc:
        raise FileRefused(t("imp.bad_csv", error=exc)) from None


def _xlsx_cells(path: Path, t: Translator) -> list[tuple[int, list]]:
    try:
        values = load_workbook(path, data_only=True).worksheets[0]
        formulas = load_workbook(path, data_only=False).worksheets[0]
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise FileRefused(t("imp.not_xlsx", error=exc)) from None
    grid = [list(row) for row in values.iter_rows(values_only=True)]
    for merged in values.merged_cells.ranges:
        top_left = grid[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                grid[r - 1][c - 1] = top_left
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value is None and formulas.cell(r + 1, c + 1).data_type == "f":
                row[c] = _NoResult()
    return list(enumerate(grid, 1))
