"""REST API infrastructure under /api/v1: route metadata for OpenAPI, JSON bodies, cursors, errors.

Handlers carry their own OpenAPI description (``@documented``); ``openapi.py`` builds the
document from the live router, so a route cannot exist undocumented or be documented
without existing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aiohttp import web

from cdrstats_gateway import body_schema, json_body, keys
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import Conflict, InvalidInput, NotFound
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import Dashboard, User
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.store.base import UserExists

MAX_SWITCH_ID = 128
MAX_JSON_BYTES = 1024 * 1024
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
Handler = Callable[[web.Request], Any]
H = TypeVar("H", bound=Handler)

# --- JSON Schema pieces (OpenAPI 3.1 = JSON Schema 2020-12) ----------------------------------

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
TIME_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}


def obj(properties: dict[str, Any], required: tuple[str, ...] | None = None, *, extra: bool = False) -> dict[str, Any]:
    """An object schema; every property is required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": extra,
    }


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return obj({"items": arr(item), "next_cursor": {"type": ["string", "null"]}})


@dataclasses.dataclass(frozen=True)
class Param:
    name: str
    where: str = "query"  # query or path
    schema: dict[str, Any] = dataclasses.field(default_factory=lambda: dict(STR))
    description: str = ""
    required: bool = False


CURSOR_PARAMS = (
    Param("cursor", description="next_cursor of the previous page; absent for the first page"),
    Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, description="items per page"),
)


@dataclasses.dataclass(frozen=True)
class ApiDoc:
    """What OpenAPI says about one operation; ``response`` None means 204 No Content."""

    summary: str
    tag: str
    response: dict[str, Any] | None
    status: int = 200
    body: dict[str, Any] | None = None
    body_content_type: str = "application/json"
    params: tuple[Param, ...] = ()
    admin: bool = False
    errors: tuple[int, ...] = (400,)
    response_content_type: str = "application/json"
    #: the same response in other media types, chosen by a parameter (CDR export: format=jsonl)
    other_content_types: tuple[str, ...] = ()
    description: str = ""


def documented(summary: str, tag: str, response: dict[str, Any] | None, **details: Any) -> Callable[[H], H]:
    """Attach an ApiDoc to a handler; ``openapi.py`` reads it for every /api/v1 route."""

    def mark(handler: H) -> H:
        handler.__openapi__ = ApiDoc(summary, tag, response, **details)  # type: ignore[attr-defined]
        return handler

    return mark


def doc_of(handler: Any) -> ApiDoc | None:
    return getattr(handler, "__openapi__", None)


# --- requests ---------------------------------------------------------------------------------


def require_admin(request: web.Request) -> User:
    user: User = request[keys.USER]
    if not user.is_admin:
        raise ApiError(403, "forbidden", "this needs an admin user or an admin's API token")
    return user


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (at most 1 MiB; empty is ``{}``); 413 or 400 naming what was wrong otherwise."""
    body = await json_body.read_json(request, MAX_JSON_BYTES, "a JSON object", empty=b"{}")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_argument", "body: expected a JSON object", {"field": "body"})
    _check_against_schema(request, body)
    return body


def _check_against_schema(request: web.Request, body: dict[str, Any]) -> None:
    """The body as the operation documents it (body_schema), else a 400 naming the field."""
    doc = doc_of(getattr(request.match_info, "handler", None))
    found = body_schema.problem(doc.body, body) if doc is not None and doc.body is not None else None
    if found is not None:
        field, what = found
        raise ApiError(400, "invalid_argument", f"{field or 'body'}: {what}", {"field": field or "body"})


def path_int(request: web.Request, name: str = "id") -> int:
    """A numeric path id; anything else is 404 (it names nothing), not 400."""
    value = request.match_info[name]
    if not plain_digits(value):
        raise ApiError(404, "not_found", f"no such {name} {value[:32]!r}")
    return int(value)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def page_params(request: web.Request) -> tuple[int, int]:
    """(after_id, limit) from ``cursor`` and ``limit``; a cursor is opaque to clients."""
    limit_text = request.query.get("limit", str(DEFAULT_LIMIT))
    if not plain_digits(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ApiError(400, "invalid_argument", f"limit: expected 1 to {MAX_LIMIT}", {"field": "limit"})
    cursor = request.query.get("cursor", "")
    if not cursor:
        return 0, int(limit_text)
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_argument", "cursor: expected a next_cursor value", {"field": "cursor"}) from exc
    if kind != "id" or not plain_digits(value):
        raise ApiError(400, "invalid_argument", "cursor: expected a next_cursor value", {"field": "cursor"})
    return int(value), int(limit_text)


def page_body(items: list[dict[str, Any]], last_ids: list[int], limit: int) -> dict[str, Any]:
    """``items`` holds ``limit + 1`` fetched rows at most: the extra one only says there is a next page."""
    more = len(items) > limit
    return {"items": items[:limit], "next_cursor": encode_cursor(last_ids[limit - 1]) if more else None}


def time_or_none(seconds: float | None) -> str | None:
    return None if seconds is None else rfc3339(int(seconds * 1_000_000))


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """The gateway's own domain errors -> API errors (once, here)."""
    try:
        yield
    except InvalidInput as exc:
        raise ApiError(400, "invalid_argument", str(exc), {"field": exc.field}) from exc
    except NotFound as exc:
        raise ApiError(404, "not_found", f"no {exc}") from exc
    except UserExists as exc:
        raise ApiError(409, "conflict", f"username: {exc} is taken", {"field": "username"}) from exc
    except Conflict as exc:
        raise ApiError(409, "conflict", str(exc)) from exc


# --- the dashboard (first REST endpoint; report endpoints live in rest_reports.py) -------------

DASHBOARD_SCHEMA = obj(
    {
        "window": obj({"start": TIME, "end": TIME}),
        "attempts": INT,
        "answered": INT,
        "asr": NUM,
        "acd": NUM,
        "minutes": NUM,
        "ach": NUM,
        "hours": arr(obj({"start": TIME, "attempts": INT, "answered": INT, "minutes": NUM})),
    }
)


def dashboard_json(report: Dashboard) -> dict[str, Any]:
    return {
        "window": {"start": rfc3339(report.window_start_us), "end": rfc3339(report.window_end_us)},
        "attempts": report.attempts,
        "answered": report.answered,
        "asr": report.asr,
        "acd": report.acd,
        "minutes": report.minutes,
        "ach": report.ach,
        "hours": [
            {"start": rfc3339(h.start_us), "attempts": h.attempts, "answered": h.answered, "minutes": h.minutes}
            for h in report.hours
        ],
    }


@documented(
    "The last 24 hours in the caller's scope",
    "reports",
    DASHBOARD_SCHEMA,
    params=(Param("switch", description="a switch id; absent: every switch"),),
    errors=(400, 503),
)
async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/reports/dashboard?switch=<id>: the last 24 hours in the caller's scope."""
    switch_id = request.query.get("switch", "").strip()
    if len(switch_id) > MAX_SWITCH_ID:
        raise ApiError(
            400, "invalid_argument", f"switch: expected at most {MAX_SWITCH_ID} characters", {"field": "switch"}
        )
    user = request[keys.USER]
    report = await request.app[keys.SERVICES].dashboard(user.scope, switch_id or None)
    return web.json_response(dashboard_json(report))
