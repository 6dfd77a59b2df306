"""Web UI pages: login/logout, dashboard, API tokens, and the /healthz probe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import formatting
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.models import Dashboard, SwitchInfo
from cdrstats_gateway.rendering import STATIC_DIR, render

MAX_SWITCH_ID = 128
MAX_TOKEN_NAME = 100


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never another host (//evil.example) or a scheme."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(request.app.router["dashboard"].url_for())


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.get(keys.USER) is not None:
        raise web.HTTPSeeOther(request.app.router["dashboard"].url_for())
    return _login_page(request, "", "")


def _login_page(request: web.Request, username: str, error: str, *, status: int = 200) -> web.Response:
    token, new_cookie = auth.login_csrf_token(request)
    context = {"login_csrf": token, "username": username, "error": error, "next": request.query.get("next", "")}
    response = render(request, "login.html", context, status=status)
    if new_cookie is not None:
        auth.set_cookie(request, response, auth.LOGIN_CSRF_COOKIE, new_cookie, 3600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    if not username or not password:
        return _login_page(request, username, "Enter your username and password.", status=400)
    try:
        user = await auth.authenticate(request, username, password)
    except auth.Throttled as exc:
        response = _login_page(request, username, f"Too many failed logins. {exc}.", status=429)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if user is None:
        return _login_page(request, username, "Wrong username or password.")
    target = _safe_next(request.query.get("next") or str(form.get("next", ""))) or str(
        request.app.router["dashboard"].url_for()
    )
    response = web.HTTPSeeOther(target)
    await auth.start_session(request, response, user)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther(request.app.router["login"].url_for())
    await auth.end_session(request, response)
    raise response


def _chart_data(dashboard: Dashboard, time_zone: str) -> dict[str, Any]:
    return {
        "labels": [formatting.local_hour(h.start_us, time_zone)[-5:] for h in dashboard.hours],
        "attempts": [h.attempts for h in dashboard.hours],
        "answered": [h.answered for h in dashboard.hours],
        "minutes": [round(h.minutes, 2) for h in dashboard.hours],
    }


def read_switch_id(request: web.Request) -> str | None:
    switch_id = request.query.get("switch", "").strip()
    if len(switch_id) > MAX_SWITCH_ID:
        raise web.HTTPBadRequest(text=f"switch: expected a switch id of at most {MAX_SWITCH_ID} characters")
    return switch_id or None


async def _switches_or_none(request: web.Request) -> list[SwitchInfo]:
    """The filter list is a convenience: the page still shows the numbers when ingest does not answer."""
    try:
        return await request.app[keys.SERVICES].switches()
    except ServiceError:
        return []


async def dashboard(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    switch_id = read_switch_id(request)
    services = request.app[keys.SERVICES]
    report, switches = await asyncio.gather(services.dashboard(user.scope, switch_id), _switches_or_none(request))
    time_zone = request.app[keys.SETTINGS].time_zone
    hours = [
        {
            "label": formatting.local_hour(h.start_us, time_zone),
            "attempts": h.attempts,
            "answered": h.answered,
            "asr": 100.0 * h.answered / h.attempts if h.attempts else 0.0,
            "minutes": h.minutes,
        }
        for h in report.hours
    ]
    context = {
        "report": report,
        "hours": hours,
        "switches": switches,
        "switch_id": switch_id or "",
        "time_zone": time_zone,
        "window_start": formatting.local_hour(report.window_start_us, time_zone),
        "window_end": formatting.local_hour(report.window_end_us, time_zone),
        "chart": _chart_data(report, time_zone),
        "has_echarts": (STATIC_DIR / "vendor" / "echarts.min.js").exists(),
    }
    return render(request, "dashboard.html", context)


async def tokens(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    return await _tokens_page(request, user.id, new_token="", error="")


async def _tokens_page(
    request: web.Request, user_id: int, *, new_token: str, error: str, status: int = 200
) -> web.Response:
    listed = await asyncio.to_thread(request.app[keys.STORE].list_api_tokens, user_id)
    context = {"tokens": listed, "new_token": new_token, "error": error, "format_time": formatting.timestamp}
    return render(request, "tokens.html", context, status=status)


async def tokens_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    store = request.app[keys.STORE]
    action = form.get("action")
    if action == "create":
        name = str(form.get("name", "")).strip()
        if not name or len(name) > MAX_TOKEN_NAME:
            error = f"name: expected 1 to {MAX_TOKEN_NAME} characters"
            return await _tokens_page(request, user.id, new_token="", error=error, status=400)
        token, _ = await asyncio.to_thread(store.create_api_token, user.id, name)
        return await _tokens_page(request, user.id, new_token=token, error="", status=201)
    if action == "revoke":
        token_id = str(form.get("token_id", ""))
        if not plain_digits(token_id) or not await asyncio.to_thread(store.revoke_api_token, user.id, int(token_id)):
            return await _tokens_page(request, user.id, new_token="", error="token_id: no such token", status=404)
        raise web.HTTPSeeOther(request.app.router["tokens"].url_for())
    return await _tokens_page(request, user.id, new_token="", error="action: expected create or revoke", status=400)


async def _health(request: web.Request, check: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]) -> web.Response:
    """503 while the demo data loads, else ``check``'s verdict (200, or 503 with its details)."""
    marker = request.app[keys.SETTINGS].startup_marker
    if marker is not None and marker.exists():
        body = {"status": "starting", "message": "demo data loading", "details": {"startup_marker": str(marker)}}
        return web.json_response(body, status=503)
    ready, details = await check()
    if ready:
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unavailable", "message": "not ready", "details": details}, status=503)


async def livez(request: web.Request) -> web.StreamResponse:
    """Liveness: the event loop answers. Depends on nothing else, so a busy pipeline never restarts the pod."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    """Readiness: this gateway can serve pages (every api SERVING, demo load done); a backlog is fine."""
    return await _health(request, request.app[keys.SERVICES].serving)


async def healthz(request: web.Request) -> web.StreamResponse:
    """The whole pipeline healthy and caught up: every api and worker SERVING, nothing left to count.

    Under steady traffic this is 503 most of the time (a CDR is always in flight), so it is for
    scripts and tests that wait for "everything counted"; probes use /livez and /readyz.
    """
    return await _health(request, request.app[keys.SERVICES].readiness)
