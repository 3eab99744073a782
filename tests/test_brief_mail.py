"""`python -m wall briefs` e-mailing each new brief to a real SMTP server process
(tests/notify_receivers.py): once, with both files attached, and again only after a failure."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from tests.notify_receivers import Receiver
from tests.test_notifications import certificate  # noqa: F401 - a fixture
from wall.brief_mail import mail_states
from wall.settings_core import PROJECT_DIR
from wall.store.sqlite import SQLiteStore

READERS = ["chu.tich@hoathanh.gov.vn", "pho.chu.tich@hoathanh.gov.vn"]


def yesterday():
    return (datetime.now(UTC) + timedelta(hours=7)).date() - timedelta(days=1)


def run_briefs(tmp_path, server: Receiver, **mail) -> subprocess.CompletedProcess:
    table = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "plain",
        "from": "ioc@hoathanh.gov.vn",
        "to_day": READERS,
        "timeout_seconds": 5,
        **mail,
    }
    environ = {
        **os.environ,
        "IOC_STORE": f"sqlite:///{tmp_path / 'ioc.db'}",
        "IOC_BRIEF_DIR": str(tmp_path / "briefs"),
        "IOC_BRIEF_KEEP_DAYS": "2",  # yesterday's and the day before's
        "IOC_BRIEF_EMAIL": json.dumps(table),
    }
    return subprocess.run(
        [sys.executable, "-m", "wall", "briefs", "--once"],
        cwd=PROJECT_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def mails(server: Receiver) -> list[tuple[dict, EmailMessage]]:
    return [
        (r, email.message_from_string(r["data"], policy=email.policy.default))
        for r in server.received()
    ]


def day_stems() -> set[str]:
    return {f"brief-day-{yesterday() - timedelta(days=n)}" for n in range(2)}


@pytest.fixture
def smtp(tmp_path):
    started = []

    def start(*options: str, running: bool = True) -> Receiver:
        server = Receiver("smtp", tmp_path / f"smtp-{len(started)}", *options)
        server.folder.mkdir()
        started.append(server)
        if running:
            server.start()
        return server

    yield start
    for server in started:
        server.stop()


def test_each_new_brief_is_mailed_once_with_its_pdf_and_csv(tmp_path, smtp, certificate):  # noqa: F811
    cert, key = certificate
    server = smtp("--starttls", cert, key, "--login", "ioc:thu-bao-cao-2026")
    login = {"username": "ioc", "password": "thu-bao-cao-2026", "ca_file": cert}
    done = run_briefs(tmp_path, server, security="starttls", **login)
    assert done.returncode == 0, done.stderr
    received = mails(server)
    assert {m["Message-ID"].strip("<>").split("@")[0] for _, m in received} == day_stems()
    for record, mail in received:
        assert record["to"] == READERS and record["tls"] and record["login"]
        stem = mail["Message-ID"].strip("<>").split("@")[0]
        assert "Báo cáo tóm tắt cho lãnh đạo – ngày" in mail["Subject"]
        files = {p.get_filename(): p for p in mail.iter_attachments()}
        assert set(files) == {f"{stem}.pdf", f"{stem}.csv"}
        assert files[f"{stem}.pdf"].get_content_type() == "application/pdf"
        pdf = (tmp_path / "briefs" / f"{stem}.pdf").read_bytes()
        assert files[f"{stem}.pdf"].get_payload(decode=True) == pdf
        assert files[f"{stem}.csv"].get_content_type() == "text/csv"
    assert "brief e-mailed: " in done.stderr

    again = run_briefs(tmp_path, server, security="starttls", **login)
    assert again.returncode == 0, again.stderr
    assert len(server.received()) == 2, "a brief is never e-mailed twice"


def test_a_mail_server_down_is_a_recorded_failure_then_one_delivery(tmp_path, smtp):
    server = smtp(running=False)  # its port is known, nothing listens yet
    down = run_briefs(tmp_path, server)
    assert down.returncode == 1
    assert "Traceback" not in down.stderr
    for stem in day_stems():
        assert f"brief not e-mailed: {stem}: smtp 127.0.0.1:{server.port}:" in down.stderr
    with SQLiteStore(tmp_path / "ioc.db") as store:
        states = mail_states(store)
    assert all(states[s].failure and not states[s].sent_at for s in day_stems()), states

    server.start()
    back = run_briefs(tmp_path, server)
    assert back.returncode == 0, back.stderr
    assert sorted(m["X-Idempotency-Key"] for _, m in mails(server)) == sorted(day_stems())
    assert run_briefs(tmp_path, server).returncode == 0
    assert len(server.received()) == 2, "sent once, never again"
    with SQLiteStore(tmp_path / "ioc.db") as store:
        assert all(mail_states(store)[s].sent_at for s in day_stems())


def test_a_bad_mail_setting_is_one_line_naming_it(tmp_path, smtp):
    server = smtp(running=False)
    done = run_briefs(tmp_path, server, to_day=["not an address"])
    assert done.returncode == 2, done.stderr
    assert "IOC_BRIEF_EMAIL" in done.stderr and "'not an address' is not a mail address" in (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
