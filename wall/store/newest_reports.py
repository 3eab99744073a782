"""The newest state of each field report on InfluxDB: one point per report (issue 12 §3).

`field_report` keeps every version of every report in a few series per ward and category
(`report_id` a field), and InfluxQL cannot ask for the newest point per field value: "every
report still open" read every report point (a city's 50,000 reports: ~4 s cold on 1.6). So the
store also keeps `field_report_newest`, written with each report point:

- one point per report, in the series `report_slot` × `newest_state` (`open` or `closed`: 128
  series however many reports were filed, no tag value per report);
- at a time that is the report's key (a hash of its id within the first REPORT_KEYS_MS of 1970:
  one shard of the default policy, which keeps every point), so a newer version overwrites it;
- holding the newest version's fields, its other tags as fields, and its own time (`newest_at`).

A version replaces the stored one only if it is not older: an older state arriving late never
reopens a report. A report closing (or reopening) moves its point to the other series, so the
open reports are one read of the `open` series. `python -m wall migrate` builds it for a store
written before (`build`); until then reads take every report point, as before.

Not atomic across writers: two processes writing versions of one report in the same instant may
leave the older one stored (each reads the stored state, then writes), until the report's next
version (README, limits).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wall.domain import CLOSED_REPORT_STATUSES, FIELD_REPORT, report_slot
from wall.store.base import FieldFilter, Point, field_filter_values, from_ms
from wall.store.lineprotocol import encode_point, quote_identifier, quote_string, read_text

if TYPE_CHECKING:
    from wall.store.influx import InfluxStore

log = logging.getLogger(__name__)

NEWEST = "field_report_newest"
BUILT = "field_report_newest_built"  # marker point: every report point is in NEWEST
ID = FIELD_REPORT.entity
SLOT = "report_slot"
STATE = "newest_state"
AT = "newest_at"  # the version's own time, epoch milliseconds
# 2^29 ms (6.2 days) < the 7-day shard groups of an infinite policy: every key in one shard.
REPORT_KEYS_MS = 1 << 29
WINDOW = timedelta(days=7)  # report points read at once by `build`

# (time in ms, every tag and field of the version but its slot) of a report's version
Version = tuple[int, dict[str, Any]]


def state_of(fields: Mapping[str, Any]) -> str:
    """A version without a status is open: no `unless` of closed statuses leaves it out."""
    return "closed" if fields.get("status") in CLOSED_REPORT_STATUSES else "open"


def leaves_out_closed(unless: FieldFilter | None) -> bool:
    """Whether `unless` leaves out every report of the `closed` series (so it need not be read)."""
    return set(CLOSED_REPORT_STATUSES) <= set(field_filter_values(unless).get("status", ()))


def versions_of(
    rows: Iterable[tuple[int, Mapping[str, Any], Mapping[str, Any]]],
) -> dict[str, Version]:
    """The newest version of each report among (time ms, tags, fields) of `field_report` points
    whose report id is a field; versions of one time merge, as their points do."""
    newest: dict[str, Version] = {}
    for time_ms, tags, fields in sorted(rows, key=lambda row: row[0]):
        report_id = fields.get(ID)
        if not isinstance(report_id, str):
            continue
        version = {k: v for k, v in {**tags, **fields}.items() if k != SLOT}
        known = newest.get(report_id)
        if known is not None and known[0] == time_ms:
            version = {**known[1], **version}
        newest[report_id] = (time_ms, version)
    return newest


def update(store: InfluxStore, versions: Mapping[str, Version]) -> None:
    """Write each report's version where it is newer than (or as new as) the stored one."""
    if not versions:
        return
    slots = sorted({report_slot(r) for r in versions})
    stored, taken = _stored(store, slots)
    lines, before, after = [], [], []
    for report_id, (time_ms, fields) in versions.items():
        slot = report_slot(report_id)
        known = stored.get(report_id)
        if known is not None and known["at"] > time_ms:
            continue  # an older state arriving late
        if known is not None and known["at"] == time_ms:
            fields = {**known["fields"], **fields}
        key = known["key"] if known is not None else _free_key(slot, report_id, taken)
        state = state_of(fields)
        point = Point(NEWEST, {SLOT: slot, STATE: state}, {**fields, AT: time_ms}, from_ms(key))
        if known is not None and known["state"] != state:
            after.append((slot, known["state"], key))  # moved: the old one deleted once written
        elif known is not None and set(known["fields"]) - set(fields):
            before.append((slot, state, key))  # a field dropped: overwriting would keep it
        lines.append(encode_point(point))
    _delete(store, before)
    refused = store._write_lines(lines, "ms", store._home(NEWEST))
    for _, why in refused:  # field_report took the point: only a type conflict of NEWEST
        log.warning("InfluxDB refused the newest state of a field report: %s", why)
    _delete(store, after)


def read(store: InfluxStore, open_only: bool) -> list[dict]:
    """Rows as `latest` returns them: the newest version of each report (open ones only)."""
    where = f" WHERE {quote_identifier(STATE)} = 'open'" if open_only else ""
    series = store._query(f"SELECT * FROM {store._from(NEWEST)}{where}")
    newest: dict[str, dict] = {}
    for one in series:
        columns = one["columns"]
        for values in one["values"]:
            row = {k: read_text(v) for k, v in zip(columns, values, strict=True) if v is not None}
            row.pop(STATE, None)
            row["time"] = row.pop(AT)
            known = newest.get(row[ID])
            if known is None or row["time"] >= known["time"]:  # a move cut short: two points
                newest[row[ID]] = row
    return list(newest.values())


def built(store: InfluxStore) -> bool:
    return bool(store._query(f"SELECT * FROM {quote_identifier(BUILT)} LIMIT 1"))


def prepare(store: InfluxStore) -> None:
    """At start: a store without report points is complete as it is; one with report points
    written before this index waits for `migrate` (reads take every report point meanwhile)."""
    if built(store):
        return
    if store._query(f"SELECT * FROM {store._from(FIELD_REPORT.name)} LIMIT 1"):
        log.warning(
            "InfluxDB database %s: the open field reports are read from every report point "
            "(several seconds at a city's scale) until `python -m wall migrate` indexes the "
            "newest state of each report",
            store.database,
        )
        return
    store.write_marker(BUILT, {"built": True})


def build(store: InfluxStore, dry_run: bool = False, report: Callable[[str], object] = print):
    """Index the newest state of every report from its points (again, if interrupted)."""
    if built(store):
        report("field reports: the newest state of each is indexed already")
        return
    versions = _every_version(store)
    opened = sum(state_of(fields) == "open" for _, fields in versions.values())
    what = f"the newest state of {len(versions):,} field reports ({opened:,} open)"
    if dry_run:
        report(f"field reports: would index {what}")
        return
    store.query_statement(f"DROP MEASUREMENT {quote_identifier(NEWEST)}")
    update(store, versions)
    store.write_marker(BUILT, {"built": True})
    report(f"field reports: indexed {what}")


def _every_version(store: InfluxStore) -> dict[str, Version]:
    source = store._from(FIELD_REPORT.name)
    first = store._query(f"SELECT * FROM {source} ORDER BY time ASC LIMIT 1")
    last = store._query(f"SELECT * FROM {source} ORDER BY time DESC LIMIT 1")
    if not first:
        return {}
    floats = {k for k, t in store._field_types(FIELD_REPORT.name).items() if t == "float"}
    rows: list[tuple[int, dict, dict]] = []
    start, end = first[0]["values"][0][0], last[0]["values"][0][0] + 1
    while start < end:
        until = min(start + int(WINDOW.total_seconds() * 1000), end)
        series = store._query(
            f"SELECT * FROM {source} WHERE time >= {start}ms AND time < {until}ms"
        )
        for one in series:
            columns = one["columns"]
            for values in one["values"]:
                row = {k: v for k, v in zip(columns, values, strict=True) if v is not None}
                time_ms = row.pop("time")
                fields = {k: float(v) if k in floats else read_text(v) for k, v in row.items()}
                rows.append((time_ms, {}, fields))
        start = until
    return versions_of(rows)


def _stored(store: InfluxStore, slots: list[str]) -> tuple[dict[str, dict], dict[tuple, str]]:
    """The stored points of the slots: {report: {key, state, at, fields}}, {(slot, key): report}."""
    either = " OR ".join(f"{quote_identifier(SLOT)} = {quote_string(s)}" for s in slots)
    series = store._query(
        f"SELECT * FROM {store._from(NEWEST)} WHERE {either} GROUP BY {quote_identifier(SLOT)}, "
        f"{quote_identifier(STATE)}"
    )
    floats = {k for k, t in store._field_types(NEWEST).items() if t == "float"} if series else ()
    stored, taken = {}, {}
    for one in series:
        slot, state = one["tags"][SLOT], one["tags"][STATE]
        columns = one["columns"]
        for values in one["values"]:
            row = {k: v for k, v in zip(columns, values, strict=True) if v is not None}
            key, at = row.pop("time"), row.pop(AT)
            fields = {k: float(v) if k in floats else read_text(v) for k, v in row.items()}
            taken[(slot, key)] = fields[ID]
            stored[fields[ID]] = {"key": key, "state": state, "at": at, "fields": fields}
    return stored, taken


def _free_key(slot: str, report_id: str, taken: dict[tuple, str]) -> int:
    """The report's key: its hash, or the next millisecond no other report of its slot holds."""
    key = zlib.adler32(report_id.encode(), zlib.crc32(report_id.encode())) % REPORT_KEYS_MS
    while taken.setdefault((slot, key), report_id) != report_id:
        key = (key + 1) % REPORT_KEYS_MS
    return key


def _delete(store: InfluxStore, points: list[tuple[str, str, int]]) -> None:
    for slot, state, key in points:
        store.query_statement(
            f"DELETE FROM {quote_identifier(NEWEST)} WHERE {quote_identifier(SLOT)} = "
            f"{quote_string(slot)} AND {quote_identifier(STATE)} = {quote_string(state)} "
            f"AND time >= {key}ms AND time <= {key}ms"
        )
