"""The console's indicator pages over HTTP (Flask test client on a real store, SQLite and
influxd): a unit's reporter enters and corrects its own figures and uploads its files; what it
may not do is refused and stores nothing."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook

from tests.test_indicator_import import LAST_MONTH, OLD_MONTH, THIS_MONTH, ZONE
from tests.test_officer_console import PASSWORD, XSS, console, csrf, sign_in  # noqa: F401
from wall.accountability import due_at
from wall.city import load_profile
from wall.indicator_console import MAX_UPLOAD_BYTES
from wall.officers import add_officer
from wall.periods import parse_period
from wall.submissions import STREAM, latest_values

REPORTER = "le.cuong"  # of vh-xh: Phòng Văn hóa - Xã hội
CATALOGUE = {i.indicator_id: i for i in load_profile("hoa-thanh").indicators}
NOTE = "Số liệu từ Trạm y tế phường Long Hoa, đã đối chiếu sổ tiêm chủng"


@pytest.fixture
def reporter(console, store):  # noqa: F811
    add_officer(store, REPORTER, PASSWORD, role="reporter", unit="vh-xh")
    client = console.test_client()
    assert sign_in(client, REPORTER).status_code == 302
    return client


def form(client, indicator: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": csrf(client, "/officer/indicators"),
        "indicator_id": indicator,
        "period": LAST_MONTH,
        "value": "",
        "note": "",
        "reason": "",
        **fields,
    }


def enter(client, indicator: str, **fields: str):
    return client.post("/officer/indicators", data=form(client, indicator, **fields))


def section(page: str, indicator: str) -> str:
    """The page's part about one indicator (its values, its form and their problems)."""
    start = page.index(f'data-indicator="{indicator}"')
    end = page.find("<section", start)
    return page[start : end if end > 0 else None]


def errors_of(page: str, indicator: str) -> list[str]:
    return re.findall(r'<span class="field-error">([^<]*)</span>', section(page, indicator))


def test_a_reporter_enters_its_units_value_and_reads_it_in_the_history(reporter, store) -> None:
    page = reporter.get("/officer/indicators").get_data(as_text=True)
    shown = re.findall(r'data-indicator="([^"]+)"', page)
    assert sorted(shown) == sorted(
        [
            "khach_du_lich",
            "doanh_thu_du_lich",
            "huy_dong_tre_5t",
            "truong_chuan_qg",
            "bao_hiem_y_te",
            "tiem_chung",
            "lao_dong_dao_tao",
        ]
    )  # Phòng Văn hóa - Xã hội's seven, no other unit's
    assert "Các chỉ số do Phòng Văn hóa - Xã hội nộp." in page
    vaccinated = section(page, "tiem_chung")
    assert "Trẻ em tiêm chủng đầy đủ" in vaccinated and "≥ 95 % (cao hơn là tốt)" in vaccinated
    assert f"Kỳ {LAST_MONTH} (đã kết thúc)" in vaccinated
    assert f"Kỳ {THIS_MONTH} (đang diễn ra)" in vaccinated
    due = due_at(CATALOGUE["tiem_chung"], parse_period("month", LAST_MONTH), ZONE)
    day = f"{due - timedelta(days=1):%d/%m/%Y}"
    if datetime.now(UTC) < due:
        assert f"Kỳ {LAST_MONTH}: hạn nộp hết ngày {day}, chưa nộp" in vaccinated
    else:
        assert f"⚠ Kỳ {LAST_MONTH}: quá hạn (hết ngày {day}), chưa nộp" in vaccinated
    response = enter(reporter, "tiem_chung", value="96.35", note=NOTE)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#ind-tiem_chung")
    (event,) = store.events(STREAM)
    assert (event.kind, event.actor, event.note) == ("submitted", REPORTER, NOTE)
    assert event.data["path"] == "console" and event.data["unit"] == "vh-xh"
    assert (event.data["period"], event.data["value"]) == (LAST_MONTH, 96.35)
    page = reporter.get("/officer/indicators").get_data(as_text=True)
    assert f"Đã lưu 96,35 % cho “Trẻ em tiêm chủng đầy đủ”, kỳ {LAST_MONTH}." in page
    if event.time < due:
        assert f"✔ Kỳ {LAST_MONTH}: đã nộp đúng hạn" in section(page, "tiem_chung")
    else:
        assert f"Kỳ {LAST_MONTH}: nộp trễ (hạn hết ngày {day})" in section(page, "tiem_chung")
    assert f"96,35 % – {REPORTER}" in section(page, "tiem_chung")
    history = reporter.get("/officer/indicators/tiem_chung").get_data(as_text=True)
    assert "Lịch sử nộp: Trẻ em tiêm chủng đầy đủ" in history
    (row,) = re.findall(r"<tr class=\"current\">(.*?)</tr>", history, re.S)
    for text in (LAST_MONTH, "96,35 %", "✔ đang dùng", REPORTER, "Bảng điều khiển", "Nộp", NOTE):
        assert text in row, text


def test_a_reporter_posting_another_units_indicator_is_refused(reporter, store, caplog) -> None:
    response = enter(reporter, "hs_dung_han", value="99")  # the form forged: tt-hcc's
    assert response.status_code == 403
    assert "Yêu cầu bị từ chối: chỉ số “Hồ sơ TTHC giải quyết đúng hạn”" in response.get_data(
        as_text=True
    )
    upload = reporter.post(
        "/officer/indicators/upload",
        data={
            "csrf_token": csrf(reporter, "/officer/indicators"),
            "unit": "tt-hcc",
            "file": (
                io.BytesIO(f"indicator_id,period,value\nhs_dung_han,{LAST_MONTH},99\n".encode()),
                "x.csv",
            ),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403
    assert store.events(STREAM) == []
    assert f"reporter {REPORTER} of vh-xh refused hs_dung_han of tt-hcc" in caplog.text


def test_a_correction_needs_a_reason_and_then_is_the_walls_value(reporter, store) -> None:
    assert enter(reporter, "khach_du_lich", value="351.4", note="Tổng hợp").status_code == 302
    refused = enter(reporter, "khach_du_lich", value="352.9", note="Bổ sung điểm Núi Bà")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Chưa lưu gì: xem các lỗi ghi cạnh từng ô bên dưới." in page
    (problem,) = errors_of(page, "khach_du_lich")
    assert problem.startswith(f"Kỳ {LAST_MONTH} đã có giá trị 351,4 nghìn lượt ({REPORTER}, ")
    assert problem.endswith("muốn sửa thì ghi lý do.")
    mine = section(page, "khach_du_lich")
    assert 'name="value" value="352.9"' in mine and 'value="Bổ sung điểm Núi Bà"' in mine
    assert [e.kind for e in store.events(STREAM)] == ["submitted"]

    reason = "Thiếu số liệu điểm du lịch Núi Bà Đen"
    corrected = enter(reporter, "khach_du_lich", value="352.9", note="Bổ sung", reason=reason)
    assert corrected.status_code == 302
    events = store.events(STREAM)
    assert [e.kind for e in events] == ["submitted", "corrected"]
    assert events[1].data["reason"] == reason
    wall = latest_values(store)
    assert wall.loc[wall.indicator_id == "khach_du_lich", "actual"].tolist() == [352.9]
    history = reporter.get("/officer/indicators/khach_du_lich?lang=en").get_data(as_text=True)
    rows = re.findall(r"<tr(?: class=\"current\")?><td>.*?</tr>", history, re.S)
    assert len(rows) == 2
    assert "352.9 thousand visits ✔ current" in re.sub(r"<[^>]+>", "", rows[0])
    assert f"Reason: {reason}" in rows[0] and "Corrected" in rows[0]
    assert "351.4 thousand visits" in rows[1] and "current" not in rows[1]


def test_bad_fields_are_named_next_to_each_and_what_was_typed_is_kept(reporter, store) -> None:
    response = enter(reporter, "tiem_chung", period=OLD_MONTH, value="1,5", note=XSS + "x" * 500)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    problems = errors_of(page, "tiem_chung")
    assert problems == [
        f"Kỳ “{OLD_MONTH}” không mở để nộp; chọn một kỳ đang mở: {LAST_MONTH}, {THIS_MONTH}.",
        "giá trị “1,5” có dấu phẩy: viết số thập phân bằng dấu chấm (98.5), không có dấu phân "
        "cách hàng nghìn",
        "Dài hơn 500 ký tự.",
    ]
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'name="value" value="1,5"' in section(page, "tiem_chung")
    assert store.events(STREAM) == []
    unknown = enter(reporter, "khong_co", value="1")
    assert unknown.status_code == 400
    assert "chỉ số “khong_co” không có trong danh mục" in unknown.get_data(as_text=True)


def upload(client, name: str, content: bytes, **fields: str):
    return client.post(
        "/officer/indicators/upload",
        data={
            "csrf_token": csrf(client, "/officer/indicators"),
            "file": (io.BytesIO(content), name),
            **fields,
        },
        content_type="multipart/form-data",
    )


BAD_ROWS = [
    ["indicator_id", "period", "value", "note"],
    ["tiem_chung", LAST_MONTH, 96.1, "Trạm y tế phường Hiệp Tân"],  # good
    ["khong_co", LAST_MONTH, 1, ""],  # 3: unknown
    ["khach_du_lich", LAST_MONTH, "351,4", "nghìn lượt"],  # 4: comma
    ["hs_dung_han", LAST_MONTH, 99, "của đơn vị khác"],  # 5: another unit's
    ["doanh_thu_du_lich", OLD_MONTH, 8.5, "kỳ đã đóng"],  # 6: closed period
]


def bad_rows(page: str) -> dict[int, str]:
    table = page[page.index('<table class="problems">') :]
    found = re.findall(r"<tr><td>dòng (\d+)</td><td>([^<]*)</td></tr>", table)
    return {int(n): why for n, why in found}


def workbook_bytes(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_bad_file_lists_every_bad_row_and_stores_nothing(reporter, store, kind) -> None:
    if kind == "csv":
        text = "\n".join(",".join(str(c) if "," not in str(c) else f'"{c}"' for c in row)
                         for row in BAD_ROWS)  # fmt: skip
        content = text.encode()
    else:
        content = workbook_bytes(BAD_ROWS)
    response = upload(reporter, f"Báo cáo tháng.{kind}", content, reason="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Tệp “Báo cáo tháng." + kind + "” bị từ chối, không lưu gì: 4 dòng lỗi" in page
    rows = bad_rows(page)
    assert sorted(rows) == [3, 4, 5, 6]
    assert rows[3] == "chỉ số “khong_co” không có trong danh mục"
    assert rows[4].startswith("giá trị “351,4” có dấu phẩy")
    assert rows[5] == "chỉ số “hs_dung_han” do tt-hcc nộp, không phải vh-xh"
    assert rows[6].startswith(f"kỳ {OLD_MONTH} không mở để nộp")
    assert store.events(STREAM) == []


def test_a_good_file_is_stored_as_one_submission(reporter, store) -> None:
    content = (
        "indicator_id,period,value,note\n"
        f"khach_du_lich,{LAST_MONTH},351.4,Tổng hợp từ các điểm du lịch\n"
        f"tiem_chung,{LAST_MONTH},93.2,\n"
    ).encode()
    response = upload(reporter, "vhxh-thang.csv", content)
    assert response.status_code == 302
    events = store.events(STREAM)
    assert len(events) == 2 and len({e.data["submission"] for e in events}) == 1
    assert {(e.actor, e.data["path"], e.data["source"]) for e in events} == {
        (REPORTER, "file", "vhxh-thang.csv")
    }
    page = reporter.get("/officer/indicators").get_data(as_text=True)
    submission = events[0].data["submission"]
    assert (
        f"đã lưu lần nộp {submission}: 2 giá trị của Phòng Văn hóa - Xã hội, người nộp "
        f"{REPORTER} (vhxh-thang.csv)"
    ) in page


def test_a_file_past_the_limit_gets_a_page_saying_so(reporter, store) -> None:
    content = b"indicator_id,period,value\n" + b"x" * (MAX_UPLOAD_BYTES + 1)
    response = upload(reporter, "qua-lon.csv", content)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Tệp quá lớn: tối đa 2 MB. Không lưu gì" in page
    assert 'data-indicator="tiem_chung"' in page  # the page, with its forms
    missing = upload(reporter, "", b"")
    assert missing.status_code == 400 and "Chưa chọn tệp nào." in missing.get_data(as_text=True)
    wrong = upload(reporter, "bang.xls", b"\xd0\xcf\x11\xe0")
    assert wrong.status_code == 400
    assert "tệp “.xls” không được hỗ trợ" in wrong.get_data(as_text=True)
    assert store.events(STREAM) == []


def test_an_officer_submits_for_any_unit_in_english(console, store) -> None:  # noqa: F811
    client = console.test_client()
    sign_in(client)  # nguyen.an, an officer
    page = client.get("/officer/indicators?lang=en").get_data(as_text=True)
    assert len(re.findall(r'data-indicator="', page)) == 17
    assert "Every unit&#39;s indicators." in page and "Public Utilities Board" in page
    response = client.post(
        "/officer/indicators?lang=en",
        data=form(client, "thu_gom_rac", value="97.5", note="Weekly average"),
    )
    assert response.status_code == 302 and "lang=en" in response.headers["Location"]
    (event,) = store.events(STREAM)
    assert (event.actor, event.data["unit"]) == ("nguyen.an", "moi-truong")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Stored 97.5 % for “Urban solid waste collected”, period {LAST_MONTH}." in page
    assert "Chọn đơn vị nộp tệp." in upload(
        client, "a.csv", b"indicator_id,period,value\n"
    ).get_data(as_text=True)


def test_signed_out_pages_redirect_and_posts_are_refused(console, store) -> None:  # noqa: F811
    kiosk = console.test_client()
    for path in ("/officer/indicators", "/officer/indicators/tiem_chung"):
        response = kiosk.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("/officer/signin")
    token = csrf(kiosk)
    for path in ("/officer/indicators", "/officer/indicators/upload"):
        data = {"csrf_token": token, "indicator_id": "tiem_chung", "value": "1"}
        assert kiosk.post(path, data=data).status_code == 403
    signed_in = console.test_client()
    sign_in(signed_in)
    forged = {"csrf_token": "forged", "indicator_id": "tiem_chung", "period": LAST_MONTH}
    assert signed_in.post("/officer/indicators", data={**forged, "value": "1"}).status_code == 403
    assert store.events(STREAM) == []


def test_values_an_automated_source_sent_count_as_delivered(reporter, store) -> None:
    """A unit whose figures come over MQTT is not told it is overdue, as the accountability
    screen does not count it late; its own submission then reads as one."""
    from tests.test_indicator_submissions import kpi_point

    start = parse_period("month", LAST_MONTH).start(ZONE)
    store.write(kpi_point("tiem_chung", 93.1, LAST_MONTH, start + timedelta(days=9, hours=3)))
    page = reporter.get("/officer/indicators").get_data(as_text=True)
    vaccinated = section(page, "tiem_chung")
    assert f"✔ Kỳ {LAST_MONTH}: đã nhận số liệu tự động (MQTT) trong kỳ" in vaccinated
    assert "quá hạn" not in vaccinated and "chưa nộp" not in vaccinated
    assert "quá hạn" in section(page, "bao_hiem_y_te")  # sent nothing: still overdue
    assert enter(reporter, "tiem_chung", value="95.2", note=NOTE).status_code == 302
    page = reporter.get("/officer/indicators").get_data(as_text=True)
    assert f"✔ Kỳ {LAST_MONTH}: đã nộp đúng hạn" in section(page, "tiem_chung")
