"""The on-disk spool: batches come back whole, in order, after a restart, within its bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.spool import Spool, SpoolFull, SpoolLocked
from wall.store import Point, StoreUnavailable

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def batch(start: int, size: int) -> list[Point]:
    return [
        Point(
            "wifi_usage",
            {"ap_id": f"ap-{i:03d}", "ward": "Long Thành Bắc"},
            {"up": True, "clients": i, "rx_bytes": 2**40 + i, "name": 'Tòa Thánh "cổng"\n2'},
            T0 + timedelta(milliseconds=i),
        )
        for i in range(start, start + size)
    ]


def replay_all(spool: Spool) -> list[list[Point]]:
    replayed: list[list[Point]] = []
    spool.replay(replayed.append)
    return replayed


def test_batches_come_back_whole_and_in_order_then_the_files_are_gone(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000_000)
    batches = [batch(n * 10, 10) for n in range(5)]
    for b in batches:
        spool.append(b)
    assert spool.points == 50 and spool.size_bytes > 0
    assert replay_all(spool) == batches  # Points compare by value: every tag and field exact
    assert spool.empty and spool.size_bytes == 0 and spool.points == 0
    assert not list(tmp_path.glob("*.spool"))


def test_a_new_process_finds_and_replays_what_an_earlier_one_spooled(tmp_path: Path) -> None:
    first = Spool(tmp_path, max_bytes=10_000_000)
    first.append(batch(0, 3))
    first.append(batch(3, 3))
    first.close()
    second = Spool(tmp_path, max_bytes=10_000_000)
    assert not second.empty
    second.append(batch(6, 3))  # goes after the old ones
    assert replay_all(second) == [batch(0, 3), batch(3, 3), batch(6, 3)]


def test_full_spool_refuses_and_takes_again_after_a_replay(tmp_path: Path) -> None:
    one = 3000
    spool = Spool(tmp_path, max_bytes=one)
    spool.append(batch(0, 5))
    with pytest.raises(SpoolFull, match="full"):
        for n in range(1, 100):
            spool.append(batch(n * 5, 5))
    assert spool.size_bytes <= one
    spooled = spool.points
    assert sum(len(b) for b in replay_all(spool)) == spooled
    spool.append(batch(0, 5))  # room again


def test_an_empty_spool_takes_one_batch_bigger_than_its_bound(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(batch(0, 20))
    with pytest.raises(SpoolFull):
        spool.append(batch(20, 1))
    assert replay_all(spool) == [batch(0, 20)]


def test_a_torn_last_batch_is_skipped_and_the_complete_ones_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000_000)
    spool.append(batch(0, 4))
    spool.append(batch(4, 4))
    spool.close()
    [segment] = tmp_path.glob("*.spool")
    data = segment.read_bytes()
    segment.write_bytes(data[:-25])  # power cut in the middle of the second append
    assert replay_all(Spool(tmp_path, max_bytes=10_000_000)) == [batch(0, 4)]


def test_a_failing_store_keeps_the_rest_and_the_next_replay_resumes(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000_000)
    for n in range(4):
        spool.append(batch(n * 2, 2))
    written: list[list[Point]] = []

    def store_that_fails_on_the_third(points: list[Point]) -> None:
        if len(written) == 2:
            raise StoreUnavailable("influxd stopped")
        written.append(points)

    with pytest.raises(StoreUnavailable):
        spool.replay(store_that_fails_on_the_third)
    assert not spool.empty
    spool.replay(written.append)
    assert written == [batch(n * 2, 2) for n in range(4)]  # no batch lost, none twice
    assert spool.empty


def test_two_processes_cannot_share_one_spool_folder(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    with pytest.raises(SpoolLocked, match=str(tmp_path)):
        Spool(tmp_path, max_bytes=1000)
    spool.close()
    Spool(tmp_path, max_bytes=1000).close()
