"""Disk use of a city's InfluxDB store in retention policies (layout 2), and a year's projected.

    python bench/seed_city.py --stores influxdb --days 30 --keep /tmp/city30
    python bench/influx_retention_size.py --seeded /tmp/city30 [--write-doc]

On a copy of the seeded influxd folder (30 days, every point in the default policy, as the
seed writes it): its size; then `python -m wall migrate` with the default settings, as an
operator runs it (rolls up what leaves the raw retention, copies the raw points kept into their
policies), timed; then the same points in the layout a store of version 2 holds from its start
(each policy's points copied into a fresh database, so no copy the migration leaves in the
default policy counts); each policy's folder after influxd wrote its cache out (a restart).
The year: the raw policies as measured (their days), the rollups per day measured times the
days they are kept, the default policy (reports, indicators, events) growing as in the seed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import DATABASE, REPORT_SPAN, folder_bytes, read_manifest
from tests.servers import Influxd
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import open_store
from wall.store.base import to_ms
from wall.store.policies import COPY_WINDOW, parse_duration

MIB = 2**20
FRESH = "layout2"


def query(server: Influxd, statement: str, database: str = DATABASE) -> list[dict]:
    answer = requests.post(
        server.url + "/query", data={"q": statement, "db": database}, timeout=3600
    ).json()["results"][0]
    assert "error" not in answer, (statement, answer)
    return answer.get("series", [])


def policy_bytes(server: Influxd, database: str) -> dict[str, int]:
    """Bytes of each policy's shards (TSM files and indexes, and its WAL)."""
    sizes = {}
    for kind in ("data", "wal"):
        for folder in (server.folder / kind / database).glob("*"):
            if folder.is_dir() and folder.name != "_series":
                sizes[folder.name] = sizes.get(folder.name, 0) + folder_bytes(folder)
    return sizes


def copy_into_fresh(server: Influxd, now: datetime) -> None:
    """Every measurement of the migrated database, from its policy, into the same policy of a
    fresh database: what a store of layout 2 holds, without the migration's leftovers."""
    url = f"influxdb://127.0.0.1:{server.port}/{FRESH}"
    with open_store(Settings(store=url)) as fresh:
        fresh.check()  # the policies
    durations = {
        row[0]: parse_duration(row[1])
        for s in query(server, "SHOW RETENTION POLICIES")
        for row in s["values"]
    }
    for series in query(server, "SHOW MEASUREMENTS"):
        for (measurement,) in series["values"]:
            home = f"raw_{measurement}"
            if measurement.endswith(("_5m", "_1h")):
                home = "rollup_" + measurement.rsplit("_", 1)[1]
            if home not in durations:
                home = "autogen"
            kept = durations[home] or timedelta(days=400)  # 0: for ever (the seed: 30 days)
            at = now - kept + timedelta(minutes=1)
            while at < now:
                window = f"time >= {to_ms(at) * 10**6} AND time < {to_ms(at + COPY_WINDOW) * 10**6}"
                query(
                    server,
                    f'SELECT * INTO "{FRESH}"."{home}"."{measurement}" '
                    f'FROM "{DATABASE}"."{home}"."{measurement}" WHERE {window} GROUP BY *',
                )
                at += COPY_WINDOW


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--seeded", type=Path, required=True, help="a seed_city.py --keep folder")
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    entry = read_manifest(opts.seeded)["stores"]["influxdb"]
    days = entry["days"]
    settings = Settings()
    raw_days = dict(settings.retention_raw_days)
    with tempfile.TemporaryDirectory(prefix="influx-retention-size-") as folder:
        copy = Path(folder) / "influxd"
        shutil.copytree(opts.seeded / entry["store"], copy, ignore=shutil.ignore_patterns("*.log"))
        server = Influxd(copy)  # its config names the copy's folders
        server.start()
        try:
            seeded = policy_bytes(server, DATABASE)
            started = time.perf_counter()
            migrated = subprocess.run(
                [sys.executable, "-m", "wall", "migrate"],
                cwd=PROJECT_DIR,
                env={**os.environ, "IOC_STORE": f"influxdb://127.0.0.1:{server.port}/{DATABASE}"},
                capture_output=True,
                text=True,
            )
            migrate_seconds = time.perf_counter() - started
            assert migrated.returncode == 0, migrated.stderr
            now = datetime.now(UTC)
            started = time.perf_counter()
            copy_into_fresh(server, now)
            copy_seconds = time.perf_counter() - started
            server.restart()  # writes the cache out
            layout2 = policy_bytes(server, FRESH)
        finally:
            server.stop()
    rolled_days = days - min(raw_days.values()) + 1  # the migration rolled these up
    raw_kept = {p: b for p, b in layout2.items() if p.startswith("raw_")}
    raw_days_kept = {f"raw_{m}": d + 1 for m, d in raw_days.items()}  # RAW_MARGIN
    year = sum(raw_kept.values())  # whole: the policy holds its days, no more
    rows = []
    for policy, size in sorted(layout2.items()):
        if policy.startswith("raw_"):
            kept, per_day = raw_days_kept[policy], size / min(days, raw_days_kept[policy])
            projected = size
        elif policy == "rollup_5m":
            kept, per_day = settings.retention_5m_rollup_days, size / rolled_days
            projected = per_day * min(365, kept)
        elif policy == "rollup_1h":
            kept, per_day = settings.retention_hourly_rollup_days, size / rolled_days
            projected = per_day * min(365, kept)
        else:
            kept, per_day = 0, size / REPORT_SPAN.days
            projected = size * 365 / REPORT_SPAN.days
        if not policy.startswith("raw_"):
            year += projected
        rows.append((policy, kept, size, per_day, projected))
    lines = [
        f"Seed: `bench/seed_city.py --stores influxdb --days {days:g} --keep DIR` (the city:",
        "2,000 cameras and 1,000 access points every 5 minutes, 50,000 reports over 30 days,",
        "every point in the default policy as the seed writes it), then",
        "`python bench/influx_retention_size.py --seeded DIR` on a copy, with the default",
        f"settings (raw points {', '.join(f'{m} {d:g} days' for m, d in raw_days.items())};",
        f"5-minute rollups {settings.retention_5m_rollup_days:g} days, hourly "
        f"{settings.retention_hourly_rollup_days:g}): the seed's {days:g} days take "
        f"{sum(seeded.values()) / MIB:,.0f} MiB on disk "
        f"({', '.join(f'{p} {b / MIB:,.0f} MiB' for p, b in sorted(seeded.items()))}).",
        f"`python -m wall migrate` took {migrate_seconds:.0f} s (rolling up {rolled_days:g} days",
        "of both measurements, copying the raw points kept into their policies). The same points",
        "in a store of layout 2 from its start (copied into a fresh database in "
        f"{copy_seconds:.0f} s), each policy's folder after influxd wrote its cache out:",
        "",
        "| policy | kept | 30 days | per day | projected year |",
        "|---|---:|---:|---:|---:|",
    ]
    for policy, kept, size, per_day, projected in rows:
        lines.append(
            f"| {policy} | {f'{kept:g} days' if kept else 'for ever'} | {size / MIB:,.1f} MiB "
            f"| {per_day / MIB:,.2f} MiB | {projected / MIB:,.0f} MiB |"
        )
    lines += [
        "",
        f"30 days with the defaults: {sum(layout2.values()) / MIB:,.0f} MiB, against "
        f"{sum(seeded.values()) / MIB:,.0f} MiB keeping every point. Projected year with the "
        f"defaults: {year / 2**30:.2f} GiB (raw policies as measured: they hold their days and "
        "no more; rollups per day of the days rolled up, times the days kept, at most 365; the "
        "default policy's reports, indicators and events growing as the seed's 30 days of "
        f"reports); keeping every point: {sum(seeded.values()) * 365 / days / 2**30:.1f} GiB.",
    ]
    text = "\n".join(lines)
    print(text)
    if opts.write_doc:
        write_section("Retention on InfluxDB: disk use of a city", text)


if __name__ == "__main__":
    main()
