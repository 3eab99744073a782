"""The field reports of the leaders' brief by ward and by category, and the map of the wards each
filled by the reports received there, when the city profile has boundaries.

The map is drawn as ReportLab vector shapes (it prints sharp at any size): longitude and
latitude projected equirectangularly, longitudes scaled by the cosine of the town's middle
latitude so a ward keeps its shape. A report is placed by its coordinates (even-odd rule, so a
hole in a ward is not the ward); one that falls in no ward is counted "outside the boundaries",
one without coordinates "without a location", so the legend adds up to the reports received.
A boundaries file the map cannot use leaves the map out and says why (`BoundaryError`): the
brief is still made.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wall.city import CityProfile
from wall.domain import CLOSED_REPORT_STATUSES, OTHER_CATEGORY, UNKNOWN, UNKNOWN_LABEL

# Sequential fills, fewest to most: the wall's info blue (assets/wall.css --info, #5cb8f0) from
# a pale tint to a deep shade (print is light: the wall's own dark panels would not read).
SEQUENTIAL = ("#cfe9fa", "#8fcdf4", "#5cb8f0", "#2a86c4", "#15527d")
ZERO_FILL = "#ffffff"  # a ward without any report: no blue at all
OUTLINE = "#2f3c4a"  # --border
DARK_TEXT = "#0a0e13"  # --bg
LIGHT_TEXT = "#ffffff"
TEXTS = {
    "by_category": ("Theo lĩnh vực", "By category"),
    "category": ("Lĩnh vực", "Category"),
    "received": ("Nhận được", "Received"),
    "resolved": ("Đã xử lý", "Resolved"),
    "received_before": ("Nhận kỳ trước", "Received, previous"),
    "map": (
        "Bản đồ phản ánh nhận được theo phường/xã (theo vị trí phản ánh)",
        "Map of the field reports received by ward (where each was made)",
    ),
    "legend": ("Số phản ánh nhận được", "Reports received"),
    "outside": ("Ngoài ranh giới", "Outside the boundaries"),
    "unlocated": ("Không có vị trí", "Without a location"),
    "map_left_out": (
        "Không vẽ bản đồ phường/xã: tệp ranh giới của hồ sơ {city} không dùng được ({problem})",
        "The ward map is left out: the boundaries file of the {city} profile cannot be used "
        "({problem})",
    ),
}
OTHER_LABEL = ("Khác", "Other")  # reports of none of the profile's categories
LEGEND_WARDS = 24  # more wards than this: the legend gives the classes only (the table has all)


def text(key: str, lang: str, **values: object) -> str:
    vi, en = TEXTS[key]
    return (vi if lang == "vi" else en).format(**values)


PROBLEMS = {
    "no_features": ("không có vùng nào (features)", "has no features"),
    "unit": (
        "{where}: properties.unit {unit} không phải đơn vị nào của hồ sơ",
        "{where}: properties.unit {unit} names no unit of the city profile",
    ),
    "geometry": (
        "{where}: không phải Polygon hay MultiPolygon có toạ độ",
        "{where}: is not a Polygon or MultiPolygon with coordinates",
    ),
    "no_rings": ("{where}: có đa giác không có vòng nào", "{where}: has a polygon without rings"),
    "point": (
        "{where}: có điểm không phải [kinh độ, vĩ độ]",
        "{where}: has a point that is not [longitude, latitude]",
    ),
    "off_globe": (
        "{where}: có điểm ngoài trái đất: {point}",
        "{where}: has a point off the globe: {point}",
    ),
    "few_points": (
        "{where}: có vòng ít hơn 3 điểm",
        "{where}: has a ring of fewer than 3 points",
    ),
}


class BoundaryError(ValueError):
    """A boundaries file the map cannot be drawn from; says what is wrong in it, in either
    language (`str()`: English, for logs)."""

    def __init__(self, problem: str, **values: object) -> None:
        self.problem, self.values = problem, values
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        vi, en = PROBLEMS[self.problem]
        return (vi if lang == "vi" else en).format(**self.values)


Ring = tuple[tuple[float, float], ...]  # (longitude, latitude) points, closed or not


@dataclass(frozen=True)
class WardShape:
    ward: str  # today's unit, by its Vietnamese name (the ward value the wall stores)
    polygons: tuple[tuple[Ring, ...], ...]  # each: its outer ring, then its holes


@dataclass
class MapCounts:
    """Reports received in the period by where they were made."""

    by_ward: dict[str, int] = field(default_factory=dict)  # every ward of the map, 0 included
    outside: int = 0  # coordinates in no ward
    unlocated: int = 0  # no coordinates


def breakdown(
    reports: pd.DataFrame, profile: CityProfile | None, column: str
) -> dict[str, tuple[int, int]]:
    """{ward or category: (received, resolved)} of one period's `field_report` points: received
    are the reports with a `new` version in the period, resolved those with a closing one (as
    the headline counts them, so each column adds up to its headline figure). A ward is today's
    unit (a former ward's reports count under it); a missing value is `unknown`."""
    out: dict[str, list[int]] = {}
    if not len(reports) or "status" not in reports.columns:
        return {}
    for n, statuses in enumerate((("new",), CLOSED_REPORT_STATUSES)):
        rows = reports[reports["status"].isin(statuses)].drop_duplicates("report_id", keep="last")
        values = rows[column] if column in rows.columns else pd.Series(UNKNOWN, rows.index)
        if column == "ward" and profile is not None:
            values = profile.todays_units(values.astype(object))
        for key, count in values.fillna(UNKNOWN).astype(str).value_counts().items():
            out.setdefault(key, [0, 0])[n] = int(count)
    return {key: (pair[0], pair[1]) for key, pair in out.items()}


def ward_label(profile: CityProfile, ward: str, lang: str) -> str:
    if ward == UNKNOWN:
        return UNKNOWN_LABEL[0 if lang == "vi" else 1]
    return profile.unit_name(ward, lang)


def category_label(profile: CityProfile, code: str, lang: str) -> str:
    labels = {OTHER_CATEGORY: OTHER_LABEL, UNKNOWN: UNKNOWN_LABEL, **profile.category_labels}
    pair = labels.get(code)
    return pair[0 if lang == "vi" else 1] if pair else code.replace("_", " ")


def ward_shapes(profile: CityProfile) -> list[WardShape]:
    """The profile's boundaries as one shape per ward, in the order of its units; [] without
    boundaries. BoundaryError naming the feature and what is wrong with it."""
    data: Any = profile.boundaries
    if not data:
        return []
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise BoundaryError("no_features")
    polygons: dict[str, list[tuple[Ring, ...]]] = {}
    for n, feature in enumerate(features, start=1):
        where = f"features[{n}]"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        named = properties.get("unit") if isinstance(properties, dict) else None
        ward = profile.unit_of(named) if isinstance(named, str) else None
        if ward is None:
            raise BoundaryError("unit", where=where, unit=repr(named))
        geometry = feature.get("geometry")
        geometry = geometry if isinstance(geometry, dict) else {}
        kind, coordinates = geometry.get("type"), geometry.get("coordinates")
        parts = [coordinates] if kind == "Polygon" else coordinates
        if kind not in ("Polygon", "MultiPolygon") or not isinstance(parts, list) or not parts:
            raise BoundaryError("geometry", where=where)
        for polygon in parts:
            if not isinstance(polygon, list) or not polygon:
                raise BoundaryError("no_rings", where=where)
            polygons.setdefault(ward, []).append(tuple(_ring(ring, where) for ring in polygon))
    order = [u.name_vi for u in profile.units]
    return [WardShape(w, tuple(polygons[w])) for w in sorted(polygons, key=order.index)]


def _ring(ring: Any, where: str) -> Ring:
    try:
        points = tuple((float(p[0]), float(p[1])) for p in ring)
    except (TypeError, ValueError, IndexError):
        raise BoundaryError("point", where=where) from None
    for lon, lat in points:
        if not (
            math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise BoundaryError("off_globe", where=where, point=f"[{lon}, {lat}]")
    if len(set(points)) < 3:
        raise BoundaryError("few_points", where=where)
    return points


def _inside(polygon: tuple[Ring, ...], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which points are in the polygon: crossings of every ring counted together (even-odd), so
    a point in a hole is out."""
    inside = np.zeros(len(lon), dtype=bool)
    for ring in polygon:
        xs = np.array([p[0] for p in ring])
        ys = np.array([p[1] for p in ring])
        for x1, y1, x2, y2 in zip(xs, ys, np.roll(xs, -1), np.roll(ys, -1), strict=True):
            if y1 == y2:
                continue
            crosses = ((y1 > lat) != (y2 > lat)) & (lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1))
            inside ^= crosses
    return inside


def located_counts(shapes: list[WardShape], reports: pd.DataFrame) -> MapCounts:
    """The reports received in the period (a `new` version in it) by the ward their coordinates
    fall in."""
    out = MapCounts(by_ward={s.ward: 0 for s in shapes})
    if not len(reports) or "status" not in reports.columns:
        return out
    received = reports[reports["status"] == "new"].drop_duplicates("report_id")
    columns = [c for c in ("lat", "lon") if c in received.columns]
    where = received[columns].apply(pd.to_numeric, errors="coerce") if columns else None
    if where is None or len(columns) < 2:
        out.unlocated = len(received)
        return out
    known = where.dropna()
    out.unlocated = len(received) - len(known)
    lon, lat = known["lon"].to_numpy(float), known["lat"].to_numpy(float)
    placed = np.zeros(len(known), dtype=bool)
    for shape in shapes:
        here = np.zeros(len(known), dtype=bool)
        for polygon in shape.polygons:
            here |= _inside(polygon, lon, lat)
        here &= ~placed  # a point on a shared edge counts once
        out.by_ward[shape.ward] += int(here.sum())
        placed |= here
    out.outside = int((~placed).sum())
    return out


def classes(highest: int) -> list[tuple[int, int, str]]:
    """(from, to, fill) of the legend's classes: 0 alone, then up to five equal ranges."""
    out = [(0, 0, ZERO_FILL)]
    if highest <= 0:
        return out
    steps = min(len(SEQUENTIAL), highest)
    size = math.ceil(highest / steps)
    low = 1
    for n in range(steps):
        high = min(highest, low + size - 1)
        out.append((low, high, SEQUENTIAL[n if steps == len(SEQUENTIAL) else _spread(n, steps)]))
        low = high + 1
        if low > highest:
            break
    return out


def _spread(n: int, steps: int) -> int:
    """Fewer classes than colours: take colours spread over the whole palette."""
    return round(n * (len(SEQUENTIAL) - 1) / max(steps - 1, 1))


def fill_of(count: int, legend: list[tuple[int, int, str]]) -> str:
    return next(fill for low, high, fill in legend if low <= count <= high)


def _text_colour(fill: str) -> str:
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return DARK_TEXT if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else LIGHT_TEXT


def _label_point(polygon: tuple[Ring, ...]) -> tuple[float, float]:
    """A point well inside the polygon (its outer ring's centroid when that is inside and not
    in a hole; else the inside point of a grid farthest from the edges)."""
    outer = polygon[0]
    xs, ys = [p[0] for p in outer], [p[1] for p in outer]
    area = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(outer, outer[1:] + outer[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if area:
        centre = (cx / (3 * area), cy / (3 * area))
        if _inside(polygon, np.array([centre[0]]), np.array([centre[1]]))[0]:
            return centre
    grid_x, grid_y = np.meshgrid(
        np.linspace(min(xs), max(xs), 24)[1:-1], np.linspace(min(ys), max(ys), 24)[1:-1]
    )
    gx, gy = grid_x.ravel(), grid_y.ravel()
    inside = _inside(polygon, gx, gy)
    if not inside.any():
        return sum(xs) / len(xs), sum(ys) / len(ys)
    gx, gy = gx[inside], gy[inside]
    nearest = np.full(len(gx), np.inf)
    for ring in polygon:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            dx, dy = x2 - x1, y2 - y1
            t = np.clip(((gx - x1) * dx + (gy - y1) * dy) / (dx * dx + dy * dy or 1), 0, 1)
            nearest = np.minimum(nearest, np.hypot(gx - (x1 + t * dx), gy - (y1 + t * dy)))
    best = int(np.argmax(nearest))
    return float(gx[best]), float(gy[best])


def _ring_area(ring: Ring) -> float:
    return abs(
        sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True))
    )


def map_drawing(
    shapes: list[WardShape],
    counts: MapCounts,
    profile: CityProfile,
    lang: str,
    width: float,
    fonts: tuple[str, str],
):
    """The wards filled by their counts, each with its name and count written on it, and the
    legend (classes with their numbers, each ward's count, outside and without a location) at
    its right: one ReportLab Drawing `width` points wide."""
    from reportlab.graphics.shapes import FILL_EVEN_ODD, Drawing, Path, Rect, String
    from reportlab.lib import colors
    from reportlab.pdfbase.pdfmetrics import stringWidth

    regular, bold = fonts
    legend_width = min(62 * 72 / 25.4, width * 0.38)
    map_width = width - legend_width - 12
    lons = [p[0] for s in shapes for poly in s.polygons for p in poly[0]]
    lats = [p[1] for s in shapes for poly in s.polygons for p in poly[0]]
    squeeze = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * squeeze, 1e-9)
    span_y = max(max(lats) - min(lats), 1e-9)
    scale = min(map_width / span_x, (95 * 72 / 25.4) / span_y)
    map_height = span_y * scale
    legend = classes(max(counts.by_ward.values(), default=0))
    legend_lines = 1 + len(legend) + 1 + 2 + (len(shapes) if len(shapes) <= LEGEND_WARDS else 0)
    height = max(map_height, legend_lines * 13 + 8) + 4

    def at(lon: float, lat: float) -> tuple[float, float]:
        return (lon - min(lons)) * squeeze * scale, (lat - min(lats)) * scale + (
            height - map_height
        ) / 2

    drawing = Drawing(width, height)
    for shape in shapes:
        fill = colors.HexColor(fill_of(counts.by_ward[shape.ward], legend))
        for polygon in shape.polygons:
            path = Path(
                fillColor=fill, strokeColor=colors.HexColor(OUTLINE), strokeWidth=0.7,
                fillMode=FILL_EVEN_ODD,
            )  # fmt: skip
            for ring in polygon:
                first, *rest = (at(lon, lat) for lon, lat in ring)
                path.moveTo(*first)
                for point in rest:
                    path.lineTo(*point)
                path.closePath()
            drawing.add(path)
    for shape in shapes:
        count = counts.by_ward[shape.ward]
        ink = colors.HexColor(_text_colour(fill_of(count, legend)))
        biggest = max(shape.polygons, key=lambda p: _ring_area(p[0]))
        x, y = at(*_label_point(biggest))
        name = ward_label(profile, shape.ward, lang)
        size = 9.0
        while size > 6 and stringWidth(name, bold, size) > map_width * 0.45:
            size -= 0.5
        half = min(stringWidth(name, bold, size) / 2 + 2, map_width / 2)
        x = min(max(x, half), map_width - half)  # a name near the map's edge stays on it
        drawing.add(
            String(x, y + 1, name, fontName=bold, fontSize=size, fillColor=ink, textAnchor="middle")
        )
        drawing.add(
            String(
                x,
                y - size - 1,
                str(count),
                fontName=regular,
                fontSize=size + 1,
                fillColor=ink,
                textAnchor="middle",
            )
        )

    left, line = map_width + 12, height - 12

    def say(words: str, font: str = regular, x: float = left) -> None:
        nonlocal line
        room = width - x
        while stringWidth(words, font, 8.5) > room and len(words) > 2:
            words = words[:-2] + "…"
        drawing.add(String(x, line, words, fontName=font, fontSize=8.5, fillColor=colors.black))
        line -= 13

    say(text("legend", lang), bold)
    for low, high, fill in legend:
        drawing.add(
            Rect(left, line - 2, 14, 10, fillColor=colors.HexColor(fill),
                 strokeColor=colors.HexColor(OUTLINE), strokeWidth=0.5)
        )  # fmt: skip
        say(str(low) if low == high else f"{low}–{high}", x=left + 20)
    line -= 4
    if len(shapes) <= LEGEND_WARDS:
        for shape in shapes:
            say(f"{ward_label(profile, shape.ward, lang)}: {counts.by_ward[shape.ward]}")
    say(f"{text('outside', lang)}: {counts.outside}")
    say(f"{text('unlocated', lang)}: {counts.unlocated}")
    return drawing
