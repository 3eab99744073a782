"""An alert's whole story, from its key's event log and the notifications outbox: the timeline
the console shows on the alert's page and exports as an after-action summary.

Everything here is text from data put into plain text or CSV cells, never markup; a line break
inside a note becomes a space, so a note cannot pass for a line of the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wall.alerts.model import Alert, transitions
from wall.alerts.text import RULE_NAMES, SEVERITIES, STATES, alert_title, label
from wall.city import CityProfile, Step
from wall.i18n import TEXT, Translator
from wall.notifications.messages import one_line
from wall.notifications.outbox import Delivery
from wall.store import Event

Local = Callable[[datetime], str]  # a time as the city's clock shows it


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: an event of the alert's log, or a message that told of one."""

    at: datetime
    kind: str  # an alert event's kind, or notified / notify_dropped
    by: str  # the officer, "system", or the notification channel
    event: Event | None = None
    delivery: Delivery | None = None


def alert_events(history: Iterable[Event], alert: Alert) -> list[Event]:
    """The events of `alert` among its key's whole log (an earlier alert closed under the same key
    is not this one): from the raise that opened it on, oldest first."""
    return [
        event
        for event, _, after in transitions(history)
        if after is not None and after.alert_id == alert.alert_id
    ]


def timeline(events: Sequence[Event], deliveries: Iterable[Delivery]) -> list[Entry]:
    """The alert's events and the deliveries that told of them, oldest first."""
    ids = {e.event_id for e in events}
    entries = [Entry(e.time, e.kind, e.actor or "system", event=e) for e in events]
    for delivery in deliveries:
        if any(event_id in ids for event_id, _ in delivery.events):
            kind = "notified" if delivery.outcome == "delivered" else "notify_dropped"
            entries.append(Entry(delivery.at, kind, delivery.channel, delivery=delivery))
    # Stable: the log's own order among events of one instant, a delivery after what it told.
    return sorted(entries, key=lambda e: e.at)


@dataclass(frozen=True)
class StepView:
    step: Step
    done_at: datetime | None = None
    done_by: str | None = None


def procedure_steps(alert: Alert, profile: CityProfile) -> list[StepView] | None:
    """The alert kind's procedure with what is checked off; None when the kind has none. A step
    checked off that the profile no longer lists is kept, under its id."""
    steps = profile.procedures.get(alert.rule)
    if steps is None:
        return None
    done = {step: (at, who) for step, at, who in alert.steps_done}
    views = [StepView(s, *done.pop(s.step_id, (None, None))) for s in steps]
    views += [StepView(Step(step, step, step), at, who) for step, (at, who) in done.items()]
    return views


def step_text(profile: CityProfile, rule: str, step_id: str, lang: str) -> str:
    step = next((s for s in profile.procedures.get(rule, ()) if s.step_id == step_id), None)
    return step.text(lang) if step else step_id


class Describer:
    """The words of the timeline in one language, times on the city's clock."""

    def __init__(self, alert: Alert, profile: CityProfile, lang: str, local: Local):
        self.alert, self.profile, self.lang, self.local = alert, profile, lang, local
        self.t = Translator(lang)

    def what(self, entry: Entry) -> str:
        key = f"oc.tl.{entry.kind}"
        return self.t(key) if key in TEXT else entry.kind

    def detail(self, entry: Entry) -> str:
        t, event = self.t, entry.event
        if entry.delivery is not None:
            told = ", ".join(
                dict.fromkeys(
                    self.what(Entry(entry.at, kind, "")) for _, kind in entry.delivery.events
                )
            )
            parts = [t("oc.tl.via", channel=entry.delivery.channel, what=told)]
            parts.append(entry.delivery.reason or "")
        elif event is None:
            parts = []
        elif event.kind == "raised":
            parts = [label(SEVERITIES, event.data.get("severity", ""), self.lang)]
        elif event.kind == "shelved" and event.data.get("until"):
            until = self.local(datetime.fromisoformat(event.data["until"]))
            parts = [t("oc.tl.shelved_until", time=until)]
        elif event.kind == "assigned":
            names = event.data.get("names") or {}
            parts = [names.get(self.lang) or event.data.get("owner", "")]
        elif event.kind in ("step_checked", "step_unchecked"):
            parts = [
                step_text(self.profile, self.alert.rule, event.data.get("step", ""), self.lang)
            ]
        else:
            parts = []
        if event is not None and event.note:
            parts.append(event.note)
        return one_line(" – ".join(p for p in parts if p))

    def rows(self, entries: Iterable[Entry]) -> list[tuple[str, str, str, str]]:
        """(time, who, what, details) of each entry."""
        return [(self.local(e.at), one_line(e.by), self.what(e), self.detail(e)) for e in entries]

    def owner_line(self) -> str:
        alert = self.alert
        if not alert.owner:
            return self.t("oc.no_owner")
        return one_line(
            self.t(
                "oc.owner",
                owner=alert.owner_name(self.lang),
                who=alert.assigned_by or "",
                time=self.local(alert.assigned_at) if alert.assigned_at else "",
            )
        )

    def summary(self, entries: Sequence[Entry], exported: datetime, zone: str) -> str:
        """The after-action summary as plain text."""
        t, alert = self.t, self.alert
        lines = [
            t("oc.summary"),
            f"{t('oc.alert')}: {one_line(alert_title(alert, self.lang))}",
            f"{t('oc.key')}: {one_line(alert.key)}",
            f"{t('oc.kind')}: {label(RULE_NAMES, alert.rule, self.lang)}",
            f"{t('oc.severity')}: {label(SEVERITIES, alert.severity, self.lang)}",
            f"{t('oc.state')}: {label(STATES, alert.state, self.lang)}",
            f"{t('oc.raised')}: {self.local(alert.raised_at)}",
            self.owner_line(),
            "",
            f"{t('oc.procedure')}:",
        ]
        steps = procedure_steps(alert, self.profile)
        if steps is None:
            lines.append(f"  {t('oc.no_procedure')}")
        else:
            done = sum(1 for s in steps if s.done_at)
            lines.append(f"  {t('oc.steps_done', done=done, total=len(steps))}")
            for s in steps:
                mark = "[x]" if s.done_at else "[ ]"
                line = f"  {mark} {one_line(s.step.text(self.lang))}"
                if s.done_at:
                    done_by = t(
                        "oc.step_by", who=one_line(s.done_by or ""), time=self.local(s.done_at)
                    )
                    line += f" ({done_by})"
                lines.append(line)
        lines += ["", f"{t('oc.timeline')}:"]
        lines += [" | ".join(row) for row in self.rows(entries)]
        lines += ["", t("oc.exported", time=self.local(exported), zone=zone)]
        return "\n".join(lines) + "\n"
