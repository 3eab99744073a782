"""The leaders' briefs in the officer console (Flask test client on a real store and real
briefs): who may list and download them, and that nothing but a brief is ever served."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from layouts.common import fmt_int
from tests.test_officer_console import sign_in
from wall.brief import brief_period, write_brief
from wall.brief_mail import STREAM
from wall.cache import init_cache
from wall.city import load_profile
from wall.officer_console import register
from wall.officers import add_officer
from wall.settings import Settings
from wall.store import Event
from wall.store.sqlite import SQLiteStore

PASSWORD = "ca trực đêm 2026"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 30)  # a Monday: the week brief's period ends after the day's


@pytest.fixture(scope="module")
def briefs(tmp_path_factory):
    """A day's brief in Vietnamese and its week's in English, made from an empty store."""
    folder = tmp_path_factory.mktemp("briefs") / "kept"
    made = datetime(2026, 12, 7, 0, 5, tzinfo=UTC)
    with SQLiteStore(tmp_path_factory.mktemp("brief-store") / "ioc.db") as store:
        profile = load_profile()
        write_brief(store, profile, ZONE, brief_period("day", DAY), folder, "vi", made)
        write_brief(store, profile, ZONE, brief_period("week", DAY), folder, "en", made)
    return folder


def console_for(tmp_path, folder):
    store = SQLiteStore(tmp_path / "ioc.db")
    settings = Settings(
        store="sqlite:///unused.db",
        cache_url=f"file://{tmp_path / 'cache'}",
        secret_key_file=str(tmp_path / "secret_key"),
        brief_dir=str(folder),
    )
    server = Flask(__name__)
    init_cache(server, settings)
    register(server, settings, store)
    add_officer(store, "nguyen.an", PASSWORD)
    return server, store


@pytest.fixture
def console(tmp_path, briefs):
    server, store = console_for(tmp_path, briefs)
    yield server, store
    store.close()


def rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in body.split("<tr>")[1:]]


def test_signed_out_the_list_and_the_files_lead_to_sign_in(console):
    client = console[0].test_client()
    for path in ("/officer/briefs", f"/officer/briefs/brief-day-{DAY}.pdf"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith("/officer/signin")


def test_the_list_shows_each_brief_newest_first_with_its_downloads(console, briefs):
    client = console[0].test_client()
    sign_in(client, password=PASSWORD)
    page = client.get("/officer/briefs").get_data(as_text=True)
    assert '<a href="/officer/briefs">Báo cáo lãnh đạo</a>' in page  # in the console's menu
    week, day = rows(page)
    assert "Tuần" in week and "30/11 – 06/12/2026" in week and "English" in week
    assert "Ngày" in day and "30/11/2026" in day and "Tiếng Việt" in day
    assert "07/12/2026 07:05" in day  # made at, in the city's time
    pdf_size = (briefs / f"brief-day-{DAY}.pdf").stat().st_size
    assert f"PDF ({fmt_int(pdf_size / 1024, 'vi')} KB)" in day
    assert f'href="/officer/briefs/brief-day-{DAY}.pdf"' in page
    assert f'href="/officer/briefs/brief-week-{DAY}.csv"' in page

    pdf = client.get(f"/officer/briefs/brief-day-{DAY}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f"attachment; filename=brief-day-{DAY}.pdf"
    assert pdf.data == (briefs / f"brief-day-{DAY}.pdf").read_bytes()
    table = client.get(f"/officer/briefs/brief-week-{DAY}.csv")
    assert table.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert table.headers["Content-Disposition"].startswith("attachment;")
    assert table.data == (briefs / f"brief-week-{DAY}.csv").read_bytes()

    english = client.get("/officer/briefs?lang=en").get_data(as_text=True)
    assert "Week" in rows(english)[0] and "Made at" in english


@pytest.mark.parametrize(
    "name",
    [
        "../secret.pdf",
        "..%2Fsecret.pdf",
        "%2e%2e%2fsecret.pdf",
        "%2E%2E/secret.pdf",
        "..%5Csecret.pdf",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "brief-day-2020-01-01.pdf",  # a link inside the folder to a file outside it
        f"brief-day-{DAY}.pdf.part",
        "brief-day-2026-13-45.pdf",
        "brief-year-2026-01-01.pdf",
        f"brief-day-{DAY}.pdf%00.csv",
        "",
    ],
)
def test_nothing_but_a_brief_in_the_folder_is_served(tmp_path, name):
    folder = tmp_path / "briefs"
    folder.mkdir()
    secret = tmp_path / "secret.pdf"
    secret.write_text("SECRET outside the brief folder")
    (folder / "brief-day-2020-01-01.pdf").symlink_to(secret)
    (folder / f"brief-day-{DAY}.pdf.part").write_text("SECRET half written")
    server, store = console_for(tmp_path, folder)
    client = server.test_client()
    sign_in(client, password=PASSWORD)
    response = client.get(f"/officer/briefs/{name}")
    assert response.status_code == 404, response.status_code
    assert b"SECRET" not in response.data and b"root:" not in response.data
    store.close()


def test_a_missing_or_unreadable_brief_folder_is_said_not_a_500(tmp_path):
    server, store = console_for(tmp_path, tmp_path / "never-made")
    client = server.test_client()
    sign_in(client, password=PASSWORD)
    page = client.get("/officer/briefs")
    assert page.status_code == 200
    assert "Chưa có thư mục báo cáo" in page.get_data(as_text=True)
    store.close()

    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("a file where the folder should be")
    server, store = console_for(tmp_path / "second", not_a_folder)
    client = server.test_client()
    sign_in(client, password=PASSWORD)
    page = client.get("/officer/briefs?lang=en")
    assert page.status_code == 200
    assert "The brief folder cannot be read: Not a directory." in page.get_data(as_text=True)
    assert client.get(f"/officer/briefs/brief-day-{DAY}.pdf").status_code == 404
    store.close()


def test_each_briefs_mail_is_shown_sent_or_why_not(console):
    server, store = console
    store.append_events(
        [
            Event.new(STREAM, f"brief-day-{DAY}", "due", data={"to": ["a@x.vn", "b@x.vn"]}),
            Event.new(STREAM, f"brief-day-{DAY}", "failed", note="smtp mail.x.vn:587: refused"),
            Event.new(STREAM, f"brief-week-{DAY}", "due", data={"to": ["a@x.vn"]}),
            Event.new(
                STREAM,
                f"brief-week-{DAY}",
                "sent",
                data={"to": ["a@x.vn"]},
                at=datetime(2026, 12, 7, 1, 0, tzinfo=UTC),
            ),
        ]
    )
    client = server.test_client()
    sign_in(client, password=PASSWORD)
    week, day = rows(client.get("/officer/briefs?lang=en").get_data(as_text=True))
    assert "not e-mailed: smtp mail.x.vn:587: refused" in day
    assert "e-mailed 07/12/2026 08:00:00 to 1" in week
