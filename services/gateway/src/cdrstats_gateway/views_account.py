"""Account pages: settings (e-mail, display time zone), password change, and the API page."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys, openapi
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import render

COMMON_ZONES: tuple[str, ...] = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Africa/Johannesburg",
)


def _page(request: web.Request, user: User, *, message: str = "", error: str = "", status: int = 200) -> web.Response:
    context = {
        "account": user,
        "zones": COMMON_ZONES,
        "installation_zone": request.app[keys.SETTINGS].time_zone,
        "message": message,
        "error": error,
    }
    return render(request, "account.html", context, status=status)


async def account(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    message = "Saved." if request.query.get("saved") else ""
    return _page(request, user, message=message)


async def account_settings(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    try:
        email = accounts.email(form.get("email"))
        zone = accounts.time_zone(form.get("time_zone"))
    except InvalidInput as exc:
        return _page(request, user, error=str(exc), status=400)
    await asyncio.to_thread(request.app[keys.STORE].update_user, user.id, email=email, time_zone=zone)
    raise web.HTTPSeeOther(f"{request.app.router['account'].url_for()}?saved=1")


async def account_password(request: web.Request) -> web.StreamResponse:
    """Needs the current password; every other session of the user ends (this one stays)."""
    user = auth.require_user(request)
    form = await request.post()
    store = request.app[keys.STORE]
    try:
        new_password = accounts.password(form.get("new_password"), "new_password")
    except InvalidInput as exc:
        return _page(request, user, error=str(exc), status=400)
    if form.get("confirm_password") != new_password:
        return _page(request, user, error="confirm_password: does not match the new password", status=400)
    if not await auth.check_current_password(request, user, str(form.get("current_password", ""))):
        return _page(request, user, error="current_password: wrong password", status=403)
    await asyncio.to_thread(store.set_password, user.id, new_password, keep_session_id=request.get(keys.SESSION_ID))
    return _page(request, user, message="Password changed. Your other sessions were logged out.")


def _operations(document: dict[str, Any], admin: bool) -> list[dict[str, Any]]:
    rows = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            if spec.get("x-admin-only") and not admin:
                continue
            tag = (spec.get("tags") or ["other"])[0]
            rows.append({"tag": tag, "method": method.upper(), "path": path, "summary": spec["summary"]})
    return sorted(rows, key=lambda r: (r["tag"], r["path"], r["method"]))


async def api_page(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    document = request.app[openapi.DOCUMENT]
    context = {"operations": _operations(document, user.is_admin), "openapi_url": openapi.OPENAPI_PATH}
    return render(request, "api.html", context)


ROUTES = (
    ("GET", "/account", account, "account"),
    ("POST", "/account/settings", account_settings, "account_settings"),
    ("POST", "/account/password", account_password, "account_password"),
    ("GET", "/api", api_page, "api_page"),
)
