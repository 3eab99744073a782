"""The indicator API for a department's own system: `POST /api/indicators/submissions`.

`Authorization: Bearer <token>` (a unit's token, wall.indicator_tokens) and a JSON body
`{"values": [{"indicator_id", "period", "value", "note"?}, …], "by"?, "reason"?}`, checked as
a file is (wall.submissions.check_rows): stored whole as one submission (201), or refused whole
with every bad value named by its position in `values` (422). Every other problem is a clear 4xx
in JSON (`{"error": …}`), a store that cannot answer a 503; never a 500.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from wall.i18n import Translator
from wall.indicator_tokens import TokenError, unit_of_token
from wall.settings import Settings
from wall.store import Store, StoreError
from wall.submissions import (
    MAX_VALUES,
    STREAM,
    Row,
    SubmissionRefused,
    check_rows,
    submit,
)
from wall.web_surface import MAX_REQUEST_BYTES

log = logging.getLogger(__name__)
PATH = "/api/indicators/submissions"
MAX_NAME_CHARS = 200


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def register(server: Flask, settings: Settings, store: Store) -> None:
    server.register_blueprint(api(settings, store))


def _error(status: int, message: str, **more: Any) -> tuple[Response, int]:
    return jsonify(error=message, **more), status


def api(settings: Settings, store: Store) -> Blueprint:
    bp = Blueprint("indicator_api", __name__)
    t = Translator(settings.language)

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            return _error(413, f"the body is larger than {MAX_REQUEST_BYTES // 1024} KiB")
        return _error(exc.code or 400, exc.description or exc.name)

    @bp.post(PATH)
    def submissions():
        request.max_content_length = MAX_REQUEST_BYTES  # the wall's limit, here too in tests
        try:
            token_id, unit = _token(store)
            body = _body()
            rows = _rows(body)
            by, reason = _text(body, "by"), _text(body, "reason")
            latest = store.latest_events(STREAM)
            values = check_rows(
                rows, settings.profile, unit, datetime.now(UTC), settings.tz, latest, reason, t
            )
            submission = submit(
                store,
                values,
                by=by or f"token {token_id}",
                unit=unit,
                path="api",
                latest=latest,
                reason=reason,
            )
        except BadRequest as exc:
            response = _error(exc.status, str(exc))
            if exc.status == 401:
                response[0].headers["WWW-Authenticate"] = 'Bearer realm="ioc-indicators"'
            return response
        except SubmissionRefused as exc:
            rows = [{"row": row, "reason": reason} for row, reason in exc.problems]
            return _error(422, f"{len(rows)} bad value(s); nothing stored", rows=rows)
        except StoreError as exc:
            log.warning("indicator API: store not reachable: %s", exc)
            return _error(503, "the store cannot be reached; nothing stored, try again later")
        log.info(
            "indicator API: submission %s of %d values by token %s",
            submission,
            len(values),
            token_id,
        )
        return jsonify(submission=submission, values=len(values), unit=unit), 201

    return bp


def _token(store: Store) -> tuple[str, str]:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise BadRequest(401, "no token: send Authorization: Bearer <token>")
    try:
        return unit_of_token(store, presented.strip())
    except TokenError as exc:
        log.warning("indicator API: %s from %s", exc, request.remote_addr)
        raise BadRequest(401, str(exc)) from None


def _body() -> dict:
    if not request.is_json:
        raise BadRequest(415, "the body must be JSON (Content-Type: application/json)")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object with a list `values`")
    unknown = sorted(set(body) - {"values", "by", "reason"})
    if unknown:
        raise BadRequest(400, f"unknown key {unknown[0]!r}; known: values, by, reason")
    return body


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise BadRequest(400, f"`{key}` must be text of at most {MAX_NAME_CHARS} characters")
    return value.strip() or None


def _rows(body: dict) -> list[Row]:
    values = body.get("values")
    if not isinstance(values, list) or not values:
        raise BadRequest(400, "`values` must be a non-empty list")
    if len(values) > MAX_VALUES:
        raise BadRequest(413, f"at most {MAX_VALUES} values in one submission")
    rows = []
    for n, item in enumerate(values, start=1):
        if not isinstance(item, dict):
            raise BadRequest(400, f"values[{n}] must be an object")
        unknown = sorted(set(item) - {"indicator_id", "period", "value", "note"})
        if unknown:
            raise BadRequest(
                400,
                f"values[{n}]: unknown key {unknown[0]!r}; known: indicator_id, period, "
                "value, note",
            )
        for key in ("indicator_id", "period", "note"):
            if key in item and not isinstance(item[key], str):
                raise BadRequest(400, f"values[{n}].{key} must be text")
        rows.append(
            Row(
                n,
                item.get("indicator_id", ""),
                item.get("period", ""),
                item.get("value"),
                item.get("note") or "",
            )
        )
    return rows
