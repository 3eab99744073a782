"""The alert evaluator (`python -m wall alerts`): conditions in, alert events out.

Each pass reads the open alerts (as wall.alerts.state keeps them), asks the rules what holds now,
and appends only transitions: a condition raises after holding for its rule's `minutes`, an
alert clears after its condition has been gone for `clear_minutes` (so a flapping camera stays
one alert), an expired shelve ends, an unacknowledged critical alert escalates once. The clock
is injected for tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from wall.alerts.model import STREAM, Alert
from wall.alerts.rules import SELF_TIMED, CityReader, Condition, conditions_now
from wall.alerts.state import open_alerts, rebuild, record
from wall.city import CityProfile, load_profile
from wall.store import Event, Store, StoreError

log = logging.getLogger(__name__)
SYSTEM = "system"
# Seconds between checks of the kept alert state against the whole log (one count of it): how
# long a state left behind (a writer stopped between appending and folding) may stay behind.
REBUILD_EVERY = 300.0


class AlertEvaluator:
    def __init__(
        self,
        store: Store,
        rules: Mapping[str, dict],
        escalate_after: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        profile: CityProfile | None = None,  # default: the default city's
    ):
        self.store = store
        self.rules = rules
        self.escalate_after = escalate_after
        self.clock = clock
        self._holding_since: dict[str, datetime] = {}  # condition true, alert not raised yet
        self._gone_since: dict[str, datetime] = {}  # condition false, alert not cleared yet
        self._read_city = CityReader(profile or load_profile(), rules)
        self._rebuilt_at: float | None = None  # time.monotonic() of the last rebuild_state
        self._rebuild_due = True  # at start, and after a pass that failed midway

    def evaluate(self) -> list[Event]:
        """One pass; returns the events it appended."""
        now = self.clock()
        alerts = open_alerts(self.store)
        active = {key for key, a in alerts.items() if a.active}
        conditions = conditions_now(self._read_city(self.store, now), self.rules, active)
        events = [
            *self._raise(conditions, alerts, now),
            *self._clear(conditions, alerts, now),
            *self._unshelve(alerts, now),
        ]
        record(self.store, events)
        escalations = self._escalations(open_alerts(self.store), now)
        if escalations:
            record(self.store, escalations)
        return [*events, *escalations]

    def _raise(self, conditions: dict[str, Condition], alerts: dict[str, Alert], now: datetime):
        for key in list(self._holding_since):
            if key not in conditions:
                del self._holding_since[key]
        for key, condition in conditions.items():
            self._gone_since.pop(key, None)
            alert = alerts.get(key)
            if alert is not None and alert.active:
                if alert.severity != condition.severity:
                    yield self._raised(condition, now)
                continue
            params = self.rules[condition.rule]
            start = self._holding_since.setdefault(key, now)
            # A condition that carries since when it holds (a silent AP's 0s) waits no more.
            if condition.rule in SELF_TIMED or condition.since is not None:
                start = min(start, condition.since or start)
            if now - start >= timedelta(minutes=params["minutes"]):
                del self._holding_since[key]
                yield self._raised(condition, now)

    def _clear(self, conditions: dict[str, Condition], alerts: dict[str, Alert], now: datetime):
        for key, alert in alerts.items():
            if not alert.active or key in conditions:
                continue
            params = self.rules.get(alert.rule)
            wait = timedelta(minutes=params["clear_minutes"]) if params else timedelta(0)
            gone = self._gone_since.setdefault(key, now)
            if now - gone >= wait:
                del self._gone_since[key]
                yield Event.new(STREAM, key, "cleared", actor=SYSTEM, at=now)

    @staticmethod
    def _raised(condition: Condition, now: datetime) -> Event:
        data = {
            "rule": condition.rule,
            "entity": condition.entity,
            "severity": condition.severity,
            "ward": condition.ward,
            "facts": dict(condition.facts),
        }
        return Event.new(STREAM, condition.key, "raised", actor=SYSTEM, data=data, at=now)

    @staticmethod
    def _unshelve(alerts: dict[str, Alert], now: datetime):
        for key, alert in alerts.items():
            if alert.shelved_until is not None and now >= alert.shelved_until:
                yield Event.new(STREAM, key, "unshelved", actor=SYSTEM, note=None, at=now)

    def _escalations(self, alerts: dict[str, Alert], now: datetime) -> list[Event]:
        due = []
        for key, alert in alerts.items():
            if (
                alert.severity == "critical"
                and alert.state == "active_unack"
                and alert.escalated_at is None
                and not alert.shelved(now)
                and now - alert.raised_at >= self.escalate_after
            ):
                due.append(Event.new(STREAM, key, "escalated", actor=SYSTEM, at=now))
        return due

    def rebuild_state(self) -> None:
        """Fold again the alerts whose kept state is behind the log (wall.alerts.state.rebuild),
        saying so: at the service's start always, afterwards only when it found any."""
        behind, keys = rebuild(self.store)
        if self._rebuilt_at is None or behind:
            log.info("alert state: %d of %d alerts folded again from the event log", behind, keys)
        self._rebuilt_at, self._rebuild_due = time.monotonic(), False

    def run(
        self, every: timedelta, stop: threading.Event, after_pass: Callable[[], None] = lambda: None
    ) -> None:
        """`after_pass`: called after each pass that completed (the service's heartbeat)."""
        while not stop.is_set():
            try:
                if self._rebuild_due or time.monotonic() - self._rebuilt_at >= REBUILD_EVERY:
                    self.rebuild_state()
                self.evaluate()
                after_pass()
            except StoreError as exc:  # the store may be away; try again next pass
                log.warning("alert evaluation failed: %s", exc)
                self._rebuild_due = True  # it may have appended events and not folded them
            except Exception:  # a bug must not end the evaluator either; the log has the trace
                log.exception("alert evaluation failed")
            stop.wait(every.total_seconds())
