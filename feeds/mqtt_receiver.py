"""The worker's MQTT connection in a process of its own: receiving on one core, validating and
writing on the other.

The worker is CPU-bound in Python, and the threads of one process share one core (the GIL): with
paho's network thread, validation and the store writer in one process, each waited for the
others. So `python -m feeds mqtt` spawns a receiver process that runs the MqttConnection and does
nothing else: its network thread collects each message's topic, payload and receive time into a
batch, which is handed over once it holds BATCH_MESSAGES messages or is FLUSH_SECONDS old; a
hand-over thread sends the batches to the worker over a pipe. The worker answers "batch n is
durable" (in the store or the fsynced spool); only then does the receiver send that batch's
PUBACKs, in order, on the connection the messages came in on (MqttConnection drops acks meant
for an earlier connection).

Back-pressure: when the worker is behind, the pipe is full and the hand-over thread waits. The
network thread never waits: once HOLD_MESSAGES received messages are not handed over yet, it
pauses reading the socket (so the broker holds the rest) and goes on sending PUBACKs and
keepalive pings, so a worker that is behind for minutes does not cost the connection (nor the
QoS 0 messages in flight on it; MqttConnection._serve says what is left of that risk).

The receiver exits as soon as its pipe to the worker closes (the worker stopped or was killed):
nothing it held was acknowledged, so the broker sends it again. Its log records and connection
state come to the worker over the same pipe and are logged there as the worker's own. A receiver
that dies is started again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from multiprocessing.connection import Connection

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from feeds.mqtt_client import MqttConnection, configured_protocol
from wall.settings import Settings

log = logging.getLogger(__name__)

BATCH_MESSAGES = 500
FLUSH_SECONDS = 0.01  # a batch that is not full goes to the worker after at most this long
HOLD_MESSAGES = 4 * BATCH_MESSAGES  # received, not handed over yet: past this, reading pauses
STATE_POLL_SECONDS = 0.05
STOP_SECONDS = 15.0
RESTART_DELAY_SECONDS = 1.0

Message = tuple[str, bytes, datetime]  # topic, payload, received at
BatchHandler = Callable[[list[Message], Callable[[], None]], None]


class ReceiverProcess:
    """The worker's side: what MqttConnection offers (start, stop, publish, connected,
    subscribed, protocol), with messages handed over in batches, each with one `ack`."""

    def __init__(
        self, settings: Settings, subscriptions: Sequence[tuple[str, int]], on_batch: BatchHandler
    ):
        if not settings.mqtt_url:
            raise ValueError("IOC_MQTT_URL is not set")
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.on_batch = on_batch
        self.protocol = configured_protocol(settings)
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker confirmed every subscription
        self._stopping = False
        self._send_lock = threading.Lock()
        self._pipe: Connection | None = None
        self.process: multiprocessing.process.BaseProcess | None = None  # the receiver
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        # spawn, not fork: the worker has threads by now, and a forked child could inherit a
        # lock some other thread held
        context = multiprocessing.get_context("spawn")
        pipe, child_pipe = context.Pipe()
        process = context.Process(
            target=run_receiver,
            args=(self.settings, self.subscriptions, child_pipe, logging.getLogger().level),
            name=f"mqtt-receiver-{self.settings.mqtt_client_id}",
            daemon=True,
        )
        process.start()
        child_pipe.close()
        self._pipe, self.process = pipe, process
        self._reader = threading.Thread(
            target=self._read, args=(pipe, process), name=process.name, daemon=True
        )
        self._reader.start()

    def stop(self) -> None:
        """Send the acks already due, disconnect, and end the receiver process."""
        self._stopping = True
        self._send(self._pipe, ("stop",))
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(STOP_SECONDS)  # it ends once the receiver process has ended
            if reader.is_alive() and self.process is not None:
                log.error("the MQTT receiver did not stop within %g s; ending it", STOP_SECONDS)
                self.process.kill()
                reader.join()
        self.connected.clear()
        self.subscribed.clear()

    def publish(
        self, topic: str, payload: bytes, user_properties: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Queue a QoS 1 message (user properties on MQTT v5 only); never blocks for long."""
        self._send(self._pipe, ("publish", topic, bytes(payload), list(user_properties)))

    def _send(self, pipe: Connection | None, message: tuple) -> None:
        if pipe is None:
            return
        try:
            with self._send_lock:
                pipe.send(message)
        except (OSError, ValueError):  # the receiver is gone: a new one gets the messages again
            pass

    def _read(self, pipe: Connection, process: multiprocessing.process.BaseProcess) -> None:
        while True:
            try:
                kind, *body = pipe.recv()
            except (EOFError, OSError):
                break
            if kind == "batch":
                batch_id, messages = body
                received = [
                    (topic, payload, datetime.fromtimestamp(at, UTC))
                    for topic, payload, at in messages
                ]
                self.on_batch(received, partial(self._send, pipe, ("ack", batch_id)))
            elif kind == "log":
                record = logging.makeLogRecord(body[0])
                logging.getLogger(record.name).handle(record)
            elif kind == "state":
                connected, subscribed, self.protocol = body
                for event, is_set in ((self.connected, connected), (self.subscribed, subscribed)):
                    event.set() if is_set else event.clear()
        pipe.close()
        self.connected.clear()
        self.subscribed.clear()
        process.join()  # this thread alone waits for the process: two waits would race
        if not self._stopping:
            log.error(
                "the MQTT receiver process ended (exit code %s); starting a new one",
                process.exitcode,
            )
            time.sleep(RESTART_DELAY_SECONDS)
            if not self._stopping:
                self.start()


# -- the receiver process ------------------------------------------------------------------


def run_receiver(
    settings: Settings,
    subscriptions: list[tuple[str, int]],
    pipe: Connection,
    log_level: int,
) -> None:
    """Entry of the receiver process."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the whole process group:
        signal.signal(signum, signal.SIG_IGN)  # the worker decides when this process stops
    _Receiver(settings, subscriptions, pipe, log_level).run()


class _Receiver:
    def __init__(
        self,
        settings: Settings,
        subscriptions: list[tuple[str, int]],
        pipe: Connection,
        log_level: int,
    ):
        self.pipe = pipe
        root = logging.getLogger()
        root.handlers[:] = [_ForwardLogs(self._queue)]
        root.setLevel(log_level)
        self._cond = threading.Condition()  # guards the fields below
        self._messages: list[tuple[str, bytes, float]] = []  # the batch being filled
        self._acks: list[Callable[[], None]] = []
        self._outgoing: deque[tuple] = deque()  # to the worker, in order: batches, logs, states
        self._held = 0  # messages received and not handed over yet
        self._paused = False
        self._unacked: deque[tuple[int, list[Callable[[], None]]]] = deque()
        self._next_batch_id = 0
        self._filling = threading.Event()
        self.connection = MqttConnection(settings, subscriptions, self._on_message)

    def run(self) -> None:
        for loop in (self._hand_over_loop, self._flush_loop, self._watch_loop):
            threading.Thread(target=loop, name=loop.__name__, daemon=True).start()
        self.connection.start()
        while True:
            try:
                command, *body = self.pipe.recv()
            except (EOFError, OSError):
                os._exit(0)  # the worker is gone; unacknowledged messages come again
            if command == "ack":
                self._ack(body[0])
            elif command == "publish":
                self._publish(*body)
            elif command == "stop":
                self.connection.stop()
                self.pipe.close()
                return

    def _on_message(self, message, ack: Callable[[], None]) -> None:
        """On the network thread, which must never wait (it also sends the pings)."""
        with self._cond:
            self._messages.append((message.topic, message.payload, time.time()))
            self._acks.append(ack)
            self._held += 1
            count = len(self._messages)
            if count >= BATCH_MESSAGES:
                self._seal_batch()
            if self._held >= HOLD_MESSAGES and not self._paused:
                self._paused = True
                self.connection.pause_reading()
        if count == 1:
            self._filling.set()

    def _seal_batch(self) -> None:
        """The batch being filled joins the outgoing queue (with `_cond` held)."""
        if not self._messages:
            return
        batch_id = self._next_batch_id
        self._next_batch_id += 1
        self._unacked.append((batch_id, self._acks))
        self._outgoing.append(("batch", batch_id, self._messages))
        self._messages, self._acks = [], []
        self._cond.notify()

    def _queue(self, message: tuple) -> None:
        with self._cond:
            self._outgoing.append(message)
            self._cond.notify()

    def _hand_over_loop(self) -> None:
        """The pipe's only writer: waits while the worker is behind (back-pressure)."""
        while True:
            with self._cond:
                while not self._outgoing:
                    self._cond.wait()
                message = self._outgoing.popleft()
            try:
                self.pipe.send(message)
            except (OSError, ValueError):  # the worker is gone, or this process is stopping
                return
            if message[0] == "batch":
                with self._cond:
                    self._held -= len(message[2])
                    if self._paused and self._held < HOLD_MESSAGES:
                        self._paused = False
                        self.connection.resume_reading()

    def _flush_loop(self) -> None:
        while True:
            self._filling.wait()
            time.sleep(FLUSH_SECONDS)
            self._filling.clear()
            with self._cond:
                self._seal_batch()

    def _ack(self, batch_id: int) -> None:
        while self._unacked and self._unacked[0][0] <= batch_id:
            for ack in self._unacked.popleft()[1]:
                ack()

    def _publish(self, topic: str, payload: bytes, user_properties: list[tuple[str, str]]) -> None:
        properties = None
        if user_properties:
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = user_properties
        self.connection.publish(topic, payload, properties)

    def _watch_loop(self) -> None:
        """Falls back to MQTT 3.1.1 when the broker asks for it; reports the state changes."""
        reported = None
        while True:
            if self.connection.fallback_needed.is_set():
                self.connection.fall_back_to_311()
            state = (
                self.connection.connected.is_set(),
                self.connection.subscribed.is_set(),
                self.connection.protocol,
            )
            if state != reported:
                self._queue(("state", *state))
                reported = state
            time.sleep(STATE_POLL_SECONDS)


class _ForwardLogs(logging.Handler):
    """Log records of the receiver process, queued for the worker to log them (never waits)."""

    def __init__(self, send: Callable[[tuple], None]):
        super().__init__()
        self.send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(record.__dict__)
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            self.send(("log", fields))
        except Exception:
            self.handleError(record)
