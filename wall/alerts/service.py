"""`python -m wall alerts`: the evaluator as a long-running service, and beside it the
notifications (wall/notifications), which it wakes after each pass."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from wall.alerts.evaluator import AlertEvaluator
from wall.alerts.rules import check_rules
from wall.heartbeat import Heartbeat
from wall.notifications.service import start_outbox
from wall.settings import Settings
from wall.store import StoreUnavailable, open_store

log = logging.getLogger(__name__)


def run(settings: Settings, stop: threading.Event) -> int:
    heartbeat = Heartbeat(settings, "alerts")
    heartbeat.require_writable()
    with open_store(settings) as store:
        wake_notifier, stop_notifier = start_outbox(settings, store)
        try:
            store.check()
        except StoreUnavailable as exc:
            log.warning("store not reachable yet (%s); evaluating when it answers", exc)
        evaluator = AlertEvaluator(
            store,
            settings.alert_rules or check_rules({}),
            escalate_after=timedelta(minutes=settings.alert_escalate_minutes),
            profile=settings.profile,
        )
        log.info("evaluating alert rules every %s s", settings.alert_evaluate_seconds)

        def after_pass() -> None:
            heartbeat.beat()
            wake_notifier()  # the notices of this pass go out now, not at the outbox's next look

        try:
            evaluator.run(timedelta(seconds=settings.alert_evaluate_seconds), stop, after_pass)
        finally:
            stop_notifier()
    return 0
