"""Notifications as people meet them: routing and quiet hours with injected times (pure), then
a real HTTP receiver and a real SMTP server (STARTTLS, implicit TLS, plain when set) started on
free ports, the outbox over a real store, and the alert service killed and started again."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.notify_receivers import Receiver
from wall.alerts.model import STREAM, fold, officer_action
from wall.notifications.messages import Message, json_body, notices, routed, text
from wall.notifications.outbox import RECORDS, Outbox, fitting_notices
from wall.notifications.senders import sender
from wall.notifications.service import channels_in_force
from wall.notifications.settings import parse_channels
from wall.settings import Settings, load_settings
from wall.settings_core import PROJECT_DIR
from wall.store import Event, Point, Store, open_store

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 08:00 in Hòa Thành
WARD = "Thanh Điền"


def channel(**table):
    table.setdefault("type", "webhook")
    table.setdefault("name", "chat")
    if table["type"] == "webhook":
        table.setdefault("url", "http://127.0.0.1:9/hook")
    return parse_channels([table])[0]


def raised(
    entity: str = "cam-1",
    at: datetime = T0,
    severity: str = "high",
    rule: str = "camera_offline",
    ward: str = WARD,
) -> Event:
    data = {"rule": rule, "entity": entity, "severity": severity, "ward": ward, "facts": {}}
    return Event.new(STREAM, f"{rule}:{entity}", "raised", actor="system", data=data, at=at)


def notice_of(event: Event):
    return notices([event])[0]


def wait_for(condition: Callable[[], object], seconds: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


# Routing and quiet hours: pure, with the event's time injected


def test_routing_by_severity_rules_wards_and_events() -> None:
    high = notice_of(raised(severity="high"))
    assert routed(channel().routing, high, TZ)
    assert not routed(channel(min_severity="critical").routing, high, TZ)
    assert routed(channel(min_severity="high").routing, high, TZ)
    assert routed(channel(rules=["camera_offline"]).routing, high, TZ)
    assert not routed(channel(rules=["ap_down", "report_overdue"]).routing, high, TZ)
    assert routed(channel(wards=[WARD]).routing, high, TZ)
    assert not routed(channel(wards=["Hiệp Tân"]).routing, high, TZ)
    assert not routed(channel(events=["escalated", "cleared"]).routing, high, TZ)


def test_quiet_hours_are_the_citys_clock_and_let_critical_alerts_through() -> None:
    quiet = channel(quiet_hours="22:00-06:00").routing
    # 22:00-06:00 in Hòa Thành (UTC+7) is 15:00-23:00 UTC.
    night = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert not routed(quiet, notice_of(raised(at=night)), TZ)
    assert not routed(quiet, notice_of(raised(at=night + timedelta(hours=7, minutes=59))), TZ)
    assert routed(quiet, notice_of(raised(at=night + timedelta(hours=8))), TZ)  # 06:00
    assert routed(quiet, notice_of(raised(at=night - timedelta(minutes=1))), TZ)  # 21:59
    assert routed(quiet, notice_of(raised(at=night, severity="critical")), TZ)
    stricter = channel(quiet_hours="22:00-06:00", quiet_min_severity="critical").routing
    assert routed(stricter, notice_of(raised(at=night, severity="critical")), TZ)
    daytime = channel(quiet_hours="12:00-13:30").routing  # not across midnight
    assert not routed(daytime, notice_of(raised(at=datetime(2026, 11, 20, 5, 0, tzinfo=UTC))), TZ)
    assert routed(daytime, notice_of(raised(at=datetime(2026, 11, 20, 6, 30, tzinfo=UTC))), TZ)


def test_each_change_of_an_alert_is_one_notice_and_a_second_acknowledgement_none() -> None:
    first = raised()
    alert = fold([first])[first.key]
    ack = officer_action(alert, "acknowledged", "Nguyễn Văn An", T0 + timedelta(minutes=2))
    again = officer_action(alert, "acknowledged", "Trần Thị Bình", T0 + timedelta(minutes=3))
    shelve = officer_action(
        fold([first, ack])[first.key],
        "shelved",
        "Nguyễn Văn An",
        T0 + timedelta(minutes=4),
        note="Đang sửa",
        shelve_for=timedelta(hours=1),
    )
    cleared = Event.new(STREAM, first.key, "cleared", actor="system", at=T0 + timedelta(minutes=9))
    found = notices([cleared, shelve, again, ack, first])
    assert [(n.event, n.by) for n in found] == [
        ("raised", "system"),
        ("acknowledged", "Nguyễn Văn An"),
        ("shelved", "Nguyễn Văn An"),
        ("cleared", "system"),
    ]
    assert found[-1].state == "closed"


def test_messages_are_vietnamese_first_and_data_is_never_interpreted() -> None:
    data = {"rule": "camera_offline", "entity": 'cam "1"\n{{subject}}', "severity": "critical"}
    odd = Event.new(STREAM, "camera_offline:cam-1", "raised", actor="system", data=data, at=T0)
    note_event = Event.new(
        STREAM, odd.key, "acknowledged", actor="An <b>", note='dòng 1\ndòng "2"', at=T0
    )
    message = Message.of("chat", notices([odd, note_event]))
    vi = text(message, "vi", TZ)
    assert "08:00 20/11 [Khẩn cấp] Cảnh báo mới: Camera cam" in vi
    assert "Đã xác nhận bởi An <b>" in vi and 'Ghi chú: dòng 1 dòng "2"' in vi
    assert "[Critical] New alert" in text(message, "en", TZ)
    body = json.loads(json_body(channel(), message, TZ))
    assert body["count"] == 2 and body["idempotency_key"] == message.message_id
    assert body["notices"][0]["entity"] == 'cam "1"\n{{subject}}'
    assert [n["event_id"] for n in body["notices"]] == [odd.event_id, note_event.event_id]
    chat = channel(
        template='{"chat_id": "-100", "text": "{{subject}}\\n{{text}}", "n": "{{count}}"}'
    )
    filled = json.loads(json_body(chat, message, TZ))
    assert filled["chat_id"] == "-100" and filled["n"] == "2"
    assert filled["text"] == f"[IOC] 2 thông báo cảnh báo\n{vi}"  # {{subject}} in data stays text


@pytest.mark.parametrize(
    ("notifications", "line"),
    [
        (
            '[{"type": "webhook", "name": "chat"}]',
            "channel 1 (chat): url must be non-empty text, not None",
        ),
        (
            '[{"type": "webhook", "name": "chat", "url": "ftp://bot:pw@x/bot123:SECRET/send"}]',
            "channel 1 (chat): url 'ftp://x/…' is not an http:// or https:// URL with a host",
        ),
        (
            '[{"type": "sms", "name": "x"}]',
            "channel 1 (x): type: 'sms' is not one of webhook, email, mqtt",
        ),
        (
            '[{"type": "email", "name": "mail", "host": "h", "from": "a@b", "to": "c@d", '
            '"pasword": "SECRET"}]',
            "channel 1 (mail): pasword unknown; a email channel has: ca_file, from, host, "
            "password, port, security, timeout_seconds, to, username",
        ),
        (
            '[{"type": "webhook", "name": "chat", "url": "http://h/", "quiet_hours": "22h-6h"}]',
            "channel 1 (chat): quiet_hours: '22h' is not a time of day (hh:mm)",
        ),
        (
            '[{"type": "webhook", "name": "chat", "url": "http://h/", "wards": ["Phường 99"]}]',
            "channel chat: ward 'Phường 99' is not a unit of the city profile (",
        ),
        (
            '[{"type": "webhook", "name": "chat", "url": "http://h/", "template": "{\\"text\\": '
            '\\"{{body}}\\"}"}]',
            "channel 1 (chat): template: {{body}} unknown; known: text, subject, count, "
            "idempotency_key, channel",
        ),
    ],
)
def test_bad_channel_settings_get_one_line_naming_the_setting(tmp_path, notifications, line):
    result = subprocess.run(
        [sys.executable, "-m", "wall", "alerts"],
        env={
            "IOC_NOTIFICATIONS": notifications,
            "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}",
            "IOC_HEARTBEAT_DIR": str(tmp_path),
            "PATH": "",
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"wall: bad setting IOC_NOTIFICATIONS: {line}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "SECRET" not in result.stderr


# Real receivers, the outbox over a real store


@pytest.fixture
def receiver(tmp_path) -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(kind: str = "http", *options: str, running: bool = True) -> Receiver:
        server = Receiver(kind, tmp_path / f"{kind}-{len(started)}", *options)
        server.folder.mkdir()
        started.append(server)
        if running:
            server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    with open_store(Settings(store=f"sqlite:///{tmp_path / 'ioc.db'}")) as store:
        yield store


def outbox(store: Store, tables: list[dict], status: Path | None = None) -> Outbox:
    channels = parse_channels(tables)
    running = Outbox(
        store, [(c, sender(c, TZ)) for c in channels], TZ, every_seconds=0.1, status_path=status
    )
    running.start()
    wait_for(
        lambda: len([r for r in store.events(RECORDS) if r.kind == "opened"]) >= len(channels),
        what="the channels opened",
    )
    return running


def records(store: Store, kind: str, channel: str | None = None) -> list[Event]:
    return [r for r in store.events(RECORDS, key=channel) if r.kind == kind]


def bodies(server: Receiver, status: int = 200) -> list[dict]:
    return [json.loads(r["body"]) for r in server.received() if r["status"] == status]


def now() -> datetime:
    return datetime.now(UTC)


def test_webhook_is_told_of_raise_acknowledgement_shelve_escalation_and_clear(
    sqlite_store, receiver
) -> None:
    hook = receiver("http")
    running = outbox(sqlite_store, [{"type": "webhook", "name": "chat", "url": hook.url,
                                     "group_seconds": 0.1, "language": "en"}])  # fmt: skip
    try:
        first = raised(at=now(), severity="critical")
        sqlite_store.append_events([first])
        wait_for(lambda: bodies(hook), what="the raise")
        alert = fold(sqlite_store.events(STREAM))[first.key]
        actions = [officer_action(alert, "acknowledged", "Lê Văn Cường", now())]
        actions.append(
            officer_action(
                alert,
                "shelved",
                "Lê Văn Cường",
                now(),
                note="Đội kỹ thuật đang tới",
                shelve_for=timedelta(minutes=30),
            )
        )
        actions.append(Event.new(STREAM, first.key, "escalated", actor="system"))
        actions.append(Event.new(STREAM, first.key, "cleared", actor="system"))
        for event in actions:
            sqlite_store.append_events([event])
            time.sleep(0.15)
        told = wait_for(
            lambda: (n := [n for b in bodies(hook) for n in b["notices"]]) and len(n) >= 5 and n,
            what="five notices",
        )
    finally:
        running.stop()
    assert [(n["event"], n["by"]) for n in told] == [
        ("raised", "system"),
        ("acknowledged", "Lê Văn Cường"),
        ("shelved", "Lê Văn Cường"),
        ("escalated", "system"),
        ("cleared", "system"),
    ]
    assert told[2]["note"] == "Đội kỹ thuật đang tới"
    assert [n["event_id"] for n in told] == [first.event_id, *(e.event_id for e in actions)]
    for request in hook.received():
        body = json.loads(request["body"])
        assert request["headers"]["Idempotency-Key"] == body["idempotency_key"]
        assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert "Acknowledged by Lê Văn Cường" in bodies(hook)[1]["text"]
    delivered = records(sqlite_store, "delivered", "chat")
    assert len(delivered) == len(hook.received())


def mail_channel(server: Receiver, security: str, **extra) -> dict:
    return {"type": "email", "name": f"mail-{security}", "host": "127.0.0.1",
            "port": server.port, "security": security, "from": "ioc@hoathanh.gov.vn",
            "to": ["trucban@hoathanh.gov.vn"], "group_seconds": 0.1, **extra}  # fmt: skip


def mails(server: Receiver) -> list:
    return [
        (r, email.message_from_bytes(r["data"].encode(), policy=email.policy.default))
        for r in server.received()
    ]


def test_email_over_starttls_and_implicit_tls_with_a_login(
    sqlite_store, receiver, certificate, caplog
) -> None:
    cert, key = certificate
    login = ("ioc", "mat-khau-SECRET")
    starttls = receiver("smtp", "--starttls", cert, key, "--login", ":".join(login))
    tls = receiver("smtp", "--tls", cert, key, "--login", ":".join(login))
    credentials = {"username": login[0], "password": login[1], "ca_file": cert}
    running = outbox(
        sqlite_store,
        [
            mail_channel(starttls, "starttls", **credentials),
            mail_channel(tls, "tls", **credentials),
        ],
    )
    try:
        sqlite_store.append_events([raised(entity="cam-07", at=now(), severity="critical")])
        wait_for(lambda: starttls.received() and tls.received(), what="both mails")
    finally:
        running.stop()
    for server in (starttls, tls):
        [(record, mail)] = mails(server)
        assert record["tls"] and record["to"] == ["trucban@hoathanh.gov.vn"]
        assert mail["Subject"] == "[IOC] Khẩn cấp – Cảnh báo mới: Camera cam-07 mất kết nối"
        assert mail.get_content_type() == "text/plain"
        assert "[Khẩn cấp] Cảnh báo mới: Camera cam-07 mất kết nối" in mail.get_content()
        assert mail["Message-ID"].startswith("<") and mail["X-Idempotency-Key"]
    assert "SECRET" not in caplog.text


def test_email_is_never_sent_in_the_clear_unless_plain_is_set(
    sqlite_store, receiver, caplog
) -> None:
    plain_server = receiver("smtp")
    running = outbox(
        sqlite_store,
        [mail_channel(plain_server, "starttls"), {**mail_channel(plain_server, "plain")}],
    )
    try:
        sqlite_store.append_events([raised(at=now())])
        wait_for(lambda: records(sqlite_store, "delivered", "mail-plain"), what="plain delivery")
        wait_for(lambda: "mail-starttls failing" in caplog.text, what="starttls refused")
    finally:
        running.stop()
    [(record, _)] = mails(plain_server)
    assert not record["tls"]
    assert not records(sqlite_store, "delivered", "mail-starttls")
    assert "STARTTLS" in caplog.text or "SMTPNotSupportedError" in caplog.text


def test_an_endpoint_that_never_answers_does_not_delay_a_working_one(
    sqlite_store, receiver, caplog
) -> None:
    silent, up = receiver("http"), receiver("http")
    silent.answer_with("hang")
    running = outbox(
        sqlite_store,
        [
            {"type": "webhook", "name": "silent", "url": silent.url, "group_seconds": 0.1,
             "timeout_seconds": 3},
            {"type": "webhook", "name": "up", "url": up.url, "group_seconds": 0.1},
        ],
    )  # fmt: skip
    try:
        started = time.monotonic()
        sqlite_store.append_events([raised(at=now())])
        wait_for(lambda: bodies(up), what="the working endpoint told")
        took = time.monotonic() - started
        wait_for(lambda: "channel silent failing" in caplog.text, what="the timeout")
    finally:
        running.stop()
    assert took < 2.0, f"the working endpoint waited {took:.1f} s"
    assert "ReadTimeout" in caplog.text
    assert not records(sqlite_store, "delivered", "silent")
    assert len(records(sqlite_store, "queued", "silent")) == 1  # kept for the next try


def test_a_failing_endpoint_does_not_delay_a_working_one_and_is_retried(
    sqlite_store, receiver
) -> None:
    down, up = receiver("http"), receiver("http")
    down.answer_with(503)
    running = outbox(
        sqlite_store,
        [
            {"type": "webhook", "name": "down", "url": down.url, "group_seconds": 0.1},
            {"type": "webhook", "name": "up", "url": up.url, "group_seconds": 0.1},
        ],
    )
    try:
        started = time.monotonic()
        sqlite_store.append_events([raised(at=now())])
        wait_for(lambda: bodies(up), what="the working endpoint told")
        took = time.monotonic() - started
        wait_for(lambda: len(down.received()) >= 3, what="three tries of the failing endpoint")
        down.answer_with(200)
        wait_for(lambda: bodies(down), seconds=30, what="the recovered endpoint told")
        time.sleep(1.0)
    finally:
        running.stop()
    assert took < 2.0, f"the working endpoint waited {took:.1f} s"
    tries = down.received()
    assert len({t["headers"]["Idempotency-Key"] for t in tries}) == 1  # one message, tried again
    assert len(bodies(down)) == 1 and len(bodies(up)) == 1
    first, second = tries[1]["at"] - tries[0]["at"], tries[2]["at"] - tries[1]["at"]
    assert first >= 0.9 and second >= 1.9, (first, second)  # backed off: 1 s, then 2 s


def test_a_message_the_endpoint_refuses_is_dropped_logged_counted_and_shown(
    sqlite_store, receiver, tmp_path, caplog
) -> None:
    hook = receiver("http")
    hook.answer_with(400)
    status = tmp_path / "notifications.json"
    running = outbox(
        sqlite_store,
        [{"type": "webhook", "name": "chat", "url": hook.url, "group_seconds": 0.1}],
        status=status,
    )
    try:
        sqlite_store.append_events([raised(at=now())])
        wait_for(lambda: records(sqlite_store, "dropped", "chat"), what="the drop recorded")
        time.sleep(1.5)  # a dropped message is not tried again
    finally:
        running.stop()
    assert len(hook.received()) == 1
    assert "answered 400" in records(sqlite_store, "dropped", "chat")[0].data["reason"]
    assert "notification" in caplog.text and "dropped" in caplog.text
    shown = json.loads(status.read_text())["chat"]
    assert shown["dropped"] == 1 and "answered 400" in shown["last_drop"]
    assert "/hook" not in shown["last_drop"]  # the URL's path (a token's place) is not shown


def test_a_flood_of_30_alerts_is_grouped_into_one_message_per_period(
    sqlite_store, receiver
) -> None:
    hook = receiver("http")
    running = outbox(
        sqlite_store, [{"type": "webhook", "name": "chat", "url": hook.url, "group_seconds": 2}]
    )
    try:
        started = time.monotonic()
        for batch in range(10):  # 30 raises over about 3 s, as a ward losing power
            sqlite_store.append_events([raised(f"cam-{batch}-{i}", at=now()) for i in range(3)])
            time.sleep(0.3)
        wait_for(lambda: sum(b["count"] for b in bodies(hook)) >= 30, seconds=30, what="30 notices")
        took = time.monotonic() - started
    finally:
        running.stop()
    messages = bodies(hook)
    ids = [n["event_id"] for b in messages for n in b["notices"]]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert len(messages) <= 1 + int(took / 2) + 1, [b["count"] for b in messages]
    assert len(messages) < 5
    grouped = max(messages, key=lambda b: b["count"])
    assert grouped["text"].count("\n") == grouped["count"] - 1
    assert grouped["subject"] == f"[IOC] {grouped['count']} thông báo cảnh báo"


def test_an_event_written_while_no_outbox_ran_is_told_once_after_the_start(store, receiver) -> None:
    """On both stores: the records go through the store interface only."""
    hook = receiver("http")
    table = [{"type": "webhook", "name": "chat", "url": hook.url, "group_seconds": 0.1}]
    outbox(store, table).stop()
    unseen = raised(at=now())
    store.append_events([unseen])  # the evaluator raised; the service died before telling
    for _ in range(3):  # three restarts
        running = outbox(store, table)
        try:
            wait_for(lambda: bodies(hook), what="the raise told")
            time.sleep(0.5)
        finally:
            running.stop()
    assert [n["event_id"] for b in bodies(hook) for n in b["notices"]] == [unseen.event_id]


def alert_service(store_path: Path, heartbeat: Path, hook_url: str) -> subprocess.Popen:
    notifications = [{"type": "webhook", "name": "duty", "url": hook_url, "group_seconds": 1}]
    env = {
        "IOC_STORE": f"sqlite:///{store_path}",
        "IOC_HEARTBEAT_DIR": str(heartbeat),
        "IOC_NOTIFICATIONS": json.dumps(notifications),
        "IOC_ALERT_EVALUATE_SECONDS": "0.3",
        "IOC_NOTIFICATION_OUTBOX_SECONDS": "0.3",
        "IOC_ALERT_RULES": json.dumps(
            {"ward_cameras_offline": {"minutes": 0}, "feed_silent": {"enabled": False}}
        ),
        "PATH": os.environ.get("PATH", ""),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "wall", "alerts"], env=env, cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_the_alert_service_killed_before_telling_tells_once_after_restarts(
    tmp_path, receiver
) -> None:
    store_path, heartbeat = tmp_path / "ioc.db", tmp_path / "heartbeat"
    heartbeat.mkdir()
    with open_store(Settings(store=f"sqlite:///{store_path}")) as store:
        store.write(
            Point("camera_status", {"camera_id": f"c{i}", "ward": WARD}, {"online": False}, now())
            for i in range(4)
        )
        hook = receiver("http", running=False)  # the endpoint is down at first
        service = alert_service(store_path, heartbeat, hook.url)
        try:
            wait_for(lambda: records(store, "queued", "duty"), what="the raise queued")
        finally:
            service.send_signal(signal.SIGKILL)  # killed between raising and telling
            service.wait(10)
        assert not records(store, "delivered", "duty")
        raises = [e for e in store.events(STREAM) if e.kind == "raised"]
        assert len(raises) == 1
        hook.start()
        for _ in range(2):  # a restart that tells, and one that must not tell again
            started = time.time()
            service = alert_service(store_path, heartbeat, hook.url)
            try:
                wait_for(lambda: records(store, "delivered", "duty"), what="delivered")
                wait_for(
                    lambda since=started: (heartbeat / "alerts").stat().st_mtime > since + 1.0,
                    what="the service's passes",
                )
            finally:
                service.send_signal(signal.SIGTERM)
                assert service.wait(20) == 0
        told = [n["event_id"] for b in bodies(hook) for n in b["notices"]]
        health = subprocess.run(
            [sys.executable, "-m", "wall", "health", "alerts"],
            env={"IOC_HEARTBEAT_DIR": str(heartbeat), "IOC_ALERT_EVALUATE_SECONDS": "30",
                 "PATH": ""},
            capture_output=True, text=True, timeout=60, cwd=PROJECT_DIR,
        )  # fmt: skip
    assert told == [raises[0].event_id]
    assert health.returncode == 0, health.stderr
    assert "notifications duty: 0 delivered since start, 0 message(s) pending" in health.stdout


def test_a_chat_bot_is_reached_by_a_template_and_its_token_is_never_shown(
    sqlite_store, receiver, tmp_path, caplog
) -> None:
    bot = receiver("http")
    bot.answer_with(502)
    url = f"http://127.0.0.1:{bot.port}/bot8123:TOKEN-SECRET/sendMessage"
    template = '{"chat_id": "-1001234", "text": "{{subject}}\\n{{text}}", "parse_mode": ""}'
    status = tmp_path / "notifications.json"
    running = outbox(
        sqlite_store,
        [
            {
                "type": "webhook",
                "name": "zalo",
                "url": url,
                "template": template,
                "group_seconds": 0.1,
            }
        ],
        status=status,
    )
    try:
        sqlite_store.append_events([raised(entity="<script>", at=now())])
        wait_for(
            lambda: status.exists() and json.loads(status.read_text())["zalo"]["failing_since"],
            what="the channel shown failing",
        )
        shown = status.read_text()
        bot.answer_with(200)
        wait_for(lambda: bodies(bot), seconds=30, what="the bot told")
    finally:
        running.stop()
    [request] = [r for r in bot.received() if r["status"] == 200]
    assert request["path"] == "/bot8123:TOKEN-SECRET/sendMessage"
    sent = json.loads(request["body"])
    assert set(sent) == {"chat_id", "text", "parse_mode"}
    assert sent["text"].startswith("[IOC] Cao – Cảnh báo mới: Camera <script> mất kết nối\n")
    assert "TOKEN-SECRET" not in caplog.text and "TOKEN-SECRET" not in shown
    assert "http://127.0.0.1:" in shown and "/…" in shown


def test_wall_check_shows_the_channels_of_the_settings_file_without_secrets(tmp_path) -> None:
    config = tmp_path / "ioc.toml"
    config.write_text(
        """
[[notifications]]
type = "webhook"
name = "chat"
url = "https://chat.example/hooks/TOKEN-SECRET?key=KEY-SECRET"
headers = { Authorization = "Bearer HEADER-SECRET" }
min_severity = "high"
wards = ["Thanh Điền"]
quiet_hours = "22:00-06:00"

[[notifications]]
type = "email"
name = "duty-mail"
host = "smtp.hoathanh.gov.vn"
from = "ioc@hoathanh.gov.vn"
to = ["trucban@hoathanh.gov.vn"]
username = "ioc"
password = "PASSWORD-SECRET"
language = "en"
""",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "wall", "--config", str(config), "check"],
        env={"IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}", "PATH": ""},
        capture_output=True, text=True, timeout=60, cwd=PROJECT_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "SECRET" not in result.stdout + result.stderr
    shown = json.loads(result.stdout[: result.stdout.index("\n}\n") + 2])["notifications"]
    assert [(c["type"], c["name"]) for c in shown] == [("webhook", "chat"), ("email", "duty-mail")]
    assert shown[0]["url"] == "https://chat.example/…"
    assert shown[0]["routing"]["quiet_hours"] == "22:00-06:00"
    assert shown[0]["routing"]["wards"] == ["Thanh Điền"]
    assert shown[1]["password"] == "***" and shown[1]["security"] == "starttls"
    assert shown[1]["port"] == 587 and shown[1]["language"] == "en"


def test_the_example_channels_of_the_docs_are_good_settings(tmp_path) -> None:
    docs = (PROJECT_DIR / "docs" / "notifications.md").read_text(encoding="utf-8")
    example = docs.split("```toml\n")[1].split("```")[0].replace('"…"', '"x"')
    config = tmp_path / "ioc.toml"
    config.write_text(example, encoding="utf-8")
    settings = load_settings(config, environ={"IOC_MQTT_URL": "mqtt://127.0.0.1:1883"})
    channels = channels_in_force(settings)
    assert [c.name for c in channels] == ["ops-hook", "zalo-oa", "duty-mail", "pager"]
    assert channels[1].routing.quiet_hours is not None


def test_a_mail_the_server_refuses_for_its_content_is_dropped_and_a_busy_one_kept(
    sqlite_store, receiver
) -> None:
    refusing, busy = (
        receiver("smtp", "--refuse-data", "554"),
        receiver("smtp", "--refuse-data", "451"),
    )
    running = outbox(
        sqlite_store,
        [
            mail_channel(refusing, "plain", name="refusing"),
            mail_channel(busy, "plain", name="busy"),
        ],
    )
    try:
        sqlite_store.append_events([raised(at=now())])
        wait_for(lambda: records(sqlite_store, "dropped", "refusing"), what="the 554 dropped")
        time.sleep(2.0)
    finally:
        running.stop()
    assert "554" in records(sqlite_store, "dropped", "refusing")[0].data["reason"]
    assert not records(sqlite_store, "dropped", "busy")  # 451: tried again, never dropped
    assert not records(sqlite_store, "delivered", "busy")
    assert len(records(sqlite_store, "queued", "busy")) == 1


def test_a_queued_message_fits_one_text_field_of_the_store() -> None:
    long_note = "Đội kỹ thuật " * 76  # 988 characters, near the notes' limit
    found = []
    for i in range(60):
        first = raised(f"cam-{i}")
        ack = officer_action(fold([first])[first.key], "acknowledged", "An", T0, note=long_note)
        found.append(notices([first, ack])[1])
    taken = fitting_notices(found)
    assert 0 < len(taken) < len(found)
    assert len(json.dumps(Message.of("chat", taken).record(), ensure_ascii=False).encode()) < 33_000
