"""The brief's field reports by ward and category, and its ward map, as an operator gets them
from `python -m wall brief` (city profiles with and without boundaries, and broken ones)."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest

from wall.city import CITIES_DIR
from wall.settings_core import PROJECT_DIR
from wall.store import Point
from wall.store.sqlite import SQLiteStore

PAGES = PROJECT_DIR / "test-artifacts" / "brief-map"
LAKESIDE_OFFSET = timedelta(hours=5, minutes=30)  # Asia/Kolkata
HOA_THANH_OFFSET = timedelta(hours=7)
NB_SPOT, SB_SPOT, AWAY = (21.01, 79.0), (20.995, 79.005), (21.05, 79.1)
# report, category, ward tag, (lat, lon) or None, resolved the same day?
REPORTS = (
    ("L1", "pothole", "NB", NB_SPOT, True),
    ("L2", "pothole", "NB", NB_SPOT, False),
    ("L3", "noise", "NB", NB_SPOT, False),
    ("L4", "water_leak", "SB", SB_SPOT, True),
    ("L5", "noise", "SB", AWAY, False),  # sent from outside the town's boundaries
    ("L6", "pothole", "NB", None, True),  # no coordinates
)
NAMES = {"vi": {"NB": "Bờ Bắc", "SB": "Bờ Nam"}, "en": {"NB": "North Bank", "SB": "South Bank"}}
OUTSIDE = {"vi": "Ngoài ranh giới", "en": "Outside the boundaries"}
UNLOCATED = {"vi": "Không có vị trí", "en": "Without a location"}
MAP_TITLE = {"vi": "Bản đồ phản ánh", "en": "Map of the field reports"}


def yesterday(offset: timedelta) -> date:
    return (datetime.now(UTC) + offset).date() - timedelta(days=1)


def seed(path, day: date, offset: timedelta = LAKESIDE_OFFSET, reports=REPORTS) -> None:
    start = datetime.combine(day, datetime.min.time(), UTC) - offset
    points = []
    for n, (report, category, ward, spot, resolved) in enumerate(reports):
        at = start + timedelta(hours=1 + n)
        tags = {"category": category, "ward": ward, "report_slot": report}
        fields = {"report_id": report, "status": "new", "created": at.isoformat()}
        if spot:
            fields.update(lat=spot[0], lon=spot[1])
        points.append(Point("field_report", tags, dict(fields), at))
        if resolved:
            later = at + timedelta(hours=3)
            fields.update(status="resolved", updated=later.isoformat())
            points.append(Point("field_report", tags, fields, later))
    with SQLiteStore(path) as store:
        store.write(points)


def run_brief(db, city, day: date, out, lang: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "IOC_STORE": f"sqlite:///{db}", "IOC_CITY": str(city)}
    return subprocess.run(
        [sys.executable, "-m", "wall", "brief", "--period", "day", "--date", day.isoformat(),
         "--lang", lang, "--out", str(out)],
        cwd=PROJECT_DIR, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def csv_of(out, day: date) -> dict[tuple[str, str, str], dict[str, str]]:
    with (out / f"brief-day-{day}.csv").open(encoding="utf-8") as f:
        return {(r["section"], r["figure"], r["key"]): r for r in csv.DictReader(f)}


def page_texts(pdf) -> list[str]:
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return pages.split("\f")


def words_of_page(pdf, page: int) -> list[tuple[str, float, float, float, float]]:
    """(word, xMin, yMin, xMax, yMax) of one page, from pdftotext's boxes."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    )
    return [(unescape(w), float(a), float(b), float(c), float(d)) for a, b, c, d, w in found]


def count_under(words, name: str, count: int) -> bool:
    """Is `count` written just under `name` (its last word), centred on it, as on a ward?"""
    last = name.split()[-1]
    for word, x0, _y0, x1, y1 in words:
        if word != last:
            continue
        for other, ox0, oy0, ox1, _oy1 in words:
            centred = abs((ox0 + ox1) / 2 - (x0 + x1) / 2) < 40
            if other == str(count) and centred and 0 <= oy0 - y1 < 12:
                return True
    return False


def render(pdf, page: int, name: str) -> None:
    PAGES.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", str(page), "-l", str(page), "-singlefile",
         str(pdf), str(PAGES / name)],
        check=True,
    )  # fmt: skip


def map_page(pdf, lang: str) -> int:
    pages = page_texts(pdf)
    found = [n for n, words in enumerate(pages, start=1) if MAP_TITLE[lang] in words]
    assert len(found) == 1, pages
    return found[0]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_lakeside_brief_has_wards_and_categories_and_a_map_of_where_reports_came_from(
    tmp_path, lang
):
    day = yesterday(LAKESIDE_OFFSET)
    seed(tmp_path / "ioc.db", day)
    done = run_brief(tmp_path / "ioc.db", "lakeside", day, tmp_path / "out", lang)
    assert done.returncode == 0, done.stderr
    rows = csv_of(tmp_path / "out", day)
    nb, sb = NAMES[lang]["NB"], NAMES[lang]["SB"]
    # By ward (its tag) and category: received and resolved, adding up to the headline.
    assert rows["headline", "reports_received", ""]["value"] == "6"
    assert rows["headline", "reports_resolved", ""]["value"] == "3"
    assert [rows["reports", f, nb]["value"] for f in ("received", "resolved")] == ["4", "2"]
    assert [rows["reports", f, sb]["value"] for f in ("received", "resolved")] == ["2", "1"]
    pothole = "Ổ gà" if lang == "vi" else "Pothole"
    by_category = {k: r["value"] for k, r in rows.items() if k[0] == "reports_by_category"}
    assert sum(int(v) for (_, f, _), v in by_category.items() if f == "received") == 6
    assert sum(int(v) for (_, f, _), v in by_category.items() if f == "resolved") == 3
    pothole_rows = [k for k in by_category if k[2].lower().startswith(pothole.lower()[:2])]
    assert pothole_rows, by_category
    assert by_category["reports_by_category", "received", pothole_rows[0][2]] == "3"
    assert by_category["reports_by_category", "resolved", pothole_rows[0][2]] == "2"
    # The map counts by where each report was made: one sent from away is outside, one
    # without coordinates has no location; together they are the reports received.
    assert rows["report_map", "received", nb]["value"] == "3"
    assert rows["report_map", "received", sb]["value"] == "1"
    assert rows["report_map", "received", OUTSIDE[lang]]["value"] == "1"
    assert rows["report_map", "received", UNLOCATED[lang]]["value"] == "1"

    pdf = tmp_path / "out" / f"brief-day-{day}.pdf"
    page = map_page(pdf, lang)
    words = page_texts(pdf)[page - 1]
    for line in (f"{nb}: 3", f"{sb}: 1", f"{OUTSIDE[lang]}: 1", f"{UNLOCATED[lang]}: 1"):
        assert line in words, words  # the legend says every number
    # The classes with their numbers (not colour alone): 0 and, for at most 3, one each.
    assert {"0", "1", "2", "3"} <= set(words.split()), words
    boxes = words_of_page(pdf, page)
    assert count_under(boxes, nb, 3) and count_under(boxes, sb, 1), boxes  # on the wards
    # The tables: the PDF says the CSV's figures.
    received, resolved = ("Nhận được", "Đã xử lý") if lang == "vi" else ("Received", "Resolved")
    text = " ".join(" ".join(page_texts(pdf)).split())
    assert f"{received} {resolved}" in text
    assert re.search(rf"{nb} 4 2 ", text) and re.search(rf"{sb} 2 1 ", text), text
    render(pdf, page, f"lakeside-{lang}")


def test_hoa_thanh_without_boundaries_has_the_tables_and_no_map(tmp_path):
    day = yesterday(HOA_THANH_OFFSET)
    reports = (
        ("H1", "road", "Long Hoa", (11.28, 106.13), True),
        ("H2", "lighting", "Trường Tây", None, False),  # a former ward: today's Long Hoa
        ("H3", "road", "Thanh Điền", None, False),
    )
    seed(tmp_path / "ioc.db", day, HOA_THANH_OFFSET, reports)
    done = run_brief(tmp_path / "ioc.db", "hoa-thanh", day, tmp_path / "out", "vi")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = csv_of(tmp_path / "out", day)
    assert [rows["reports", f, "Long Hoa"]["value"] for f in ("received", "resolved")] == [
        "2",
        "1",
    ]
    assert rows["reports", "received", "Thanh Điền"]["value"] == "1"
    assert not [k for k in rows if k[0] == "report_map" or k[1] == "map_left_out"]
    text = " ".join(page_texts(tmp_path / "out" / f"brief-day-{day}.pdf"))
    assert MAP_TITLE["vi"] not in text and "Không vẽ bản đồ" not in text
    assert "Theo lĩnh vực" in text


def profile_copy(tmp_path, boundaries: str | dict, **names: str):
    """A copy of the lakeside profile with these boundaries (text or GeoJSON) and unit names
    (the old names stay as former names, so its inventory still holds)."""
    folder = tmp_path / "city"
    shutil.copytree(CITIES_DIR / "lakeside", folder)
    (folder / "boundaries.geojson").write_text(
        boundaries if isinstance(boundaries, str) else json.dumps(boundaries), encoding="utf-8"
    )
    toml = (folder / "city.toml").read_text(encoding="utf-8")
    for old, new in names.items():
        toml = toml.replace(f'"{old}"', json.dumps(new, ensure_ascii=False))
        toml = toml.replace('"Old Market",', f'"Old Market", "{old}",')
    (folder / "city.toml").write_text(toml, encoding="utf-8")
    return folder


def square(lon0, lat0, lon1, lat1):
    return [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]


def feature(unit, kind, coordinates):
    return {
        "type": "Feature",
        "properties": {"unit": unit},
        "geometry": {"type": kind, "coordinates": coordinates},
    }


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_markup_in_a_ward_name_shows_literally_and_holes_and_multipolygons_count_right(
    tmp_path, lang
):
    """North Bank: a frame around a lake (a hole) where South Bank is an island, plus a second
    piece to the east; the South Bank report is in the lake's island, not in the frame."""
    boundaries = {
        "type": "FeatureCollection",
        "features": [
            feature(
                "NB",
                "MultiPolygon",
                [
                    [square(78.98, 20.98, 79.02, 21.02), square(78.99, 20.99, 79.01, 21.0)],
                    [square(79.03, 20.98, 79.05, 21.02)],
                ],
            ),
            feature("SB", "Polygon", [square(78.993, 20.992, 79.007, 20.998)]),
        ],
    }
    names = {"Bờ Bắc": "Bờ <b>Bắc</b>", "North Bank": "North <b>Bank</b> & Co"}
    city = profile_copy(tmp_path, boundaries, **names)
    day = yesterday(LAKESIDE_OFFSET)
    reports = (
        ("M1", "pothole", "NB", (21.01, 78.985), False),  # the frame
        ("M2", "pothole", "NB", (21.0, 79.04), False),  # the eastern piece
        ("M3", "noise", "SB", (20.995, 79.0), False),  # the island in the lake
        ("M4", "noise", "SB", (20.9985, 79.009), False),  # the lake, off the island: no ward
    )
    seed(tmp_path / "ioc.db", day, reports=reports)
    done = run_brief(tmp_path / "ioc.db", city, day, tmp_path / "out", lang)
    assert done.returncode == 0, done.stderr
    nb = names["Bờ Bắc"] if lang == "vi" else names["North Bank"]
    sb = NAMES[lang]["SB"]
    rows = csv_of(tmp_path / "out", day)
    assert rows["report_map", "received", nb]["value"] == "2"
    assert rows["report_map", "received", sb]["value"] == "1"
    assert rows["report_map", "received", OUTSIDE[lang]]["value"] == "1"
    assert rows["reports", "received", nb]["value"] == "2"
    pdf = tmp_path / "out" / f"brief-day-{day}.pdf"
    page = map_page(pdf, lang)
    words = page_texts(pdf)[page - 1]
    assert f"{nb}: 2" in words, words  # the legend, literally
    whole = " ".join(" ".join(page_texts(pdf)).split())
    assert whole.count(nb) >= 3, whole  # the table, on the map and in the legend
    margin = 18 * 72 / 25.4  # the page's left margin, in points
    outside = [w for w in words_of_page(pdf, page) if w[1] < margin - 1]
    assert not outside, outside  # a long name near a ward's edge stays on the map
    render(pdf, page, f"markup-holes-{lang}")


BROKEN = {
    "unknown unit": (
        {"type": "FeatureCollection", "features": [feature("XX", "Polygon", [square(0, 0, 1, 1)])]},
        "properties.unit 'XX' names no unit",
    ),
    "ring of two points": (
        {
            "type": "FeatureCollection",
            "features": [feature("NB", "Polygon", [[[78.99, 21.0], [79.0, 21.01]]])],
        },
        "fewer than 3 points",
    ),
    "off the globe": (
        {
            "type": "FeatureCollection",
            "features": [feature("NB", "Polygon", [square(0, 0, 1, 95)])],
        },
        "off the globe",
    ),
    "no features": ({"type": "FeatureCollection", "features": []}, "has no features"),
}


LEFT_OUT = {
    "en": "• The ward map is left out: the boundaries file of the city profile cannot be used",
    "vi": "• Không vẽ bản đồ phường/xã: tệp ranh giới của hồ sơ city không dùng được",
}


@pytest.mark.parametrize(
    ("broken", "lang"), [*((b, "en") for b in sorted(BROKEN)), ("unknown unit", "vi")]
)
def test_boundaries_the_map_cannot_use_leave_it_out_and_the_data_section_says_why(
    tmp_path, broken, lang
):
    boundaries, problem = BROKEN[broken]
    if lang == "vi":
        problem = "properties.unit 'XX' không phải đơn vị nào của hồ sơ"
    city = profile_copy(tmp_path, boundaries)
    day = yesterday(LAKESIDE_OFFSET)
    seed(tmp_path / "ioc.db", day)
    done = run_brief(tmp_path / "ioc.db", city, day, tmp_path / "out", lang)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = csv_of(tmp_path / "out", day)
    assert problem in rows["data", "map_left_out", "boundaries"]["value"]
    north = NAMES[lang]["NB"]
    assert rows["reports", "received", north]["value"] == "4"  # the table still says it
    assert not [k for k in rows if k[0] == "report_map"]
    text = " ".join(" ".join(page_texts(tmp_path / "out" / f"brief-day-{day}.pdf")).split())
    assert MAP_TITLE[lang] not in text
    assert LEFT_OUT[lang] in text
    assert problem in text


def test_boundaries_that_are_not_geojson_stop_the_brief_with_one_line(tmp_path):
    """The city profile refuses them when it loads, for every command (docs/city-profile.md)."""
    city = profile_copy(tmp_path, "{not json")
    day = yesterday(LAKESIDE_OFFSET)
    seed(tmp_path / "ioc.db", day)
    done = run_brief(tmp_path / "ioc.db", city, day, tmp_path / "out", "en")
    assert done.returncode == 2
    assert "boundaries.geojson" in done.stderr and "not valid GeoJSON" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
