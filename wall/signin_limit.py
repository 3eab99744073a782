"""Sign-in attempts, limited: sliding windows, checked before any password is.

Every attempt is counted when it starts, atomically with the check (under one lock shared by
every thread, worker process and wall replica using the cache), and forgiven only if the password
was right: so 40 wrong passwords sent at once have at most PAIR_LIMIT of them checked, and the
window slides with each attempt (no burst across a clock edge). Three counts:

- one name from one address: PAIR_LIMIT attempts in WINDOW_SECONDS, then that pair waits;
- one address over all names (guessing a list of names): ADDRESS_LIMIT, then the address waits;
- one name over all addresses: past NAME_LIMIT the name is under attack, and each address may
  try it only once per window. This never refuses an address that has not failed with the name,
  so strangers elsewhere cannot lock an officer out of their shift.

A pair or address that reaches its limit waits FIRST_WAIT_SECONDS; each further lock within
STRIKES_KEPT_SECONDS doubles the wait, up to MAX_WAIT_SECONDS. A right password clears its pair.
With the cache away (Redis down) each process counts on its own, so sign-in keeps working.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from wall.cache import CACHE_DOWN, cache, exclusive

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300
PAIR_LIMIT = 5
ADDRESS_LIMIT = 20
NAME_LIMIT = 20
FIRST_WAIT_SECONDS = 300
MAX_WAIT_SECONDS = 3600
STRIKES_KEPT_SECONDS = 86400
LOCK_NAME = "signin-limit"


@dataclass
class Count:
    """One key's attempts (id → start time) within the window, and its lock."""

    attempts: dict[str, float] = field(default_factory=dict)
    strikes: int = 0
    struck_at: float = 0.0
    locked_until: float = 0.0

    def forget_old(self, now: float) -> None:
        self.attempts = {i: t for i, t in self.attempts.items() if t > now - WINDOW_SECONDS}
        if now - self.struck_at > STRIKES_KEPT_SECONDS:
            self.strikes = 0

    def wait(self, limit: int, now: float) -> float:
        """Seconds this key must wait before another attempt (0: none); locks it at its limit."""
        if self.locked_until <= now and len(self.attempts) >= limit:
            self.strikes += 1
            self.struck_at = now
            self.locked_until = now + min(
                FIRST_WAIT_SECONDS * 2 ** (self.strikes - 1), MAX_WAIT_SECONDS
            )
        return max(self.locked_until - now, 0.0)

    def empty(self, now: float) -> bool:
        return not self.attempts and not self.strikes and self.locked_until <= now

    def kept_seconds(self) -> int:
        return STRIKES_KEPT_SECONDS if self.strikes else WINDOW_SECONDS + 1


def _kept(stored: object) -> Count:
    """A count as kept in the cache: a plain dict, so a wall of another version reads it (and an
    unreadable one starts afresh)."""
    try:
        return Count(**stored)
    except TypeError:
        return Count()


@dataclass(frozen=True)
class Attempt:
    id: str
    pair: str
    address: str
    name: str


def _key(kind: str, *values: str) -> str:
    digest = hashlib.sha256("\n".join(values).encode(errors="replace")).hexdigest()[:32]
    return f"signin-limit:{kind}:{digest}"


class SigninLimiter:
    """`begin` before checking a password (an Attempt, or the seconds to wait), `end` after."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._local: dict[str, Count] = {}
        self._local_lock = threading.Lock()
        self._shared = True

    def begin(self, name: str, address: str) -> Attempt | float:
        attempt = Attempt(
            secrets.token_hex(8),
            _key("pair", name, address),
            _key("address", address),
            _key("name", name),
        )

        def check(counts: dict[str, Count], now: float) -> Attempt | float:
            under_attack = len(counts[attempt.name].attempts) >= NAME_LIMIT
            waits = (
                counts[attempt.pair].wait(1 if under_attack else PAIR_LIMIT, now),
                counts[attempt.address].wait(ADDRESS_LIMIT, now),
            )
            if max(waits) > 0:
                return max(waits)
            for count in counts.values():
                count.attempts[attempt.id] = now
            return attempt

        return self._update([attempt.pair, attempt.address, attempt.name], check)

    def end(self, attempt: Attempt, signed_in: bool) -> None:
        """A right password clears its pair and is not counted against its address or name;
        a wrong one stays counted."""
        if signed_in:
            self.forgive(attempt, clear_pair=True)

    def forgive(self, attempt: Attempt, clear_pair: bool = False) -> None:
        """Not counted after all (the password could not be checked)."""

        def uncount(counts: dict[str, Count], now: float) -> None:
            for count in counts.values():
                count.attempts.pop(attempt.id, None)
            if clear_pair:
                counts[attempt.pair] = Count()

        self._update([attempt.pair, attempt.address, attempt.name], uncount)

    def _update(self, keys: list[str], change: Callable[[dict[str, Count], float], object]):
        """`change` applied to the counts of `keys` atomically: in the shared cache, or (the
        cache away) in this process."""
        now = self.clock()
        try:
            with exclusive(LOCK_NAME):
                counts = {k: _kept(cache.get(k)) for k in keys}
                for count in counts.values():
                    count.forget_old(now)
                result = change(counts, now)
                for key, count in counts.items():
                    if count.empty(now):
                        cache.delete(key)
                    elif not cache.set(key, asdict(count), timeout=count.kept_seconds()):
                        raise OSError(f"the cache did not keep {key}")
            self._note_shared(True)
            return result
        except CACHE_DOWN as exc:
            self._note_shared(False, exc)
        with self._local_lock:
            for key, count in list(self._local.items()):
                count.forget_old(now)
                if count.empty(now):
                    del self._local[key]
            counts = {k: self._local.get(k) or Count() for k in keys}
            for count in counts.values():
                count.forget_old(now)
            result = change(counts, now)
            self._local.update(counts)
            return result

    def _note_shared(self, shared: bool, exc: Exception | None = None) -> None:
        """One log line each time the counting moves between the cache and this process."""
        if shared != self._shared:
            self._shared = shared
            if shared:
                log.warning("sign-in limits: cache back; counting attempts in the shared cache")
            else:
                log.warning(
                    "sign-in limits: cache unavailable (%s); counting attempts in this process "
                    "only until it is back",
                    exc,
                )
