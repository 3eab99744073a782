"""Units' figures for their indicators: each submission an append-only event of the store's log.

A submission is one or more values (indicator, period, value, note) given at once by one person
of one unit by one path (console, file, api, mqtt). Each value is an event of stream
`indicator_submissions` keyed `<indicator_id>/<period>`: the first of a key is `submitted`, each
later one `corrected` and carries its reason; nothing is changed or removed. Every stored value is
accepted (a submission with any bad value is refused whole, never stored), so the latest accepted
value of each indicator and period is the newest event of its key: one read (`latest_values`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from wall.accountability import due_period
from wall.cache import shared
from wall.city import CityProfile, Indicator
from wall.i18n import Translator
from wall.periods import FORMATS, PeriodError, parse_period, period_of
from wall.store import Event, Store

STREAM = "indicator_submissions"
PATHS = ("console", "file", "api", "mqtt")
MAX_NOTE_CHARS = 500
MAX_VALUES = 5000  # one submission is one write: a single request to InfluxDB
COLUMNS = [
    "time",
    "submitted_at",
    "indicator_id",
    "period",
    "actual",
    "path",
    "actor",
    "by_unit",
    "note",
]


class SubmissionRefused(Exception):
    """A submission with bad values, refused whole: `problems` are (row, reason) pairs."""

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(f"{len(problems)} bad row(s)")
        self.problems = problems


@dataclass(frozen=True)
class Row:
    """One value as given: `number` names it to the person (a file's row number)."""

    number: int
    indicator_id: str
    period: str
    value: object  # a number, or text to read as one
    note: str = ""


@dataclass(frozen=True)
class Value:
    indicator: Indicator
    period: str
    value: float
    note: str | None


def key_of(indicator_id: str, period: str) -> str:
    return f"{indicator_id}/{period}"


def number(value: object, t: Translator) -> float:
    """A value as a number: a number, or text of one with a decimal point (98.5); a comma is
    refused, since `1,234` means 1234 in English and 1.234 in Vietnamese."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(t("sub.no_value"))
    if isinstance(value, bool):
        raise ValueError(t("sub.not_number", value=value))
    if isinstance(value, int | float):
        result = float(value)
    else:
        text = str(value).strip()
        if "," in text:
            raise ValueError(t("sub.comma", value=text))
        try:
            result = float(text)
        except ValueError:
            raise ValueError(t("sub.not_number", value=text)) from None
    if not math.isfinite(result):
        raise ValueError(t("sub.not_number", value=value))
    return result


def check_rows(
    rows: Iterable[Row],
    profile: CityProfile,
    unit: str,
    now: datetime,
    zone: ZoneInfo,
    latest: Mapping[str, Event],
    reason: str | None,
    t: Translator,
) -> list[Value]:
    """The values of `rows` that `unit` submits now; SubmissionRefused naming every bad row and
    why (unknown indicator, another unit's, a period that does not exist or is not open, a value
    that is not a number, a row repeating an earlier one, a value already given without a
    reason to correct it)."""
    catalogue = {i.indicator_id: i for i in profile.indicators}
    problems: list[tuple[int, str]] = []
    values: list[Value] = []
    seen: dict[str, int] = {}
    rows = list(rows)
    if len(rows) > MAX_VALUES:
        raise SubmissionRefused([(rows[MAX_VALUES].number, t("sub.too_many", n=MAX_VALUES))])
    for row in rows:
        reasons = []
        indicator = catalogue.get(row.indicator_id.strip())
        period = row.period.strip()
        if indicator is None:
            reasons.append(t("sub.unknown", id=row.indicator_id))
        elif indicator.responsible_unit != unit:
            reasons.append(
                t(
                    "sub.not_yours",
                    id=indicator.indicator_id,
                    owner=indicator.responsible_unit,
                    unit=unit,
                )
            )
        if indicator is not None:
            try:
                named = parse_period(indicator.period, period)
            except PeriodError:
                reasons.append(
                    t(
                        "sub.no_period",
                        period=period,
                        kind=t(f"ind.{indicator.period}"),
                        form=FORMATS[indicator.period],
                    )
                )
            else:
                period = named.name
                if not named.is_open(now, zone):
                    current = period_of(indicator.period, now, zone)
                    reasons.append(
                        t(
                            "sub.not_open",
                            period=period,
                            open=f"{current.previous().name}, {current.name}",
                        )
                    )
        try:
            value = number(row.value, t)
        except ValueError as exc:
            reasons.append(str(exc))
            value = math.nan
        note = str(row.note or "").strip()
        if len(note) > MAX_NOTE_CHARS:
            reasons.append(t("sub.long_note", n=MAX_NOTE_CHARS))
        key = key_of(row.indicator_id.strip(), period)
        if key in seen:
            reasons.append(t("sub.duplicate", row=seen[key]))
        else:
            seen[key] = row.number
        if key in latest and not reason and indicator is not None:
            given = latest[key]
            reasons.append(
                t(
                    "sub.given",
                    value=given.data.get("value"),
                    by=given.actor,
                    at=f"{given.time.astimezone(zone):%Y-%m-%d %H:%M}",
                )
            )
        if reasons:
            problems.append((row.number, "; ".join(reasons)))
        elif indicator is not None:
            values.append(Value(indicator, period, value, note or None))
    if problems:
        raise SubmissionRefused(problems)
    return values


def submit(
    store: Store,
    values: list[Value],
    *,
    by: str,
    unit: str,
    path: str,
    latest: Mapping[str, Event],
    reason: str | None = None,
    source: str | None = None,
    at: datetime | None = None,
) -> str:
    """Store checked values as one submission (one write); returns its id."""
    if path not in PATHS:
        raise ValueError(f"path {path!r} is not one of {', '.join(PATHS)}")
    submission = uuid.uuid4().hex[:12]
    events = []
    for v in values:
        key = key_of(v.indicator.indicator_id, v.period)
        data = {
            "indicator_id": v.indicator.indicator_id,
            "period": v.period,
            "value": v.value,
            "path": path,
            "unit": unit,
            "submission": submission,
        }
        if source:
            data["source"] = source
        correcting = key in latest
        if correcting:
            data["reason"] = reason
            # When the period's first value came: a correction after the due day is not late.
            previous = latest[key]
            data["submitted_at"] = previous.data.get("submitted_at") or previous.time.isoformat()
        kind = "corrected" if correcting else "submitted"
        events.append(Event.new(STREAM, key, kind, actor=by, note=v.note, data=data, at=at))
    store.append_events(events)
    return submission


def latest_values(store: Store) -> pd.DataFrame:
    """The latest accepted value of each indicator and period (one read of the log): columns
    time, submitted_at (of the period's first value), indicator_id, period, actual, path, actor,
    by_unit, note."""
    return values_of(store.latest_events(STREAM))


def values_of(latest: Mapping[str, Event]) -> pd.DataFrame:
    """latest_values' frame of the newest event of each key (Store.latest_events)."""
    rows = [
        {
            "time": pd.Timestamp(e.time),
            "submitted_at": pd.Timestamp(e.data.get("submitted_at") or e.time),
            "indicator_id": e.data["indicator_id"],
            "period": e.data["period"],
            "actual": float(e.data["value"]),
            "path": e.data["path"],
            "actor": e.actor,
            "by_unit": e.data["unit"],
            "note": e.note,
        }
        for e in latest.values()
    ]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["indicator_id", "period"])


SENT_REREAD = timedelta(hours=1)  # what was sent in a period that ended changes only by backfill


def due_periods(profile: CityProfile, now: datetime, zone: ZoneInfo) -> tuple[str, ...]:
    """The periods just ended of the catalogue's indicators: sent_in_due_periods' answer only
    changes with them (or when points of them are written late)."""
    return tuple(due_period(i, now, zone).name for i in profile.indicators)


def sent_in_due_periods(
    store: Store, profile: CityProfile, now: datetime, zone: ZoneInfo
) -> pd.DataFrame:
    """When an automated source (MQTT `kpi` points) first sent a value of each indicator during
    its period just ended, to the day: that period counts as delivered then (so on time), as a
    unit's submission would. Values sent after the period's end are not counted: they may be of
    the next period (the points' `period` is not read, to count in the store). Rows as
    latest_values (path `mqtt`); one daily count per distinct period, of the indicators of that
    period only (a year of points is read for the yearly ones alone), read in the store."""
    windows: dict[tuple[datetime, datetime], list[tuple[Indicator, str]]] = {}
    for indicator in profile.indicators:
        period = due_period(indicator, now, zone)
        window = (period.start(zone), min(period.end(zone), now))
        windows.setdefault(window, []).append((indicator, period.name))
    rows = []
    for (start, end), wanted in windows.items():
        if end <= start:
            continue
        ids = [indicator.indicator_id for indicator, _ in wanted]
        counts = store.aggregate(
            "kpi", "actual", "count", start, end, timedelta(days=1), by=["indicator_id"],
            where={"indicator_id": ids},
        )  # fmt: skip
        if counts.empty:
            continue
        sent = counts[pd.to_numeric(counts["value"]) > 0]
        first = sent.groupby("indicator_id")["time"].min()
        for indicator, period in wanted:
            if indicator.indicator_id in first.index:
                at = max(pd.Timestamp(first[indicator.indicator_id]), pd.Timestamp(start))
                rows.append(
                    {
                        "time": at,
                        "submitted_at": at,
                        "indicator_id": indicator.indicator_id,
                        "period": period,
                        "path": "mqtt",
                    }
                )
    return pd.DataFrame(rows, columns=["time", "submitted_at", "indicator_id", "period", "path"])


def sent_shared(store: Store, profile: CityProfile, now: datetime, zone: ZoneInfo) -> pd.DataFrame:
    """sent_in_due_periods, counted once per SENT_REREAD and set of periods by whichever of the
    wall's processes asks first, the screens or the console (a year of kpi points is counted:
    0.7 s on SQLite, docs/benchmarks.md)."""
    key = "kpi_sent:" + ",".join(due_periods(profile, now, zone))
    seconds = SENT_REREAD.total_seconds()
    return shared(key, seconds, lambda: sent_in_due_periods(store, profile, now, zone))


def delivered(submitted: pd.DataFrame, sent: pd.DataFrame) -> pd.DataFrame:
    """Each indicator and period a value came for, by any path: the earliest `submitted_at` and
    the newest `time` of the units' submissions (latest_values) and the automated sources'
    (sent_in_due_periods). Columns: indicator_id, period, submitted_at, time."""
    keys = ["indicator_id", "period"]
    frames = [f[[*keys, "submitted_at", "time"]] for f in (submitted, sent) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*keys, "submitted_at", "time"])
    both = pd.concat(frames, ignore_index=True)
    both["submitted_at"] = pd.to_datetime(both["submitted_at"], utc=True)
    both["time"] = pd.to_datetime(both["time"], utc=True)
    return both.groupby(keys, as_index=False).agg(
        submitted_at=("submitted_at", "min"), time=("time", "max")
    )
