"""Ownership and procedure of an alert (issue 16): an officer assigns it, works through the city
profile's procedure for its kind, and reads and exports its whole timeline; the wall shows the
owner. The console over HTTP (Flask test client on a real store), the wall's parts without a
browser, the profile's procedures file read as an operator would write it."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from layouts import alarm
from layouts.alerts import alert_list, alerts_frame
from layouts.common import Parts
from tests.test_layouts import NOW, ctx, texts
from tests.test_officer_console import PASSWORD, XSS, act, console, raise_alert, sign_in
from wall.alerts.model import STREAM, fold
from wall.alerts.rules import RULE_DEFAULTS
from wall.alerts.state import alert_of, record
from wall.city import CITIES_DIR, ProfileError, load_profile
from wall.notifications.outbox import RECORDS
from wall.officers import add_officer, disable_officer
from wall.store import Event

__all__ = ["console"]  # the console fixture, shared with test_officer_console
STEP = '[[camera_offline]]\nid = "a"\nvi = "x"\nen = "y"\n'


def page_of(client, key: str) -> str:
    return client.get(f"/officer/alerts/{key}").get_data(as_text=True)


def test_an_assignment_is_an_event_shown_in_the_console_and_the_audit(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    listing = client.get("/officer").get_data(as_text=True)
    assert "Chưa giao cho ai" in listing
    assert 'value="unit:ubnd-phuong"' in listing and 'value="person:tran.binh"' in listing
    response = act(client, key, "assigned", owner="unit:ubnd-phuong")
    assert response.status_code == 302
    alert = alert_of(store, key)
    assert (alert.owner_kind, alert.owner, alert.assigned_by) == (
        "unit",
        "ubnd-phuong",
        "nguyen.an",
    )
    assert alert == fold(store.events(STREAM))[key]  # the kept state is the log's fold
    listing = client.get("/officer").get_data(as_text=True)
    assert "Phụ trách: UBND phường (giao bởi nguyen.an lúc" in listing
    english = client.get("/officer?lang=en").get_data(as_text=True)
    assert "Owner: Ward People&#39;s Committee (assigned by nguyen.an at" in english
    # Then to a person, from the alert's page: back on that page.
    response = act(client, key, "assigned", owner="person:tran.binh", back="alert")
    assert response.headers["Location"] == "/officer/alerts/camera_offline%3Acam-001"
    assert "Owner: tran.binh" in client.get(response.headers["Location"] + "?lang=en").get_data(
        as_text=True
    )
    audit = client.get("/officer/audit.csv").get_data(as_text=True)
    assert "Giao xử lý" in audit and "UBND phường" in audit and "tran.binh" in audit
    # Taken back: nobody owns it, the wall and the console say so, the log keeps both.
    assert "Bỏ giao" in client.get("/officer").get_data(as_text=True)
    assert act(client, key, "unassigned").status_code == 302
    alert = alert_of(store, key)
    assert (alert.owner, alert.owner_names, alert.assigned_by) == (None, {}, None)
    assert alert == fold(store.events(STREAM))[key]
    listing = client.get("/officer").get_data(as_text=True)
    assert "Chưa giao cho ai" in listing and "Bỏ giao</button>" not in listing
    assert "Bỏ giao xử lý" in page_of(client, key)  # in its timeline
    assert "Bỏ giao" in client.get("/officer/audit.csv").get_data(as_text=True)


def test_procedure_steps_are_checked_off_and_unchecked_as_audited_events(console, store) -> None:
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    page = page_of(client, key)
    steps = load_profile("hoa-thanh").procedures["camera_offline"]
    assert "0/3 bước đã xong" in page
    assert [s.step_id for s in steps] == re.findall(r'<li data-step="([^"]+)"', page)
    assert act(client, key, "step_checked", step=steps[0].step_id).status_code == 302
    assert act(client, key, "step_checked", step=steps[1].step_id).status_code == 302
    assert act(client, key, "step_unchecked", step=steps[0].step_id).status_code == 302
    alert = alert_of(store, key)
    assert [s for s, _, _ in alert.steps_done] == [steps[1].step_id]
    page = page_of(client, key)
    assert "1/3 bước đã xong" in page and "xong: nguyen.an" in page
    # Checking a step that is checked already says so, and records nothing.
    again = act(client, key, "step_checked", step=steps[1].step_id)
    assert again.status_code == 400 and "đã được đánh dấu xong" in again.get_data(as_text=True)
    audit = client.get("/officer/audit").get_data(as_text=True)
    assert audit.count("Xong bước") == 2 and "Bỏ đánh dấu bước" in audit
    assert steps[0].text_vi in audit and steps[1].text_vi in audit
    assert len(store.events(STREAM, key=key)) == 4


def test_a_kind_without_a_procedure_says_so(console, store) -> None:
    key = "new_kind:x-1"
    data = {"rule": "new_kind", "entity": "x-1", "severity": "low", "title": "Something new"}
    record(store, [Event.new(STREAM, key, "raised", actor="system", data=data)])
    client = console.test_client()
    sign_in(client)
    response = client.get(f"/officer/alerts/{key}")
    assert response.status_code == 200
    assert "Không có quy trình xử lý cho loại cảnh báo này." in response.get_data(as_text=True)
    summary = client.get(f"/officer/alerts/{key}/summary.txt?lang=en").get_data(as_text=True)
    assert "No procedure for this kind of alert." in summary


def test_the_timeline_holds_every_event_in_order_and_exports_as_text_and_csv(
    console, store
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    key = "camera_offline:cam-007"
    data = {"rule": "camera_offline", "entity": "cam-007", "severity": "high", "ward": "Long Hoa"}
    data["facts"] = {"name": "Chợ Long Hoa"}
    # An earlier alert under the same key, closed: not part of this alert's story.
    at = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    old = [
        Event.new(STREAM, key, "raised", actor="system", data=data, at=at(300)),
        Event.new(STREAM, key, "cleared", actor="system", at=at(290)),
        Event.new(STREAM, key, "acknowledged", actor="tran.binh", at=at(280)),
    ]
    raised = Event.new(STREAM, key, "raised", actor="system", data=data, at=at(60))
    record(store, [*old, raised])
    alert_id = {"alert_id": raised.event_id}
    step = load_profile("hoa-thanh").procedures["camera_offline"][0]
    officer = "nguyen.an"
    until = (at(40) + timedelta(minutes=30)).isoformat()
    events = [
        Event.new(STREAM, key, "escalated", actor="system", data=alert_id, at=at(50)),
        Event.new(STREAM, key, "acknowledged", actor=officer, note=XSS, data=alert_id, at=at(45)),
        Event.new(
            STREAM,
            key,
            "assigned",
            actor=officer,
            data={**alert_id, "owner_kind": "unit", "owner": "qlđt", "names": {"vi": "Phòng KT"}},
            at=at(44),
        ),
        Event.new(
            STREAM,
            key,
            "shelved",
            actor=officer,
            note="chờ",
            data={**alert_id, "until": until},
            at=at(40),
        ),
        Event.new(STREAM, key, "unshelved", actor=officer, data=alert_id, at=at(35)),
        Event.new(
            STREAM,
            key,
            "step_checked",
            actor=officer,
            data={**alert_id, "step": step.step_id},
            at=at(30),
        ),
        Event.new(
            STREAM,
            key,
            "step_unchecked",
            actor=officer,
            data={**alert_id, "step": step.step_id},
            at=at(25),
        ),
        Event.new(
            STREAM,
            key,
            "noted",
            actor=officer,
            note='=HYPERLINK("x")\nforged | line',
            data=alert_id,
            at=at(20),
        ),
        Event.new(STREAM, key, "cleared", actor="system", data=alert_id, at=at(10)),
    ]
    record(store, events)
    # The outbox told the raise to a channel, and failed to tell the acknowledgement.
    notice = lambda e: {"event_id": e.event_id, "event": e.kind}  # noqa: E731
    store.append_events(
        [
            Event.new(
                RECORDS,
                "ops-chat",
                "queued",
                data={"message_id": "m1", "notices": [notice(raised)]},
                at=at(59),
            ),
            Event.new(RECORDS, "ops-chat", "delivered", data={"message_id": "m1"}, at=at(58)),
            Event.new(
                RECORDS,
                "mail",
                "queued",
                data={"message_id": "m2", "notices": [notice(events[1])]},
                at=at(44.5),
            ),
            Event.new(
                RECORDS,
                "mail",
                "dropped",
                data={"message_id": "m2", "reason": "550 no such mailbox"},
                at=at(43),
            ),
        ]
    )
    client = console.test_client()
    sign_in(client)
    page = page_of(client, key)
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page

    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/officer/alerts/{key}/summary.csv?lang=en")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert rows[0] == ["Time", "By", "Event", "Details"]
    assert [r[2] for r in rows[1:]] == [
        "Raised", "Notified", "Escalated", "Acknowledged", "Assigned", "Notification dropped",
        "Shelved", "Unshelved", "Step checked", "Step unchecked", "Note", "Cleared",
    ]  # fmt: skip
    by = {r[2]: (r[1], r[3]) for r in rows[1:]}
    assert by["Notified"] == ("ops-chat", "via ops-chat: Raised")
    assert by["Notification dropped"] == ("mail", "via mail: Acknowledged – 550 no such mailbox")
    assert by["Assigned"] == (officer, "qlđt")  # no English name kept: its code
    assert by["Step checked"] == (officer, step.text_en)
    assert by["Note"][1] == '\'=HYPERLINK("x") forged | line'  # never a formula
    tz = load_profile("hoa-thanh").timezone
    assert rows[1][0] == raised.time.astimezone(__import__("zoneinfo").ZoneInfo(tz)).strftime(
        "%d/%m/%Y %H:%M:%S"
    )

    response = client.get(f"/officer/alerts/{key}/summary.txt")
    assert response.mimetype == "text/plain"
    assert (
        "attachment; filename=ioc-alert-camera_offline-" in response.headers["Content-Disposition"]
    )
    text = response.get_data(as_text=True)
    assert "Báo cáo sau sự việc" in text and "Camera Chợ Long Hoa mất kết nối" in text
    assert "Trạng thái: Đã đóng" in text and "Phụ trách: Phòng KT (giao bởi nguyen.an" in text
    assert f"[ ] {step.text_vi}" in text and "0/3 bước đã xong" in text
    timeline = text.split("Diễn biến:\n")[1].split("\n\n")[0].splitlines()
    assert len(timeline) == 12  # the note's line break did not make a line
    assert timeline[0].endswith("| system | Phát sinh | Cao")
    assert "Asia/Ho_Chi_Minh" in text and "tran.binh" not in text  # the earlier alert's ack


@pytest.mark.parametrize(
    "form, said",
    [
        ({"action": "assigned", "owner": "unit:no-such-unit"}, "không có đơn vị xử lý hay cán bộ"),
        ({"action": "assigned", "owner": "person:nobody"}, "không có đơn vị xử lý hay cán bộ"),
        ({"action": "assigned", "owner": "person:le.cuong"}, "không có đơn vị xử lý hay cán bộ"),
        ({"action": "assigned"}, "không có đơn vị xử lý hay cán bộ"),
        ({"action": "step_checked", "step": "no-such-step"}, "không có bước"),
        ({"action": "step_unchecked", "step": "xem-lai-hinh"}, "chưa được đánh dấu"),
        ({"action": "unassigned"}, "chưa được giao cho ai"),
    ],
)
def test_bad_assignment_and_step_forms_get_a_400_naming_the_problem(console, store, form, said):
    add_officer(store, "le.cuong", PASSWORD + "?")
    disable_officer(store, "le.cuong")  # a disabled account owns nothing
    key = raise_alert(store)
    client = console.test_client()
    sign_in(client)
    before = len(store.events(STREAM))
    response = act(client, key, **form)
    assert response.status_code == 400
    assert said in response.get_data(as_text=True).lower()
    assert len(store.events(STREAM)) == before


@pytest.mark.parametrize(
    "path", ["camera_offline:nope", "a%09b", "camera_offline:nope/summary.csv"]
)
def test_an_unknown_alert_page_is_a_404_naming_the_key(console, store, path) -> None:
    client = console.test_client()
    sign_in(client)
    response = client.get(f"/officer/alerts/{path}")
    assert response.status_code == 404
    assert "Không có cảnh báo với khóa" in response.get_data(as_text=True)


def test_the_wall_shows_the_owner_on_the_alerts_screen_and_the_banner() -> None:
    key = "ward_cameras_offline:Long Hoa"
    data = {"rule": "ward_cameras_offline", "entity": "Long Hoa", "severity": "critical",
            "ward": "Long Hoa", "facts": {"offline": 6, "total": 9, "percent": 66.7}}  # fmt: skip
    assigned = {"owner_kind": "unit", "owner": "ubnd-phuong",
                "names": {"vi": "UBND phường", "en": "Ward People's Committee"}}  # fmt: skip
    events = [
        Event.new(STREAM, key, "raised", data=data, at=NOW - timedelta(minutes=9)),
        Event.new(STREAM, key, "assigned", actor="nguyen.an", data=assigned, at=NOW),
    ]
    parts = Parts(alerts=alerts_frame(fold(events)))
    assert "Phụ trách: UBND phường" in texts(alert_list(parts, ctx()))
    assert "Owner: Ward People's Committee" in texts(alert_list(parts, ctx("en")))
    assert "Phụ trách: UBND phường" in texts(alarm.banner(parts, ctx()))
    unassigned = Parts(alerts=alerts_frame(fold(events[:1])))
    assert "Phụ trách" not in texts(alarm.banner(unassigned, ctx()))


@pytest.mark.parametrize("city", ["hoa-thanh", "lakeside"])
def test_every_alert_kind_has_a_procedure_in_both_languages(city) -> None:
    procedures = load_profile(city).procedures
    for kind in RULE_DEFAULTS:
        assert procedures.get(kind), (city, kind)
        assert all(s.text_vi != s.text_en for s in procedures[kind])


@pytest.mark.parametrize(
    "sops, where, problem",
    [
        ('[[camera_offline]]\nid = "a"\nvi = "x"\n', "camera_offline[1].en", "is missing"),
        (f"{STEP}".replace('"a"', '"A b"'), "camera_offline[1].id", "not a step id"),
        (f'{STEP}unit = "z"\n', "camera_offline[1].unit", "unknown key"),
        (STEP + STEP, "camera_offline[2]", "already used"),
        ("camera_offline = 3\n", "camera_offline", "must be list"),
        (STEP.replace("camera_offline", "camera_ofline"), "camera_ofline", "not an alert kind"),
        ("[[camera_offline]\n", "", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_procedures_file_is_refused_naming_file_and_key(tmp_path, sops, where, problem):
    folder = tmp_path / "town"
    shutil.copytree(CITIES_DIR / "hoa-thanh", folder)
    (folder / "sops.toml").write_text(sops, encoding="utf-8")
    load_profile.cache_clear()
    with pytest.raises(ProfileError) as raised:
        load_profile(str(folder))
    assert str(folder / "sops.toml") in str(raised.value)
    assert where in str(raised.value) and problem in str(raised.value)
