"""What every HTTP answer of the wall carries, and what a request may be.

Security headers on every answer (Dash pages and endpoints, assets, the officers' console, errors):
a Content-Security-Policy that allows only the wall's own scripts (Dash's inline scripts and the
kiosk start page's by their hashes, no `unsafe-inline` and no `unsafe-eval` for scripts), no
framing, no MIME sniffing, no referrer, and HSTS once the wall is served over TLS.

A request body is at most `MAX_REQUEST_BYTES` (413 beyond), and a POST to Dash's callback endpoint
must have the shape Dash's own renderer sends for a server callback of this app (400 naming what
was wrong otherwise): Dash itself answers a malformed one with a 500 and a traceback. The values
inside are the callbacks' to check (callbacks/).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from dash import Dash
from dash.exceptions import DependencyException
from flask import Response, abort, request

from wall.settings import Settings
from wall.settings_core import PROJECT_DIR

log = logging.getLogger(__name__)

# Dash's callback requests are 1–5 kB, the officers' forms smaller still; the console's indicator
# file upload alone raises its own limit (wall.indicator_console.MAX_UPLOAD_BYTES).
MAX_REQUEST_BYTES = 64 * 1024
HSTS = "max-age=31536000"
KIOSK_START_PAGE = PROJECT_DIR / "assets" / "kiosk-start.html"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
CALLBACK_PATH = "/_dash-update-component"
PLACEHOLDER = re.compile(r"\{[^}]*\}")


def script_hash(script: str) -> str:
    """A CSP source allowing exactly this inline script."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def tiles_origin(tiles_url: str | None) -> list[str]:
    """The CSP source of the map's tile server (`{s}`-style placeholders in its host: any)."""
    if not tiles_url:
        return []
    parts = urlsplit(tiles_url)
    host = PLACEHOLDER.sub("*", parts.netloc)
    return [f"{parts.scheme}://{host}"]


def content_security_policy(app: Dash, settings: Settings) -> str:
    """Scripts: the wall's files and the inline scripts it serves, by hash. Styles may be inline
    (plotly and Dash set style attributes and insert <style> elements as they draw)."""
    scripts = [
        *app.csp_hashes(),
        *map(script_hash, INLINE_SCRIPT.findall(KIOSK_START_PAGE.read_text())),
    ]
    tiles = tiles_origin(settings.map_tiles_url)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *scripts],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *tiles],
        "font-src": ["'self'", "data:"],
        # The map (maplibre, when tiles are set) fetches its tiles and draws in blob: workers.
        "connect-src": ["'self'", *tiles],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def harden(app: Dash, settings: Settings) -> None:
    """Call once every callback is registered (the policy holds their inline scripts' hashes)."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    headers = {
        "Content-Security-Policy": content_security_policy(app, settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Not no-referrer: with it Chromium sends `Origin: null` on the console's form posts,
        # which its same-origin check then refuses.
        "Referrer-Policy": "same-origin",
    }

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        response.headers.update(headers)
        # Behind a TLS proxy the request reads as HTTPS through ProxyFix (trusted_proxies);
        # secure cookies mean the deployment is HTTPS-only anyway.
        if request.is_secure or settings.secure_cookies:
            response.headers["Strict-Transport-Security"] = HSTS
        return response

    @server.errorhandler(DependencyException)
    def unknown_component_file(exc: DependencyException) -> tuple[str, int]:
        """A path under /_dash-component-suites/ naming no file Dash serves (Dash: a 500)."""
        return "no such file", 404

    @server.before_request
    def refuse_oversized_stream() -> None:
        """Werkzeug cuts a body sent without a length (chunked) at the limit instead of
        refusing it: a request cut short is refused here rather than read truncated."""
        if request.content_length is None and len(request.get_data()) >= MAX_REQUEST_BYTES:
            abort(413)

    @server.before_request
    def refuse_malformed_callback_request() -> None:
        if request.path != CALLBACK_PATH or request.method != "POST":
            return
        if not request.is_json:
            abort(415, "a callback request is JSON (Content-Type: application/json)")
        body = request.get_json(silent=True)
        problem = callback_request_problem(app, body)
        if problem:
            log.warning("refused callback request from %s: %s", request.remote_addr, problem)
            abort(400, f"malformed callback request: {problem}")


def callback_request_problem(app: Dash, body: Any) -> str | None:
    """What makes `body` something other than a request of this app's server callbacks, or
    None. Only the shape is checked (components and properties as declared); values are not."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    callback = app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None or "callback" not in callback:
        return "'output' names no server callback of this wall"
    for field, declared in (("inputs", callback["inputs"]), ("state", callback["state"])):
        sent = body.get(field, [])
        if not isinstance(sent, list) or len(sent) != len(declared):
            return f"{field!r} must list {len(declared)} items"
        for item, expected in zip(sent, declared, strict=True):
            if not _dependency_matches(item, expected["id"], expected["property"]):
                return f"{field!r}: expected {expected['id']}.{expected['property']}"
    declared_outputs = callback["output"]
    sent_outputs = body.get("outputs")
    if isinstance(declared_outputs, list):
        if not isinstance(sent_outputs, list) or len(sent_outputs) != len(declared_outputs):
            return f"'outputs' must list {len(declared_outputs)} items"
    else:
        sent_outputs, declared_outputs = [sent_outputs], [declared_outputs]
    for item, expected in zip(sent_outputs, declared_outputs, strict=True):
        if not _dependency_matches(item, expected.component_id, expected.component_property):
            return f"'outputs': expected {expected.component_id}.{expected.component_property}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(p, str) for p in changed):
        return "'changedPropIds' must be a list of text"
    return None


def _dependency_matches(item: Any, component: Any, prop: str) -> bool:
    """One input, state or output as the renderer sends it: {"id", "property", "value"}; for a
    pattern-matching id, that object or a list of them (one per matching component)."""
    if isinstance(component, dict):
        items = item if isinstance(item, list) else [item]
        return all(
            isinstance(one, dict)
            and isinstance(one.get("id"), dict)
            and one.get("property") == prop
            for one in items
        )
    return isinstance(item, dict) and item.get("id") == component and item.get("property") == prop
