"""Sending one message to one channel, and what a failure means.

`Refused`: the endpoint refused this message for what it is (HTTP 400, 413, 415, 422; SMTP 5xx
to the message's data): sending it again cannot help, so it is dropped — logged, counted and
recorded. `Unavailable`: everything else (endpoint down or slow, 5xx, 401/403/404 and other
answers about the endpoint's settings, SMTP 4xx, TLS or login failures, a broker that does not
confirm): the message is kept and sent again with backoff. Neither ever carries a password or a
webhook URL's path (where tokens live).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

import requests

from wall.notifications.messages import Message, json_body, subject, text
from wall.notifications.settings import (
    Channel,
    EmailChannel,
    MqttChannel,
    WebhookChannel,
    shown_endpoint,
)

# HTTP answers about the request's content; any other 4xx is about the endpoint or its settings.
REFUSED_STATUSES = frozenset({400, 413, 415, 422})
MQTT_CONFIRM_SECONDS = 10.0


class Refused(Exception):
    """The endpoint refused this message: drop it (never silently)."""


class Unavailable(Exception):
    """The endpoint or the way to it failed: keep the message and try again later."""


Send = Callable[[Message], None]


def webhook_sender(channel: WebhookChannel, tz: ZoneInfo) -> Send:
    where = shown_endpoint(channel.url)
    session = requests.Session()

    def send(message: Message) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.message_id,
            **dict(channel.headers),
        }
        try:
            answer = session.post(
                channel.url,
                data=json_body(channel, message, tz),
                headers=headers,
                timeout=channel.timeout_seconds,
                allow_redirects=False,  # a redirect would turn the POST into a GET
            )
        except requests.RequestException as exc:  # its text may hold the URL: only its kind
            raise Unavailable(f"{where}: {type(exc).__name__}") from None
        if 200 <= answer.status_code < 300:
            return
        said = " ".join(answer.text[:200].split())
        if answer.status_code in REFUSED_STATUSES:
            raise Refused(f"{where} answered {answer.status_code}: {said}")
        raise Unavailable(f"{where} answered {answer.status_code}: {said}")

    return send


def email_message(channel: EmailChannel, message: Message, tz: ZoneInfo) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject(message, channel.language)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{message.message_id}@ioc-wall>"  # the same on every retry
    mail["X-Idempotency-Key"] = message.message_id
    # text/plain; charset=utf-8, 7-bit safe: a server need not accept 8-bit mail
    mail.set_content(text(message, channel.language, tz), cte="quoted-printable")
    return mail


def smtp_send(channel: EmailChannel, mail: EmailMessage) -> None:
    """Hand `mail` to the channel's server: Refused or Unavailable when it did not take it."""
    where = f"smtp {channel.host}:{channel.port}"
    context = ssl.create_default_context(cafile=channel.ca_file)
    try:
        if channel.security == "tls":
            smtp = smtplib.SMTP_SSL(
                channel.host, channel.port, timeout=channel.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=context)  # no STARTTLS offered: fails, never plain
            if channel.username:
                smtp.login(channel.username, channel.password or "")
            smtp.send_message(mail)
    except smtplib.SMTPDataError as exc:
        if 500 <= exc.smtp_code < 600:
            raise Refused(f"{where} refused the message: {exc.smtp_code} {_said(exc)}") from None
        raise Unavailable(f"{where}: {exc.smtp_code} {_said(exc)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = ", ".join(f"{to} {code}" for to, (code, _) in exc.recipients.items())
        raise Unavailable(f"{where} refused every recipient ({codes})") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise Unavailable(f"{where} refused the login: {exc.smtp_code}") from None
    except smtplib.SMTPResponseException as exc:
        raise Unavailable(f"{where}: {exc.smtp_code} {_said(exc)}") from None
    except (smtplib.SMTPException, OSError) as exc:  # down, TLS, no STARTTLS, timeout
        raise Unavailable(f"{where}: {type(exc).__name__}: {exc}") from None


def email_sender(channel: EmailChannel, tz: ZoneInfo) -> Send:
    def send(message: Message) -> None:
        smtp_send(channel, email_message(channel, message, tz))

    return send


def _said(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error
    return (said.decode(errors="replace") if isinstance(said, bytes) else str(said))[:200]


def mqtt_sender(channel: MqttChannel, topic: str, connection, tz: ZoneInfo) -> Send:
    """Over the alert service's MQTT connection (feeds.mqtt_client), waiting for the broker's
    acknowledgement of the QoS 1 message."""

    def send(message: Message) -> None:
        if not connection.client.is_connected():  # paho would queue it: one copy per try
            raise Unavailable(f"mqtt {topic}: not connected to the broker")
        try:
            info = connection.publish(topic, json_body(channel, message, tz))
            info.wait_for_publish(MQTT_CONFIRM_SECONDS)
        except (RuntimeError, ValueError) as exc:  # not connected, queue full
            raise Unavailable(f"mqtt {topic}: {exc}") from None
        if not info.is_published():
            raise Unavailable(
                f"mqtt {topic}: the broker did not confirm within {MQTT_CONFIRM_SECONDS:g} s"
            )

    return send


def sender(channel: Channel, tz: ZoneInfo, mqtt=None, escalation_topic: str = "") -> Send:
    if isinstance(channel, WebhookChannel):
        return webhook_sender(channel, tz)
    if isinstance(channel, EmailChannel):
        return email_sender(channel, tz)
    return mqtt_sender(channel, channel.topic or escalation_topic, mqtt, tz)
