"""Duty-officer accounts: who may acknowledge, shelve and annotate alerts.

Accounts live in the store's append-only event log (stream `officers`, one key per officer), so
every wall replica sees the same accounts and every change stays on record. Passwords are kept
only as salted scrypt hashes. There is no default account and no default password.

Sessions are on record too (stream `officer_sessions`, one key per officer): sign-in and
sign-out of each session, and an `ended` event whenever the account is removed, disabled or given
a new password, which ends every session the account had then. A session cookie alone is
therefore not enough: each request checks the account's session events since the session began.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from wall.store import Event, Store

STREAM = "officers"
SESSIONS = "officer_sessions"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
MIN_PASSWORD_CHARS = 10
# scrypt cost: ~50 ms and 16 MiB per check on this hardware, slow enough against guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# An account added before roles existed has none on record: it stays an officer.
OFFICER, REPORTER = "officer", "reporter"
ROLES = (OFFICER, REPORTER)


class OfficerError(ValueError):
    """A request about an account that cannot be done; the message says why."""


@dataclass(frozen=True)
class Officer:
    name: str
    added_at: datetime
    added_by: str | None
    enabled: bool = True
    role: str = "officer"
    unit: str | None = None  # a reporter's handling unit (city profile code)

    @property
    def may_act_on_alerts(self) -> bool:
        """Officers acknowledge, shelve and annotate alerts; a unit's reporter only reports."""
        return self.role != REPORTER


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encode = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"
    )


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=32)


_UNKNOWN_OFFICER_HASH = hash_password(os.urandom(16).hex())


def check_new_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise OfficerError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if name.lower() in password.lower():
        raise OfficerError("the password must not contain the officer's name")


@dataclass(frozen=True)
class _Account:
    officer: Officer
    password: str  # the scrypt hash


def _fold(events: list[Event]) -> dict[str, _Account]:
    """The current accounts from their events, oldest first."""
    accounts: dict[str, _Account] = {}
    for e in events:
        account = accounts.get(e.key)
        if e.kind == "added":
            role, unit = e.data.get("role", OFFICER), e.data.get("unit")
            officer = Officer(e.key, e.time, e.actor, enabled=True, role=role, unit=unit)
            accounts[e.key] = _Account(officer, e.data.get("password", ""))
        elif account is None:
            continue
        elif e.kind == "removed":
            del accounts[e.key]
        elif e.kind in ("disabled", "enabled"):
            officer = replace(account.officer, enabled=e.kind == "enabled")
            accounts[e.key] = replace(account, officer=officer)
        elif e.kind == "password_changed":
            accounts[e.key] = replace(account, password=e.data.get("password", ""))
    return accounts


def _account(store: Store, name: str) -> _Account | None:
    if not NAME_PATTERN.fullmatch(name):
        return None  # never a stored name: no need to ask the store
    return _fold(store.events(STREAM, key=name)).get(name)


def _existing(store: Store, name: str) -> _Account:
    account = _account(store, name)
    if account is None:
        raise OfficerError(f"there is no officer {name!r}")
    return account


def officer_named(store: Store, name: str) -> Officer:
    """The account `name`, or OfficerError when there is none."""
    return _existing(store, name).officer


def officers(store: Store) -> list[Officer]:
    return sorted((a.officer for a in _fold(store.events(STREAM)).values()), key=lambda o: o.name)


def add_officer(
    store: Store,
    name: str,
    password: str,
    by: str | None = None,
    role: str = OFFICER,
    unit: str | None = None,
) -> Officer:
    """A new account; a reporter is bound to one handling unit (checked by the caller against
    the city profile), an officer to none."""
    if role not in ROLES:
        raise OfficerError(f"{role!r} is not a role: one of {', '.join(ROLES)}")
    if (role == REPORTER) != (unit is not None):
        raise OfficerError(
            "a reporter needs --unit (its handling unit's code)"
            if role == REPORTER
            else "only a reporter is bound to a unit: leave out --unit or add --role reporter"
        )
    if not NAME_PATTERN.fullmatch(name):
        raise OfficerError(
            f"{name!r} is not an officer name: 2-32 of a-z, 0-9, '.', '_', '-' (e.g. 'nguyen.an')"
        )
    if _account(store, name) is not None:
        raise OfficerError(f"officer {name!r} exists already; remove the account first")
    check_new_password(name, password)
    data = {"password": hash_password(password)}
    if role == REPORTER:
        data |= {"role": role, "unit": unit}
    event = Event.new(STREAM, name, "added", actor=by, data=data)
    store.append_events([event])
    return Officer(name, event.time, by, role=role, unit=unit)


def remove_officer(store: Store, name: str, by: str | None = None) -> None:
    _existing(store, name)
    _change(store, name, "removed", by)


def disable_officer(store: Store, name: str, by: str | None = None) -> None:
    if not _existing(store, name).officer.enabled:
        raise OfficerError(f"officer {name!r} is disabled already")
    _change(store, name, "disabled", by)


def enable_officer(store: Store, name: str, by: str | None = None) -> None:
    if _existing(store, name).officer.enabled:
        raise OfficerError(f"officer {name!r} is enabled already")
    store.append_events([Event.new(STREAM, name, "enabled", actor=by)])


def change_password(store: Store, name: str, password: str, by: str | None = None) -> None:
    _existing(store, name)
    check_new_password(name, password)
    _change(store, name, "password_changed", by, data={"password": hash_password(password)})


def _change(store: Store, name: str, kind: str, by: str | None, data: dict | None = None) -> None:
    """An account change that ends every session of the account, in one append."""
    store.append_events(
        [
            Event.new(STREAM, name, kind, actor=by, data=data),
            Event.new(SESSIONS, name, "ended", actor=by, data={"reason": kind}),
        ]
    )


def authenticate(store: Store, name: str, password: str) -> bool:
    """True when `name` is a current, enabled officer with this password. Unknown names cost the
    same time as wrong passwords, so timing does not tell which names exist."""
    account = _account(store, name)
    encoded = account.password if account else _UNKNOWN_OFFICER_HASH
    return verify_password(password, encoded) and account is not None and account.officer.enabled


# -- sessions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    officer: str
    session_id: str
    started: datetime


def start_session(store: Store, name: str) -> Session:
    """A new session of a signed-in officer, on record so that every replica can end it."""
    session_id = secrets.token_urlsafe(18)
    event = Event.new(SESSIONS, name, "signed_in", actor=name, data={"session": session_id})
    store.append_events([event])
    return Session(name, session_id, event.time)


def end_session(store: Store, session: Session) -> None:
    data = {"session": session.session_id}
    store.append_events(
        [Event.new(SESSIONS, session.officer, "signed_out", actor=session.officer, data=data)]
    )


def session_is_live(store: Store, session: Session) -> bool:
    """Not signed out, and the account not removed, disabled or given a new password since the
    session started: one read of the account's session events of this shift."""
    for e in store.events(SESSIONS, key=session.officer, since=session.started):
        if e.time < session.started:
            continue  # the store reads from the start's millisecond
        if e.kind == "ended" or (
            e.kind == "signed_out" and e.data.get("session") == session.session_id
        ):
            return False
    return True
