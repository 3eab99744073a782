"""A service checks at its start that it can write every folder it must (store, spool, poll
state, cache, heartbeat): one that cannot stops there, exit status 2, with one line naming the
setting, the folder, its user and the reason, instead of failing at its first write later."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

from wall.settings_core import SettingsError


def require_writable(folder: Path, setting: str, what: str) -> None:
    """Create `folder` if missing and write a file in it as this process's user; SettingsError
    (the program's one-line exit 2) if it cannot."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".writable-"):
            pass
    except OSError as exc:
        problem = f"cannot {what} in {str(folder)!r}: {_why(folder, exc)}"
        raise SettingsError(setting, problem) from None


def require_writable_file(path: Path, setting: str, what: str) -> None:
    """An existing file this process must write (its folder is checked apart)."""
    if path.exists() and not os.access(path, os.W_OK, effective_ids=True):
        problem = f"cannot {what}: {str(path)!r} is not writable by {_user(os.geteuid())}"
        raise SettingsError(setting, f"{problem} (it belongs to {_owner(path)})")


def _why(path: Path, exc: OSError) -> str:
    """The reason, and who owns what stood in the way: what an IT team needs to fix it."""
    reason = exc.strerror or str(exc)
    if not isinstance(exc, PermissionError):
        return reason
    blocking = next((p for p in (path, *path.parents) if p.exists()), path)
    return (
        f"{reason} for {_user(os.geteuid())} ({str(blocking)!r} belongs to {_owner(blocking)}, "
        f"mode {blocking.stat().st_mode & 0o7777:04o})"
    )


def _owner(path: Path) -> str:
    return _user(path.stat().st_uid)


def _user(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"
