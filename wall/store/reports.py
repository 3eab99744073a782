"""Field reports stored in the first shape (one series per report: `report_id` a tag, which
InfluxDB 1.x stops taking past `max-values-per-tag`) rewritten into the bounded one
(`report_id` a field, `report_slot` a tag: see wall.domain.FIELD_REPORT), by
`python -m wall migrate`, on either store.

Window after window of time, the old points are written again in the new shape, then the old
series are deleted. Run again (interrupted, or on a store already rewritten) it does the same or
nothing: writing a point again leaves one point.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from wall.domain import FIELD_REPORT, report_slot
from wall.settings_core import SettingsError
from wall.store.base import Point, Store

WINDOW = timedelta(days=7)  # points read and written at once
ID = FIELD_REPORT.entity


def refuse_first_shape(store: Store) -> None:
    """Part of `Store.check` on both stores, so every command refuses them at its start: the
    wall does not read field reports of the first shape, and the feeds would add to them. One
    line (exit 2) naming the command that rewrites them."""
    if store.tagged_series_span(FIELD_REPORT.name, ID) is not None:
        raise SettingsError(
            "IOC_STORE",
            "the store holds field reports of the first shape (report_id a tag), which this "
            "wall no longer reads: run `python -m wall migrate` (`--dry-run` first shows what "
            "it will do)",
        )


def migrate_reports(
    store: Store, dry_run: bool = False, report: Callable[[str], object] = print
) -> int:
    """Rewrite the field reports of the first shape; returns how many points were (or, with
    `dry_run`, would be) rewritten."""
    span = store.tagged_series_span(FIELD_REPORT.name, ID)
    if span is None:
        report("field reports: nothing to migrate, every point is in the bounded shape")
        return 0
    start, last = span
    taken: dict[tuple, str] = {}  # (new series, time) -> the report whose point it is
    rewritten = moved = 0
    reports: set[str] = set()
    while start <= last:
        end = min(start + WINDOW, last + timedelta(milliseconds=1))
        old = store.tagged_series_points(FIELD_REPORT.name, ID, start, end)
        points = []
        for point in sorted(old, key=lambda p: (p.time_ms, p.tags[ID])):
            new, shifted = _bounded(point, taken)
            moved += shifted
            points.append(new)
            reports.add(point.tags[ID])
        if not dry_run:
            store.write(points)
        rewritten += len(points)
        taken = {key: r for key, r in taken.items() if key[1] >= end}  # none earlier can clash
        start = end
    what = f"{rewritten:,} points of {len(reports):,} field reports"
    if moved:
        what += f" ({moved:,} a millisecond or more later: another report's point had its time)"
    if dry_run:
        report(f"field reports: {what} would be rewritten with report_id a field")
        report("Nothing was changed (dry run).")
    else:
        store.drop_tagged_series(FIELD_REPORT.name, ID)
        report(f"field reports: rewrote {what} with report_id a field")
    return rewritten


def _bounded(point: Point, taken: dict[tuple, str]) -> tuple[Point, int]:
    """The point in the new shape, at the first millisecond from its own that no other report's
    point of its new series holds (two reports' points of one series and time would be one)."""
    report_id = point.tags[ID]
    tags = {k: v for k, v in point.tags.items() if k != ID}
    tags["report_slot"] = report_slot(report_id)
    series = tuple(sorted(tags.items()))
    time, shifted = point.time, 0
    while taken.setdefault((series, time), report_id) != report_id:
        time, shifted = time + timedelta(milliseconds=1), 1
    return Point(point.measurement, tags, {**point.fields, ID: report_id}, time), shifted
