"""The polling worker's dead letters: the points the store refused for what they are.

A poll commits what the store took, so a refused point is not asked for again: it is kept here,
one JSON line per point (`{"refused_at", "source", "reason", "point": {"measurement", "tags",
"fields", "time"}}`), appended and fsynced before the poll commits. A file, not an MQTT topic:
the poller needs no broker, and a file next to the poll state is what an operator reads with
`less`, `grep` or `jq` and replays with `python -m feeds poll --replay-dead-letters` once the
cause is fixed. When an append would take the file past its bound, the file is renamed to
`<name>.1` (replacing an older one) and a new one started, so at most about twice the bound is
kept, and the oldest letters go first.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from feeds.ingest import point_record
from wall.store import Point, PointsRefused, Store
from wall.store.base import fsync_path

FILE_NAME = "dead-letters.jsonl"


class DeadLetters:
    def __init__(self, path: Path, max_bytes: int):
        self.path = Path(path)
        self.older = self.path.with_name(self.path.name + ".1")
        self.max_bytes = max_bytes

    def append(self, source: str, refused: Sequence[tuple[Point, str]]) -> None:
        """Keep the refused points durably (OSError when it cannot: the caller must not commit)."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = b"".join(
            json.dumps(
                {"refused_at": now, "source": source, "reason": reason, "point": point_record(p)},
                ensure_ascii=False,
            ).encode()
            + b"\n"
            for p, reason in refused
        )
        with self._locked():
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(lines) > self.max_bytes:
                os.replace(self.path, self.older)
            with open(self.path, "ab") as handle:
                handle.write(lines)
                handle.flush()
                os.fsync(handle.fileno())
            fsync_path(self.path.parent)

    def replay(self, store: Store) -> tuple[int, int]:
        """Write every kept point into the store again, oldest first; the ones it still refuses
        stay (with the new reason), the others are removed. Returns (written, still refused)."""
        with self._locked():
            letters, points = [], []
            for path in (self.older, self.path):
                lines = path.read_bytes().splitlines() if path.exists() else []
                for number, line in enumerate(lines, 1):
                    try:
                        letters.append(json.loads(line))
                        points.append(_point(letters[-1]["point"]))
                    except (ValueError, KeyError, TypeError) as exc:  # edited by hand
                        problem = f"line {number} of {path} is not a dead letter: {exc!r}"
                        raise ValueError(problem) from None
            try:
                store.write(points)
                refused: dict[int, str] = {}
            except PointsRefused as exc:
                refused = {id(point): reason for point, reason in exc.refused}
            kept = [
                json.dumps(letter | {"reason": refused[id(point)]}, ensure_ascii=False) + "\n"
                for letter, point in zip(letters, points, strict=True)
                if id(point) in refused
            ]
            staged = self.path.with_name(self.path.name + ".new")
            with open(staged, "w", encoding="utf-8") as handle:
                handle.writelines(kept)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(staged, self.path)
            self.older.unlink(missing_ok=True)
            fsync_path(self.path.parent)
        return len(points) - len(kept), len(kept)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: a replay must not lose a letter a running poller appends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _point(record: dict) -> Point:
    return Point(
        record["measurement"],
        record["tags"],
        record["fields"],
        datetime.fromisoformat(record["time"]),
    )
