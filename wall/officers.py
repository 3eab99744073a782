"""Duty-officer accounts: who may acknowledge, shelve and annotate alerts.

Accounts live in the store's append-only event log (stream `officers`, one key per officer), so
every wall replica sees the same accounts and every change stays on record. Passwords are kept
only as salted scrypt hashes. There is no default account and no default password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime

from wall.store import Event, Store

STREAM = "officers"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
MIN_PASSWORD_CHARS = 10
# scrypt cost: ~50 ms and 16 MiB per check on this hardware, slow enough against guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class OfficerError(ValueError):
    """A request about an account that cannot be done; the message says why."""


@dataclass(frozen=True)
class Officer:
    name: str
    added_at: datetime
    added_by: str | None


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


def _accounts(store: Store) -> dict[str, Event]:
    return {k: e for k, e in store.latest_events(STREAM).items() if e.kind == "added"}


def officers(store: Store) -> list[Officer]:
    return sorted(
        (Officer(name, e.time, e.actor) for name, e in _accounts(store).items()),
        key=lambda o: o.name,
    )


def add_officer(store: Store, name: str, password: str, by: str | None = None) -> Officer:
    if not NAME_PATTERN.fullmatch(name):
        raise OfficerError(
            f"{name!r} is not an officer name: 2-32 of a-z, 0-9, '.', '_', '-' (e.g. 'nguyen.an')"
        )
    if name in _accounts(store):
        raise OfficerError(f"officer {name!r} exists already; remove the account first")
    check_new_password(name, password)
    event = Event.new(STREAM, name, "added", actor=by, data={"password": hash_password(password)})
    store.append_events([event])
    return Officer(name, event.time, by)


def remove_officer(store: Store, name: str, by: str | None = None) -> None:
    if name not in _accounts(store):
        raise OfficerError(f"there is no officer {name!r}")
    store.append_events([Event.new(STREAM, name, "removed", actor=by)])


def authenticate(store: Store, name: str, password: str) -> bool:
    """True when `name` is a current officer with this password. Unknown names cost the same
    time as wrong passwords, so timing does not tell which names exist."""
    account = _accounts(store).get(name)
    encoded = account.data.get("password", "") if account else _UNKNOWN_OFFICER_HASH
    return verify_password(password, encoded) and account is not None
