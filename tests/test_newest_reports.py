"""The newest state of each field report on InfluxDB (wall.store.newest_reports): a store whose
reports were written by the code before it reads them as before, `python -m wall migrate` indexes
them (dry run first, safe to re-run), and the index adds series per slot, never per report."""

from __future__ import annotations

import logging

import pytest
import requests

from tests.conftest import influx_store_url
from tests.servers import Influxd
from tests.test_report_migration import wall
from tests.test_store_contract import ARRIVALS, STILL_OPEN, bounded_report
from tests.test_store_migration import module_of_commit
from wall.domain import CLOSED_REPORT_STATUSES, REPORT_SLOTS
from wall.settings import Settings
from wall.store import Store, newest_reports, open_store

# The code before the index (integrate, 2026-12-05): its feeds wrote only `field_report`.
UNINDEXED_CODE = "5a2c24d"
CLOSED = {"status": list(CLOSED_REPORT_STATUSES)}


def open_reports(store: Store) -> dict[str, str]:
    return (
        store.latest("field_report", "report_id", unless=CLOSED)
        .set_index("report_id")["status"]
        .to_dict()
    )


def series_of(influxd: Influxd, url: str, measurement: str) -> list[str]:
    answer = requests.get(
        f"{influxd.url}/query",
        params={"db": url.rsplit("/", 1)[1], "q": f"SHOW SERIES FROM {measurement}"},
        timeout=10,
    ).json()["results"][0]
    return [row[0] for s in answer.get("series", []) for row in s["values"]]


def test_migrate_indexes_the_reports_a_store_held_before_and_the_answers_stay(
    influxd: Influxd, caplog: pytest.LogCaptureFixture
) -> None:
    url = influx_store_url(influxd)
    old_code = module_of_commit(UNINDEXED_CODE, "wall/store/influx.py", "influx_unindexed")
    old = old_code.InfluxStore(url)
    old.check()
    for report_id, versions in ARRIVALS.items():  # each version its own write, out of order
        for minute, status in versions:
            old.write([bounded_report(report_id, minute, status, title=f"{report_id} {minute}")])
    old.close()

    with open_store(Settings(store=url)) as store:
        with caplog.at_level(logging.WARNING):
            store.check()  # no index yet: the open reports are read from every report point
        assert "until `python -m wall migrate` indexes" in caplog.text
        assert not newest_reports.built(store)
        assert open_reports(store) == STILL_OPEN

        dry = wall("migrate", "--dry-run", store_url=url)
        assert dry.returncode == 0, dry.stderr
        assert f"would index the newest state of {len(ARRIVALS)} field reports (4 open)" in (
            dry.stdout
        )
        assert not newest_reports.built(store)
        assert series_of(influxd, url, "field_report_newest") == []

        done = wall("migrate", store_url=url)
        assert done.returncode == 0, done.stderr
        assert f"indexed the newest state of {len(ARRIVALS)} field reports (4 open)" in done.stdout
        assert newest_reports.built(store)
        assert open_reports(store) == STILL_OPEN
        assert len(store.latest("field_report", "report_id")) == len(ARRIVALS)

        again = wall("migrate", store_url=url)
        assert again.returncode == 0, again.stderr
        assert "the newest state of each is indexed already" in again.stdout
        assert open_reports(store) == STILL_OPEN


def test_the_index_adds_series_per_slot_and_state_never_per_report(influxd: Influxd) -> None:
    url = influx_store_url(influxd)
    with open_store(Settings(store=url)) as store:
        store.check()
        store.write(
            [bounded_report(f"PA-{n:04d}", n % 50, ("new", "closed")[n % 2]) for n in range(600)]
        )
        store.write([bounded_report(f"PA-{n:04d}", 60, "assigned") for n in range(1, 600, 4)])
        series = series_of(influxd, url, "field_report_newest")
        assert 0 < len(series) <= 2 * REPORT_SLOTS
        assert not any("report_id" in key for key in series)
        still_open = store.latest("field_report", "report_id", unless=CLOSED)
        assert len(still_open) == 300 + 150
