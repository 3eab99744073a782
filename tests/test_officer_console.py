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

from tests.servers import Influxd
from wall.alerts.model import STREAM, fold
from wall.alerts.state import alert_of, record
from wall.cache import init_cache
from wall.officer_console import load_secret_key, register
from wall.officers import (
    SESSIONS,
    add_officer,
    change_password,
    disable_officer,
    enable_officer,
    remove_officer,
)
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store import Event, Store, open_store

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
    record(store, [Event.new(STREAM, key, "raised", actor="system", data=data)])
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


def console_form(client, key: str) -> dict[str, str]:
    """The CSRF token and the alert instance of `key`, as the console page shows them now."""
    page = client.get("/officer").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    hidden = rf'name="key" value="{re.escape(key)}"><input type="hidden" name="alert_id"'
    shown = re.search(hidden + r' value="([^"]+)"', page)
    return {"csrf_token": token, "key": key, "alert_id": shown.group(1)}


def act(client, key: str, action: str, **form):
    return client.post(
        "/officer/action", data={**console_form(client, key), "action": action, **form}
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
    form_an, form_binh = console_form(an, key), console_form(binh, key)  # both see it unacked
    for client, form, note in ((an, form_an, "tôi nhận"), (binh, form_binh, "tôi cũng nhận")):
        client.post("/officer/action", data={**form, "action": "acknowledged", "note": note})
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
    refused = act(client, key, "shelved", note="", minutes="30")
    assert refused.status_code == 400
    assert "Tạm ẩn cần ghi lý do." in refused.get_data(as_text=True)  # the officer's language
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


def copied_session(console, client):
    """A second client holding a copy of `client`'s session cookie: a cookie taken from a
    browser (a shared console PC, a proxy log) and replayed."""
    thief = console.test_client()
    thief.set_cookie("ioc_officer", client.get_cookie("ioc_officer").value)
    return thief


def replay_is_refused(thief, form: dict[str, str]) -> str:
    """Post an acknowledgement with the copied cookie and the form the officer last saw; it must
    be refused, and the console must not open. Returns the refusal page."""
    response = thief.post("/officer/action", data={**form, "action": "acknowledged"})
    assert response.status_code == 403
    page = thief.get("/officer")
    assert page.status_code == 302 and page.headers["Location"].endswith("/officer/signin")
    return response.get_data(as_text=True)


def test_a_copied_cookie_is_refused_once_its_session_is_signed_out(console, store) -> None:
    key = raise_alert(store)
    officer = console.test_client()
    sign_in(officer)
    form = console_form(officer, key)
    thief = copied_session(console, officer)
    assert thief.get("/officer").status_code == 200  # the copy works while the session lasts
    signed_out = officer.post("/officer/signout", data={"csrf_token": form["csrf_token"]})
    assert signed_out.headers["Location"].endswith("/officer/signin")
    refusal = replay_is_refused(thief, form)
    assert "Phiên trực này đã kết thúc" in refusal
    assert [e.kind for e in store.events(STREAM)] == ["raised"]
    assert officer.get("/officer").status_code == 302


def test_signing_out_ends_that_session_only(console, store) -> None:
    key = raise_alert(store)
    desk, phone = console.test_client(), console.test_client()
    sign_in(desk)
    sign_in(phone)
    phone.post("/officer/signout", data={"csrf_token": csrf(phone, "/officer")})
    assert phone.get("/officer").status_code == 302
    assert act(desk, key, "acknowledged").status_code == 302
    assert fold(store.events(STREAM))[key].acked_by == "nguyen.an"


@pytest.mark.parametrize(
    "end",
    [
        lambda store: remove_officer(store, "nguyen.an", by="trưởng ca"),
        lambda store: disable_officer(store, "nguyen.an", by="trưởng ca"),
        lambda store: change_password(store, "nguyen.an", "mật khẩu mới của ca", by="trưởng ca"),
    ],
    ids=["removed", "disabled", "new-password"],
)
def test_removing_disabling_or_a_new_password_ends_every_session_of_the_account(
    console, store, end
) -> None:
    key = raise_alert(store)
    desk, phone, other = console.test_client(), console.test_client(), console.test_client()
    sign_in(desk)
    sign_in(phone)
    sign_in(other, "tran.binh", PASSWORD + "!")
    forms = [console_form(client, key) for client in (desk, phone)]
    end(store)
    for client, form in zip((desk, phone), forms, strict=True):
        assert "Phiên trực này đã kết thúc" in replay_is_refused(client, form)
    assert [e.kind for e in store.events(STREAM)] == ["raised"]
    assert act(other, key, "acknowledged").status_code == 302  # another officer: unaffected


def test_the_ended_session_message_keeps_the_officers_language(console, store) -> None:
    client = console.test_client()
    token = csrf(client, "/officer/signin?lang=en")
    data = {"name": "nguyen.an", "password": PASSWORD, "csrf_token": token}
    assert client.post("/officer/signin?lang=en", data=data).status_code == 302
    remove_officer(store, "nguyen.an")
    page = client.get("/officer", follow_redirects=True).get_data(as_text=True)
    assert "This session has ended (signed out, or the account was removed" in page


def test_a_disabled_officer_cannot_sign_in_until_enabled_and_old_sessions_stay_ended(
    console, store
) -> None:
    old = console.test_client()
    sign_in(old)
    disable_officer(store, "nguyen.an")
    assert sign_in(console.test_client()).status_code == 401
    enable_officer(store, "nguyen.an")
    assert old.get("/officer").status_code == 302
    fresh = console.test_client()
    assert sign_in(fresh).status_code == 302
    assert fresh.get("/officer").status_code == 200


def test_an_action_names_the_alert_instance_the_officer_saw(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    seen = console_form(client, key)  # the page shows the first alert
    assert act(client, key, "acknowledged").status_code == 302
    record(store, [Event.new(STREAM, key, "cleared", actor="system")])  # closed
    raise_alert(store)  # and raised again: a new alert under the same key
    before = store.events(STREAM)
    for action, extra in (
        ("acknowledged", {}),
        ("noted", {"note": "cho cảnh báo cũ"}),
        ("shelved", {"note": "bảo trì", "minutes": "30"}),
    ):
        stale = client.post("/officer/action", data={**seen, "action": action, **extra})
        assert stale.status_code == 409
        assert "phát sinh lại" in stale.get_data(as_text=True)
    assert store.events(STREAM) == before
    assert fold(before)[key].state == "active_unack"
    assert act(client, key, "acknowledged").status_code == 302  # the form of the new alert


def bad_action_forms(form: dict[str, str]) -> list[tuple[str, dict[str, str], int]]:
    """(what, form, expected status) for forms a console must refuse with a clear answer."""
    shelve = {**form, "action": "shelved", "note": "bảo trì"}
    forms = [
        (f"minutes={m!r}", {**shelve, "minutes": m}, 400)
        for m in ("inf", "-inf", "nan", "-1", "0", "1e309", "9" * 5000, "abc", "30 phút", "0x1e")
    ]
    forms += [
        (f"no {field}", {k: v for k, v in form.items() if k != field} | {"action": "noted"}, 400)
        for field in ("key", "alert_id")
    ]
    forms += [
        ("no action", form, 400),
        ("unknown action", {**form, "action": "deleted"}, 400),
        ("action with markup", {**form, "action": XSS}, 400),
        ("unknown key", {**form, "key": "camera_offline:không-có", "action": "noted"}, 400),
        ("odd key", {**form, "key": "a\nb\"'\\\x00", "action": "noted", "note": "x"}, 400),
        ("note too long", {**form, "action": "noted", "note": "x" * 1001}, 400),
        ("wrong csrf", {**form, "action": "noted", "csrf_token": "forged", "note": "x"}, 403),
        ("non-ascii csrf", {**form, "action": "noted", "csrf_token": "mã giả", "note": "x"}, 403),
        ("oversized body", {**form, "action": "noted", "note": "x" * 200_000}, 413),
    ]
    return forms


def test_bad_action_forms_get_a_clear_4xx_and_change_nothing(console, store, caplog) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    form = console_form(client, key)
    before = store.events(STREAM)
    for what, data, status in bad_action_forms(form):
        response = client.post("/officer/action", data=data)
        assert response.status_code == status, what
        assert '<div class="msg error"' in response.get_data(as_text=True), what
    for what, body, content_type in (
        ("json", '{"action": "noted"}', "application/json"),
        ("bad utf-8", b"action=noted&note=\xff\xfe&key=" + key.encode(), None),
        ("multipart", b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ):
        response = client.post("/officer/action", data=body, content_type=content_type)
        assert 400 <= response.status_code < 500, what
    assert store.events(STREAM) == before
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]
    assert client.get("/officer").status_code == 200  # still signed in after all that


def test_bad_sign_in_and_sign_out_forms_get_a_4xx(console, caplog) -> None:
    client = console.test_client()
    token = csrf(client)
    for data, status in (
        ({"csrf_token": token}, 400),  # no name, no password: not an attempt
        ({"csrf_token": "mã giả", "name": "nguyen.an", "password": PASSWORD}, 403),
        ({"csrf_token": token, "name": "a\x00" * 40, "password": ""}, 400),
        ({"csrf_token": token, "name": "nguyen.an", "password": "x" * 200_000}, 413),
    ):
        assert client.post("/officer/signin", data=data).status_code == status, data
    assert client.post("/officer/signout", data={"csrf_token": "mã giả"}).status_code == 302
    sign_in(client)
    assert client.post("/officer/signout", data={}).status_code == 302
    assert client.get("/officer").status_code == 200  # a sign-out without its token does nothing
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]


def test_a_store_outage_answers_503_and_a_sign_out_can_be_tried_again(tmp_path) -> None:
    """Sessions are checked in the store: when it cannot answer, the console says so (never a
    500, never a session taken for live), and a sign-out that could not be recorded is kept so
    it can be done once the store is back."""
    influx = Influxd(tmp_path)
    influx.start()
    settings = Settings(
        store=f"influxdb://127.0.0.1:{influx.port}/ioc",
        influx_retries=0,
        cache_url=f"file://{tmp_path / 'cache'}",
        secret_key="k" * 40,
    )
    server = Flask(__name__)
    init_cache(server, settings)
    try:
        with open_store(settings) as store:
            store.check()
            register(server, settings, store)
            add_officer(store, "nguyen.an", PASSWORD)
            client = server.test_client()
            sign_in(client)
            token = csrf(client, "/officer")
            influx.stop()
            down = client.get("/officer")
            assert down.status_code == 503
            assert "Không truy cập được kho dữ liệu" in down.get_data(as_text=True)
            failed = client.post("/officer/signout", data={"csrf_token": token})
            assert failed.status_code == 503
            assert "Không truy cập được kho dữ liệu" in failed.get_data(as_text=True)
            influx.start()
            assert client.post("/officer/signout", data={"csrf_token": token}).status_code == 302
            assert [e.kind for e in store.events(SESSIONS)] == ["signed_in", "signed_out"]
    finally:
        influx.stop()


def test_a_units_reporter_may_not_act_on_alerts_and_the_refusal_is_logged(
    console, store, caplog
) -> None:
    key = raise_alert(store)
    add_officer(store, "le.cuong", PASSWORD, role="reporter", unit="moi-truong")
    client = console.test_client()
    assert sign_in(client, "le.cuong").status_code == 302
    # It lands on its unit's indicators, not on alerts it may not work.
    landing = client.get("/officer")
    assert (landing.status_code, landing.headers["Location"]) == (302, "/officer/indicators")
    own = client.get("/officer/indicators").get_data(as_text=True)
    assert "Chất thải rắn đô thị được thu gom" in own and "Trẻ em tiêm chủng" not in own
    # A form posted anyway (its own session's token, the alert's instance): refused.
    token = re.search(r'name="csrf_token" value="([^"]+)"', own).group(1)
    form = {"csrf_token": token, "key": key, "alert_id": alert_of(store, key).alert_id}
    response = client.post(
        "/officer/action", data={**form, "action": "acknowledged", "note": "không được phép"}
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Tài khoản báo cáo số liệu của đơn vị không được xử lý cảnh báo." in page
    assert [e.kind for e in store.events(STREAM)] == ["raised"]
    assert "reporter le.cuong refused /officer/action on alerts" in caplog.text
    officer = console.test_client()
    sign_in(officer)
    assert act(officer, key, "acknowledged").status_code == 302
