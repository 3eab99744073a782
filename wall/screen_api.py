"""`POST /api/screens/heartbeat`: each wall page's report of its own health (wall.screen_health).

Answers: 200 `{"kept": true, "screen": …}` when stored as a `screen_health` point; 202
`{"kept": false, "reason": …}` when the same screen's last heartbeat was kept less than half
`screen_heartbeat_seconds` ago (two tabs under one name, a reload): a normal situation, so never
a 4xx, which a browser logs as an error; 400 `{"error", "field"}` naming the bad field, 415
without JSON, 413 past 4 KiB; 503 when the store cannot take it (the page tries again at its
next beat). Screens are not signed in: anyone who can open the wall can report a screen.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from wall.cache import first_within
from wall.domain import SCREEN_HEALTH
from wall.screen_health import KEPT_AT_MOST_EVERY, BadHeartbeat, parse_heartbeat
from wall.settings import Settings
from wall.store import Point, Store, StoreError

log = logging.getLogger(__name__)
PATH = "/api/screens/heartbeat"
MAX_BODY_BYTES = 4096  # a heartbeat is ~300 bytes; its URL at most 2000 characters


def register(server: Flask, settings: Settings, store: Store) -> None:
    server.register_blueprint(api(settings, store))


def api(settings: Settings, store: Store) -> Blueprint:
    bp = Blueprint("screen_api", __name__)
    kept_every = settings.screen_heartbeat_seconds * KEPT_AT_MOST_EVERY

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            return jsonify(error=f"the body is larger than {MAX_BODY_BYTES} bytes"), 413
        return jsonify(error=exc.description or exc.name), exc.code or 400

    @bp.post(PATH)
    def heartbeat():
        request.max_content_length = MAX_BODY_BYTES
        if not request.is_json:
            return jsonify(error="the body must be JSON (Content-Type: application/json)"), 415
        body = request.get_json(silent=True)
        try:
            beat = parse_heartbeat(body if body is not None else "not JSON")
        except BadHeartbeat as exc:
            log.info("screen heartbeat refused from %s: %s", request.remote_addr, exc)
            return jsonify(error=str(exc), field=exc.field), 400
        if not first_within(f"screen-heartbeat:{beat.screen}", kept_every):
            reason = (
                f"too soon: a heartbeat of screen {beat.screen} was kept less than "
                f"{kept_every:g} s ago (one per {kept_every:g} s is kept)"
            )
            return jsonify(kept=False, reason=reason), 202
        point = Point(SCREEN_HEALTH.name, {"screen": beat.screen}, beat.fields(), datetime.now(UTC))
        try:
            store.write([point])
        except StoreError as exc:
            log.warning("screen heartbeat of %s not stored: %s", beat.screen, exc)
            return (
                jsonify(error="the store cannot be reached; not kept, the screen tries again"),
                503,
                {"Retry-After": str(int(kept_every))},
            )
        return jsonify(kept=True, screen=beat.screen), 200

    return bp
