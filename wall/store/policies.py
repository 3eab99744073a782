"""Where each measurement lives on InfluxDB 1.x (its retention policies), and the store's schema
version there (issue 12, "Months without losing a point").

Layout version 2: the raw points of each measurement of `retention_raw_days` in a policy of
their own, `raw_<measurement>`, whose duration is its days plus RAW_MARGIN; the rollups of them
(`<measurement>_5m`, `_1h`, written by wall.store.retention) in `rollup_5m` and `rollup_1h`,
lasting the rollup settings' days; everything else (events, reports, indicators, feeds' health,
rollup marks and the version marker `store_schema`) in the database's default policy, which
must keep every point. InfluxDB removes a policy's expired shard groups itself, every
`[retention] check-interval` (30 minutes by default).

Version 1 (no marker, before 2026-12): every point in the default policy. A version-1 database
holding points that now belong to another policy is refused at start (exit 2) until
`python -m wall migrate` copies them (`migrate`): InfluxDB 1.x deletes only across all
policies (`DELETE`, `DROP SERIES` refuse a policy), so the copies left in the default policy are
deleted by the retention passes once they are older than the raw points kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from wall.settings_core import SettingsError
from wall.store.base import (
    ROLLUP_SPANS,
    StoreError,
    StoreUnavailable,
    from_ms,
    rollup_measurement,
    to_ms,
)
from wall.store.lineprotocol import quote_identifier

if TYPE_CHECKING:
    from wall.store.influx import InfluxStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SCHEMA_MEASUREMENT = "store_schema"
# One point per measurement `migrate` moves (tag `measurement`, field `done`), so that an
# interrupted move is finished by running it again, and refused by the wall until then.
MOVES_MEASUREMENT = "policy_moves"
# A raw policy outlasts its measurement's days by this much: InfluxDB keeps every point younger
# than the duration, so the raw points a retention pass promises (`raw_from_ms`, the hour `days`
# ago) are all there until the next pass, if one runs within a day.
RAW_MARGIN = timedelta(days=1)
COPY_WINDOW = timedelta(days=1)  # points copied by one SELECT INTO of `migrate`


def raw_policy(measurement: str) -> str:
    return f"raw_{measurement}"


def rollup_policy(span: timedelta) -> str:
    return "rollup_" + rollup_measurement("", span).lstrip("_")


@dataclass(frozen=True)
class Plan:
    """The policies the settings ask for: {policy: duration} and {measurement: policy}."""

    durations: dict[str, timedelta]
    homes: dict[str, str]

    @classmethod
    def of(cls, raw_days: Mapping[str, float], rollup_days: Mapping[timedelta, float]) -> Plan:
        durations, homes = {}, {}
        for measurement, days in raw_days.items():
            durations[raw_policy(measurement)] = timedelta(days=days) + RAW_MARGIN
            homes[measurement] = raw_policy(measurement)
            for span in ROLLUP_SPANS:
                durations[rollup_policy(span)] = timedelta(days=rollup_days[span])
                homes[rollup_measurement(measurement, span)] = rollup_policy(span)
        return cls(durations, homes)


def shard_duration(duration: timedelta) -> timedelta:
    """InfluxDB's own choice for a policy's shard groups: it removes whole groups, and refuses a
    duration shorter than its group's, so a changed duration sets this again."""
    if duration < timedelta(days=2):
        return timedelta(hours=1)
    return timedelta(days=1) if duration <= timedelta(days=183) else timedelta(days=7)


def influx_duration(duration: timedelta) -> str:
    return f"{max(int(duration.total_seconds() // 60), 60)}m"


def parse_duration(text: str) -> timedelta:
    """InfluxDB's "360h0m0s" (0s: infinite, as timedelta 0)."""
    units = {"h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text)))


def prepare(store: InfluxStore) -> None:
    """At start (Store.check): refuse a layout this wall cannot read, create the policies the
    settings ask for that do not exist yet, record the schema version. Never shortens a policy:
    that waits for the retention pass (`retain`), after the rollups of what it removes."""
    version = schema_version(store)
    if version is not None and version > SCHEMA_VERSION:
        raise SettingsError(
            "IOC_STORE",
            f"InfluxDB database {store.database} is a store of version {version}, written by a "
            f"newer wall; this one reads version {SCHEMA_VERSION}: run the newer wall",
        )
    missing = {p: d for p, d in store.plan.durations.items() if p not in store.policies()}
    moving = _points_to_move(store, missing)
    if moving:
        raise SettingsError(
            "IOC_STORE",
            f"InfluxDB database {store.database} holds points of {', '.join(sorted(moving))} in "
            f"its default policy, which this wall reads from retention policies of their own "
            f"(store version {version or 1}): stop the wall, feeds and alert service, then run "
            "`python -m wall migrate` (`--dry-run` first shows what it will do)",
        )
    for policy, duration in missing.items():
        _create_policy(store, policy, duration)
    for policy, duration in store.policies().items():
        if policy.startswith("raw_") and policy not in store.plan.durations and duration:
            log.warning(
                "InfluxDB database %s: retention policy %s removes the raw points of %s after "
                "%s, but IOC_RETENTION_RAW_DAYS does not list it: they go without rollups. List "
                "it again, or have an administrator ALTER the policy to DURATION INF",
                store.database,
                policy,
                policy.removeprefix("raw_"),
                _days(duration),
            )
    if version is None:
        _record_version(store)


def migrate(
    store: InfluxStore,
    raw_days: Mapping[str, float],
    rollup_days: Mapping[timedelta, float],
    parts: Mapping[str, Mapping[str, Sequence[str]]],
    dry_run: bool = False,
    report: Callable[[str], object] = print,
) -> None:
    """Move the points of the default policy that belong to a policy of their own: rollups first
    (copied), then a retention pass rolls up the raw hours leaving the raw retention (read where
    they are), then the raw points kept are copied. Safe to re-run: a copy writes the same
    points again."""
    from wall.store.retention import keep

    if (version := schema_version(store)) is not None and version > SCHEMA_VERSION:
        prepare(store)  # refuses it
    missing = {p: d for p, d in store.plan.durations.items() if p not in store.policies()}
    moving = _points_to_move(store, missing)
    if not moving:
        report(f"InfluxDB database {store.database}: no point to move between policies")
    now = datetime.now(UTC)
    for policy in sorted(p for p in missing if p.startswith("rollup_")):
        if not dry_run:  # before the pass below writes rollups
            _create_policy(store, policy, missing[policy])
    durations = store.plan.durations
    if not dry_run:
        for measurement in moving:
            store.write_marker(MOVES_MEASUREMENT, {"done": False}, {"measurement": measurement})
    rollups = {m: p for m, p in moving.items() if p.startswith("rollup_")}
    for measurement, policy in sorted(rollups.items()):
        _copy(store, measurement, policy, now - durations[policy], now, dry_run, report)
    raws = {m: p for m, p in moving.items() if p not in rollups.values()}
    if raws and not dry_run:  # the raw points still read from the default policy meanwhile
        keep(store, {m: raw_days[m] for m in raws}, rollup_days, now, parts)
        report(f"rolled up the hours leaving the raw retention of {', '.join(sorted(raws))}")
    elif raws:
        report(f"would roll up the hours leaving the raw retention of {', '.join(sorted(raws))}")
    for measurement, policy in sorted(raws.items()):
        if not dry_run and policy in missing:
            _create_policy(store, policy, missing[policy])
        _copy(store, measurement, policy, now - durations[policy], now, dry_run, report)
    if dry_run:
        report("Nothing was changed (dry run).")
        return
    for measurement in moving:
        store.write_marker(MOVES_MEASUREMENT, {"done": True}, {"measurement": measurement})
    prepare(store)  # the policies nothing moved into, and the version
    report(f"InfluxDB database {store.database} is now a store of version {SCHEMA_VERSION}")


def retain(store: InfluxStore, measurement: str) -> None:
    """Give the measurement's policy the duration the settings ask for (after the retention
    pass wrote the rollups of what a shorter one removes); a line in the log when it changes."""
    policy = store.plan.homes.get(measurement)
    if policy is None or policy not in store.policies():
        return
    wanted, now = store.plan.durations[policy], store.policies()[policy]
    if wanted == now:
        return
    statement = (
        f"ALTER RETENTION POLICY {quote_identifier(policy)} ON "
        f"{quote_identifier(store.database)} DURATION {influx_duration(wanted)} "
        f"SHARD DURATION {influx_duration(shard_duration(wanted))}"
    )
    _administer(
        store,
        statement,
        f"InfluxDB database {store.database} refused to change retention policy {policy} from "
        f"{_days(now)} to {_days(wanted)}",
        f"run `python -m wall maintain` with an administrator in IOC_STORE, or have one run "
        f"{statement}",
    )
    store.forget_policies()
    log.info(
        "InfluxDB database %s: retention policy %s now keeps points %s (was %s)",
        store.database,
        policy,
        _days(wanted),
        _days(now),
    )


def schema_version(store: InfluxStore) -> int | None:
    series = store.query_statement(f"SELECT last(version) FROM {SCHEMA_MEASUREMENT}")
    return int(series[0]["values"][0][1]) if series else None


def _points_to_move(store: InfluxStore, missing: Mapping[str, timedelta]) -> dict[str, str]:
    """{measurement: policy} of the planned measurements whose policy is missing and that have
    points in the default policy, and of those whose move `migrate` began and did not finish."""
    default = store.default_policy()
    moves = store.query_statement(f"SELECT last(done) FROM {MOVES_MEASUREMENT} GROUP BY *")
    unfinished = {s["tags"]["measurement"] for s in moves if not s["values"][0][1]}
    moving = {}
    for measurement, policy in store.plan.homes.items():
        if measurement in unfinished or (
            policy in missing
            and store.query_statement(
                f"SELECT * FROM {quote_identifier(default)}.{quote_identifier(measurement)} LIMIT 1"
            )
        ):
            moving[measurement] = policy
    return moving


def _create_policy(store: InfluxStore, policy: str, duration: timedelta) -> None:
    _administer(
        store,
        f"CREATE RETENTION POLICY {quote_identifier(policy)} ON "
        f"{quote_identifier(store.database)} DURATION {influx_duration(duration)} "
        f"REPLICATION 1 SHARD DURATION {influx_duration(shard_duration(duration))}",
        f"InfluxDB database {store.database} has no retention policy {policy} and refused to "
        "create it",
        f"an administrator creates it with CREATE RETENTION POLICY {policy} ON {store.database} "
        f"DURATION {influx_duration(duration)} REPLICATION 1 (on InfluxDB 2.x/3.x: a bucket and a "
        "DBRP mapping, see README)",
    )
    store.forget_policies()
    log.info(
        "InfluxDB database %s: created retention policy %s keeping points %s",
        store.database,
        policy,
        _days(duration),
    )


def _administer(store: InfluxStore, statement: str, refused: str, advice: str) -> None:
    """A statement InfluxDB 1.x runs for an administrator only: refused (an account that may
    only read and write), the process stops with one line saying what to do, not a traceback."""
    try:
        store.query_statement(statement)
    except StoreUnavailable:
        raise
    except StoreError as exc:
        raise SettingsError("IOC_STORE", f"{refused} ({exc}): {advice}") from exc


def _record_version(store: InfluxStore) -> None:
    store.write_marker(SCHEMA_MEASUREMENT, {"version": SCHEMA_VERSION})
    log.info(
        "InfluxDB database %s: recorded store version %s (raw points of %s in policies of "
        "their own)",
        store.database,
        SCHEMA_VERSION,
        ", ".join(m for m, p in store.plan.homes.items() if p.startswith("raw_")) or "none",
    )


def _copy(
    store: InfluxStore,
    measurement: str,
    policy: str,
    start: datetime,
    end: datetime,
    dry_run: bool,
    report: Callable[[str], object],
) -> None:
    """SELECT INTO, a window at a time: the server copies the points with their tags and types."""
    source = f"{quote_identifier(store.default_policy())}.{quote_identifier(measurement)}"
    target = f"{quote_identifier(policy)}.{quote_identifier(measurement)}"
    first = store.query_statement(f"SELECT * FROM {source} ORDER BY time ASC LIMIT 1")
    copied, at = 0, max(start, from_ms(first[0]["values"][0][0])) if first else end
    while at < end:
        until = min(at + COPY_WINDOW, end)
        window = f"time >= {to_ms(at) * 1_000_000} AND time < {to_ms(until) * 1_000_000}"
        if dry_run:
            series = store.query_statement(f"SELECT count(*) FROM {source} WHERE {window}")
            copied += max(series[0]["values"][0][1:], default=0) if series else 0
        else:
            series = store.query_statement(
                f"SELECT * INTO {target} FROM {source} WHERE {window} GROUP BY *"
            )
            copied += series[0]["values"][0][1] if series else 0
        at = until
    report(
        f"{measurement}: {'would copy' if dry_run else 'copied'} {copied:,} points from "
        f"{start:%Y-%m-%d %H:%M} UTC on into policy {policy} (the older ones are rolled up)"
    )


def _days(duration: timedelta) -> str:
    return "for ever" if not duration else f"{duration.total_seconds() / 86400:g} days"
