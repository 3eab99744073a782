"""A bounded on-disk spool of point batches, for while the store is unreachable.

Append-only segment files of JSON lines (one line per batch), each append flushed and fsynced
before it counts as durable. Batches are replayed oldest first; a segment is deleted once all its
batches are in the store. A restart finds the segments left behind and replays them. A torn last
line (power cut in the middle of an append) is skipped with a warning: that batch was never
reported durable, so its messages were never acknowledged and the broker sends them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from wall.store import Point
from wall.store.base import from_ms, fsync_path

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".spool"
MAX_SEGMENT_BYTES = 16 * 1024 * 1024


class SpoolFull(Exception):
    """The spool holds its maximum size; the caller must wait for a replay to make room."""


class SpoolLocked(Exception):
    """Another process is using this spool folder."""


def encode_batch(points: Iterable[Point]) -> bytes:
    rows = [[p.measurement, p.tags, p.fields, p.time_ms] for p in points]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode_batch(line: bytes) -> list[Point]:
    return [Point(m, tags, fields, from_ms(ms)) for m, tags, fields, ms in json.loads(line)]


class Spool:
    """Batches of points in `folder`, at most `max_bytes` of them. Used by one thread at a time."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = max(64 * 1024, min(max_bytes // 8, MAX_SEGMENT_BYTES))
        self._lock_file = (self.folder / "lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolLocked(f"spool folder {self.folder} is in use by another process") from None
        self._segments = sorted(
            (p for p in self.folder.glob(f"*{SEGMENT_SUFFIX}") if _segment_number(p) >= 0),
            key=_segment_number,
        )
        self._sizes = {s: s.stat().st_size for s in self._segments}
        self._total_bytes = sum(self._sizes.values())  # read from other threads: one int
        self._next_number = _segment_number(self._segments[-1]) + 1 if self._segments else 1
        self._writing: Path | None = None  # never append after what an earlier process left
        self._handle = None
        self._replayed_lines: dict[Path, int] = {}
        self._known_points = 0
        if self._segments:
            log.info(
                "spool %s holds %d bytes from before; replaying when the store answers",
                self.folder,
                self.size_bytes,
            )

    @property
    def size_bytes(self) -> int:
        return self._total_bytes

    @property
    def empty(self) -> bool:
        return not self._segments

    @property
    def points(self) -> int:
        """Points appended by this process and not yet replayed (older segments: not counted)."""
        return self._known_points

    def append(self, points: Sequence[Point]) -> None:
        """Durably append one batch; raises SpoolFull when it does not fit (an empty spool takes
        any batch, so one oversized batch cannot block forever)."""
        record = encode_batch(points)
        if self._segments and self.size_bytes + len(record) > self.max_bytes:
            raise SpoolFull(
                f"spool {self.folder} is full ({self.size_bytes} of {self.max_bytes} bytes)"
            )
        if self._writing is None or self._sizes[self._writing] >= self.segment_bytes:
            self._open_new_segment()
        assert self._handle is not None and self._writing is not None
        try:
            self._handle.write(record)
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError:
            self._cut_back()  # no torn record in the middle of a segment
            raise
        self._sizes[self._writing] += len(record)
        self._total_bytes += len(record)
        self._known_points += len(points)

    def replay(self, write: Callable[[list[Point]], None]) -> int:
        """Hand every spooled batch, oldest first, to `write`; a batch leaves the spool only
        when `write` returned. Exceptions from `write` propagate (the rest stays for later).
        Returns how many points were replayed."""
        replayed = 0
        while self._segments:
            segment = self._segments[0]
            if segment == self._writing:
                self._close_writing()
            done = self._replayed_lines.get(segment, 0)
            lines = segment.read_bytes().split(b"\n")
            torn = lines.pop()  # b"" when the segment ends with a complete line
            if torn:
                log.warning("spool %s: skipping a torn last batch (%d bytes)", segment, len(torn))
            for number, line in enumerate(lines):
                if number < done:
                    continue
                try:
                    batch = decode_batch(line)
                except (ValueError, TypeError) as exc:
                    log.warning("spool %s: skipping unreadable batch %d: %s", segment, number, exc)
                    batch = []
                if batch:
                    write(batch)
                    replayed += len(batch)
                    self._known_points = max(0, self._known_points - len(batch))
                self._replayed_lines[segment] = number + 1
            segment.unlink()
            self._segments.pop(0)
            self._total_bytes -= self._sizes.pop(segment)
            self._replayed_lines.pop(segment, None)
        fsync_path(self.folder)
        return replayed

    def close(self) -> None:
        self._close_writing()
        self._lock_file.close()

    def _open_new_segment(self) -> None:
        self._close_writing()
        segment = self.folder / f"{self._next_number:012d}{SEGMENT_SUFFIX}"
        self._next_number += 1
        self._handle = segment.open("ab")
        fsync_path(self.folder)
        self._writing = segment
        self._segments.append(segment)
        self._sizes[segment] = 0

    def _cut_back(self) -> None:
        """After a failed append (a full disk): the segment back to its last whole record, and
        a new segment for the next append."""
        assert self._handle is not None and self._writing is not None
        segment, size = self._writing, self._sizes[self._writing]
        with contextlib.suppress(OSError):  # the unflushed rest goes with the handle
            self._handle.close()
        self._handle, self._writing = None, None
        with contextlib.suppress(OSError), segment.open("r+b") as handle:
            handle.truncate(size)
            os.fsync(handle.fileno())

    def _close_writing(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self._writing = None


def _segment_number(path: Path) -> int:
    """The sequence number in a segment's name; -1 for a file that is not a segment."""
    number = path.name.removesuffix(SEGMENT_SUFFIX)
    return int(number) if number.isdigit() else -1
