"""The alerts as they are now, kept in the store beside their event log (issue 16).

The log stays the record (wall.alerts.model folds it); the store also keeps each key's alert
folded (`Store.put_key_states`), so the evaluator, the console and the screens read the alerts
still open (and those changed lately) in one query, however long the log has grown.

Every alert event is appended with `record`, which then folds it into the state of its key:
read the kept states and the event counts of the keys written; when a key's state folds n events
and the log holds n + (the events just appended, all newer than the state) events, those are
folded onto it, else (another writer appended meanwhile, or an event arrived older than the
state's newest) the key's whole log is folded again. No lock is needed, on SQLite nor on
InfluxDB: a state is the fold of the key's log as it was at one moment, the log only grows, so
of two states the one folding more events folds the later log, and the store keeps that one.
Each writer's state holds its own events; the state kept holds every writer's.

A writer stopped between appending and folding leaves its key's state behind the log until the
key's next event (whose writer then finds the count off and folds the key again) or until
`rebuild` (the alert service runs it at start, every 5 minutes and after a failed pass, and logs
what it folded again).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from wall.alerts.model import STREAM, Alert, apply, fold
from wall.store import Event, KeyState, Store

log = logging.getLogger(__name__)
REBUILD_KEYS = 200  # keys named in one question of a rebuild
TIMES = (
    "raised_at",
    "cleared_at",
    "acked_at",
    "shelved_until",
    "escalated_at",
    "updated_at",
    "assigned_at",
)


def record(store: Store, events: Iterable[Event]) -> None:
    """Append alert events to the log, then fold them into their keys' kept state."""
    # As the store gives them back: the state folds what a fold of the log would read.
    events = [replace(e, data=json.loads(json.dumps(e.data))) for e in events]
    if events:
        store.append_events(events)
        _fold_keys(store, {e.key for e in events}, events)


def rebuild(store: Store) -> tuple[int, int]:
    """Fold again every key whose kept state does not fold all of its events (one written before
    the state was kept, or whose writer stopped before folding); returns (keys folded again, keys
    in the log). One count of the whole log: run every few minutes, not every pass."""
    counts = store.count_events(STREAM)
    states = store.key_states(STREAM)
    behind = sorted(key for key, n in counts.items() if key not in states or states[key].events < n)
    for start in range(0, len(behind), REBUILD_KEYS):
        _fold_keys(store, behind[start : start + REBUILD_KEYS], [])
    return len(behind), len(counts)


def open_alerts(store: Store) -> dict[str, Alert]:
    """The alerts not closed: what the evaluator and the officers' console work on."""
    alerts = alerts_changed_since(store, datetime.now(UTC))
    return {key: alert for key, alert in alerts.items() if alert.state != "closed"}


def alerts_changed_since(store: Store, since: datetime) -> dict[str, Alert]:
    """The alerts not closed, and the closed ones with an event from `since` on."""
    states = store.key_states(STREAM, closed_since=since).values()
    return {s.key: alert_from_data(s.data) for s in states if s.data is not None}


def alert_of(store: Store, key: str) -> Alert | None:
    state = store.key_states(STREAM, keys=[key]).get(key)
    return None if state is None or state.data is None else alert_from_data(state.data)


def _fold_keys(store: Store, keys: Collection[str], appended: list[Event]) -> None:
    states = store.key_states(STREAM, keys=keys)
    counts = store.count_events(STREAM, keys=keys)  # after the states: see the module's doc
    kept = {key: state for key, state in states.items() if state.events >= counts.get(key, 0)}
    folded: list[KeyState] = []
    for key in sorted(set(counts).intersection(keys) - set(kept)):  # kept: folded by another
        state, count = states.get(key), counts[key]
        mine = sorted((e for e in appended if e.key == key), key=lambda e: e.order)
        held, after = (state.events, state.through) if state is not None else (0, (-1, ""))
        if mine and held + len(mine) == count and mine[0].order > after:
            alert = alert_from_data(state.data) if state and state.data is not None else None
            for event in mine:
                alert = apply(alert, event)
            newest = mine[-1]
        else:
            log_events = store.events(STREAM, key=key)
            alert, count, newest = fold(log_events).get(key), len(log_events), log_events[-1]
        folded.append(
            KeyState(
                key=key,
                events=count,
                through_ns=newest.time_ns,
                through_id=newest.event_id,
                open=alert is not None and alert.state != "closed",
                data=None if alert is None else alert_data(alert),
            )
        )
    store.put_key_states(STREAM, folded)


def alert_data(alert: Alert) -> dict[str, Any]:
    data = asdict(alert)
    for name in TIMES:
        data[name] = data[name] and data[name].isoformat()
    data["notes"] = [[when.isoformat(), who, text] for when, who, text in alert.notes]
    data["steps_done"] = [[step, when.isoformat(), who] for step, when, who in alert.steps_done]
    return data


def alert_from_data(data: Mapping[str, Any]) -> Alert:
    values = dict(data)  # a state kept before a field existed lacks it: the field's default
    for name in TIMES:
        values[name] = values.get(name) and datetime.fromisoformat(values[name])
    values["notes"] = tuple(
        (datetime.fromisoformat(when), who, text) for when, who, text in values["notes"]
    )
    values["steps_done"] = tuple(
        (step, datetime.fromisoformat(when), who)
        for step, when, who in values.get("steps_done", ())
    )
    return Alert(**values)
