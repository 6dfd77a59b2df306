"""Cross-cutting HTTP concerns: errors as pages or API JSON, and security headers on every response."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cdrstats_common import http_guard
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.rendering import render

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
FORM = "application/x-www-form-urlencoded"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_API_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error the REST API answers with ``{"error", "message", "details"}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def api_error_response(error: ApiError) -> web.Response:
    body = {"error": error.code, "message": error.message, "details": error.details}
    return web.json_response(body, status=error.status, headers=error.headers)


def is_api(request: web.Request) -> bool:
    return request.path.startswith(API_PREFIX)


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain/service errors -> HTTP once: JSON under /api/, an error page elsewhere."""
    try:
        return await handler(request)
    except ApiError as exc:
        if is_api(request):
            return api_error_response(exc)
        return _error_page(request, exc.status, exc.message)
    except ServiceError as exc:
        if is_api(request):
            return api_error_response(ApiError(exc.status, exc.code, exc.message))
        return _error_page(request, exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if is_api(request):
            code = _API_CODES.get(exc.status, "error")
            return api_error_response(ApiError(exc.status, code, message, headers=dict(_kept_headers(exc))))
        page = _error_page(request, exc.status, message)
        page.headers.update(_kept_headers(exc))  # e.g. Retry-After of a 429
        return page
    except Exception:
        log.exception("unhandled error", extra={"fields": {"path": request.path, "method": request.method}})
        if is_api(request):
            return api_error_response(ApiError(500, "internal", "internal error"))
        return _error_page(request, 500, "Something went wrong on our side.")


@web.middleware
async def form_utf8_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page form that is not UTF-8 is a 400 naming the field: aiohttp's ``request.post()`` fails on
    raw bytes (a 500) and silently turns ``%XX`` that is not UTF-8 into U+FFFD. The body read here
    (at most the app's client_max_size, else 413) is the one ``post()`` reuses."""
    if request.method == "POST" and request.content_type == FORM and not is_api(request):
        problem = http_guard.urlencoded_problem(await request.read(), "form field")
        if problem is not None:
            raise web.HTTPBadRequest(text=problem)
    return await handler(request)


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    kept = ("Allow", "Retry-After", "WWW-Authenticate")
    return {name: exc.headers[name] for name in kept if name in exc.headers}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: applies to pages, API answers, static files and errors alike."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")


def json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
