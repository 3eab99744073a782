"""The city profile's town simulated for demos and load tests: what its devices would send.

`CitySimulator` is a pure, deterministic generator of `SimMessage(time, topic, payload)`: the
same inventory, seed, start time and options give the same messages, however the time range is
cut into `advance` calls. It is a discrete-event simulation (a heap of scheduled events), so 24 h
of backfill for a few hundred cameras costs a few hundred thousand events, not a tick per second.

What it models, none of it hand-placed:
- cameras report status periodically and on change; most fail rarely, a few flap; a few
  registered cameras never report ("no data"), a few unregistered ones do;
- power cuts take a whole ward's cameras and APs down at the same instant, then restore them;
- WiFi clients follow the town's day (morning, lunch and evening peaks), the daily events of
  the profile's gathering places (Tây Ninh's Holy See: four ceremonies), and a large crowd there
  on the profile's festival days; APs reboot and reset counters;
- field reports arrive through the day across categories and move new → assigned →
  in_progress → resolved → closed (or new → rejected) over hours;
- the profile's operating indicators with targets, some met and some missed.

Injected events (feeds.sim_events; none unless asked for, from a schedule or drawn at a rate):
a festival crowd at a gathering place, a ward's power cut, a surge of one category's reports in
a ward, an AP up with 0 clients. Each is appended to `events` as it begins and handed to
`on_event` (the ground truth file of `--truth`).

Runners: `publish_mqtt` (paho-mqtt 2, when IOC_MQTT_URL is set) and `run_in_process` (feeds the
`Ingestor` directly, the demo without a broker). `Open311Server` serves the reports as an Open311
GeoReport v2 endpoint for the polling worker.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import logging
import math
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from feeds.inventory import (
    AccessPoint,
    Camera,
    Inventory,
    generate_inventory,
    town_inventory,
)
from feeds.known_values import KnownValues
from feeds.payloads import topic_for
from feeds.sim_events import EventPicker, ScheduleError, SimEvent, TruthWriter, load_schedule
from wall.city import Indicator
from wall.periods import period_of
from wall.settings import Settings
from wall.settings_core import masked_url
from wall.store import Store

log = logging.getLogger(__name__)


# How long a stopping simulator waits for the broker to acknowledge what it published.
CLOSE_FLUSH_SECONDS = 5
# Where a report may go next; anything else never happens.
REPORT_TRANSITIONS = {
    "new": ("assigned", "rejected"),
    "assigned": ("in_progress",),
    "in_progress": ("resolved",),
    "resolved": ("closed",),
    "closed": (),
    "rejected": (),
}


@dataclass(frozen=True)
class SimMessage:
    time: datetime  # simulated time of sending (UTC); the payload's `ts`
    topic: str
    payload: bytes


@dataclass(frozen=True)
class PowerCut:
    ward: str
    start: datetime
    end: datetime


@dataclass
class SimOptions:
    """Rates are per simulated time. Intervals apply to periodic status (changes are immediate)."""

    status_interval: timedelta = timedelta(seconds=30)
    backfill_status_interval: timedelta = timedelta(minutes=10)
    kpi_interval: timedelta = timedelta(minutes=10)
    backfill_kpi_interval: timedelta = timedelta(hours=1)
    reports_per_day: float = 48.0
    power_cut_every: timedelta = timedelta(hours=8)  # mean time between power cuts, town-wide
    power_cut_minutes: tuple[float, float] = (20.0, 90.0)
    flaky_share: float = 0.05
    silent_share: float = 0.01
    unregistered_cameras: int = 3
    festival_days: frozenset[date] = frozenset()  # besides the city profile's
    publish_reports: bool = True  # False: reports only reach `on_report` (an Open311 server)
    events: tuple[SimEvent, ...] = ()  # injected at their times (feeds.sim_events)
    events_per_day: float = 0.0  # besides: events drawn at this mean rate, seeded

    @classmethod
    def for_rate(cls, rate: float, devices: int, **kwargs: Any) -> SimOptions:
        """Options whose periodic status messages add up to about `rate` per second."""
        return cls(status_interval=timedelta(seconds=max(devices, 1) / rate), **kwargs)


@dataclass
class _CameraState:
    camera: Camera
    flaky: bool
    silent: bool
    fps: float
    failed: bool = False


@dataclass
class _APState:
    ap: AccessPoint
    crowd_site: bool  # near a gathering place of the profile (Tây Ninh: the Holy See)
    rx_bytes: int = 0
    tx_bytes: int = 0
    rebooting: bool = False


@dataclass
class ReportState:
    report_id: str
    category: str
    title: str
    ward: str
    lat: float
    lon: float
    created: datetime
    status: str = "new"
    updated: datetime = field(default=datetime.min.replace(tzinfo=UTC))
    zone: tzinfo = UTC  # the town's: a report's times are sent in it

    def payload(self) -> dict[str, Any]:
        local = self.zone
        return {
            "category": self.category,
            "status": self.status,
            "title": self.title,
            "ward": self.ward,
            "lat": self.lat,
            "lon": self.lon,
            "created": self.created.astimezone(local).isoformat(timespec="seconds"),
            "updated": self.updated.astimezone(local).isoformat(timespec="seconds"),
            "ts": self.updated.astimezone(local).isoformat(timespec="milliseconds"),
        }


class CitySimulator:
    def __init__(
        self,
        inventory: Inventory,
        *,
        seed: int = 2026,
        start: datetime,
        live_from: datetime | None = None,
        options: SimOptions | None = None,
    ):
        """`start`: first simulated instant; before `live_from` (backfill) periodic status is
        sparser, so a day of history is quick to write."""
        self.inventory = inventory
        self.profile = inventory.profile
        self.zone = ZoneInfo(self.profile.timezone)
        self.options = options or SimOptions()
        self.festival_days = self.profile.festival_days | self.options.festival_days
        crowd_sites = [site for site in self.profile.simulation.sites if site.crowd]
        self.crowd_units = {site.unit for site in crowd_sites}
        self.rng = random.Random(seed)
        self.now = start.astimezone(UTC)
        self.live_from = (live_from or start).astimezone(UTC)
        self.power_cuts: list[PowerCut] = []
        self.reports: dict[str, ReportState] = {}
        self.on_report: Callable[[ReportState], None] | None = None  # e.g. an Open311 server
        self.events: list[SimEvent] = []  # injected events begun so far: the ground truth
        self.on_event: Callable[[SimEvent], None] | None = None  # e.g. a TruthWriter
        self._heap: list[tuple[datetime, int, Callable[[], Iterable[SimMessage]]]] = []
        self._order = itertools.count()
        self._report_count = 0
        self._unpowered: set[str] = set()
        self._event_cuts: dict[str, int] = {}  # ward: injected power cuts under way
        self._event_crowds: dict[str, int] = {}  # ap_id: injected crowds under way
        self._event_silent: dict[str, int] = {}  # ap_id: injected silences under way
        rng = self.rng
        self.cameras = [
            _CameraState(
                c,
                flaky=rng.random() < self.options.flaky_share,
                silent=rng.random() < self.options.silent_share,
                fps=rng.choice((15.0, 25.0, 25.0, 30.0)),
            )
            for c in inventory.cameras
        ]
        for i in range(self.options.unregistered_cameras):
            template = rng.choice(inventory.cameras) if inventory.cameras else None
            if template is None:
                break
            stranger = Camera(
                f"cam-x{i + 1:03d}",
                f"Camera chưa đăng ký {i + 1} – {template.name}",
                template.ward,
                template.lat,
                template.lon,
            )
            self.cameras.append(_CameraState(stranger, flaky=False, silent=False, fps=25.0))
        self.aps = [
            _APState(
                a,
                crowd_site=any(math.dist((a.lat, a.lon), s.centre) < 0.003 for s in crowd_sites),
                rx_bytes=rng.randrange(10**9, 10**11),
                tx_bytes=rng.randrange(10**9, 10**10),
            )
            for a in inventory.access_points
        ]
        for state in self.cameras:
            if state.silent:
                continue
            state.failed = rng.random() < (0.2 if state.flaky else 0.01)
            self._at(self._uniform_offset(), self._camera_status(state))
            self._at(self._time_to_flip(state), self._camera_flip(state))
        for state in self.aps:
            self._at(self._uniform_offset(), self._ap_sample(state))
        for indicator in self.profile.indicators:
            self._at(self.now, self._kpi(indicator))
        if self.options.reports_per_day > 0:
            self._at(self.now, self._report_arrival())
        self._at(self.now + self._exp(self.options.power_cut_every) / 4, self._power_cut())
        # Events draw from a generator of their own: the town's own randomness is the same.
        self._event_rng = random.Random(f"events-{seed}")
        self._picker = EventPicker(inventory)
        for event in self.options.events:
            if event.end > self.now:
                self._at(max(event.start, self.now), self._event_start(event))
        if self.options.events_per_day > 0:
            self._at(self.now + self._event_gap(), self._event_draw())

    # -- the event loop -------------------------------------------------------------------

    def advance(self, until: datetime) -> Iterator[SimMessage]:
        """Messages of every event before `until`, in time order."""
        until = until.astimezone(UTC)
        while self._heap and self._heap[0][0] < until:
            when, _, action = heapq.heappop(self._heap)
            self.now = when
            yield from action()
        self.now = max(self.now, until)

    def next_time(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def _at(self, when: datetime, action: Callable[[], Iterable[SimMessage]]) -> None:
        heapq.heappush(self._heap, (when, next(self._order), action))

    def _live(self) -> bool:
        return self.now >= self.live_from

    def _next(self, live: timedelta, backfill: timedelta) -> datetime:
        """When a periodic reporter speaks next: sparser during backfill, and at the switch to
        live spread again over one live interval, so live data starts at once."""
        if self._live():
            return self.now + live
        if self.now + backfill < self.live_from:
            return self.now + backfill
        return self.live_from + live * self.rng.random()

    def _next_status(self) -> datetime:
        return self._next(self.options.status_interval, self.options.backfill_status_interval)

    def _status_interval(self) -> timedelta:
        o = self.options
        return o.status_interval if self._live() else o.backfill_status_interval

    def _uniform_offset(self) -> datetime:
        """Spread periodic reporters over one interval so they do not all speak at once."""
        return self.now + self._status_interval() * self.rng.random()

    def _exp(self, mean: timedelta) -> timedelta:
        return timedelta(seconds=self.rng.expovariate(1 / mean.total_seconds()))

    def _message(self, kind: str, entity_id: str, payload: dict[str, Any]) -> SimMessage:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return SimMessage(self.now, topic_for(kind, entity_id), body)

    def _ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    # -- cameras --------------------------------------------------------------------------

    def _powered(self, ward: str) -> bool:
        return ward not in self._unpowered and not self._event_cuts.get(ward)

    def _online(self, state: _CameraState) -> bool:
        return not state.failed and self._powered(state.camera.ward)

    def _camera_message(self, state: _CameraState) -> SimMessage:
        c, online = state.camera, self._online(state)
        return self._message(
            "camera",
            c.camera_id,
            {
                "online": online,
                "fps": round(state.fps * self.rng.uniform(0.9, 1.0), 1) if online else 0.0,
                "bitrate_kbps": round(self.rng.gauss(2048, 180), 1) if online else 0.0,
                "name": c.name,
                "ward": c.ward,
                "lat": c.lat,
                "lon": c.lon,
                "ts": self._ms(),
            },
        )

    def _camera_status(self, state: _CameraState) -> Callable[[], Iterator[SimMessage]]:
        def action() -> Iterator[SimMessage]:
            yield self._camera_message(state)
            self._at(self._next_status(), action)

        return action

    def _time_to_flip(self, state: _CameraState) -> datetime:
        if state.flaky:
            mean = timedelta(minutes=3) if state.failed else timedelta(minutes=25)
        else:
            mean = timedelta(minutes=90) if state.failed else timedelta(days=10)
        return self.now + self._exp(mean)

    def _camera_flip(self, state: _CameraState) -> Callable[[], Iterator[SimMessage]]:
        def action() -> Iterator[SimMessage]:
            was_online = self._online(state)
            state.failed = not state.failed
            if self._online(state) != was_online:
                yield self._camera_message(state)  # the VMS reports a change at once
            self._at(self._time_to_flip(state), action)

        return action

    # -- power cuts -----------------------------------------------------------------------

    def _power_cut(self) -> Callable[[], Iterator[SimMessage]]:
        def start() -> Iterator[SimMessage]:
            wards = [w for w in self.inventory.wards if w not in self._unpowered]
            if wards:
                ward = self.rng.choice(wards)
                low, high = self.options.power_cut_minutes
                end = self.now + timedelta(minutes=self.rng.uniform(low, high))
                self.power_cuts.append(PowerCut(ward, self.now, end))
                yield from self._set_power(ward, powered=False)
                self._at(end, lambda: self._set_power(ward, powered=True))
            self._at(self.now + self._exp(self.options.power_cut_every), start)

        return start

    def _set_power(
        self, ward: str, *, powered: bool, injected: bool = False
    ) -> Iterator[SimMessage]:
        """Every device of the ward changes at the same instant (an injected cut and one of the
        town's own may overlap: the ward is powered once neither holds)."""
        was = {id(s): self._online(s) for s in self.cameras if s.camera.ward == ward}
        if injected:
            self._event_cuts[ward] = self._event_cuts.get(ward, 0) + (-1 if powered else 1)
        elif powered:
            self._unpowered.discard(ward)
        else:
            self._unpowered.add(ward)
        for state in self.cameras:
            if (
                state.camera.ward == ward
                and not state.silent
                and was[id(state)] != self._online(state)
            ):
                yield self._camera_message(state)
        for state in self.aps:
            if state.ap.ward == ward:
                yield self._ap_message(state)

    # -- WiFi -----------------------------------------------------------------------------

    def festival(self, when: datetime) -> bool:
        return when.astimezone(self.zone).date() in self.festival_days

    def wifi_load(self, state: _APState, when: datetime) -> float:
        """Expected share of the AP's capacity in use at that time (before noise)."""
        local = when.astimezone(self.zone)
        hour = local.hour + local.minute / 60

        def bump(centre: float, width: float, height: float) -> float:
            distance = min(abs(hour - centre), 24 - abs(hour - centre))
            return height * math.exp(-((distance / width) ** 2))

        load = 0.06 + bump(7.5, 1.2, 0.30) + bump(12, 1.5, 0.40) + bump(20, 2.0, 0.55)
        if state.crowd_site:  # the gathering place's daily events (Tây Ninh: four ceremonies)
            load += sum(bump(h, 0.6, 0.25) for h in self.profile.simulation.crowd_hours)
        if self.festival(when) and 5 <= hour <= 23:
            if state.crowd_site:
                load = max(load, 0.97)
            elif state.ap.ward in self.crowd_units:
                load *= 1.6
        if self._event_crowds.get(state.ap.ap_id):  # an injected crowd, festival day or not
            load = max(load, 0.97)
        return min(load, 1.0)

    def _ap_message(self, state: _APState) -> SimMessage:
        a = state.ap
        up = self._powered(a.ward) and not state.rebooting
        clients = 0
        if up and not self._event_silent.get(a.ap_id):
            expected = a.capacity * self.wifi_load(state, self.now)
            clients = min(a.capacity, max(0, round(expected * self.rng.lognormvariate(0, 0.15))))
        return self._message(
            "wifi",
            a.ap_id,
            {
                "up": up,
                "clients": clients,
                "rx_bytes": state.rx_bytes,
                "tx_bytes": state.tx_bytes,
                "site": a.site,
                "ward": a.ward,
                "capacity": a.capacity,
                "ts": self._ms(),
            },
        )

    def _ap_sample(self, state: _APState) -> Callable[[], Iterator[SimMessage]]:
        last = [self.now]

        def action() -> Iterator[SimMessage]:
            seconds = (self.now - last[0]).total_seconds()
            last[0] = self.now
            state.rebooting = self.rng.random() < 0.002
            if state.rebooting:
                state.rx_bytes = state.tx_bytes = 0  # counters restart after a reboot
            elif self._powered(state.ap.ward) and not self._event_silent.get(state.ap.ap_id):
                clients = state.ap.capacity * self.wifi_load(state, self.now)
                per_client = self.rng.uniform(20_000, 120_000)  # bytes/s
                state.rx_bytes += int(clients * per_client * seconds)
                state.tx_bytes += int(clients * per_client * seconds * 0.12)
            yield self._ap_message(state)
            self._at(self._next_status(), action)

        return action

    # -- field reports --------------------------------------------------------------------

    def _report_rate(self, when: datetime) -> float:
        """Reports per hour: people report in daytime."""
        hour = when.astimezone(self.zone).hour
        daytime = 1.6 if 6 <= hour < 21 else 0.15
        return self.options.reports_per_day / 24 * daytime

    def _report_arrival(self) -> Callable[[], Iterator[SimMessage]]:
        peak = self.options.reports_per_day / 24 * 1.6

        def action() -> Iterator[SimMessage]:
            # Thinning: candidates at the peak rate, kept in proportion to the rate of the hour.
            if self.rng.random() < self._report_rate(self.now) / peak:
                yield from self._new_report()
            self._at(self.now + self._exp(timedelta(hours=1 / peak)), action)

        return action

    def _new_report(
        self, rng: random.Random | None = None, ward: str = "", category: str = ""
    ) -> Iterator[SimMessage]:
        """A new report somewhere in town (or in `ward`, of `category`: a surge's)."""
        rng = rng or self.rng
        devices = [*self.inventory.cameras, *self.inventory.access_points]
        if ward:
            devices = [d for d in devices if d.ward == ward]
        if not devices:
            return
        place = rng.choice(devices)
        categories = self.profile.categories
        if category:
            category = next(c for c in categories if c.code == category)
        else:
            category = rng.choices(categories, [c.weight for c in categories])[0]
        street, cross = rng.sample(self.profile.simulation.streets, 2)
        title = rng.choice(category.titles).format(street=street, cross=cross, ward=place.ward)
        self._report_count += 1
        local = self.now.astimezone(self.zone)
        report = ReportState(
            report_id=f"PA-{local:%y%m%d-%H%M%S}-{self._report_count % 1000:03d}",
            category=category.code,
            zone=self.zone,
            title=title,
            ward=place.ward,
            lat=round(place.lat + rng.uniform(-0.001, 0.001), 5),
            lon=round(place.lon + rng.uniform(-0.001, 0.001), 5),
            created=self.now,
            updated=self.now,
        )
        self.reports[report.report_id] = report
        yield from self._report_messages(report)
        self._schedule_transition(report)

    def _report_messages(self, report: ReportState) -> Iterator[SimMessage]:
        if self.on_report is not None:
            self.on_report(report)
        if self.options.publish_reports:
            yield self._message("report", report.report_id, report.payload())

    def _schedule_transition(self, report: ReportState) -> None:
        rng = self.rng
        choices = REPORT_TRANSITIONS[report.status]
        if not choices:
            return
        if report.status == "new":
            target = "rejected" if rng.random() < 0.1 else "assigned"
            minutes = rng.lognormvariate(math.log(30), 0.6)
        else:
            target = choices[0]
            typical = {"assigned": 60, "in_progress": 240, "resolved": 480}[report.status]
            if report.category == "lighting" and report.status == "in_progress":
                typical *= 2  # a lift truck has to be booked
            minutes = rng.lognormvariate(math.log(typical), 0.7)

        def action() -> Iterator[SimMessage]:
            report.status = target
            report.updated = self.now
            yield from self._report_messages(report)
            self._schedule_transition(report)

        self._at(self.now + timedelta(minutes=minutes), action)

    # -- injected events ------------------------------------------------------------------

    def _event_gap(self) -> timedelta:
        return timedelta(days=self._event_rng.expovariate(self.options.events_per_day))

    def _event_draw(self) -> Callable[[], Iterator[SimMessage]]:
        def action() -> Iterator[SimMessage]:
            event = self._picker.draw(self.now, self._event_rng)
            self._at(event.start, self._event_start(event))
            self._at(self.now + self._event_gap(), action)
            return iter(())

        return action

    def _event_start(self, event: SimEvent) -> Callable[[], Iterator[SimMessage]]:
        def action() -> Iterator[SimMessage]:
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
            yield from self._event_effect(event, begin=True)
            self._at(event.end, lambda: self._event_effect(event, begin=False))

        return action

    def _event_effect(self, event: SimEvent, *, begin: bool) -> Iterator[SimMessage]:
        step = 1 if begin else -1
        if event.kind == "power_cut":
            yield from self._set_power(event.ward, powered=not begin, injected=True)
        elif event.kind == "report_surge" and begin:
            span = (event.end - event.start).total_seconds()
            for _ in range(event.reports):
                when = self.now + timedelta(seconds=self._event_rng.uniform(0, span))
                self._at(
                    when,
                    lambda: self._new_report(self._event_rng, event.ward, event.category),
                )
        elif event.kind in ("festival_crowd", "ap_silent"):
            held = self._event_crowds if event.kind == "festival_crowd" else self._event_silent
            for ap_id in event.aps:
                held[ap_id] = held.get(ap_id, 0) + step
            for state in self.aps:  # the change shows at once, as a power cut's does
                if state.ap.ap_id in event.aps:
                    yield self._ap_message(state)

    # -- indicators -----------------------------------------------------------------------

    def camera_availability(self) -> float:
        reporting = [s for s in self.cameras if not s.silent]
        online = sum(self._online(s) for s in reporting)
        return round(100 * online / len(reporting), 1) if reporting else 0.0

    def _kpi(self, indicator: Indicator) -> Callable[[], Iterator[SimMessage]]:
        drift = [0.0]

        def action() -> Iterator[SimMessage]:
            if indicator.from_cameras:
                value = self.camera_availability()
            else:
                drift[0] = 0.9 * drift[0] + self.rng.gauss(0, 0.004)
                value = round(indicator.level * (1 + drift[0]), 1)
                if indicator.unit == "%":
                    value = min(value, 100.0)
            yield self._message(
                "kpi",
                indicator.indicator_id,
                {
                    "value": value,
                    "target": indicator.target,
                    "unit": indicator.unit,
                    "name": indicator.name_vi,
                    "sector": indicator.sector,
                    "period": period_of(indicator.period, self.now, self.zone).name,
                    "ts": self._ms(),
                },
            )
            o = self.options
            self._at(self._next(o.kpi_interval, o.backfill_kpi_interval), action)

        return action


# -- runners --------------------------------------------------------------------------------


class MessageSink(Protocol):
    """What the in-process runner feeds: feeds.ingest.Ingestor has this shape."""

    def handle(self, topic: str, payload: bytes, received_at: datetime | None = None) -> bool: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def build_simulator(
    settings: Settings,
    *,
    seed: int = 2026,
    backfill: timedelta = timedelta(hours=24),
    now: datetime | None = None,
    options: SimOptions | None = None,
    inventory: Inventory | None = None,
) -> CitySimulator:
    now = now or datetime.now(UTC)
    return CitySimulator(
        inventory or town_inventory(settings),
        seed=seed,
        start=now - backfill,
        live_from=now,
        options=options,
    )


def feed_sink(
    simulator: CitySimulator,
    sink: MessageSink,
    stop: threading.Event,
    *,
    backfilled: threading.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Backfill up to now as fast as the sink takes it, then follow the clock until `stop`.
    Returns how many messages were sent."""
    sent = 0
    started = time.monotonic()
    for message in simulator.advance(clock()):
        sink.handle(message.topic, message.payload)
        sent += 1
        if stop.is_set():
            return sent
    sink.flush()
    log.info("backfill: %d messages written in %.1f s", sent, time.monotonic() - started)
    if backfilled is not None:
        backfilled.set()
    while not stop.is_set():
        next_time = simulator.next_time()
        wait = (next_time - clock()).total_seconds() if next_time else 1.0
        if wait > 0 and stop.wait(min(wait, 1.0)):
            break
        for message in simulator.advance(clock()):
            if stop.is_set():
                return sent
            sink.handle(message.topic, message.payload)
            sent += 1
    return sent


@dataclass
class InProcessRun:
    """The simulator feeding a store from a background thread (see `run_in_process`)."""

    simulator: CitySimulator
    thread: threading.Thread
    stop: threading.Event
    backfilled: threading.Event

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)


def run_in_process(
    store: Store,
    settings: Settings,
    stop: threading.Event,
    *,
    seed: int = 2026,
    backfill: timedelta = timedelta(hours=24),
    options: SimOptions | None = None,
    inventory: Inventory | None = None,
) -> InProcessRun:
    """Start the simulator in a daemon thread writing into `store` through the Ingestor, the
    same validation and write path as the MQTT worker. Returns at once; `backfilled` is set
    when history up to the start is written. Set `stop` to end it (the thread flushes and
    closes its Ingestor)."""
    from feeds.ingest import Ingestor

    simulator = build_simulator(
        settings, seed=seed, backfill=backfill, options=options, inventory=inventory
    )
    backfilled = threading.Event()

    def work() -> None:
        ingestor = Ingestor(
            store, feed="simulator", batch_size=5000, known=KnownValues.of(simulator.inventory)
        )
        try:
            sent = feed_sink(simulator, ingestor, stop, backfilled=backfilled)
            log.info("simulator stopped after %d messages", sent)
        except Exception:  # the demo's wall must keep running; say why its data stopped
            log.exception("simulator failed")
        finally:
            ingestor.close()
            backfilled.set()

    thread = threading.Thread(target=work, name="simulator", daemon=True)
    thread.start()
    return InProcessRun(simulator, thread, stop, backfilled)


class MqttPublisher:
    """A MessageSink that publishes to the broker of IOC_MQTT_URL at QoS 1 (paho-mqtt 2).

    At most `window` messages wait for the broker's acknowledgement; beyond that `handle`
    blocks, so a broker that is down slows the simulator instead of filling memory. paho sends
    the waiting messages again when it reconnects. Once `stop` is set nothing blocks for long:
    a SIGTERM ends the simulator within CLOSE_FLUSH_SECONDS even when the broker stopped
    acknowledging."""

    def __init__(
        self,
        url: str,
        client_id: str = "ioc-simulator",
        window: int = 1000,
        stop: threading.Event | None = None,
    ):
        from urllib.parse import unquote, urlsplit

        import paho.mqtt.client as mqtt

        parts = urlsplit(url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(1, 30)
        self._stop = stop or threading.Event()
        self._connected = threading.Event()
        self._window = threading.Semaphore(window)
        self._unacked = 0
        self._acked = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self._connected.clear()
        self.client.on_publish = self._on_publish
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.client.connect_async(parts.hostname, port)
        self.client.loop_start()
        self.published = 0

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the simulator: %s", reason)
        else:
            self._connected.set()

    def _on_publish(self, *args: Any) -> None:
        with self._acked:
            self._unacked -= 1
            self._acked.notify_all()
        self._window.release()

    def handle(self, topic: str, payload: bytes, received_at: datetime | None = None) -> bool:
        """False, and nothing published, when told to stop while the window is full."""
        while not self._window.acquire(timeout=0 if self._stop.is_set() else 0.5):
            if self._stop.is_set():
                return False
        with self._acked:
            self._unacked += 1
        self.client.publish(topic, payload, qos=1)
        self.published += 1
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the broker acknowledged everything published; False when `timeout`
        passed, or the simulator was told to stop, first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._acked:
            while self._unacked > 0:
                if deadline is None and self._stop.is_set():
                    return False
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._acked.wait(left)
        return True

    def close(self) -> None:
        if not self.flush(CLOSE_FLUSH_SECONDS):
            log.warning(
                "stopping with %d messages the broker has not acknowledged after %d s: "
                "they are not sent",
                self._unacked,
                CLOSE_FLUSH_SECONDS,
            )
        self.client.disconnect()
        self.client.loop_stop()


# -- python -m feeds simulate -----------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `2d` or `0`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match or (not match[2] and float(match[1]) != 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 30m, 24h or 2d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "": "seconds"}[match[2]]
    return timedelta(**{unit: float(match[1])})


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
        return value

    return parse


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def _festival_day(text: str) -> date | str:
    if text == "today":
        return text  # in the city's zone, once the settings are read
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD or today") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=2026, help="same seed, same town (default 2026)")
    p.add_argument(
        "--backfill",
        type=parse_duration,
        default=timedelta(hours=24),
        help="history written at start, as fast as possible (default 24h; 0 for none)",
    )
    p.add_argument(
        "--rate",
        type=_positive(float),
        help="status messages per second from all cameras and APs together (load tests); "
        "default: each device every 30 s",
    )
    p.add_argument(
        "--cameras",
        type=_positive(int),
        help="simulate a generated town of this many cameras instead of IOC_INVENTORY",
    )
    p.add_argument("--aps", type=_positive(int), help="with --cameras: how many WiFi APs")
    p.add_argument(
        "--festival",
        type=_festival_day,
        action="append",
        default=[],
        metavar="YYYY-MM-DD|today",
        help="an extra festival day (crowd at the profile's gathering place); repeatable",
    )
    p.add_argument(
        "--open311-port",
        type=_port,
        metavar="PORT",
        help="serve the field reports as Open311 GeoReport v2 on this port "
        "(http://HOST:PORT/open311/v2) instead of publishing them",
    )
    p.add_argument("--open311-host", default="127.0.0.1", help="address to serve Open311 on")
    p.add_argument("--duration", type=parse_duration, help="stop after this long (default: run)")
    p.add_argument(
        "--events",
        metavar="FILE",
        help="inject the events of this TOML schedule ([[events]] kind, start, hours, and ward, "
        "site, ap_id, category, reports as the kind needs; docs/feeds-contract.md)",
    )
    p.add_argument(
        "--events-per-day",
        type=_positive(float),
        metavar="R",
        help="inject events drawn at random (seeded) at this mean rate per simulated day",
    )
    p.add_argument(
        "--truth",
        metavar="FILE",
        help="write each injected event as it begins to this CSV file (the ground truth)",
    )


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    if args.cameras or args.aps:
        inventory = generate_inventory(
            settings.profile, args.seed, args.cameras or 320, args.aps or 100
        )
    else:  # read and checked before the command ran (wall.cli.run)
        inventory = town_inventory(settings)
    today = datetime.now(settings.tz).date()
    args.festival = [today if day == "today" else day for day in args.festival]
    devices = len(inventory.cameras) + len(inventory.access_points)
    options = SimOptions.for_rate(args.rate, devices) if args.rate else SimOptions()
    options.festival_days = options.festival_days | set(args.festival)
    options.publish_reports = args.open311_port is None
    if args.events:
        try:
            options.events = tuple(
                load_schedule(args.events, inventory, random.Random(f"schedule-{args.seed}"))
            )
        except ScheduleError as exc:
            print(f"feeds simulate: {exc}", file=sys.stderr)
            return 2
    options.events_per_day = args.events_per_day or 0.0
    simulator = build_simulator(
        settings, seed=args.seed, backfill=args.backfill, options=options, inventory=inventory
    )
    truth = None
    if args.truth:
        try:
            truth = TruthWriter(args.truth)
        except OSError as exc:
            print(
                f"feeds simulate: cannot write --truth {args.truth}: {exc.strerror}",
                file=sys.stderr,
            )
            return 2
        simulator.on_event = truth
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # flush what is queued, then exit
    if args.duration:
        timer = threading.Timer(args.duration.total_seconds(), stop.set)
        timer.daemon = True
        timer.start()
    open311 = None
    if args.open311_port is not None:
        from feeds.open311_server import Open311Server

        try:
            open311 = Open311Server(args.open311_host, args.open311_port, settings.profile).start()
        except OSError as exc:
            print(
                f"feeds simulate: cannot serve Open311 on port {args.open311_port}: {exc}",
                file=sys.stderr,
            )
            return 1
        simulator.on_report = open311.update
        log.info("serving field reports as Open311 at %s", open311.url)
    try:
        if settings.mqtt_url:
            broker = masked_url(settings.mqtt_url)  # never the password in a log
            sink: MessageSink = MqttPublisher(settings.mqtt_url, stop=stop)
            if not sink.wait_connected(10):
                print(
                    f"feeds simulate: no MQTT broker answers at {broker}",
                    file=sys.stderr,
                )
                sink.close()
                return 1
            log.info("publishing to %s", broker)
        else:
            from feeds.ingest import Ingestor
            from wall.store import StoreUnavailable, open_store

            store = open_store(settings)
            try:
                store.check()
            except StoreUnavailable as exc:
                print(f"feeds simulate: store not reachable: {exc}", file=sys.stderr)
                return 1
            sink = Ingestor(
                store, feed="simulator", batch_size=5000, known=KnownValues.of(inventory)
            )
            log.info("no IOC_MQTT_URL: writing into %s in-process", masked_url(settings.store))
        started = time.monotonic()
        try:
            sent = feed_sink(simulator, sink, stop)
        finally:
            sink.close()
        log.info("sent %d messages in %.1f s", sent, time.monotonic() - started)
    finally:
        if open311 is not None:
            open311.close()
        if truth is not None:
            truth.close()
    return 0


COMMAND = ("simulate a town's cameras, WiFi, field reports and indicators", add_arguments, simulate)
