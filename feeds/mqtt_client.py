"""The connection to the broker: URL, TLS, credentials, MQTT v5 with a 3.1.1 fallback, a
persistent session under a fixed client id, reconnect with backoff, manual acknowledgements.

The connection's network thread runs `on_message`; the handler given here must only queue work.
Each message comes with an `ack` that sends its PUBACK later, from any thread, and only on the
connection the message came in on: after a reconnect the broker sends unacknowledged messages
again (same packet ids), so a late ack for the old connection could acknowledge a different
message on the new one.

The network thread is our own loop over paho's `loop_read`, `loop_write` and `loop_misc` (paho's
`loop_start` cannot stop reading without stopping everything): a consumer that cannot take more
calls `pause_reading`, and the thread stops reading the socket (TCP then holds the broker back)
while it still sends PUBACKs, publishes and keepalive pings. paho drops a connection on which
nothing was read for a keepalive period after a ping, so while paused it still reads one packet
every quarter of that period.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from wall.settings import Settings

log = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 1
RECONNECT_MAX_SECONDS = 30
RECEIVE_MAXIMUM = 65535  # in-flight QoS 1 messages the broker may send before our acks
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason (v5); paho maps a 3.1.1 broker's refusal onto it
MISC_SECONDS = 0.1  # keepalive and timeouts are checked this often
STOP_SECONDS = 10.0

MessageHandler = Callable[[mqtt.MQTTMessage, Callable[[], None]], None]


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> Broker:
        """`mqtt://host:1883` or `mqtts://host:8883` (already validated by the settings)."""
        parts = urlsplit(url)
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname or "", parts.port or (8883 if tls else 1883), tls)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def configured_protocol(settings: Settings) -> MQTTProtocolVersion:
    """The MQTT version the settings ask for (`mqtt_protocol`), before any fallback."""
    if settings.mqtt_protocol == "3.1.1":
        return MQTTProtocolVersion.MQTTv311
    return MQTTProtocolVersion.MQTTv5


class MqttConnection:
    """One client id's connection; survives broker restarts and network loss on its own."""

    def __init__(
        self,
        settings: Settings,
        subscriptions: Sequence[tuple[str, int]],
        on_message: MessageHandler,
    ):
        if not settings.mqtt_url:
            raise ValueError("IOC_MQTT_URL is not set")
        self.settings = settings
        self.broker = Broker.from_url(settings.mqtt_url)
        self.subscriptions = list(subscriptions)
        self.handle_message = on_message
        self.protocol = configured_protocol(settings)
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker confirmed every subscription
        self.fallback_needed = threading.Event()
        self._generation = 0  # one per connection: acks of another connection are dropped
        self._reading = threading.Event()  # cleared by pause_reading
        self._reading.set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()  # ends the network thread's select
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._reconnect_delay = RECONNECT_MIN_SECONDS
        self.client = self._new_client()

    def start(self) -> None:
        """Connect in the background (retrying with backoff until the broker answers)."""
        log.info("connecting to %s as %s", self.broker, self.settings.mqtt_client_id)
        properties = None
        clean_start: bool | int = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if self.protocol == MQTTProtocolVersion.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_seconds
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            clean_start = False
        self.client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.settings.mqtt_keepalive_seconds,
            clean_start=clean_start,
            properties=properties,
        )
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._network_loop,
            args=(self.client,),
            name=f"mqtt-{self.settings.mqtt_client_id}",
            daemon=True,
        )
        self._thread.start()

    def pause_reading(self) -> None:
        """Stop reading messages (nearly: see the module docstring) until `resume_reading`."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()
        self._wake()

    def fall_back_to_311(self) -> None:
        """The broker refused MQTT v5: the same session settings over MQTT 3.1.1."""
        self.stop()
        log.warning("%s refused MQTT v5; connecting with MQTT 3.1.1", self.broker)
        self.protocol = MQTTProtocolVersion.MQTTv311
        self.fallback_needed.clear()
        self.client = self._new_client()
        self.start()

    def stop(self) -> None:
        """Send what is queued (acks included), disconnect and end the network thread."""
        self.connected.clear()
        self.subscribed.clear()
        self._stopping.set()
        self.client.disconnect()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(STOP_SECONDS)
            if self._thread.is_alive():
                log.error("the MQTT network thread did not stop within %g s", STOP_SECONDS)
        self._thread = None
        self.connected.clear()

    def publish(
        self, topic: str, payload: bytes, properties: Properties | None = None
    ) -> mqtt.MQTTMessageInfo:
        """Queue a QoS 1 message (paho sends it from its network thread; never blocks); its
        info tells when the broker has it."""
        if self.protocol != MQTTProtocolVersion.MQTTv5:
            properties = None
        return self.client.publish(topic, payload, qos=1, properties=properties)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
            self._wake_w.send(b"x")

    def _network_loop(self, client: mqtt.Client) -> None:
        """What paho's loop_forever does (connect, serve, reconnect with backoff), with reading
        paused on request."""
        while not self._stopping.is_set():
            try:
                client.reconnect()
            except OSError as exc:
                log.warning("cannot reach %s (%s); retrying", self.broker, exc)
            else:
                try:
                    self._serve(client)
                except Exception:  # a bug must not end the thread: the next connection is new
                    log.exception("the connection to %s failed; reconnecting", self.broker)
            if not self._stopping.wait(self._reconnect_delay):
                self._reconnect_delay = min(2 * self._reconnect_delay, RECONNECT_MAX_SECONDS)

    def _serve(self, client: mqtt.Client) -> None:
        """Until the connection ends.

        `loop_misc` (keepalive) runs every MISC_SECONDS, not after every packet as in paho's own
        loop, and what it queues (a PINGREQ) is written at once: paho drops the connection when
        it runs in the moment between queueing a PINGREQ and writing it one keepalive period
        later, with the PINGRESP still unread (behind a backlog the broker sends first). That
        moment is now microseconds long, so the risk is small, not nil, and only where nothing
        else is sent for a keepalive period while a backlog deeper than that waits (QoS 0)."""
        keepalive = self.settings.mqtt_keepalive_seconds
        trickle, misc_every = keepalive / 4, min(MISC_SECONDS, keepalive / 10)
        last_read = last_misc = time.monotonic()
        while (sock := client.socket()) is not None:
            now = time.monotonic()
            paused = not self._reading.is_set()
            read_due = not paused or now - last_read >= trickle
            pending = read_due and hasattr(sock, "pending") and sock.pending() > 0  # TLS buffer
            timeout = 0.0 if pending else max(0.0, last_misc + misc_every - now)
            if paused:
                timeout = min(timeout, max(0.0, last_read + trickle - now))
            readers = [self._wake_r, sock] if read_due else [self._wake_r]
            writers = [sock] if client.want_write() else []
            try:
                readable, _, _ = select.select(readers, writers, [], timeout)
            except (OSError, ValueError):  # closed under us
                readable = []
            if self._wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            if sock in readable or pending:
                last_read = time.monotonic()
                client.loop_read()
            if client.socket() is not None and client.want_write():  # acks, at once
                client.loop_write()
            if client.socket() is not None and time.monotonic() - last_misc >= misc_every:
                last_misc = time.monotonic()
                client.loop_misc()
                if client.socket() is not None and client.want_write():
                    client.loop_write()

    def _new_client(self) -> mqtt.Client:
        v5 = self.protocol == MQTTProtocolVersion.MQTTv5
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            clean_session=None if v5 else False,
            protocol=self.protocol,
            manual_ack=True,
        )
        # queued packets (acks from other threads) wake our loop instead of being written there
        client.on_socket_register_write = lambda client, userdata, sock: self._wake()
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.settings.mqtt_ca_file, cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if (
                reason_code.value == UNSUPPORTED_PROTOCOL
                and self.protocol == MQTTProtocolVersion.MQTTv5
            ):
                self.fallback_needed.set()
                return
            log.error("%s refused the connection: %s", self.broker, reason_code)
            return
        self._generation += 1
        self._reconnect_delay = RECONNECT_MIN_SECONDS
        log.info(
            "connected to %s (MQTT %s, session %s)",
            self.broker,
            "5" if self.protocol == MQTTProtocolVersion.MQTTv5 else "3.1.1",
            "resumed" if flags.session_present else "new",
        )
        if self.subscriptions:  # a publish-only connection (the alert service) has none
            client.subscribe(self.subscriptions)
        else:
            self.subscribed.set()
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = False
        for (topic, _qos), code in zip(self.subscriptions, reason_codes, strict=False):
            if code.is_failure:
                log.error("%s refused the subscription to %s: %s", self.broker, topic, code)
                refused = True
        if not refused:
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._generation += 1
        if self.connected.is_set():
            log.warning("disconnected from %s (%s); reconnecting", self.broker, reason_code)
        self.connected.clear()
        self.subscribed.clear()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        generation, mid, qos = self._generation, message.mid, message.qos

        def ack() -> None:
            if qos and generation == self._generation:
                client.ack(mid, qos)

        try:
            self.handle_message(message, ack)
        except Exception:  # an exception here would stop the network thread
            log.exception("message on %r not handled", message._topic)
