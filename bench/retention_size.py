"""Disk use of a city's embedded store before and after a retention pass, and a year's projected.

    python bench/seed_city.py --stores sqlite --days 30 --keep /tmp/city30
    python bench/retention_size.py --seeded /tmp/city30 [--write-doc]

Works on a copy of the seeded store: measures each measurement's tables (SQLite's dbstat: the
pages of each table and index, not the file, whose freed pages are reused), runs one retention
pass (wall.store.retention.keep) with the default settings at the seed's `now`, measures again,
and projects a year: the raw retention's days of raw points, rollups for the rest of the year,
the reports and other measurements growing as in the seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import REPORT_SPAN, read_manifest
from wall.domain import ROLLUP_PARTS_OF
from wall.settings import Settings
from wall.store.base import ROLLUP_SPANS, rollup_measurement
from wall.store.retention import keep
from wall.store.sqlite import SQLiteStore

MIB = 2**20
SHARED = "(shared)"


def measurement_bytes(path: Path) -> dict[str, int]:
    """Bytes of each measurement's tables and indexes; `(shared)` for the series, fields and
    event tables."""
    conn = sqlite3.connect(path)
    try:
        names = dict(conn.execute("SELECT id, name FROM measurements"))
        sizes: dict[str, int] = {}
        for table, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            prefix, _, number = table.partition("_")
            owner = names.get(int(number)) if number.isdigit() else None
            if prefix not in ("points", "latest") or owner is None:
                owner = SHARED
            sizes[owner] = sizes.get(owner, 0) + size
        return sizes
    finally:
        conn.close()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seeded", type=Path, required=True, help="a seed_city.py --keep folder")
    args.add_argument(
        "--raw-days",
        type=json.loads,
        help='days of raw points kept in the pass measured, as JSON ({"wifi_usage": 1}); the '
        "projection uses the defaults' (a seed shorter than them is then measured)",
    )
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    entry = read_manifest(opts.seeded)["stores"]["sqlite"]
    days, now = entry["days"], datetime.fromisoformat(entry["now"])
    settings = Settings()
    raw_days = dict(settings.retention_raw_days)
    with tempfile.TemporaryDirectory(prefix="retention-size-") as folder:
        path = Path(folder) / "ioc.db"
        shutil.copy(opts.seeded / entry["store"], path)
        before = measurement_bytes(path)
        started = time.perf_counter()
        with SQLiteStore(path) as store:
            removed = keep(
                store, opts.raw_days or raw_days, settings.rollup_days, now, ROLLUP_PARTS_OF
            )
        seconds = time.perf_counter() - started
        after = measurement_bytes(path)
    rows, year = [], 0.0
    for measurement in sorted(set(before) | set(after)):
        if measurement.endswith(("_5m", "_1h")) or measurement == "rollup_marks":
            continue
        raw_before, raw_after = before.get(measurement, 0), after.get(measurement, 0)
        if measurement == SHARED:
            year += raw_after
            rows.append(
                (measurement, "series, fields, events", raw_before, raw_after, 0, 0, raw_after)
            )
            continue
        rollups = {s: after.get(rollup_measurement(measurement, s), 0) for s in ROLLUP_SPANS}
        if measurement in raw_days:
            kept = raw_days[measurement]
            # The pass rolled up the days it removed and one more (ROLLUP_AHEAD).
            rolled_days = min(days, days - (opts.raw_days or raw_days)[measurement] + 1)
            projected = raw_before / days * kept + sum(
                size / rolled_days * min(365 - kept, settings.rollup_days[span])
                for span, size in rollups.items()
            )
            what = f"raw {kept:g} d, then rollups"
        else:
            seeded = REPORT_SPAN.days if measurement == "field_report" else days
            projected = raw_after * 365 / seeded  # kept whole: grows as in the seed
            what = "kept whole"
        year += projected
        rows.append((measurement, what, raw_before, raw_after, *rollups.values(), projected))
    lines = [
        f"Seed: `bench/seed_city.py --stores sqlite --days {days:g} --keep DIR` (the city: 2,000",
        "cameras and 1,000 access points every 5 minutes, 50,000 reports over 30 days), then",
        "`python bench/retention_size.py --seeded DIR` on a copy: one retention pass with",
        f"{'--raw-days ' + json.dumps(opts.raw_days) if opts.raw_days else 'the default settings'}"
        f" at the seed's end took {seconds:.0f} s and removed "
        + ", ".join(f"{n:,} raw points of {m}" for m, n in removed.items())
        + ". Bytes of each measurement's tables and indexes (SQLite dbstat; the file keeps its",
        "size, the freed pages are reused by later writes):",
        "",
        f"| measurement | retention | {days:g} days raw | after the pass | hourly rollups "
        "| 5-minute rollups | projected year |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for measurement, what, raw_before, raw_after, hourly, five, projected in rows:
        lines.append(
            f"| {measurement} | {what} | {raw_before / MIB:,.0f} MiB | {raw_after / MIB:,.0f} MiB "
            f"| {hourly / MIB:,.1f} MiB | {five / MIB:,.1f} MiB | {projected / MIB:,.0f} MiB |"
        )
    lines += [
        "",
        f"Projected year with the defaults: {year / 2**30:.1f} GiB, from the raw bytes per day",
        "of the seed for the days kept raw, the rollup bytes per day the pass wrote for the days",
        f"each span is kept (hourly {settings.retention_hourly_rollup_days:,g}, 5-minute "
        f"{settings.retention_5m_rollup_days:,g}; at most the rest of the year), and the",
        "measurements kept whole growing as in the seed (the",
        "reports, whose seed is 30 days whatever `--days`, as 12 such months). The shared",
        "tables (series, fields, events) do not grow with time.",
    ]
    text = "\n".join(lines)
    print(text)
    if opts.write_doc:
        write_section("Retention: disk use of a city", text)


if __name__ == "__main__":
    main()
