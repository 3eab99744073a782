"""The officer console over HTTP (Flask test client on a real store): who may change what."""

from __future__ import annotations

import csv
import io
import re
import stat
import time
from datetime import UTC, datetime

import pytest
from flask import Flask

from wall.alerts.model import STREAM, fold
from wall.cache import init_cache
from wall.officer_console import load_secret_key, register
from wall.officers import add_officer
from wall.settings import Settings, SettingsError
from wall.store import Event, Store

PASSWORD = "ca trực đêm 2026"
XSS = "<img src=x onerror=alert(1)>"


def raise_alert(store: Store, entity: str = "cam-001", name: str = "Cổng Tòa Thánh") -> str:
    key = f"camera_offline:{entity}"
    data = {
        "rule": "camera_offline",
        "entity": entity,
        "severity": "high",
        "ward": "Long Thành Bắc",
    }
    data["facts"] = {"name": name}
    store.append_events([Event.new(STREAM, key, "raised", actor="system", data=data)])
    return key


@pytest.fixture
def console(store: Store, tmp_path):
    settings = Settings(
        store="sqlite:///unused.db",
        cache_url=f"file://{tmp_path / 'cache'}",
        secret_key_file=str(tmp_path / "secret_key"),
    )
    server = Flask(__name__)
    init_cache(server, settings)
    register(server, settings, store)
    add_officer(store, "nguyen.an", PASSWORD)
    add_officer(store, "tran.binh", PASSWORD + "!")
    return server


def csrf(client, path: str = "/officer/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, name: str = "nguyen.an", password: str = PASSWORD):
    return client.post(
        "/officer/signin",
        data={"name": name, "password": password, "csrf_token": csrf(client)},
    )


def act(client, key: str, action: str, **form):
    token = csrf(client, "/officer")
    return client.post(
        "/officer/action", data={"key": key, "action": action, "csrf_token": token, **form}
    )


def test_signed_in_officer_acknowledges_and_the_log_records_who(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    assert sign_in(client).status_code == 302
    page = client.get("/officer").get_data(as_text=True)
    assert "Camera Cổng Tòa Thánh mất kết nối" in page
    response = act(client, key, "acknowledged", note="Đã cử đội kỹ thuật")
    assert response.status_code == 302
    alert = fold(store.events(STREAM))[key]
    assert (alert.state, alert.acked_by) == ("active_ack", "nguyen.an")
    assert "Đã ghi nhận: Xác nhận" in client.get("/officer").get_data(as_text=True)


def test_requests_without_a_session_change_nothing(console, store) -> None:
    key = raise_alert(store)
    kiosk = console.test_client()
    kiosk.get("/officer/signin")  # a kiosk that even fetched a form token, but never signed in
    token = csrf(kiosk)
    response = kiosk.post(
        "/officer/action", data={"key": key, "action": "acknowledged", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "Yêu cầu bị từ chối" in response.get_data(as_text=True)
    assert [e.kind for e in store.events(STREAM)] == ["raised"]


def test_a_wrong_or_missing_csrf_token_is_refused(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    for token in ("", "forged-token"):
        response = client.post(
            "/officer/action", data={"key": key, "action": "acknowledged", "csrf_token": token}
        )
        assert response.status_code == 403
    response = client.post(
        "/officer/action",
        data={"key": key, "action": "acknowledged", "csrf_token": csrf(client, "/officer")},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403
    assert [e.kind for e in store.events(STREAM)] == ["raised"]
    assert (
        client.post("/officer/signin", data={"name": "nguyen.an", "password": PASSWORD}).status_code
        == 403
    )


def test_two_officers_acknowledging_at_once_are_both_in_the_audit(console, store) -> None:
    key = raise_alert(store)
    an, binh = console.test_client(), console.test_client()
    sign_in(an)
    sign_in(binh, "tran.binh", PASSWORD + "!")
    token_an, token_binh = (
        csrf(an, "/officer"),
        csrf(binh, "/officer"),
    )  # both see it unacknowledged
    for client, token, note in ((an, token_an, "tôi nhận"), (binh, token_binh, "tôi cũng nhận")):
        client.post(
            "/officer/action",
            data={"key": key, "action": "acknowledged", "csrf_token": token, "note": note},
        )
    acks = [e for e in store.events(STREAM) if e.kind == "acknowledged"]
    assert sorted(e.actor for e in acks) == ["nguyen.an", "tran.binh"]
    audit = an.get("/officer/audit").get_data(as_text=True)
    assert "tôi nhận" in audit and "tôi cũng nhận" in audit
    csv_text = an.get("/officer/audit.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffThời điểm,Cán bộ,Thao tác,Cảnh báo,Ghi chú")
    assert csv_text.count("Xác nhận") == 2


def test_shelve_needs_a_reason_and_a_bounded_time(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    assert act(client, key, "shelved", note="", minutes="30").status_code == 400
    assert act(client, key, "shelved", note="bảo trì", minutes="100000").status_code == 400
    assert act(client, key, "shelved", note="Bảo trì theo lịch", minutes="30").status_code == 302
    alert = fold(store.events(STREAM))[key]
    assert alert.shelved(datetime.now(UTC))
    assert alert.shelve_reason == "Bảo trì theo lịch"


def test_text_from_feeds_and_officers_renders_as_text(console, store) -> None:
    key = raise_alert(store, name=XSS)
    client = console.test_client()
    sign_in(client)
    act(client, key, "noted", note=XSS)
    for path in ("/officer", "/officer/audit"):
        page = client.get(path).get_data(as_text=True)
        assert XSS not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_failed_sign_ins_are_rate_limited(console) -> None:
    client = console.test_client()
    for _ in range(5):
        assert sign_in(client, password="sai mật khẩu").status_code == 401
    limited = sign_in(client)  # even the right password waits now
    assert limited.status_code == 429
    assert 299 <= int(limited.headers["Retry-After"]) <= 300
    page = limited.get_data(as_text=True)
    assert re.search(
        r"Quá nhiều lần đăng nhập sai. Vui lòng thử lại sau 5 phút \(lúc \d\d:\d\d\)", page
    )
    # The officer's colleague at another desk is not held up.
    other_desk = console.test_client()
    other_desk.environ_base["REMOTE_ADDR"] = "10.20.0.16"
    assert sign_in(other_desk).status_code == 302


BAD_SIGNIN_FORMS = {
    "no fields but the token": {},
    "no password": {"name": "nguyen.an"},
    "no name": {"password": PASSWORD},
    "empty name": {"name": "  ", "password": PASSWORD},
    "a name of 5,000 characters": {"name": "a" * 5_000, "password": PASSWORD},
    "a password of 5,000 characters": {"name": "nguyen.an", "password": "p" * 5_000},
    "control characters": {"name": "nguyen.an\x00\r\n", "password": "\x00" * 20},
    "a list of names": {"name": ["nguyen.an", "tran.binh"], "password": "sai mật khẩu"},
    "a name sent as a file": {"name": (b"nguyen.an", "name.txt"), "password": "x"},
}


@pytest.mark.parametrize("form", BAD_SIGNIN_FORMS.values(), ids=BAD_SIGNIN_FORMS.keys())
def test_bad_sign_in_forms_get_a_4xx_answer_never_a_500(console, form) -> None:
    client = console.test_client()
    files = {k: (io.BytesIO(v[0]), v[1]) for k, v in form.items() if isinstance(v, tuple)}
    response = client.post("/officer/signin", data={**form, **files, "csrf_token": csrf(client)})
    assert 400 <= response.status_code < 500
    assert sign_in(client).status_code == 302  # and sign-in still works for the officer


def test_sign_in_bodies_that_are_no_form_get_a_4xx_answer(console) -> None:
    client = console.test_client()
    token = csrf(client)
    answers = [
        client.post("/officer/signin", json={"name": "nguyen.an", "password": PASSWORD}),
        client.post("/officer/signin", data=b"\xff\xfe\x00garbage", content_type="text/plain"),
        client.post(
            "/officer/signin",
            data=f"csrf_token={token}&name=%ff%fe&password=%ff".encode(),
            content_type="application/x-www-form-urlencoded",
        ),
        client.post(  # 10 MB: refused before it is read
            "/officer/signin", data={"csrf_token": token, "name": "n" * 10_000_000}
        ),
        client.post("/officer/signin", data=b"--x\r\n", content_type="multipart/form-data"),
    ]
    assert [r.status_code for r in answers] == [403, 403, 401, 413, 403]


def test_audit_csv_cells_that_a_spreadsheet_would_run_are_text(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    notes = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "a=b"]
    for note in notes:
        assert act(client, key, "noted", note=note).status_code == 302
    rows = list(csv.reader(io.StringIO(client.get("/officer/audit.csv").get_data(as_text=True))))
    written = {row[4] for row in rows[1:]}
    assert written == {"'" + n for n in notes[:-1]} | {"a=b"}


def test_sessions_expire(store, tmp_path) -> None:
    settings = Settings(
        store="sqlite:///unused.db",
        cache_url=f"file://{tmp_path / 'cache'}",
        secret_key="k" * 40,
        officer_session_minutes=0.05,
    )
    server = Flask(__name__)
    init_cache(server, settings)
    register(server, settings, store)
    add_officer(store, "nguyen.an", PASSWORD)
    client = server.test_client()
    sign_in(client)
    assert client.get("/officer").status_code == 200
    time.sleep(3.2)
    response = client.get("/officer")
    assert response.status_code == 302 and response.headers["Location"].endswith("/officer/signin")


def test_session_key_comes_from_the_setting_or_a_private_file(tmp_path) -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        load_secret_key(Settings(secret_key="short"))
    path = tmp_path / "keys" / "secret_key"
    key = load_secret_key(Settings(secret_key_file=str(path)))
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(Settings(secret_key_file=str(path))) == key  # every worker: the same
