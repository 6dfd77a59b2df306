"""HTTP receivers for switches that push CDRs (FreeSWITCH mod_json_cdr today).

Answers 200 for accepted and duplicate CDRs (a re-sent CDR is a no-op, so the
switch stops retrying), 400 naming what is wrong, 401 for bad credentials, 413
over the size limit. Every refusal is logged with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from cdrstats_common import telemetry
from cdrstats_ingest.domain.errors import BadCredentials, InvalidCdr, UnknownSwitch
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.service import IngestService

log = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("ingest_service", IngestService)


def _error(status: int, code: str, message: str, **details: object) -> web.Response:
    log.warning("cdr refused", extra={"fields": {"status": status, "error": code, "reason": message, **details}})
    headers = {"WWW-Authenticate": 'Basic realm="cdr-stats ingest"'} if status == 401 else None
    return web.json_response({"error": code, "message": message, "details": details}, status=status, headers=headers)


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def _authenticate(request: web.Request) -> SwitchConfig | web.Response:
    credentials = _basic_credentials(request)
    if credentials is None:
        return _error(401, "unauthenticated", "HTTP basic credentials of a registered switch are required")
    service = request.app[SERVICE_KEY]
    try:
        return await asyncio.to_thread(service.authenticate, *credentials)
    except UnknownSwitch as exc:
        return _error(401, "unknown_switch", str(exc))
    except BadCredentials as exc:
        return _error(401, "bad_credentials", str(exc))


async def freeswitch_json(request: web.Request) -> web.Response:
    switch = await _authenticate(request)
    if isinstance(switch, web.Response):
        return switch
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "too_large", f"body over the limit of {request.app[MAX_BODY_KEY]} bytes", switch=switch.id)
    service = request.app[SERVICE_KEY]
    uuid_hint = request.query.get("uuid", "")
    try:
        result = await asyncio.to_thread(service.receive_freeswitch_json, switch, body, request.content_type, uuid_hint)
    except InvalidCdr as exc:
        return _error(400, "invalid_cdr", str(exc), field=exc.field, switch=switch.id)
    return web.json_response({"status": result.status, "id": result.id})


MAX_BODY_KEY = web.AppKey("max_body_bytes", int)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "too_large", f"body over the limit of {request.app[MAX_BODY_KEY]} bytes")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason)
        raise


def create_receiver_app(service: IngestService, *, max_body_bytes: int) -> web.Application:
    app = web.Application(client_max_size=max_body_bytes, middlewares=[*telemetry.aiohttp_middlewares(), json_errors])
    app[SERVICE_KEY] = service
    app[MAX_BODY_KEY] = max_body_bytes
    app.router.add_post("/v1/freeswitch/json", freeswitch_json, name="freeswitch_json")
    app.router.add_get("/healthz", healthz, name="healthz")
    return app


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
