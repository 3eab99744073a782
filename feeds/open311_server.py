"""The simulator's field reports served as an Open311 GeoReport v2 endpoint (JSON only).

So the polling worker can be exercised end to end without a city's real 1022/Open311 system:

    GET <base>/services.json
    GET <base>/requests.json?start_date=…&end_date=…&status=open,closed&service_code=…
    GET <base>/requests.json?service_request_id=ID1,ID2
    GET <base>/requests/<id>.json

with <base> = http://host:port/open311/v2. Each request shows its current version: `status` is
`open` or `closed` as the spec says, and `extended_attributes.detailed_status` carries the
wall's status (new, assigned, in_progress, resolved, closed, rejected).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from feeds.payloads import RejectedMessage, parse_timestamp
from wall.city import CityProfile, load_profile
from wall.domain import OPEN_REPORT_STATUSES

if TYPE_CHECKING:  # the simulator starts this server: a run-time import would be a cycle
    from feeds.simulator import ReportState

log = logging.getLogger(__name__)

BASE_PATH = "/open311/v2"
MAX_RESULTS = 1000  # the spec's usual limit per answer
DEFAULT_SPAN = timedelta(days=90)  # the spec's window when no dates are given


def service_list(profile: CityProfile) -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": vi,
            "description": f"{vi} ({en})",
            "metadata": False,
            "type": "realtime",
            "keywords": code,
            "group": "Phản ánh hiện trường",
        }
        for code, (vi, en) in profile.category_labels.items()
    ]


def service_request(report: ReportState, profile: CityProfile) -> dict[str, Any]:
    payload = report.payload()  # its times in the town's zone, to the second
    return {
        "service_request_id": report.report_id,
        "status": "open" if report.status in OPEN_REPORT_STATUSES else "closed",
        "service_code": report.category,
        "service_name": profile.category_labels.get(report.category, (report.category,))[0],
        "description": report.title,
        "agency_responsible": f"UBND {report.ward}",
        "requested_datetime": payload["created"],
        "updated_datetime": payload["updated"],
        "address": f"{report.ward}, {profile.address}",
        "lat": report.lat,
        "long": report.lon,
        "extended_attributes": {"detailed_status": report.status, "ward": report.ward},
    }


class BadRequest(ValueError):
    pass


class Open311Server:
    """Holds the current version of each report and serves it from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, profile: CityProfile | None = None):
        self.profile = profile or load_profile()
        self._reports: dict[str, ReportState] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = server.answer(self.path)
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("open311 %s", format % args)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = (
            False  # a client holding a connection open must not delay a stop
        )
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="open311-server", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{BASE_PATH}"

    def start(self) -> Open311Server:
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def update(self, report: ReportState) -> None:
        """Record a report's new version (called on the simulator's thread)."""
        with self._lock:
            self._reports[report.report_id] = replace(report)

    def answer(self, path: str) -> tuple[int, Any]:
        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = parts.path.removeprefix(BASE_PATH)
        try:
            if route == "/services.json":
                return 200, service_list(self.profile)
            if route == "/requests.json":
                return 200, self.requests(query)
            if route.startswith("/requests/") and route.endswith(".json"):
                report_id = route.removeprefix("/requests/").removesuffix(".json")
                with self._lock:
                    report = self._reports.get(report_id)
                if report is None:
                    return 404, [{"code": 404, "description": f"no request {report_id!r}"}]
                return 200, [service_request(report, self.profile)]
        except BadRequest as exc:
            return 400, [{"code": 400, "description": str(exc)}]
        if route.endswith((".xml",)):
            return 400, [{"code": 400, "description": "only the JSON format is served"}]
        return 404, [{"code": 404, "description": f"unknown path {parts.path!r}"}]

    def requests(self, query: dict[str, str]) -> list[dict[str, Any]]:
        with self._lock:
            reports = list(self._reports.values())
        if "service_request_id" in query:
            wanted = set(query["service_request_id"].split(","))
            return [service_request(r, self.profile) for r in reports if r.report_id in wanted]
        start, end = _time(query, "start_date"), _time(query, "end_date")
        if start is None and end is None:
            start = datetime.now(UTC) - DEFAULT_SPAN
        statuses = set(query.get("status", "open,closed").split(","))
        if not statuses <= {"open", "closed"}:
            raise BadRequest("status must be open, closed or open,closed")
        codes = set(query["service_code"].split(",")) if "service_code" in query else None
        chosen = [
            r
            for r in reports
            if (start is None or r.created >= start)
            and (end is None or r.created <= end)
            and ("open" if r.status in OPEN_REPORT_STATUSES else "closed") in statuses
            and (codes is None or r.category in codes)
        ]
        chosen.sort(key=lambda r: (r.created, r.report_id), reverse=True)  # newest first
        return [service_request(r, self.profile) for r in chosen[:MAX_RESULTS]]


def _time(query: dict[str, str], key: str) -> datetime | None:
    if key not in query:
        return None
    try:
        return parse_timestamp(query[key], key)
    except RejectedMessage as exc:
        raise BadRequest(exc.reason) from None
