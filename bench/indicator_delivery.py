"""What counting the automated sources' indicator values costs: prints figures, asserts nothing.

    python bench/indicator_delivery.py [--days 400] [--every-minutes 10] [--repeat 5] [--write-doc]

Seeds an SQLite store with the town's indicators (cities/hoa-thanh: 17) sent over MQTT every
`--every-minutes` for `--days` (as the simulator sends them), then times, median of `--repeat`:

- `sent_in_due_periods`: the daily counts of `kpi` points over each indicator's period just ended
  (the accountability screen's `kpi_sent` part and the indicators_late rule; asked once an hour
  and when a period ends, not each tick);
- the reference: the `kpi` part the indicators screen asks each tick (the newest point of each
  indicator), on the same store in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from feeds.payloads import parse_record
from wall.city import load_profile
from wall.periods import period_of
from wall.store.sqlite import SQLiteStore
from wall.submissions import sent_in_due_periods


def timed(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--every-minutes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    profile = load_profile("hoa-thanh")
    zone = ZoneInfo(profile.timezone)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    step = timedelta(minutes=args.every_minutes)
    with tempfile.TemporaryDirectory() as folder, SQLiteStore(Path(folder) / "b.db") as store:
        started = time.perf_counter()
        at, written = now - timedelta(days=args.days), 0
        while at < now:
            points = []
            for _ in range(int(timedelta(days=1) / step)):
                for i in profile.indicators:
                    period = period_of(i.period, at, zone).name
                    points += parse_record(
                        "kpi", i.indicator_id, {"value": 90.0, "period": period}, at
                    )
                at += step
            written += store.write(points)
        seeded = time.perf_counter() - started
        counted = timed(args.repeat, lambda: sent_in_due_periods(store, profile, now, zone))
        reference = timed(args.repeat, lambda: store.latest("kpi", "indicator_id"))
    command = (
        f"python bench/indicator_delivery.py --days {args.days} "
        f"--every-minutes {args.every_minutes} --repeat {args.repeat}"
    )
    table = (
        "| question | median ms | ratio |\n| --- | --- | --- |\n"
        f"| `kpi` part: newest point per indicator (reference, each tick) "
        f"| {reference * 1000:,.1f} | 1 |\n"
        f"| `sent_in_due_periods`: daily counts over each period just ended (once an hour) "
        f"| {counted * 1000:,.1f} | {counted / reference:,.0f} |\n"
    )
    body = (
        f"Measured {now:%Y-%m-%d %H:%M} UTC on SQLite: {len(profile.indicators)} indicators "
        f"sent every {args.every_minutes} min for {args.days} days ({written:,} `kpi` points, "
        f"seeded in {seeded:.0f} s). Which periods of the town's indicators (monthly, "
        "quarterly, yearly) were delivered by an automated source is counted in the store from "
        "a year of points at most; the wall asks it once an hour and when a period ends "
        "(callbacks.queries `kpi_sent`), the alert rules likewise, so its cost is not paid each "
        "tick.\n\n"
        f"```\n{command}\n```\n\n{table}"
    )
    print(body)
    if args.write_doc:
        write_section("Automated sources' indicator periods (issue 15)", body)


if __name__ == "__main__":
    main()
