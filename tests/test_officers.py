"""Officer accounts on both backends: slow salted hashes, no defaults, every change on record."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys

import pytest

from wall.officers import (
    SESSIONS,
    STREAM,
    OfficerError,
    add_officer,
    authenticate,
    change_password,
    disable_officer,
    enable_officer,
    end_session,
    officer_named,
    officers,
    remove_officer,
    session_is_live,
    start_session,
    verify_password,
)
from wall.settings import Settings
from wall.settings_core import PROJECT_DIR
from wall.store import Store, open_store


def test_no_account_exists_until_one_is_added(store: Store) -> None:
    assert officers(store) == []
    assert not authenticate(store, "admin", "admin")
    assert not authenticate(store, "admin", "")


def test_added_officer_signs_in_with_that_password_only(store: Store) -> None:
    add_officer(store, "nguyen.an", "Trực ban đêm 2026!", by="setup")
    assert [o.name for o in officers(store)] == ["nguyen.an"]
    assert authenticate(store, "nguyen.an", "Trực ban đêm 2026!")
    assert not authenticate(store, "nguyen.an", "trực ban đêm 2026!")
    assert not authenticate(store, "tran.binh", "Trực ban đêm 2026!")


def test_the_password_is_stored_only_as_a_salted_hash(store: Store) -> None:
    add_officer(store, "an", "mật khẩu dài đủ")
    add_officer(store, "binh", "mật khẩu dài đủ")
    stored = [e.data["password"] for e in store.events(STREAM)]
    assert all("mật khẩu" not in s for s in stored)
    assert stored[0] != stored[1]  # same password, different salt
    assert all(s.startswith("scrypt$16384$8$1$") for s in stored)
    assert verify_password("mật khẩu dài đủ", stored[0])


def test_removed_officer_cannot_sign_in_and_history_is_kept(store: Store) -> None:
    add_officer(store, "an", "một mật khẩu tốt")
    remove_officer(store, "an", by="trưởng ca")
    assert officers(store) == []
    assert not authenticate(store, "an", "một mật khẩu tốt")
    assert [(e.kind, e.actor) for e in store.events(STREAM, key="an")] == [
        ("added", None),
        ("removed", "trưởng ca"),
    ]
    add_officer(store, "an", "mật khẩu mới hơn")  # the name can be given again
    assert authenticate(store, "an", "mật khẩu mới hơn")
    assert not authenticate(store, "an", "một mật khẩu tốt")


@pytest.mark.parametrize(
    ("name", "password", "problem"),
    [
        ("An", "long enough pw", "not an officer name"),
        ("a", "long enough pw", "not an officer name"),
        ("an<script>", "long enough pw", "not an officer name"),
        ("binh", "short", "at least 10"),
        ("binh", "binh-123456789", "must not contain"),
    ],
)
def test_bad_names_and_weak_passwords_are_refused(store: Store, name, password, problem) -> None:
    with pytest.raises(OfficerError, match=problem):
        add_officer(store, name, password)
    assert officers(store) == []


def test_duplicate_and_unknown_accounts_are_refused(store: Store) -> None:
    add_officer(store, "an", "một mật khẩu tốt")
    with pytest.raises(OfficerError, match="exists already"):
        add_officer(store, "an", "mật khẩu khác nữa")
    with pytest.raises(OfficerError, match="no officer 'binh'"):
        remove_officer(store, "binh")


def test_a_disabled_officer_cannot_sign_in_until_enabled_again(store: Store) -> None:
    add_officer(store, "an", "một mật khẩu tốt")
    disable_officer(store, "an", by="trưởng ca")
    assert not authenticate(store, "an", "một mật khẩu tốt")
    assert [(o.name, o.enabled) for o in officers(store)] == [("an", False)]
    with pytest.raises(OfficerError, match="disabled already"):
        disable_officer(store, "an")
    with pytest.raises(OfficerError, match="exists already"):
        add_officer(store, "an", "mật khẩu khác nữa")
    enable_officer(store, "an", by="trưởng ca")
    assert authenticate(store, "an", "một mật khẩu tốt")
    assert [(o.name, o.enabled) for o in officers(store)] == [("an", True)]
    with pytest.raises(OfficerError, match="enabled already"):
        enable_officer(store, "an")


def test_a_new_password_replaces_the_old_one(store: Store) -> None:
    add_officer(store, "an", "một mật khẩu tốt")
    with pytest.raises(OfficerError, match="at least 10"):
        change_password(store, "an", "ngắn")
    assert authenticate(store, "an", "một mật khẩu tốt")
    change_password(store, "an", "mật khẩu mới hơn", by="an")
    assert authenticate(store, "an", "mật khẩu mới hơn")
    assert not authenticate(store, "an", "một mật khẩu tốt")
    with pytest.raises(OfficerError, match="no officer 'binh'"):
        change_password(store, "binh", "mật khẩu mới hơn")


def test_a_session_lives_until_signed_out_or_its_account_changes(store: Store) -> None:
    add_officer(store, "an", "một mật khẩu tốt")
    add_officer(store, "binh", "một mật khẩu khác")
    desk, phone, binh = (
        start_session(store, "an"),
        start_session(store, "an"),
        start_session(store, "binh"),
    )
    assert all(session_is_live(store, s) for s in (desk, phone, binh))
    end_session(store, desk)
    assert not session_is_live(store, desk)
    assert session_is_live(store, phone)
    disable_officer(store, "an", by="trưởng ca")
    enable_officer(store, "an", by="trưởng ca")
    assert not session_is_live(store, phone)  # enabling again does not bring it back
    assert session_is_live(store, binh)
    later = start_session(store, "an")
    assert session_is_live(store, later)
    kinds = [(e.kind, e.actor) for e in store.events(SESSIONS, key="an")]
    assert kinds == [
        ("signed_in", "an"),
        ("signed_in", "an"),
        ("signed_out", "an"),
        ("ended", "trưởng ca"),
        ("signed_in", "an"),
    ]


def users_command(store_url: str, *args: str, password: str = "") -> subprocess.CompletedProcess:
    """`python -m wall users …` as an administrator runs it (USER names them in the log)."""
    return subprocess.run(
        [sys.executable, "-m", "wall", "users", *args],
        input=password,
        env={"IOC_STORE": store_url, "PATH": "", "USER": "ca-truong"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_DIR,
    )


def users_at_a_terminal(store_url: str, *args: str, typed: list[str]) -> tuple[int, str]:
    """`python -m wall users …` on a terminal (a pseudo-terminal: getpass reads from it with
    echo off), answering each prompt with the next of `typed`; the exit code and what it showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, as a person starts it
        os.chdir(PROJECT_DIR)
        command = [sys.executable, "-m", "wall", "users", *args]
        os.execve(sys.executable, command, {"IOC_STORE": store_url, "PATH": "", "USER": "an"})
    shown, answers = b"", list(typed)
    while True:
        ready, _, _ = select.select([terminal], [], [], 60)
        assert ready, f"no output for 60 s: {shown!r}"
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
        if answers and shown.endswith(b": "):  # a prompt (getpass turned echo off before it)
            os.write(terminal, answers.pop(0).encode() + b"\n")
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode()


def test_passwd_at_a_terminal_asks_twice_and_shows_nothing_typed(tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"
    with open_store(Settings(store=store_url)) as store:
        add_officer(store, "nguyen.an", "Một mật khẩu dài")
    new = "Mật khẩu mới của ca"
    code, shown = users_at_a_terminal(store_url, "passwd", "nguyen.binh", typed=[])
    assert code == 1 and "wall users: there is no officer 'nguyen.binh'" in shown
    assert "Password" not in shown  # not asked for a password it would throw away
    code, shown = users_at_a_terminal(store_url, "passwd", "nguyen.an", typed=[new, new + "x"])
    assert code == 1 and "wall users: the two passwords differ" in shown
    code, shown = users_at_a_terminal(store_url, "passwd", "nguyen.an", typed=[new, new])
    assert code == 0, shown
    assert "Password: " in shown and "Password again: " in shown
    assert "new password for officer nguyen.an; all its sessions are ended" in shown
    assert new not in shown  # typed with echo off
    with open_store(Settings(store=store_url)) as store:
        assert authenticate(store, "nguyen.an", new)
        assert not authenticate(store, "nguyen.an", "Một mật khẩu dài")


def test_users_command_adds_lists_and_removes_accounts(tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"

    def users(*args: str, password: str = "") -> subprocess.CompletedProcess:
        return users_command(store_url, *args, password=password)

    weak = users("add", "nguyen.an", "--password-stdin", password="ngắn\n")
    assert weak.returncode == 1
    assert weak.stderr.strip() == "wall users: the password must have at least 10 characters"
    assert (
        users("add", "nguyen.an", "--password-stdin", password="Một mật khẩu dài\n").returncode == 0
    )
    listed = users("list")
    assert listed.stdout.split("\t")[0] == "nguyen.an"
    assert listed.stdout.rstrip("\n").endswith("\tenabled\tofficer")
    disabled = users("disable", "nguyen.an")
    assert disabled.stdout == "disabled officer nguyen.an; its sessions are ended\n"
    assert users("list").stdout.rstrip("\n").endswith("\tdisabled\tofficer")
    assert users("enable", "nguyen.an").returncode == 0
    assert users("list").stdout.rstrip("\n").endswith("\tenabled\tofficer")
    weak_new = users("passwd", "nguyen.an", "--password-stdin", password="ngắn\n")
    assert weak_new.stderr.strip() == "wall users: the password must have at least 10 characters"
    changed = users("passwd", "nguyen.an", "--password-stdin", password="Mật khẩu mới của ca\n")
    assert changed.returncode == 0 and "all its sessions are ended" in changed.stdout
    with open_store(Settings(store=store_url)) as store:
        assert authenticate(store, "nguyen.an", "Mật khẩu mới của ca")
    assert users("remove", "nguyen.an").returncode == 0
    assert users("list").stdout == ""
    missing = users("remove", "nguyen.an")
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "wall users: there is no officer 'nguyen.an'",
    )


def test_users_command_adds_a_reporter_bound_to_one_unit_of_the_profile(tmp_path) -> None:
    store_url = f"sqlite:///{tmp_path / 'ioc.db'}"

    def users(*args: str) -> subprocess.CompletedProcess:
        return users_command(store_url, *args, password="Mật khẩu của phường\n")

    unknown = users("add", "le.cuong", "--role", "reporter", "--unit", "no-such-unit")
    assert unknown.returncode == 1 and "no-such-unit" in unknown.stderr
    unbound = users("add", "le.cuong", "--role", "reporter", "--password-stdin")
    assert (unbound.returncode, unbound.stderr.strip()) == (
        1,
        "wall users: a reporter needs --unit (its handling unit's code)",
    )
    officer_with_unit = users("add", "le.cuong", "--unit", "moi-truong", "--password-stdin")
    assert officer_with_unit.returncode == 1 and "only a reporter" in officer_with_unit.stderr
    added = users(
        "add", "le.cuong", "--role", "reporter", "--unit", "moi-truong", "--password-stdin"
    )
    assert (added.returncode, added.stdout) == (0, "added reporter le.cuong of unit moi-truong\n")
    assert users("list").stdout.rstrip("\n").endswith("\tenabled\treporter moi-truong")
    with open_store(Settings(store=store_url)) as store:
        reporter = officer_named(store, "le.cuong")
        assert (reporter.role, reporter.unit, reporter.may_act_on_alerts) == (
            "reporter",
            "moi-truong",
            False,
        )
        assert authenticate(store, "le.cuong", "Mật khẩu của phường")
