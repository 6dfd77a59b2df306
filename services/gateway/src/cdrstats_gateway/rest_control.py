"""Shared pieces of the destination-control and notification REST modules: errors, cursors, limits."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator

from aiohttp import web

from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import control
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import domain_errors

MAX_ID = 64
#: request messages wrap the object the REST body is: alerting says ``rule.mode`` for the body's ``mode``
PROTO_WRAPPERS = ("rule.", "report.", "contacts.")


@contextlib.contextmanager
def service_fields() -> Iterator[None]:
    """A service's INVALID_ARGUMENT names the field: keep it in ``details`` like the gateway's own errors."""
    try:
        with domain_errors():
            yield
    except ServiceError as exc:
        field = control.error_field(exc.message, full=True)
        field = field.split(".", 1)[1] if field.startswith(PROTO_WRAPPERS) else field
        details = {"field": field} if exc.status == 400 else {}
        raise ApiError(exc.status, exc.code, exc.message, details) from exc


def encode_cursor(kind: str, value: str) -> str | None:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=") if value else None


def decode_cursor(request: web.Request, kind: str) -> str:
    cursor = request.query.get("cursor", "")
    if not cursor:
        return ""
    try:
        found, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        found, value = "", ""
    if found != kind or not value:
        raise ApiError(400, "invalid_argument", "cursor: expected a next_cursor value", {"field": "cursor"})
    return value


def query_limit(request: web.Request, default: int, maximum: int) -> int:
    text = request.query.get("limit", str(default))
    if not plain_digits(text) or not 1 <= int(text) <= maximum:
        raise ApiError(400, "invalid_argument", f"limit: expected 1 to {maximum}", {"field": "limit"})
    return int(text)


def path_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > MAX_ID:
        raise ApiError(404, "not_found", f"no such id {value[:MAX_ID]!r}...")
    return value


def choice_param(request: web.Request, name: str, allowed: tuple[str, ...]) -> str:
    value = request.query.get(name, "")
    if value and value not in allowed:
        raise ApiError(400, "invalid_argument", f"{name}: expected one of {', '.join(allowed)}", {"field": name})
    return value
