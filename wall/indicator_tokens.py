"""Per-unit tokens of the indicator API: a department's own system submits with one.

A token is `ioc_<id>_<secret>`. The store keeps, in the append-only event log (stream
`indicator_tokens`, one key per token id), who created it for which unit and the SHA-256 of its
secret, never the secret itself (shown once, when created); revoking it is an event too, after
which it is refused. The secret is 32 random bytes: a fast hash is enough against guessing, as
there is no password to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from wall.store import Event, Store

STREAM = "indicator_tokens"
TOKEN_PATTERN = re.compile(r"ioc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


class TokenError(ValueError):
    """A token that cannot be used, or a change that cannot be made; the message says why."""


@dataclass(frozen=True)
class Token:
    token_id: str
    unit: str
    created_at: datetime
    created_by: str | None
    label: str | None
    revoked: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, unit: str, *, by: str, label: str | None = None) -> str:
    """A new token of `unit`: the whole token, to hand over once (the store keeps its hash)."""
    token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    data = {"unit": unit, "sha256": _digest(secret)}
    store.append_events([Event.new(STREAM, token_id, "created", actor=by, note=label, data=data)])
    return f"ioc_{token_id}_{secret}"


def revoke_token(store: Store, token_id: str, *, by: str) -> None:
    token = next((t for t in tokens(store) if t.token_id == token_id), None)
    if token is None:
        raise TokenError(f"there is no token {token_id!r}")
    if token.revoked:
        raise TokenError(f"token {token_id} is revoked already")
    store.append_events([Event.new(STREAM, token_id, "revoked", actor=by)])


def tokens(store: Store) -> list[Token]:
    """Every token ever created, oldest first."""
    result: dict[str, Token] = {}
    for event in store.events(STREAM):
        if event.kind == "created":
            result[event.key] = Token(
                event.key, event.data["unit"], event.time, event.actor, event.note, False
            )
        elif event.kind == "revoked" and event.key in result:
            old = result[event.key]
            result[event.key] = Token(
                old.token_id, old.unit, old.created_at, old.created_by, old.label, True
            )
    return list(result.values())


def unit_of_token(store: Store, presented: str) -> tuple[str, str]:
    """(token id, unit) of a live token; TokenError if it is malformed, unknown or revoked."""
    match = TOKEN_PATTERN.fullmatch(presented)
    if match is None:
        raise TokenError("malformed token")
    token_id, secret = match.groups()
    events = store.events(STREAM, key=token_id)
    created = next((e for e in events if e.kind == "created"), None)
    if created is None or not hmac.compare_digest(created.data["sha256"], _digest(secret)):
        raise TokenError("unknown token")
    if any(e.kind == "revoked" for e in events):
        raise TokenError(f"token {token_id} is revoked")
    return token_id, created.data["unit"]
