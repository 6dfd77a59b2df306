"""HTTP receivers for switches that push: FreeSWITCH mod_json_cdr and mod_xml_cdr, and live call state.

Answers 200 for accepted and duplicate CDRs (a re-sent CDR is a no-op, so the
switch stops retrying), 400 naming what is wrong (the body is kept as a reject),
401 for bad credentials, 403 for another switch's calls, 413 over the size limit, 429 after
too many wrong keys for one switch user from one address (a guesser, or a switch configured with
an old key: the switch's own posts from elsewhere go on).
Every refusal is logged with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from cdrstats_common import http_guard
from cdrstats_ingest.domain.errors import BadCredentials, InvalidCdr, UnknownSwitch
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.key_throttle import FailureThrottle
from cdrstats_ingest.push import PushReceiver
from cdrstats_ingest.service import IngestService

log = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("ingest_service", IngestService)
PUSH_KEY = web.AppKey("push_receiver", PushReceiver)
THROTTLE_KEY = web.AppKey("key_throttle", FailureThrottle)
#: wrong keys per (switch user, client address) before 429: a misconfigured switch retrying stays
#: well under it for minutes, a guesser gets 10 tries per 5 minutes
KEY_FAILURES = 10
KEY_WINDOW_S = 300.0


def _error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **details: object
) -> web.Response:
    log.warning("cdr refused", extra={"fields": {"status": status, "error": code, "reason": message, **details}})
    if status == 401:
        headers = {"WWW-Authenticate": 'Basic realm="cdr-stats ingest"', **(headers or {})}
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
    throttle = request.app[THROTTLE_KEY]
    key = f"{credentials[0]}@{request.remote or 'unknown'}"
    wait = throttle.retry_after(key)
    if wait > 0:
        seconds = math.ceil(wait)
        message = f"too many wrong keys for switch user {credentials[0]!r} from this address; retry in {seconds} s"
        return _error(429, "too_many_requests", message, headers={"Retry-After": str(seconds)})
    try:
        switch = await asyncio.to_thread(service.authenticate, *credentials)
    except UnknownSwitch as exc:
        throttle.failed(key)
        return _error(401, "unknown_switch", str(exc))
    except BadCredentials as exc:
        throttle.failed(key)
        return _error(401, "bad_credentials", str(exc))
    throttle.reset(key)
    return switch


async def _read_body(request: web.Request, switch: SwitchConfig) -> bytes | web.Response:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, "too_large", f"body over the limit of {request.app[MAX_BODY_KEY]} bytes", switch=switch.id)


async def _freeswitch_cdr(request: web.Request, fmt: str) -> web.Response:
    """One leg from mod_json_cdr (fmt json) or mod_xml_cdr (fmt xml), in any of their encode modes."""
    switch = await _authenticate(request)
    if isinstance(switch, web.Response):
        return switch
    body = await _read_body(request, switch)
    if isinstance(body, web.Response):
        return body
    try:
        result = await asyncio.to_thread(
            request.app[PUSH_KEY].receive_freeswitch,
            switch,
            body,
            fmt=fmt,
            content_type=request.content_type,
            uuid_hint=request.query.get("uuid", ""),
            location=f"POST {request.path_qs}",
        )
    except InvalidCdr as exc:
        return _error(400, "invalid_cdr", str(exc), field=exc.field, switch=switch.id)
    return web.json_response({"status": result.status, "id": result.id})


async def freeswitch_json(request: web.Request) -> web.Response:
    return await _freeswitch_cdr(request, "json")


async def freeswitch_xml(request: web.Request) -> web.Response:
    return await _freeswitch_cdr(request, "xml")


async def switch_calls(request: web.Request) -> web.Response:
    """Live call-state events of the switch named in the path (only that switch may post them)."""
    switch = await _authenticate(request)
    if isinstance(switch, web.Response):
        return switch
    path_id = request.match_info["switch_id"]
    if path_id != switch.id:
        return _error(403, "forbidden", f"authenticated as switch {switch.id!r}, not {path_id!r}", switch=switch.id)
    body = await _read_body(request, switch)
    if isinstance(body, web.Response):
        return body
    try:
        outcome = await asyncio.to_thread(request.app[PUSH_KEY].receive_call_states, switch, body)
    except InvalidCdr as exc:
        return _error(400, "invalid_call_state", str(exc), field=exc.field, switch=switch.id)
    reply = {"accepted": outcome.accepted, "rejected": outcome.rejected}
    if outcome.accepted == 0:  # nothing usable: the sender must fix it
        first = outcome.rejected[0]
        return _error(400, "invalid_call_state", first["reason"], field=first["field"], rejected=outcome.rejected)
    return web.json_response(reply)


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


def create_receiver_app(
    service: IngestService, *, max_body_bytes: int, read_timeout_s: float = 30.0
) -> web.Application:
    """Serve it with ``keepalive_timeout=read_timeout_s`` too: that bounds slow headers (http_guard)."""
    middlewares = [json_errors, http_guard.guard_middleware(read_timeout_s)]
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    app[SERVICE_KEY] = service
    app[PUSH_KEY] = PushReceiver(service.store)
    app[THROTTLE_KEY] = FailureThrottle(limit=KEY_FAILURES, window_s=KEY_WINDOW_S)
    app[MAX_BODY_KEY] = max_body_bytes
    app.router.add_post("/v1/freeswitch/json", freeswitch_json, name="freeswitch_json")
    app.router.add_post("/v1/freeswitch/xml", freeswitch_xml, name="freeswitch_xml")
    app.router.add_post("/v1/switches/{switch_id}/calls", switch_calls, name="switch_calls")
    app.router.add_get("/healthz", healthz, name="healthz")
    return app


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
