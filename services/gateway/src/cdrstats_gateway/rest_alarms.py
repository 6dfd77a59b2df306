"""REST API for alarms (alerting owns them): CRUD, "evaluate now" and the stored evaluation history.

Customers manage their tenant's alarms, admins the installation's and see every tenant's.
Another tenant's alarm id answers 404 (alerting never confirms it exists).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.alarm_json import (
    ALARM_BODY,
    ALARM_PAGE,
    ALARM_PATCH,
    ALARM_SCHEMA,
    ALARM_TEST_BODY,
    EVALUATION_PAGE,
    EVALUATION_SCHEMA,
    ID_PARAM,
    REQUIRED_ON_CREATE,
    alarm_json,
    evaluation_json,
    parse_time,
    time_us,
)
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import alarms
from cdrstats_gateway.domain.alarms import Alarm
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import TIME, Param, documented, domain_errors, read_json, ref

MAX_ID = 64
DEFAULT_LIMIT = 100
MAX_LIST_LIMIT = 500
DEFAULT_EVALUATIONS = 200
MAX_EVALUATIONS = 1000


@contextlib.contextmanager
def alerting_errors() -> Iterator[None]:
    """Alerting's INVALID_ARGUMENT names the field: say which in ``details`` too."""
    with domain_errors():
        try:
            yield
        except ServiceError as exc:
            if exc.status != 400:
                raise
            field = alarms.api_field(exc.message)
            raise ApiError(400, exc.code, exc.message, {"field": field} if field else {}) from exc


def path_alarm_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not value or len(value) > MAX_ID or not value.isprintable():
        raise ApiError(404, "not_found", f"no alarm {value[:MAX_ID]!r}")
    return value


def _limit(request: web.Request, default: int, maximum: int) -> int:
    text = request.query.get("limit", str(default))
    if not plain_digits(text) or not 1 <= int(text) <= maximum:
        raise ApiError(
            400, "invalid_argument", f"limit: expected 1 to {maximum}, got {text[:20]!r}", {"field": "limit"}
        )
    return int(text)


def _after(request: web.Request) -> str:
    cursor = request.query.get("cursor", "")
    if not cursor:
        return ""
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        kind, value = "", ""
    if kind != "alarm" or not value:
        raise ApiError(400, "invalid_argument", "cursor: expected a next_cursor value", {"field": "cursor"})
    return value


@documented(
    "Alarms in id order: a customer's own, or (admins) every alarm with its owner",
    "alarms",
    ALARM_PAGE,
    params=(
        Param("cursor", description="next_cursor of the previous page; absent for the first page"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT}),
    ),
    errors=(400, 503),
)
async def list_alarms(request: web.Request) -> web.StreamResponse:
    after, limit = _after(request), _limit(request, DEFAULT_LIMIT, MAX_LIST_LIMIT)
    found = sorted(await request.app[keys.SERVICES].list_alarms(request[keys.USER]), key=lambda a: a.id)
    page = [a for a in found if a.id > after][: limit + 1]
    more = len(page) > limit
    cursor = base64.urlsafe_b64encode(f"alarm:{page[limit - 1].id}".encode()).decode().rstrip("=") if more else None
    return web.json_response({"items": [alarm_json(a) for a in page[:limit]], "next_cursor": cursor})


def _definition(body: dict[str, Any], base: Alarm | None = None) -> Alarm:
    if base is None:
        optional = {"window"} if body.get("metric") == "cic" else set()  # CIC is a run, not a window
        missing = [name for name in REQUIRED_ON_CREATE if body.get(name) in (None, "") and name not in optional]
        if missing:
            raise ApiError(400, "invalid_argument", f"{missing[0]}: required", {"field": missing[0]})
    with domain_errors():
        return alarms.from_json(body, base)


@documented(
    "Create an alarm (a customer's belongs to its tenant; an admin's to the installation)",
    "alarms",
    ref("Alarm"),
    status=201,
    body=ALARM_BODY,
    errors=(400, 503),
)
async def create_alarm(request: web.Request) -> web.StreamResponse:
    alarm = _definition(await read_json(request))
    with alerting_errors():
        saved = await request.app[keys.SERVICES].create_alarm(request[keys.USER], alarm)
    return web.json_response(alarm_json(saved), status=201)


@documented("One alarm with its state", "alarms", ref("Alarm"), params=ID_PARAM, errors=(404, 503))
async def get_alarm(request: web.Request) -> web.StreamResponse:
    alarm = await request.app[keys.SERVICES].get_alarm(request[keys.USER], path_alarm_id(request))
    return web.json_response(alarm_json(alarm))


@documented(
    "Change an alarm: fields not given keep their value; state and history are kept",
    "alarms",
    ref("Alarm"),
    body=ALARM_PATCH,
    params=ID_PARAM,
    errors=(400, 404, 503),
)
async def update_alarm(request: web.Request) -> web.StreamResponse:
    services, user = request.app[keys.SERVICES], request[keys.USER]
    current = await services.get_alarm(user, path_alarm_id(request))
    alarm = _definition(await read_json(request), current)
    with alerting_errors():
        saved = await services.update_alarm(user, alarm)
    return web.json_response(alarm_json(saved))


@documented("Delete an alarm and its history", "alarms", None, status=204, params=ID_PARAM, errors=(404, 503))
async def delete_alarm(request: web.Request) -> web.StreamResponse:
    await request.app[keys.SERVICES].delete_alarm(request[keys.USER], path_alarm_id(request))
    return web.Response(status=204)


@documented(
    "Evaluate a saved alarm now: the result only (no state change, nothing stored, nobody notified)",
    "alarms",
    ref("AlarmEvaluation"),
    params=ID_PARAM,
    errors=(400, 404, 503),
)
async def test_saved_alarm(request: web.Request) -> web.StreamResponse:
    services, user = request.app[keys.SERVICES], request[keys.USER]
    alarm = await services.get_alarm(user, path_alarm_id(request))
    with alerting_errors():
        evaluation = await services.test_alarm(user, alarm)
    return web.json_response(evaluation_json(evaluation))


@documented(
    "Evaluate an unsaved alarm definition now (to try a threshold before saving it)",
    "alarms",
    ref("AlarmEvaluation"),
    body=ALARM_TEST_BODY,
    errors=(400, 503),
)
async def test_definition(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    alarm = _definition({"name": "test", **body})
    with alerting_errors():
        evaluation = await request.app[keys.SERVICES].test_alarm(request[keys.USER], alarm)
    return web.json_response(evaluation_json(evaluation))


@documented(
    "Stored evaluations of an alarm, newest first; page back with before=<next_cursor>",
    "alarms",
    EVALUATION_PAGE,
    params=(
        *ID_PARAM,
        Param("since", schema=TIME, description="RFC 3339: only evaluations at or after this time"),
        Param("before", schema=TIME, description="RFC 3339: only evaluations strictly before this time"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_EVALUATIONS}),
    ),
    errors=(400, 404, 503),
)
async def list_evaluations(request: web.Request) -> web.StreamResponse:
    query = request.query
    since = parse_time("since", query["since"]) if query.get("since") else 0
    before = parse_time("before", query["before"]) if query.get("before") else 0
    limit = _limit(request, DEFAULT_EVALUATIONS, MAX_EVALUATIONS)
    alarm_id = path_alarm_id(request)
    found = await request.app[keys.SERVICES].list_evaluations(
        request[keys.USER], alarm_id, since_us=since, before_us=before, limit=limit + 1
    )
    more = len(found) > limit
    cursor = time_us(found[limit - 1].time_us) if more else None
    return web.json_response({"items": [evaluation_json(e) for e in found[:limit]], "next_cursor": cursor})


ROUTES = (
    ("GET", "/api/v1/alarms", list_alarms, "api_alarms"),
    ("POST", "/api/v1/alarms", create_alarm, "api_alarms_create"),
    ("POST", "/api/v1/alarms/test", test_definition, "api_alarms_test"),
    ("GET", "/api/v1/alarms/{id}", get_alarm, "api_alarm"),
    ("PUT", "/api/v1/alarms/{id}", update_alarm, "api_alarm_update"),
    ("DELETE", "/api/v1/alarms/{id}", delete_alarm, "api_alarm_delete"),
    ("POST", "/api/v1/alarms/{id}/test", test_saved_alarm, "api_alarm_test"),
    ("GET", "/api/v1/alarms/{id}/evaluations", list_evaluations, "api_alarm_evaluations"),
)
SCHEMAS = {"Alarm": ALARM_SCHEMA, "AlarmEvaluation": EVALUATION_SCHEMA}
