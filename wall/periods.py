"""An indicator's reporting periods (month, quarter, year) in the city's zone.

A period is named `2026-11` (month), `2026-Q4` (quarter) or `2026` (year). Its value is due by
the end of its indicator's `due_day`-th day after it ends. A period is open for submissions from
its first day until the next period ends: the period under way and the one just ended (whose
value may come late, never after that); later and earlier ones are not open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PERIOD_KINDS = ("month", "quarter", "year")
# The fewest days a period of each kind has: a due day must fall inside the next period.
SHORTEST_DAYS = {"month": 28, "quarter": 89, "year": 365}
FORMATS = {"month": "YYYY-MM", "quarter": "YYYY-Qn", "year": "YYYY"}
PATTERNS = {
    "month": re.compile(r"(\d{4})-(\d{2})"),
    "quarter": re.compile(r"(\d{4})-Q(\d)"),
    "year": re.compile(r"(\d{4})"),
}
MONTHS_OF = {"month": 1, "quarter": 3, "year": 12}


class PeriodError(ValueError):
    """Text that names no period of the kind; the message says what one looks like."""


@dataclass(frozen=True)
class Period:
    kind: str
    first_day: date  # the period is first_day <= day < next_first_day

    @property
    def name(self) -> str:
        if self.kind == "year":
            return f"{self.first_day:%Y}"
        if self.kind == "quarter":
            return f"{self.first_day:%Y}-Q{(self.first_day.month - 1) // 3 + 1}"
        return f"{self.first_day:%Y-%m}"

    @property
    def next_first_day(self) -> date:
        months = self.first_day.year * 12 + self.first_day.month - 1 + MONTHS_OF[self.kind]
        return date(months // 12, months % 12 + 1, 1)

    def following(self) -> Period:
        return Period(self.kind, self.next_first_day)

    def previous(self) -> Period:
        months = self.first_day.year * 12 + self.first_day.month - 1 - MONTHS_OF[self.kind]
        return Period(self.kind, date(months // 12, months % 12 + 1, 1))

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.first_day, time(), zone)

    def end(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.next_first_day, time(), zone)

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        return self.start(zone) <= now < self.following().end(zone)


def period_of(kind: str, moment: datetime, zone: ZoneInfo) -> Period:
    """The period of `kind` that holds `moment` in the city's zone."""
    local = moment.astimezone(zone).date()
    month = local.month - (local.month - 1) % MONTHS_OF[kind]
    return Period(kind, date(local.year, month, 1))


def parse_period(kind: str, text: str) -> Period:
    """The period `text` names (`2026-11`, `2026-Q4`, `2026`); PeriodError if it names none."""
    match = PATTERNS[kind].fullmatch(text.strip())
    number = int(match.group(2)) if match and kind != "year" else 1
    last = {"month": 12, "quarter": 4, "year": 1}[kind]
    if match is None or not 1 <= number <= last or int(match.group(1)) < 1900:
        raise PeriodError(f"{text!r} is not a {kind} ({FORMATS[kind]})")
    month = (number - 1) * 3 + 1 if kind == "quarter" else number
    return Period(kind, date(int(match.group(1)), month, 1))
