"""How long the leaders' brief of a week takes at city scale: prints figures, asserts nothing.

    python bench/brief.py --days 15 --write-doc

Seeds an embedded (SQLite) store with bench/seed_city.py's city (2,000 cameras and 1,000 access
points every 5 minutes, 50,000 field reports) over `--days` ending now, then writes the brief of
the last complete week (and so reads the week before too, for the comparison). Reference in the
same run: reading the week's raw camera points through `Store.points`, the plainest read of the
data the brief summarises.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import seed_city
from wall.brief import chosen_period, figures, write_brief
from wall.city import load_profile
from wall.store.sqlite import SQLiteStore


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--days", type=float, default=15.0, help="history seeded, ending now")
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    profile = load_profile()
    zone = ZoneInfo(profile.timezone)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "ioc.db") as store:
        started = time.perf_counter()
        seed_city(store, now, opts.days)
        seeded_s = time.perf_counter() - started
        period = chosen_period("week", None, now, zone)
        start, end = period.start(zone), period.end(zone)

        started = time.perf_counter()
        camera_points = len(store.points("camera_status", start, end))
        reference_s = time.perf_counter() - started

        started = time.perf_counter()
        figures(store, start, end)
        figures_s = time.perf_counter() - started

        started = time.perf_counter()
        pdf, _csv = write_brief(store, profile, zone, period, Path(folder) / "out")
        brief_s = time.perf_counter() - started
        pdf_kib = pdf.stat().st_size / 1024

    rows = [
        ("seeding the store (not part of the brief)", seeded_s),
        (
            f"reference: Store.points of the week's camera_status ({camera_points:,} points)",
            reference_s,
        ),
        ("the week's figures alone (store reads)", figures_s),
        ("`write_brief` of the week: both weeks' figures, PDF and CSV", brief_s),
    ]
    for name, seconds in rows:
        print(f"{name:<75} {seconds:8.2f} s")
    print(f"PDF {pdf_kib:.0f} KiB; brief / reference = {brief_s / reference_s:.2f}")
    if opts.write_doc:
        table = "\n".join(f"| {name} | {seconds:.2f} s |" for name, seconds in rows[1:])
        write_section(
            "Leaders' brief at city scale",
            f"""Command: `python bench/brief.py --days {opts.days:g} --write-doc`
(SQLite, {now:%Y-%m-%d}, this machine: 2 cores shared with other work). City of
bench/seed_city.py; the brief of the last complete week {period.first_day} (it also reads
the week before, for the comparison).

| what | time |
|---|---|
{table}

**brief / reference = {brief_s / reference_s:.2f}**: a week's brief costs that many plain reads
of the week's camera points; {"under" if brief_s < 60 else "over"} the minute the issue asks.
With fewer than 14 days seeded the week before is partly empty and cheaper to read than a
whole one. PDF {pdf_kib:.0f} KiB.

Why ReportLab: it is pure Python (no browser, no system libraries beyond a TTF font), draws
charts as vector graphics directly into the PDF (sharp at any print size) and embeds the DejaVu
fonts (subset) so Vietnamese diacritics print right anywhere; it is maintained since 2000 under
a BSD licence. WeasyPrint (HTML/CSS, needs the Pango system libraries) and headless
Chromium's print to PDF are measured against it in "Leaders' brief: renderers compared";
plotly's static export (Kaleido drives a browser) and matplotlib (charts only, the pages still
need a layout engine) were not measured.""",
        )


if __name__ == "__main__":
    main()
