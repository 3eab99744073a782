"""`python -m feeds mqtt`: broker → validation → batched, spooled writes → acknowledgement.

The receiver process (feeds.mqtt_receiver) hands the messages over in batches; this process
validates them (the Ingestor, on the receiver's reader thread) and the Ingestor's writer thread
writes them; once a batch is durable the receiver sends its PUBACKs. A message is acknowledged
to the broker only after its points are in the store or the fsynced spool, so whatever happens
to the worker, an acknowledged message is never lost and an unacknowledged one is sent again by
the broker (at least once). Rejected messages are acknowledged too (with their batch): sending
them again would not make them valid.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from feeds.health import HealthReporter
from feeds.ingest import Ingestor
from feeds.known_values import town_values
from feeds.mqtt_receiver import Message, ReceiverProcess
from feeds.spool import SpoolLocked
from feeds.subscription import subscriptions, wall_topics_received
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store import Store, StoreUnavailable, open_store
from wall.writable import require_writable

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 20.0


def feed_name(settings: Settings) -> str:
    """The feed of this worker's feed_health points."""
    return f"mqtt:{settings.mqtt_client_id}"


class MqttWorker:
    def __init__(self, settings: Settings, store: Store):
        if not settings.mqtt_url:
            raise SettingsError("IOC_MQTT_URL", "is not set; the MQTT worker needs a broker")
        self.settings = settings
        self.store = store
        self.feed = feed_name(settings)
        spool_dir = Path(settings.ingest_spool_dir) / settings.mqtt_client_id
        require_writable(spool_dir, "IOC_INGEST_SPOOL_DIR", "keep the spool")
        try:
            self.ingestor = Ingestor(
                store,
                feed=self.feed,
                batch_size=settings.ingest_batch_size,
                batch_seconds=settings.ingest_batch_seconds,
                spool_dir=spool_dir,
                spool_max_bytes=settings.ingest_spool_max_bytes,
                dead_letter=self._dead_letter if settings.mqtt_dead_letter_topic else None,
                known=town_values(settings),
            )
        except SpoolLocked as exc:
            raise SettingsError(
                "IOC_MQTT_CLIENT_ID", f"{exc}: give each worker its own client id"
            ) from None
        except OSError as exc:
            raise SettingsError("IOC_INGEST_SPOOL_DIR", f"cannot use {spool_dir}: {exc}") from None
        self.connection = ReceiverProcess(settings, subscriptions(settings), self._on_batch)
        self.passed_over = wall_topics_received(settings)
        self.health = HealthReporter(self.ingestor, self.feed, settings.feed_health_seconds)
        self.stopping = threading.Event()

    def run(self) -> None:
        """Until `stopping` is set; then flush what was received and disconnect."""
        self.health.start()
        self.connection.start()
        try:
            while not self.stopping.wait(0.5):  # with a timeout, so signals are handled
                pass
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        log.info("stopping: writing what was received, then disconnecting")
        self.health.stop()
        # The session stays subscribed (no unsubscribe): the broker keeps messages for us.
        self.ingestor.close(timeout=SHUTDOWN_FLUSH_SECONDS)
        self.connection.stop()
        stats = self.ingestor.stats
        log.info(
            "stopped: %d received, %d points written, %d rejected, %d in the spool",
            stats["received"],
            stats["written"],
            stats["rejected"],
            stats["spooled"],
        )

    def _on_batch(self, messages: list[Message], ack) -> None:
        if self.passed_over:  # what the wall itself published (feeds.subscription)
            messages = [message for message in messages if message[0] not in self.passed_over]
        self.ingestor.handle_batch(messages, on_durable=ack)

    def _dead_letter(self, topic: str, payload: bytes, reason: str) -> None:
        assert self.settings.mqtt_dead_letter_topic
        self.connection.publish(
            self.settings.mqtt_dead_letter_topic,
            payload,
            [("topic", topic), ("reason", reason[:500])],
        )


def mqtt_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry of `python -m feeds mqtt`: runs until SIGTERM or Ctrl-C."""
    store = open_store(settings)
    worker = MqttWorker(settings, store)
    try:
        store.check()  # bad credentials end the program here (exit 2), not in the writer
    except StoreUnavailable as exc:
        log.warning("store not reachable at start (%s); spooling until it answers", exc)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stopping.set())
    worker.run()
    store.close()
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options of its own: the broker, topics and batching are settings (see --help)."""


COMMAND = (
    "MQTT ingest worker: subscribe to the city's telemetry and write it to the store",
    add_arguments,
    mqtt_command,
)
