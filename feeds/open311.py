"""Open311 GeoReport v2 service requests as the wall's field reports.

GeoReport v2 filters `requests.json` by `requested_datetime` only, so an update to an older
request never shows up in a "since the last poll" window. Each poll therefore does two things:
it asks for the requests made since the newest update already seen (minus an overlap, for
requests that appear late on the server), and it asks again, by `service_request_id`, for every
request whose last status was not final (closed or rejected), so a later assignment,
resolution or closing is not missed.

Every request version becomes one `field_report` point at its `updated_datetime`, validated by
`feeds.payloads.parse_record("report", …)` exactly like an MQTT report. Each request's last
written version (its time and a digest of what the wall stores of it) is remembered in a state
file, so no version is written twice, even across restarts, and a change the server makes
without a new `updated_datetime` is still written.

One request's time must not decide what later polls ask for: the cursor moves only over
requests written (or already written), never past the poll's own clock, and every
`open311_rescan_hours` the last `open311_rescan_days` are asked for again, for requests that
appear on the server late.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import requests

from feeds.http_sources import Batch, RepeatFilter, SourceError, dig, fetch_json, shown_url
from feeds.payloads import (
    MAX_CLOCK_AHEAD,
    RejectedMessage,
    parse_record,
    parse_timestamp,
    rfc3339,
)
from wall.city import CityProfile, load_profile, plain
from wall.domain import OTHER_CATEGORY, REPORT_STATUSES
from wall.settings import Settings
from wall.settings_core import SettingsError
from wall.store.base import from_ms, to_ms

log = logging.getLogger(__name__)

SOURCE_NAME = "open311"
SPEC_MAX_SPAN = timedelta(days=90)  # GeoReport v2: a date range may not span more than 90 days
MIN_SPLIT_SPAN = timedelta(seconds=2)
IDS_PER_REQUEST = 50
TRACK_OPEN_FOR = timedelta(days=90)  # unfinished requests older than this are not re-asked
SERVICES_REFRESH_SECONDS = 3600.0
MAX_TITLE_CHARS = 120
STATE_VERSION = 2
# A time without an offset: read in the city's zone when open311_naive_times says so.
NAIVE_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d(?::\d\d)?)(\.\d{1,9})?")

# Status texts (the standard open/closed, common extended statuses such as FixMyStreet's and
# Vietnamese ones), without diacritics and in lower case, to the wall's report statuses.
DEFAULT_STATUSES: dict[str, str] = {
    "open": "new",
    "new": "new",
    "received": "new",
    "submitted": "new",
    "confirmed": "new",
    "acknowledged": "new",
    "reported": "new",
    "moi": "new",
    "da tiep nhan": "new",
    "cho xu ly": "new",
    "assigned": "assigned",
    "action scheduled": "assigned",
    "scheduled": "assigned",
    "internal referral": "assigned",
    "da phan cong": "assigned",
    "da giao": "assigned",
    "in progress": "in_progress",
    "in process": "in_progress",
    "investigating": "in_progress",
    "processing": "in_progress",
    "dang xu ly": "in_progress",
    "fixed": "resolved",
    "resolved": "resolved",
    "completed": "resolved",
    "da xu ly": "resolved",
    "hoan thanh": "resolved",
    "da khac phuc": "resolved",
    "closed": "closed",
    "da dong": "closed",
    "rejected": "rejected",
    "duplicate": "rejected",
    "invalid": "rejected",
    "not councils responsibility": "rejected",
    "not responsible": "rejected",
    "unable to fix": "rejected",
    "won t fix": "rejected",
    "no further action": "rejected",
    "tu choi": "rejected",
    "trung lap": "rejected",
    "khong thuoc tham quyen": "rejected",
}
OPEN_STATUSES = ("new", "assigned", "in_progress")
FINAL_STATUSES = ("closed", "rejected")  # a request in any other status may still change
# Where servers put a status more detailed than open/closed (Chicago/Boston-style extensions).
DETAILED_STATUS_PATHS = (
    "extended_attributes.detailed_status",
    "detailed_status",
    "extended_attributes.status",
)


def _contains(haystack: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", haystack) is not None


def scalar(value: Any) -> Any:
    """A value some servers wrap in a one-element list (XML::Simple-style JSON)."""
    while isinstance(value, list) and len(value) == 1 and not isinstance(value[0], dict | list):
        value = value[0]
    return value


def unwrap_list(data: Any, wrappers: tuple[str, ...], what: str) -> list[Any]:
    """The list of items of an Open311 answer, in either shape real servers use: the spec's
    bare list, or an object wrapping it ({"service_requests": […]}, FixMyStreet's
    {"requests": [{"request": […]}]})."""
    for _ in range(5):
        if isinstance(data, Mapping):
            key = next((k for k in wrappers if k in data), None)
            if key is None:
                raise ValueError(
                    f"is an object without a list of {what} (keys: {', '.join(list(data)[:8])})"
                )
            data = data[key]
        elif (
            isinstance(data, list)
            and len(data) == 1
            and isinstance(data[0], Mapping)
            and set(data[0]) <= set(wrappers)
            and data[0]
        ):
            data = data[0]
        else:
            break
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError(f"is not a list of {what}")
    return data


@dataclass(frozen=True)
class Version:
    """What is remembered of a request: the version written, whether it can still change."""

    updated_ms: int  # its updated_datetime, or the poll's clock if that was later
    final: bool
    requested_ms: int
    digest: str = ""  # of the record written ("": a state file from before digests)


@dataclass
class Open311State:
    cursor_ms: int | None = None  # newest version time written, never past a poll's clock
    versions: dict[str, Version] = field(default_factory=dict)
    # Requests rejected for their content, asked again by id so that a fixed mapping (say a
    # status added to open311_statuses) picks them up: service_request_id → requested time.
    retry: dict[str, int] = field(default_factory=dict)
    rescanned_ms: int | None = None  # poll clock of the last re-scan of open311_rescan_days


@dataclass(frozen=True)
class Open311Config:
    url: str
    jurisdiction_id: str | None = None
    api_key: str | None = None
    interval: float = 60.0
    overlap: timedelta = timedelta(minutes=10)
    backfill: timedelta = timedelta(days=7)
    rescan_every: timedelta = timedelta(hours=6)
    rescan_span: timedelta = timedelta(days=3)
    naive_zone: tzinfo | None = None  # None: a time without an offset rejects its request
    page_limit: int = 1000
    id_prefix: str = ""
    categories: Mapping[str, str] = field(default_factory=dict)
    statuses: Mapping[str, str] = field(default_factory=dict)
    ward_field: str = "address"
    wards: Mapping[str, str] = field(default_factory=dict)
    profile: CityProfile | None = None  # its units and categories; None: the default profile

    @classmethod
    def from_settings(cls, settings: Settings) -> Open311Config:
        if not settings.open311_url:
            raise SettingsError("IOC_OPEN311_URL", "is empty: no Open311 endpoint to poll")
        profile = settings.profile
        known = (*profile.category_codes, OTHER_CATEGORY)
        categories = dict(settings.open311_categories)
        for key, category in categories.items():
            if category not in known:
                raise SettingsError(
                    "open311_categories",
                    f"{key!r} maps to {category!r}, which is not one of {', '.join(known)}",
                )
        statuses = {}
        for key, status in settings.open311_statuses:
            if status not in REPORT_STATUSES:
                raise SettingsError(
                    "open311_statuses",
                    f"{key!r} maps to {status!r}, which is not one of {', '.join(REPORT_STATUSES)}",
                )
            statuses[plain(key)] = status
        wards = {}
        for key, ward in dict(settings.open311_wards).items():
            unit = profile.unit_of(ward)
            if unit is None:
                raise SettingsError(
                    "open311_wards",
                    f"{key!r} maps to {ward!r}, which is not one of the wards "
                    f"({', '.join(profile.unit_names)}) nor a former name of one",
                )
            wards[key] = unit
        return cls(
            url=settings.open311_url.rstrip("/"),
            jurisdiction_id=settings.open311_jurisdiction_id,
            api_key=settings.open311_api_key,
            interval=settings.open311_interval_seconds,
            overlap=timedelta(seconds=settings.open311_overlap_seconds),
            backfill=timedelta(days=settings.open311_backfill_days),
            rescan_every=timedelta(hours=settings.open311_rescan_hours),
            rescan_span=timedelta(days=settings.open311_rescan_days),
            naive_zone=settings.tz if settings.open311_naive_times == "city" else None,
            page_limit=settings.open311_page_limit,
            id_prefix=settings.open311_id_prefix,
            categories=categories,
            statuses=statuses,
            ward_field=settings.open311_ward_field,
            wards=wards,
            profile=profile,
        )


class Open311Mapping:
    """One Open311 request (a decoded JSON object) as a field-report record of the contract."""

    def __init__(self, config: Open311Config):
        self.config = config
        self.statuses = {**DEFAULT_STATUSES, **config.statuses}
        self.service_names: dict[str, str] = {}
        self.categories: dict[tuple[str, str], str] = {}
        self.profile = config.profile or load_profile()
        self.wards = self.profile.ward_names.items()  # every name, code and former name
        self.town_names = [plain(name) for name in self.profile.town_names]
        self.service_codes = {
            code: c.code for c in self.profile.categories for code in c.service_codes
        }

    @staticmethod
    def request_id(item: Any) -> str:
        if not isinstance(item, Mapping):
            raise RejectedMessage("a request in the list is not an object")
        raw_id = scalar(item.get("service_request_id"))
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id):
            raise RejectedMessage("a request has no service_request_id")
        return str(raw_id).strip()

    def times(self, item: Mapping[str, Any]) -> tuple[datetime, datetime]:
        """(version time, requested time) of a request."""
        requested = self._time(item, "requested_datetime")
        updated = self._time(item, "updated_datetime") or requested
        if updated is None:
            raise RejectedMessage("neither updated_datetime nor requested_datetime is given")
        return updated, requested or updated

    def record(self, item: Mapping[str, Any]) -> dict[str, Any]:
        requested = self._time(item, "requested_datetime")
        updated = self._time(item, "updated_datetime") or requested
        lat, lon = self._coordinate(item.get("lat")), self._coordinate(item.get("long"))
        if lat == 0 and lon == 0:  # servers send 0,0 for "no location"
            lat = lon = None
        return {
            "category": self.category(item),
            "status": self.status(item),
            "title": self.title(item),
            "agency": self.agency(item),
            "ward": self.ward(item),
            "lat": lat,
            "lon": lon,
            "created": rfc3339(requested) if requested else None,
            "updated": rfc3339(updated) if updated else None,
            "ts": rfc3339(updated) if updated else None,
        }

    def service(self, item: Mapping[str, Any]) -> tuple[str, str]:
        """(service_code, service_name), the name from services.json when the request has none."""
        code = scalar(item.get("service_code"))
        code = (
            "" if isinstance(code, bool) or not isinstance(code, str | int) else str(code).strip()
        )
        name = scalar(item.get("service_name"))
        name = name.strip() if isinstance(name, str) else ""
        return code, name or self.service_names.get(code, "")

    def category(self, item: Mapping[str, Any]) -> str:
        """Remembered per service: every poll maps each request it sees (to compare content),
        and the keyword rules are most of that cost."""
        service = self.service(item)
        if service not in self.categories:
            if len(self.categories) > 10_000:  # a server that names a service per request
                self.categories.clear()
            self.categories[service] = self._category(*service)
        return self.categories[service]

    def _category(self, code: str, name: str) -> str:
        for key in (code, name):
            if key and key in self.config.categories:
                return self.config.categories[key]
        if code in self.service_codes:  # the profile's service codes of each category
            return self.service_codes[code]
        for text in (plain(name), plain(code)):
            for category in self.profile.categories:
                if text and any(_contains(text, w) for w in category.keywords):
                    return category.code
        return OTHER_CATEGORY

    def status(self, item: Mapping[str, Any]) -> str:
        for path in DETAILED_STATUS_PATHS:
            detailed = scalar(dig(item, path))
            if isinstance(detailed, str) and detailed.strip():
                return self._known_status(detailed, path)
        raw = scalar(item.get("status"))
        if raw is None or raw == "":
            raise RejectedMessage("required field 'status' is missing")
        if not isinstance(raw, str):
            raise RejectedMessage(f"field 'status' must be text, not {raw!r}"[:120])
        status = self._known_status(raw, "status")
        notes = scalar(item.get("status_notes"))
        if plain(raw) in ("open", "closed") and isinstance(notes, str):
            status = self._refined_by_notes(status, plain(notes))
        return status

    def _known_status(self, text: str, key: str) -> str:
        status = self.statuses.get(plain(text))
        if status is None:
            raise RejectedMessage(
                f"{key} {text[:40]!r} is not a known status; map it in open311_statuses "
                f"to one of {', '.join(REPORT_STATUSES)}"
            )
        return status

    def _refined_by_notes(self, status: str, notes: str) -> str:
        """status_notes may say more than open/closed ("Duplicate request.", "Đã phân công"):
        the earliest phrase in the notes that agrees with open/closed refines the status."""
        agreeing = OPEN_STATUSES if status in OPEN_STATUSES else ("resolved", "rejected")
        found = [
            (m.start(), wall_status)
            for phrase, wall_status in self.statuses.items()
            if wall_status in agreeing and wall_status != status
            for m in [re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", notes)]
            if m
        ]
        return min(found)[1] if found else status

    def title(self, item: Mapping[str, Any]) -> str | None:
        """The description's first line, else the service's name."""
        for text in (scalar(item.get("description")), self.service(item)[1]):
            if isinstance(text, str) and (lines := [ln for ln in text.splitlines() if ln.strip()]):
                title = " ".join(lines[0].split())
                if len(title) > MAX_TITLE_CHARS:
                    title = title[: MAX_TITLE_CHARS - 1].rstrip() + "…"
                return title
        return None

    def agency(self, item: Mapping[str, Any]) -> str | None:
        """`agency_responsible`: the wall maps it to a handling unit when it names one."""
        value = scalar(item.get("agency_responsible"))
        return " ".join(value.split())[:MAX_TITLE_CHARS] or None if isinstance(value, str) else None

    def ward(self, item: Mapping[str, Any]) -> str | None:
        value = scalar(dig(item, self.config.ward_field))
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None
        text = str(value).strip()
        if text in self.config.wards:
            return self.config.wards[text]
        # The name that comes first (an address goes from street to province), of two there
        # the longer (a ward named inside a longer one's name).
        plain_text = f" {plain(text)} "
        for town in self.town_names:  # a former town named like one of its wards today
            plain_text = plain_text.replace(f" {town} ", " | ")
        found = [(plain_text.find(f" {p} "), -len(p), w) for p, w in self.wards]
        return min(((at, size, w) for at, size, w in found if at >= 0), default=(0, 0, None))[2]

    @staticmethod
    def _coordinate(value: Any) -> Any:
        value = scalar(value)
        if isinstance(value, str):
            try:
                return float(value.strip()) if value.strip() else None
            except ValueError:
                return value  # the contract refuses it with its usual message
        return value

    def _time(self, item: Mapping[str, Any], key: str) -> datetime | None:
        value = scalar(item.get(key))
        if value is None or value == "":
            return None
        if isinstance(value, str):  # "…+0700" (no colon) is common; RFC 3339 wants "+07:00"
            value = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", value.strip())
            if naive := NAIVE_TIME.fullmatch(value):
                value = self._with_city_offset(value, naive, key)
        return parse_timestamp(value, key)

    def _with_city_offset(self, value: str, naive: re.Match[str], key: str) -> str:
        """A time without an offset, with the offset the city's zone had at that time."""
        if self.config.naive_zone is None:
            raise RejectedMessage(
                f"field {key!r}={value[:40]!r} has no offset; set open311_naive_times = "
                '"city" to read such times in the city\'s time zone'
            )
        try:
            local = datetime.fromisoformat(f"{naive[1]}T{naive[2]}")
        except ValueError:
            raise RejectedMessage(f"field {key!r}={value!r} is not a valid date and time") from None
        offset = local.replace(tzinfo=self.config.naive_zone).strftime("%z")
        return f"{value}{offset[:3]}:{offset[3:]}"


class Open311Source:
    """The poll of one Open311 endpoint, with its memory of the versions already written."""

    name = SOURCE_NAME

    def __init__(
        self,
        config: Open311Config,
        *,
        state_dir: Path,
        timeout: float,
        session: requests.Session,
    ):
        self.config = config
        self.interval = config.interval
        self.timeout = timeout
        self.session = session
        self.mapping = Open311Mapping(config)
        self.state_path = Path(state_dir) / f"{SOURCE_NAME}.json"
        self.state = self._load_state()
        self.repeats = RepeatFilter()
        self.services_loaded_at: float | None = None

    # -- HTTP ----------------------------------------------------------------------------------

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.config.jurisdiction_id:
            params["jurisdiction_id"] = self.config.jurisdiction_id
        if self.config.api_key:
            params["api_key"] = self.config.api_key
        return params

    def get_requests(self, **params: str) -> list[Any]:
        url = f"{self.config.url}/requests.json"
        data = fetch_json(
            self.session, self.name, url, params=self._params(**params), timeout=self.timeout
        )
        try:
            return unwrap_list(data, ("service_requests", "requests", "request"), "requests")
        except ValueError as exc:
            raise SourceError(self.name, f"answer from {shown_url(url)} {exc}") from None

    def load_services(self) -> None:
        """service_code → service_name from services.json, for requests that give only a code.
        Not fatal: the poll goes on without it and tries again later."""
        url = f"{self.config.url}/services.json"
        self.services_loaded_at = time.monotonic()
        try:
            data = fetch_json(
                self.session, self.name, url, params=self._params(), timeout=self.timeout
            )
            services = unwrap_list(data, ("services", "service"), "services")
        except (SourceError, ValueError) as exc:
            log.warning("%s: services.json not used: %s", self.name, exc)
            return
        names = {}
        for service in services:
            if isinstance(service, Mapping):
                code, name = (
                    scalar(service.get("service_code")),
                    scalar(service.get("service_name")),
                )
                if isinstance(code, str | int) and isinstance(name, str):
                    names[str(code)] = name
        self.mapping.service_names = names
        log.info(
            "%s: %d services: %s",
            self.name,
            len(names),
            "; ".join(
                f"{code} {name} → {self.mapping.category({'service_code': code})}"
                for code, name in list(names.items())[:50]
            ),
        )

    def fetch_window(self, start: datetime, end: datetime) -> list[Any]:
        """Requests made in [start, end]; a full answer (the server's limit) is split in two."""
        items = self.get_requests(start_date=w3(start), end_date=w3(end))
        if self.config.page_limit and len(items) >= self.config.page_limit:
            if end - start < MIN_SPLIT_SPAN * 2:
                log.warning(
                    "%s: %d requests between %s and %s fill one answer; some may be missed",
                    self.name,
                    len(items),
                    w3(start),
                    w3(end),
                )
                return items
            middle = (start + (end - start) / 2).replace(microsecond=0)
            return self.fetch_window(start, middle) + self.fetch_window(middle, end)
        return items

    # -- one poll ------------------------------------------------------------------------------

    def fetch(self, received_at: datetime) -> Batch:
        if (
            self.services_loaded_at is None
            or time.monotonic() - self.services_loaded_at > SERVICES_REFRESH_SECONDS
        ):
            self.load_services()
        state = self.state
        now = received_at.astimezone(UTC).replace(microsecond=0)
        start, rescanned_ms = self._window_start(now)
        items = []
        for span_start, span_end in spans(start, now + self.config.overlap, SPEC_MAX_SPAN):
            items += self.fetch_window(span_start, span_end)
        items += self._requests_to_ask_again(items, now)

        batch = Batch(received=len(items))
        newest: dict[str, tuple[Mapping[str, Any], datetime, datetime]] = {}
        versions, retry = dict(state.versions), dict(state.retry)
        for item in items:
            raw_id = "?"
            try:
                raw_id = self.mapping.request_id(item)
                updated, requested = self.mapping.times(item)
            except RejectedMessage as exc:
                self._reject(batch, raw_id, exc)
                if raw_id != "?" and "," not in raw_id:  # asked again by id, from now on
                    retry.setdefault(raw_id, to_ms(now))
                continue
            # On a tie the later answer wins: the look-ups by id come after the windows.
            if raw_id not in newest or updated >= newest[raw_id][1]:
                newest[raw_id] = (item, updated, requested)

        # Only what is written (now or before) moves the cursor, and never past this poll.
        cursor_ms = min(state.cursor_ms, to_ms(now)) if state.cursor_ms is not None else None
        for raw_id, (item, updated, requested) in newest.items():
            try:
                version = self._new_version(batch, raw_id, item, updated, requested, now)
            except RejectedMessage as exc:
                self._reject(batch, f"{raw_id}@{w3(updated)}", exc)
                if "," not in raw_id:  # the look-up by id is a comma-separated list
                    retry[raw_id] = to_ms(requested)
                continue
            retry.pop(raw_id, None)
            if version is not None:
                versions[raw_id] = version
            if raw_id in versions:
                cursor_ms = max(cursor_ms or 0, versions[raw_id].updated_ms)
        horizon = to_ms(now - TRACK_OPEN_FOR)
        batch.state = Open311State(
            cursor_ms,
            self._pruned(versions, min(start, now - self.config.rescan_span), now),
            {raw_id: ms for raw_id, ms in retry.items() if ms >= horizon},
            rescanned_ms,
        )
        return batch

    def _window_start(self, now: datetime) -> tuple[datetime, int | None]:
        """Where this poll's window starts, and the time of the last re-scan after it: the
        cursor less the overlap, or further back when a re-scan is due."""
        state = self.state
        if state.cursor_ms is None:
            return (now - self.config.backfill).replace(microsecond=0), to_ms(now)
        start = min(from_ms(state.cursor_ms), now) - self.config.overlap
        rescanned_ms = state.rescanned_ms
        if rescanned_ms is None or now - from_ms(rescanned_ms) >= self.config.rescan_every:
            start, rescanned_ms = min(start, now - self.config.rescan_span), to_ms(now)
        return start.replace(microsecond=0), rescanned_ms

    def _new_version(
        self,
        batch: Batch,
        raw_id: str,
        item: Mapping[str, Any],
        updated: datetime,
        requested: datetime,
        now: datetime,
    ) -> Version | None:
        """The request's version to remember, its point added to the batch; None when what
        the wall stores of it is unchanged."""
        record = self.mapping.record(item)
        digest = hashlib.blake2b(
            json.dumps(record, sort_keys=True, ensure_ascii=False).encode(), digest_size=8
        ).hexdigest()
        known = self.state.versions.get(raw_id)
        version = Version(
            min(to_ms(updated), to_ms(now)),
            record["status"] in FINAL_STATUSES,
            to_ms(requested),
            digest,
        )
        if known is not None:
            if digest == known.digest:
                return None
            if not known.digest and version.updated_ms == known.updated_ms:
                return replace(known, digest=digest)  # written before digests were kept
        if known is not None and version.updated_ms <= known.updated_ms:
            # Changed without a newer updated_datetime: the change is as new as this poll.
            record["ts"] = rfc3339(now)
        elif updated > now:
            record["ts"] = rfc3339(now)
            if updated > now + MAX_CLOCK_AHEAD:
                log.warning(
                    "%s: request %s: updated_datetime %s is %s ahead of this poll's clock "
                    "(is the server's time zone wrong?); written at the poll's time %s",
                    self.name,
                    raw_id,
                    w3(updated),
                    updated - now,
                    w3(now),
                )
        batch.points += parse_record("report", f"{self.config.id_prefix}{raw_id}", record, now)
        return version

    def _requests_to_ask_again(self, items: list[Any], now: datetime) -> list[Any]:
        seen = {str(scalar(i.get("service_request_id"))) for i in items if isinstance(i, Mapping)}
        horizon = to_ms(now - TRACK_OPEN_FOR)
        unfinished = {
            raw_id
            for raw_id, v in self.state.versions.items()
            if not v.final and v.requested_ms >= horizon
        }
        wanted = sorted((unfinished | set(self.state.retry)) - seen)
        found = []
        for i in range(0, len(wanted), IDS_PER_REQUEST):
            found += self.get_requests(service_request_id=",".join(wanted[i : i + IDS_PER_REQUEST]))
        return found

    def _pruned(self, versions: dict[str, Version], start: datetime, now: datetime) -> dict:
        """Forget requests no later poll can return: made before `start` (the window, or the
        re-scan's if earlier) and not re-asked."""
        start_ms, horizon = to_ms(start), to_ms(now - TRACK_OPEN_FOR)
        return {
            raw_id: v
            for raw_id, v in versions.items()
            if v.requested_ms >= start_ms or (not v.final and v.requested_ms >= horizon)
        }

    def _reject(self, batch: Batch, key: str, exc: RejectedMessage) -> None:
        batch.rejected += 1
        if self.repeats.should_log(key, exc.reason):
            log.warning("%s: request %s rejected: %s", self.name, key.split("@")[0], exc.reason)

    def commit(self, batch: Batch) -> None:
        """The batch's points are written: remember its versions and cursor, durably."""
        self.state = batch.state
        try:
            self._save_state()
        except OSError as exc:
            log.error(
                "%s: cannot save the poll state to %s (%s); after a restart these reports are "
                "written again, which leaves them unchanged in the store",
                self.name,
                self.state_path,
                exc,
            )

    # -- state file ----------------------------------------------------------------------------

    def _load_state(self) -> Open311State:
        try:
            data = json.loads(self.state_path.read_text())
            if data.get("version") != STATE_VERSION or data.get("endpoint") != self.config.url:
                log.info(
                    "%s: state in %s is for another endpoint; starting afresh",
                    self.name,
                    self.state_path,
                )
                return Open311State()
            return Open311State(
                cursor_ms=data["cursor_ms"],
                versions={k: Version(*v) for k, v in data["versions"].items()},
                retry=dict(data.get("retry", {})),
                rescanned_ms=data.get("rescanned_ms"),
            )
        except FileNotFoundError:
            return Open311State()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "%s: state file %s is unreadable (%s); starting afresh (reports already in the "
                "store are written again, which leaves them unchanged)",
                self.name,
                self.state_path,
                exc,
            )
            return Open311State()

    def _save_state(self) -> None:
        data = {
            "version": STATE_VERSION,
            "endpoint": self.config.url,
            "cursor_ms": self.state.cursor_ms,
            "versions": {
                k: [v.updated_ms, v.final, v.requested_ms, v.digest]
                for k, v in self.state.versions.items()
            },
            "retry": self.state.retry,
            "rescanned_ms": self.state.rescanned_ms,
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)


def w3(ts: datetime) -> str:
    """The W3C date-time form GeoReport v2 asks for, in UTC: 2010-01-01T00:00:00Z."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spans(
    start: datetime, end: datetime, longest: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        yield start, min(end, start + longest)
        start += longest
