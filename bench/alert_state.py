"""What reading the alerts costs with a long alert history: prints figures, asserts nothing.

    python bench/alert_state.py --stores sqlite,influxdb [--closed 300] [--episodes 3] [--write-doc]

On a city store of bench/seed_city.py (`--days` of its telemetry and reports, its open alerts),
`--closed` more alerts, each raised, cleared and then acknowledged `--episodes` times over the
last month (so each closed on an acknowledgement, not on a clear: issue 16), all appended with
wall.alerts.state.record. Then, per backend, in `--rounds` interleaved rounds, each read
`--repeat` times (median):

- the wall's alerts part (callbacks.queries, on the overview and alerts screens each tick):
  from the kept state, against the reference, the same part as it read the log before issue 16
  (`alerts_as_before`, kept here: the newest event of each key, the last week's events, then
  the whole history of each key whose newest event is not a clear);
- the open alerts the evaluator reads each pass and the console each page (`open_alerts`),
  against the reference, the whole log folded as they read it before;
- what keeping the state adds to a write: an officer's note on an open alert appended with
  `record` (the log, then the key's state), against appending it to the log alone, as before.

Store questions are counted (tests.test_alert_state.Counted); the ratio is kept state / reference
in the same run, on the same store.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section
from bench.seed_city import open_bench_store, seed_city
from callbacks.queries import ALERT_HISTORY, PARTS
from layouts.alerts import alerts_frame
from tests.test_alert_state import Counted
from wall.alerts.model import STREAM, fold
from wall.alerts.state import open_alerts, record
from wall.store import Event, Store

COMMAND = "python bench/alert_state.py --stores sqlite,influxdb --closed 300 --episodes 3"


def alerts_as_before(store: Store, now: datetime, _: object = None):
    """The wall's alerts part up to issue 16 (callbacks/queries.py `_alerts`), the reference."""
    since = now - ALERT_HISTORY
    latest = store.latest_events(STREAM)
    events = {e.event_id: e for e in store.events(STREAM, since=since)}
    raised_lately = {e.key for e in events.values() if e.kind == "raised"}
    for key, last_event in latest.items():
        if key not in raised_lately and (last_event.kind != "cleared" or last_event.time >= since):
            events.update((e.event_id, e) for e in store.events(STREAM, key=key))
    return alerts_frame(fold(events.values()))


def open_as_before(store: Store):
    """What the evaluator and the console read up to issue 16: the whole log, folded."""
    return {k: a for k, a in fold(store.events(STREAM)).items() if a.state != "closed"}


def note() -> Event:
    """An officer's note on one of the seeded city's open alerts."""
    return Event.new(
        STREAM, "camera_offline:Cầu Lý Thường Kiệt", "noted", actor="an", note="đã gọi"
    )


def closed_alerts(store: Store, now: datetime, alerts: int, episodes: int) -> int:
    events = []
    for n in range(alerts):
        key = f"camera_offline:cam-{n:04d}"
        data = {"rule": "camera_offline", "entity": f"cam-{n:04d}", "severity": "high"}
        for episode in range(episodes):
            start = now - timedelta(days=30 - 8 * episode, minutes=n)
            events += [
                Event.new(STREAM, key, "raised", actor="system", data=data, at=start),
                Event.new(STREAM, key, "cleared", actor="system", at=start + timedelta(hours=1)),
                Event.new(STREAM, key, "acknowledged", actor="an", at=start + timedelta(hours=2)),
            ]
    for start in range(0, len(events), 300):
        record(store, events[start : start + 300])
    return len(events)


def measure(read, store: Store, repeat: int) -> tuple[float, int, int]:
    """(median seconds, store questions, alerts answered) of `read(store)`."""
    counted = Counted(store)
    seconds = []
    for _ in range(repeat):
        counted.asked.clear()
        started = time.perf_counter()
        answer = read(counted)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(counted.asked), len(answer)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--stores", default="sqlite,influxdb", help="comma-separated")
    args.add_argument("--days", type=float, default=0.25)
    args.add_argument("--reports", type=int, default=2000)
    args.add_argument("--closed", type=int, default=300)
    args.add_argument("--episodes", type=int, default=3)
    args.add_argument("--rounds", type=int, default=3)
    args.add_argument("--repeat", type=int, default=5)
    args.add_argument("--write-doc", action="store_true", help="write docs/benchmarks.md")
    opts = args.parse_args()
    reads = {
        ("alerts part", "kept state"): lambda s: PARTS["alerts"].fetch(s, datetime.now(UTC), None),
        ("alerts part", "log (before)"): lambda s: alerts_as_before(s, datetime.now(UTC)),
        ("open alerts", "kept state"): open_alerts,
        ("open alerts", "log (before)"): open_as_before,
        ("one event", "kept state"): lambda s: record(s, [note()]),
        ("one event", "log (before)"): lambda s: s.append_events([note()]) or [],
    }
    lines = [
        f"{'store':<9}{'read':<13}{'from':<14}{'questions':>10}{'alerts':>8}{'ms':>9}{'ratio':>8}"
    ]
    for kind in opts.stores.split(","):
        folder = Path(tempfile.mkdtemp(prefix="wall-bench-alerts-"))
        store, _, server = open_bench_store(kind, folder)
        try:
            now = datetime.now(UTC)
            counts = seed_city(store, now, opts.days, reports=opts.reports)
            written = closed_alerts(store, now, opts.closed, opts.episodes)
            print(f"{kind}: {counts.points:,} points, {written + counts.events:,} alert events")
            runs: dict[tuple[str, str], list[tuple[float, int, int]]] = {k: [] for k in reads}
            for _ in range(opts.rounds):
                for name, read in reads.items():
                    runs[name].append(measure(read, store, opts.repeat))
            for (what, source), results in runs.items():
                ms = statistics.median(r[0] for r in results) * 1000
                reference = statistics.median(r[0] for r in runs[(what, "log (before)")]) * 1000
                questions, alerts = results[-1][1], results[-1][2]
                lines.append(
                    f"{kind:<9}{what:<13}{source:<14}{questions:>10}{alerts:>8}{ms:>9.1f}"
                    f"{ms / reference:>8.2f}"
                )
        finally:
            store.close()
            if server:
                server.stop()
    table = "\n".join(lines)
    print(table)
    if opts.write_doc:
        measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_section(
            "Alerts with a long history: the kept state against the log",
            f"""Issue 16: an alert cleared and then acknowledged ends on an event that is not a
clear, so the wall's alerts part (on the overview and alerts screens, every tick) read each such
alert's whole history again: one store question per alert. Since then the store keeps each
alert's state (wall.alerts.state) and every reader asks once. Measured {measured} on the
2-core machine shared with other work, on a city store of bench/seed_city.py ({opts.days} days)
plus {opts.closed} alerts each raised, cleared then acknowledged {opts.episodes} times over the
last month. Reference: the same reads as they were before issue 16 (kept in the bench), in the
same run on the same store; `ratio` is the time against it; `alerts` how many the read answered
(the part: the open ones and those changed in the last week, i.e. the seeded city's open
alerts; the closed ones are older).

```
{COMMAND}
```

```
{table}
```
""",
        )


if __name__ == "__main__":
    main()
