"""Real HTTP servers for the polling worker's tests, on 127.0.0.1 in a thread.

`Open311Fixture` answers `services.json` and `requests.json` the way GeoReport v2 servers do
(filtering on requested_datetime, the 1000-request cap, `service_request_id` look-ups) from a
list of request objects a test controls, in the JSON shape it names. Faults (HTTP errors,
Retry-After, slow or invalid answers) are queued with `fail_next`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from feeds.dead_letters import FILE_NAME, DeadLetters
from wall.settings import Settings


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b"[]"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer starts
    trickle: float = 0.0  # seconds between two bytes of the body

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


@dataclass
class Seen:
    at: float  # time.monotonic()
    path: str
    query: dict[str, str]
    headers: dict[str, str]


class JsonServer:
    """A threaded HTTP server; `answer(path, query, headers) -> Reply` decides each answer."""

    def __init__(self, answer: Callable[[str, dict[str, str], dict[str, str]], Reply]):
        self.answer = answer
        self.seen: list[Seen] = []
        self.faults: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.seen.append(Seen(time.monotonic(), parts.path, query, headers))
                reply = server.faults.pop(0) if server.faults else None
                reply = reply or server.answer(parts.path, query, headers)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(body)
                    for byte in body if reply.trickle else b"":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): that is what the test wanted

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def fail_next(self, *replies: Reply) -> None:
        self.faults.extend(replies)

    def start(self) -> JsonServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


TOWN_ZONE = timezone(timedelta(hours=7))
SERVICES = [
    {"service_code": "GT01", "service_name": "Ổ gà, hư hỏng mặt đường", "type": "realtime"},
    {"service_code": "MT02", "service_name": "Rác thải không được thu gom", "type": "realtime"},
    {"service_code": "CS03", "service_name": "Đèn đường không sáng", "type": "realtime"},
    {"service_code": "NG04", "service_name": "Ngập nước sau mưa", "type": "realtime"},
    {"service_code": "TT05", "service_name": "Lấn chiếm vỉa hè", "type": "realtime"},
    {"service_code": "XX99", "service_name": "Góp ý khác", "type": "realtime"},
]


def _when(text: str) -> datetime | None:
    """A request's time; one without an offset is the server's local time (the town's)."""
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None  # a malformed item the test planted: served whatever the filter
    return when if when.tzinfo else when.replace(tzinfo=TOWN_ZONE)


def _within(item: Any, start: str | None, end: str | None) -> bool:
    made = _when(item.get("requested_datetime")) if isinstance(item, dict) else None
    if made is None:
        return True
    return (start is None or made >= _when(start)) and (end is None or made <= _when(end))


class Open311Fixture(JsonServer):
    """An Open311 GeoReport v2 endpoint under /open311/v2 serving `self.requests`.

    shape: "bare" (the spec's list), "service_requests" ({"service_requests": […]}, as e.g.
    Toronto) or "fixmystreet" ({"requests": [{"request": […]}]}).
    """

    def __init__(self, shape: str = "bare", limit: int = 1000, jurisdiction: str | None = None):
        super().__init__(self._answer)
        self.shape = shape
        self.limit = limit
        self.jurisdiction = jurisdiction
        self.requests: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        return f"{self.url}/open311/v2"

    def request_queries(self) -> Iterator[Seen]:
        return (s for s in self.seen if s.path.endswith("/requests.json"))

    def _wrap(self, items: list[Any], key: str) -> Any:
        if self.shape == "bare":
            return items
        if self.shape == "fixmystreet":
            return {f"{key}s": [{key: items}]}
        return {"service_requests" if key == "request" else "services": items}

    def _answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Reply:
        if self.jurisdiction and query.get("jurisdiction_id") != self.jurisdiction:
            return Reply(400, [{"code": 400, "description": "jurisdiction_id was not provided"}])
        if path == "/open311/v2/services.json":
            return Reply(body=self._wrap(SERVICES, "service"))
        if path != "/open311/v2/requests.json":
            return Reply(404, [{"code": 404, "description": f"no such resource {path}"}])
        found = list(self.requests)
        if "service_request_id" in query:
            ids = set(query["service_request_id"].split(","))
            found = [
                r for r in found if isinstance(r, dict) and str(r["service_request_id"]) in ids
            ]
        else:
            found = [r for r in found if _within(r, query.get("start_date"), query.get("end_date"))]
            if "status" in query:
                found = [r for r in found if r["status"] in query["status"].split(",")]
        found.sort(key=lambda r: str(r.get("requested_datetime") if isinstance(r, dict) else ""))
        found.reverse()  # newest first, as servers answer
        return Reply(body=self._wrap(found[: self.limit], "request"))


def dead_letters(folder: Path) -> DeadLetters:
    """The poller's dead-letter file in `folder`, with the default bound."""
    return DeadLetters(folder / FILE_NAME, Settings().poll_dead_letter_max_bytes)
