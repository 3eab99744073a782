"""`python -m wall demo`: the city simulator, the alert rules and the wall, each in a process of
its own under one supervisor.

SQLite's locks do not survive a fork: a web worker forked from a process whose threads hold a
store connection may wait forever on a write lock nobody will release. So the wall runs here as
`python -m wall serve` runs alone (gunicorn forks its workers from a process that never opened
the store), the feed and the alert service write from processes of their own, all three are
started with spawn (a fresh interpreter, nothing inherited), and the supervisor opens no store.

Ctrl+C reaches the whole process group: the wall stops itself, the feed and the alert service
ignore it and stop when the supervisor tells them (SIGTERM), or when it is gone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event

from wall.cli import setup_logging
from wall.settings import Settings
from wall.settings_core import SettingsError, masked_url
from wall.store import Store, StoreUnavailable, open_store

log = logging.getLogger(__name__)

SPAWN = multiprocessing.get_context("spawn")
# What the demo waits, all told, for its processes to stop: long enough for the MQTT worker to
# write what it received and end its receiver process.
STOP_SECONDS = 30.0


def run_demo(settings: Settings, host: str, port: int, workers: int) -> int:
    """Start the feed; once the store (and broker) answered, the alert service and the wall;
    then wait for Ctrl+C, SIGTERM or a process ending, and stop them all."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    level = logging.getLogger().level
    feeding, history_written = SPAWN.Event(), SPAWN.Event()
    processes: dict[str, BaseProcess] = {}
    try:
        processes["feed"] = _start("feed", feed, settings, level, feeding, history_written)
        while not (feeding.wait(0.2) or stop.is_set() or not processes["feed"].is_alive()):
            pass
        if stop.is_set():
            return 0
        if not feeding.is_set():  # the feed said why on stderr (store or broker not answering)
            processes["feed"].join()
            return processes["feed"].exitcode or 1
        processes["alerts"] = _start("alerts", alert_service, settings, level, history_written)
        processes["wall"] = _start("wall", wall, settings, level, host, port, workers)
        print(banner(settings, f"http://{host}:{port}"), flush=True)
        ended: list = []
        while not (stop.is_set() or ended):
            ended = wait([process.sentinel for process in processes.values()], timeout=1)
        if stop.is_set():
            return 0
        gone = next(name for name, process in processes.items() if process.sentinel in ended)
        processes[gone].join()
        status = processes[gone].exitcode
        print(
            f"wall demo: the {gone} process ended (exit status {status}); stopping the demo",
            file=sys.stderr,
        )
        return status if status and status > 0 else 1  # 2 for a bad setting, as everywhere
    finally:
        _stop_all(processes.values())


def banner(settings: Settings, url: str) -> str:
    """What the demo prints at start: where each screen is, and where its data comes from."""
    store = masked_url(settings.store)
    if settings.mqtt_url:
        feed_path = f"simulator → {masked_url(settings.mqtt_url)} → MQTT worker"
    else:
        feed_path = "simulator in-process"
    return (
        f"IOC Wall demo: {feed_path} → {store}\n"
        f"  wall:  {url}/\n"
        f"  kiosk: {url}/kiosk?layouts=overview,cameras,wifi,reports,indicators,alerts"
        "&rotate=20\n"
        f"  duty officers: {url}/officer (accounts: python -m wall users add NAME)\n"
        "The simulator writes a day of history first; the screens fill in as it goes,\n"
        "and the alert rules start once it is written.\n"
        "Stop with Ctrl+C."
    )


def _start(name: str, target: Callable[..., None], *args: object) -> BaseProcess:
    process = SPAWN.Process(target=_run, args=(target, *args), name=f"wall-demo-{name}")
    with _sigint_ignored():  # inherited through exec: a Ctrl+C while it starts is no traceback
        process.start()
    return process


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_all(processes: Iterable[BaseProcess]) -> None:
    running = [process for process in processes if process.is_alive()]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in running:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.error("%s did not stop within %g s; killing it", process.name, STOP_SECONDS)
            process.kill()
            process.join()


# -- the processes ---------------------------------------------------------------------------


def _run(target: Callable[..., None], *args: object) -> None:
    """A process of the demo: a bad setting or a store that does not answer is one line on
    stderr and an exit status, as for any `python -m wall` command, never a traceback."""
    try:
        target(*args)
    except SettingsError as exc:
        print(f"wall: bad setting {exc}", file=sys.stderr)
        sys.exit(2)
    except StoreUnavailable as exc:
        print(f"wall demo: store not reachable: {exc}", file=sys.stderr)
        sys.exit(1)


def _child(level: int) -> threading.Event:
    """Set up the feed or the alert service: its log lines, Ctrl+C left to the supervisor, and
    an event set on SIGTERM (sent by the supervisor, or by this process when it is gone)."""
    setup_logging(level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _stop_when_supervisor_gone()
    return stop


def _stop_when_supervisor_gone() -> None:
    """SIGTERM to this process when the supervisor is gone, however it ended: no orphans."""
    supervisor = multiprocessing.parent_process()

    def watch() -> None:
        wait([supervisor.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def feed(settings: Settings, level: int, feeding: Event, history_written: Event) -> None:
    """The simulator: in-process through the Ingestor, or (IOC_MQTT_URL) published to the
    broker with an MQTT worker writing what arrives. Sets `feeding` once the store (and the
    broker) answered, `history_written` once the day of history is written."""
    stop = _child(level)
    with open_store(settings) as store:
        store.check()
        from feeds.simulated_submissions import simulate_submissions

        simulate_submissions(store, settings.profile, datetime.now(UTC), settings.tz)
        if settings.mqtt_url:
            _feed_over_mqtt(settings, store, stop, feeding, history_written)
            return
        from feeds.simulator import run_in_process

        run = run_in_process(store, settings, stop)
        feeding.set()
        run.backfilled.wait()  # also set when the simulator stops or fails
        if not stop.is_set():
            history_written.set()
        stop.wait()
        run.join(STOP_SECONDS)


def _feed_over_mqtt(
    settings: Settings,
    store: Store,
    stop: threading.Event,
    feeding: Event,
    history_written: Event,
) -> None:
    from feeds.mqtt_worker import MqttWorker
    from feeds.simulator import MqttPublisher, build_simulator, feed_sink

    publisher = MqttPublisher(settings.mqtt_url)
    if not publisher.wait_connected(10):
        print(
            f"wall demo: no MQTT broker answers at {masked_url(settings.mqtt_url)}",
            file=sys.stderr,
        )
        publisher.close()
        sys.exit(1)
    worker = MqttWorker(settings, store)
    receiver = threading.Thread(target=worker.run, name="mqtt-worker", daemon=True)
    simulator = threading.Thread(
        target=feed_sink,
        args=(build_simulator(settings), publisher, stop),
        kwargs={"backfilled": history_written},
        name="simulator",
        daemon=True,
    )
    receiver.start()
    if not worker.connection.subscribed.wait(10):  # what is published before is not kept for it
        log.warning("the MQTT worker is not subscribed yet; the simulator starts anyway")
    simulator.start()
    feeding.set()
    stop.wait()
    # In this order: the simulator stops, the worker writes what it received, then the
    # publisher disconnects.
    simulator.join(STOP_SECONDS)
    worker.stopping.set()
    receiver.join(STOP_SECONDS)
    publisher.close()


def alert_service(settings: Settings, level: int, history_written: Event) -> None:
    """The alert rules, once the simulator's history is written (so the backfill's old
    timestamps do not read as silent feeds)."""
    from wall.alerts import service

    stop = _child(level)
    while not history_written.wait(1):
        if stop.is_set():
            return
    service.run(settings, stop)


def wall(settings: Settings, level: int, host: str, port: int, workers: int) -> None:
    """`python -m wall serve`: SIGTERM ends it, before gunicorn's own handlers or through them."""
    from wall.server import serve

    setup_logging(level)
    _stop_when_supervisor_gone()
    serve(settings, host, port, workers=workers)
