"""Alert state, derived from the append-only event log (ISA-18.2 / IEC 62682 state model).

One alert per key (rule + entity) at a time, folded from the events of the key, oldest first, so
every transition stays in the log with who, when and why, and two officers acknowledging at once
are two events of which the first one acknowledges. The store keeps that fold for the readers
(wall.alerts.state); the log stays the record.

States: active_unack → (ack) active_ack → (clear) closed;
        active_unack → (clear) cleared_unack → (ack) closed; cleared_unack → (raise) active_unack.
Shelving hides an alert until a time; it is an overlay on these states, not a state of its own,
as are its owner (`assigned`, `unassigned`) and the steps of its procedure checked off
(`step_checked`, `step_unchecked`; the steps are the city profile's, wall.city.Procedure).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from wall.i18n import Translator
from wall.store import Event

STREAM = "alerts"
SEVERITIES = ("critical", "high", "medium", "low")
State = Literal["active_unack", "active_ack", "cleared_unack", "closed"]
MAX_NOTE_CHARS = 1000
OFFICER_ACTIONS = (
    "acknowledged",
    "shelved",
    "unshelved",
    "noted",
    "assigned",
    "unassigned",
    "step_checked",
    "step_unchecked",
)
# Who an alert can be assigned to: a handling unit of the city profile, or a console user.
OWNER_KINDS = ("unit", "person")
# ISA-18.2's alarm flood: more than 10 new alerts in 10 minutes for one operator.
FLOOD_COUNT, FLOOD_WINDOW = 10, timedelta(minutes=10)


class AlertActionError(ValueError):
    """An officer's action that does not apply to the alert as it is now. `reason` names its
    text in wall.i18n (`oc.why.<reason>`), which `values` fill in; the message is the English."""

    def __init__(self, reason: str, **values: object):
        self.reason, self.values = reason, values
        super().__init__(Translator("en")(f"oc.why.{reason}", **values))


def alert_key(rule: str, entity: str) -> str:
    return f"{rule}:{entity}"


@dataclass(frozen=True)
class Alert:
    key: str
    rule: str
    entity: str
    severity: str
    title: str
    state: State
    raised_at: datetime
    alert_id: str  # event_id of the raise that opened it
    ward: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)  # figures the rule found
    cleared_at: datetime | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    shelved_until: datetime | None = None
    shelved_by: str | None = None
    shelve_reason: str | None = None
    escalated_at: datetime | None = None
    notes: tuple[tuple[datetime, str, str], ...] = field(default=())  # (time, officer, text)
    updated_at: datetime | None = None
    owner_kind: str | None = None  # OWNER_KINDS
    owner: str | None = None  # a handling unit's code or an officer's name
    owner_names: Mapping[str, str] = field(default_factory=dict)  # {language: name}, as assigned
    assigned_at: datetime | None = None
    assigned_by: str | None = None
    steps_done: tuple[tuple[str, datetime, str], ...] = field(default=())  # (step, time, officer)

    @property
    def active(self) -> bool:
        return self.state in ("active_unack", "active_ack")

    @property
    def unacknowledged(self) -> bool:
        return self.state in ("active_unack", "cleared_unack")

    def shelved(self, now: datetime) -> bool:
        return self.shelved_until is not None and now < self.shelved_until

    def owner_name(self, lang: str) -> str:
        """Who owns it, in `lang` ("" when nobody was assigned)."""
        return self.owner_names.get(lang) or self.owner or ""

    def step_done(self, step: str) -> bool:
        return any(done == step for done, _, _ in self.steps_done)


def apply(alert: Alert | None, event: Event) -> Alert | None:
    alert = _transition(alert, event)
    if alert is not None and event.note and event.kind in OFFICER_ACTIONS:
        alert = replace(alert, notes=(*alert.notes, (event.time, event.actor or "", event.note)))
    return alert


def _transition(alert: Alert | None, event: Event) -> Alert | None:
    kind, data, at = event.kind, event.data, event.time
    if kind == "raised":
        details = {
            "severity": data.get("severity", "medium"),
            "title": data.get("title", event.key),
            "ward": data.get("ward"),
            "facts": data.get("facts", {}),
        }
        if alert is None or alert.state == "closed":
            rule, _, entity = event.key.partition(":")
            return Alert(
                key=event.key,
                rule=data.get("rule", rule),
                entity=data.get("entity", entity),
                state="active_unack",
                raised_at=at,
                alert_id=event.event_id,
                updated_at=at,
                **details,
            )
        state = "active_unack" if alert.state == "cleared_unack" else alert.state
        return replace(alert, state=state, cleared_at=None, updated_at=at, **details)
    if alert is None:
        return None  # an action on a key that never raised changes nothing (still in the log)
    changes: dict = {}
    if kind == "cleared" and alert.active:
        closing = alert.state == "active_ack"
        changes = {"state": "closed" if closing else "cleared_unack", "cleared_at": at}
    elif kind == "acknowledged" and alert.unacknowledged:
        state = "active_ack" if alert.state == "active_unack" else "closed"
        changes = {"state": state, "acked_at": at, "acked_by": event.actor}
    elif kind == "shelved" and alert.state != "closed":
        until = datetime.fromisoformat(data["until"])
        changes = {"shelved_until": until, "shelved_by": event.actor, "shelve_reason": event.note}
    elif kind == "unshelved":
        changes = {"shelved_until": None}
    elif kind == "escalated" and alert.escalated_at is None:
        changes = {"escalated_at": at}
    elif kind == "assigned" and data.get("owner_kind") in OWNER_KINDS and data.get("owner"):
        changes = {
            "owner_kind": data["owner_kind"],
            "owner": data["owner"],
            "owner_names": dict(data.get("names") or {}),
            "assigned_at": at,
            "assigned_by": event.actor,
        }
    elif kind == "unassigned" and alert.owner:
        changes = dict.fromkeys(("owner_kind", "owner", "assigned_at", "assigned_by"))
        changes["owner_names"] = {}
    elif kind == "step_checked" and data.get("step") and not alert.step_done(data["step"]):
        changes = {"steps_done": (*alert.steps_done, (data["step"], at, event.actor or ""))}
    elif kind == "step_unchecked":
        changes = {"steps_done": tuple(s for s in alert.steps_done if s[0] != data.get("step"))}
    if changes.get("state") == "closed":
        changes["shelved_until"] = None
    return replace(alert, updated_at=at, **changes)


def fold(events: Iterable[Event]) -> dict[str, Alert]:
    """Current alert of each key from its events (any order in; applied oldest first)."""
    alerts: dict[str, Alert] = {}
    for event in sorted(events, key=lambda e: e.order):
        alert = apply(alerts.get(event.key), event)
        if alert is not None:
            alerts[event.key] = alert
    return alerts


@dataclass(frozen=True)
class Owner:
    """Who an officer assigns an alert to: a handling unit or a person (a console user)."""

    kind: str  # OWNER_KINDS
    code: str  # the unit's code, the officer's name
    names: Mapping[str, str]  # {language: name}: kept in the event, as it was named then


def officer_action(
    alert: Alert | None,
    kind: str,
    officer: str,
    now: datetime,
    note: str | None = None,
    shelve_for: timedelta | None = None,
    max_shelve: timedelta = timedelta(hours=8),
    owner: Owner | None = None,
    step: str | None = None,
) -> Event:
    """The event an officer's request appends, or AlertActionError saying why it does not apply.
    The caller checks that `owner` and `step` are the city's (its units, officers, procedures).

    An acknowledgement is always recorded, even of an alert someone acknowledged a moment
    before: two officers acknowledging at once both stay on record, and the first one counts.
    """
    if kind not in OFFICER_ACTIONS:
        raise AlertActionError("unknown_action", action=kind, known=", ".join(OFFICER_ACTIONS))
    if alert is None:
        raise AlertActionError("no_such_alert")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_CHARS:
        raise AlertActionError("note_too_long", chars=MAX_NOTE_CHARS)
    data: dict[str, Any] = {"alert_id": alert.alert_id}
    if kind == "shelved":
        if alert.state == "closed":
            raise AlertActionError("closed_not_shelved")
        if not note:
            raise AlertActionError("shelve_needs_reason")
        if shelve_for is None or not timedelta(0) < shelve_for <= max_shelve:
            raise AlertActionError("shelve_range", hours=max_shelve / timedelta(hours=1))
        data["until"] = (now + shelve_for).isoformat()
    if kind == "unshelved" and not alert.shelved(now):
        raise AlertActionError("not_shelved")
    if kind == "noted" and not note:
        raise AlertActionError("empty_note")
    if kind == "assigned":
        if alert.state == "closed":
            raise AlertActionError("closed_not_assigned")
        if owner is None:
            raise AlertActionError("no_owner")
        data.update(owner_kind=owner.kind, owner=owner.code, names=dict(owner.names))
    if kind == "unassigned":
        if alert.state == "closed":
            raise AlertActionError("closed_not_assigned")
        if not alert.owner:
            raise AlertActionError("not_assigned")
    if kind in ("step_checked", "step_unchecked"):
        if not step:
            raise AlertActionError("no_step")
        if alert.step_done(step) == (kind == "step_checked"):
            raise AlertActionError(f"{kind}_already")
        data["step"] = step
    return Event.new(STREAM, alert.key, kind, actor=officer, note=note, data=data, at=now)


def in_flood(raised_times: Iterable[datetime], now: datetime) -> int:
    """How many alerts were raised in the last FLOOD_WINDOW when that is a flood (more than
    FLOOD_COUNT), else 0."""
    recent = sum(1 for t in raised_times if timedelta(0) <= now - t <= FLOOD_WINDOW)
    return recent if recent > FLOOD_COUNT else 0


def transitions(events: Iterable[Event]) -> Iterator[tuple[Event, Alert | None, Alert | None]]:
    """Each event of one key, oldest first, with its alert before and after it (what the
    notifications tell people about)."""
    alert = None
    for event in sorted(events, key=lambda e: e.order):
        before, alert = alert, apply(alert, event)
        yield event, before, alert
