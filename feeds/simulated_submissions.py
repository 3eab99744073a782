"""The units' submissions of the periods just ended, for the demo.

The simulator sends indicator values from the day of history on; without these the accountability
screen, the console and the brief would open on every unit's indicators missing. A seeded mix,
as a town's units deliver: most on time (through the console, a file or their system's API),
some late, some missing. Written once, into a store that holds no submission yet.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from wall.accountability import due_at, due_period
from wall.city import CityProfile
from wall.store import Store
from wall.submissions import STREAM, Value, submit

MISSING_SHARE = 0.15
LATE_SHARE = 0.15
PATHS = ("console", "file", "api")
NOTE = "Số liệu mô phỏng (bản demo)"


def simulate_submissions(
    store: Store, profile: CityProfile, now: datetime, zone: ZoneInfo, seed: int = 7
) -> int:
    """Each catalogue indicator's value for its period just ended, as its unit would have
    submitted it by `now`; how many were written (none into a store with submissions)."""
    if store.latest_events(STREAM):
        return 0
    rng = random.Random(seed)
    written = 0
    for indicator in profile.indicators:
        period = due_period(indicator, now, zone)
        ended, due = period.end(zone), due_at(indicator, period, zone)
        draw = rng.random()
        if draw < MISSING_SHARE:
            continue
        if draw < MISSING_SHARE + LATE_SHARE and now > due + timedelta(hours=2):
            at = due + (now - due) * rng.uniform(0.05, 0.5)
        else:
            at = ended + (min(due, now) - ended) * rng.uniform(0.1, 0.9)
        value = indicator.level * (1 + rng.gauss(0, 0.01))
        if indicator.unit == "%":
            value = min(value, 100.0)
        submit(
            store,
            [Value(indicator, period.name, round(value, 1), NOTE)],
            by=f"{indicator.responsible_unit}.demo",
            unit=indicator.responsible_unit,
            path=rng.choice(PATHS),
            latest={},
            at=at,
        )
        written += 1
    return written
