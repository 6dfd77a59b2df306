"""REST API for rejected records (admin): list them with their raw input, retry one (corrected or not)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.switches import RejectInfo
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import (
    BOOL,
    INT,
    STR,
    TIME,
    Param,
    arr,
    documented,
    obj,
    read_json,
    ref,
    require_admin,
)

MAX_RAW = 256 * 1024
REJECT_SCHEMA = obj(
    {
        "id": STR,
        "switch_id": STR,
        "source": STR,
        "reason": STR,
        "raw": STR,
        "location": STR,
        "received_at": TIME,
        "status": {"enum": ["open", "reimported"]},
    }
)
REJECT_PAGE = obj({"items": arr(ref("Reject")), "next_cursor": {"type": ["string", "null"]}, "total": INT})
RETRY_SCHEMA = obj({"status": {"enum": ["accepted", "duplicate", "rejected"]}, "reason": STR, "cdr_id": STR})


def reject_json(reject: RejectInfo) -> dict[str, Any]:
    return {
        "id": reject.id,
        "switch_id": reject.switch_id,
        "source": reject.source,
        "reason": reject.reason,
        "raw": reject.raw,
        "location": reject.location,
        "received_at": rfc3339(reject.received_time_us),
        "status": reject.status or "open",
    }


def page_size(request: web.Request) -> int:
    text = request.query.get("limit", "50")
    if not plain_digits(text) or not 1 <= int(text) <= 500:
        raise ApiError(400, "invalid_argument", "limit: expected 1 to 500", {"field": "limit"})
    return int(text)


@documented(
    "Records ingest refused, newest first, with the raw input and where it came from",
    "imports",
    REJECT_PAGE,
    admin=True,
    params=(
        Param("switch_id", description="one switch; absent: all"),
        Param("include_reimported", schema=BOOL, description="also those already retried successfully"),
        Param("cursor"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 500}),
    ),
    errors=(400, 503),
)
async def list_rejects(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    page = await request.app[keys.SERVICES].list_rejects(
        request.query.get("switch_id", "").strip()[:64],
        request.query.get("cursor", "")[:200],
        page_size(request),
        include_reimported=request.query.get("include_reimported", "") in ("1", "true"),
    )
    items = [reject_json(r) for r in page.rejects]
    return web.json_response({"items": items, "next_cursor": page.next_cursor or None, "total": page.total})


@documented(
    "Retry a rejected record: its stored raw input, or a corrected one in raw",
    "imports",
    RETRY_SCHEMA,
    admin=True,
    body=obj({"raw": STR}, required=()),
    params=(Param("id", "path", required=True),),
    errors=(400, 404, 503),
)
async def retry_reject(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    body = await read_json(request)
    raw = body.get("raw", "")
    if not isinstance(raw, str) or len(raw) > MAX_RAW:
        raise ApiError(400, "invalid_argument", f"raw: expected text of at most {MAX_RAW} characters", {"field": "raw"})
    outcome = await request.app[keys.SERVICES].retry_reject(request.match_info["id"], raw)
    return web.json_response({"status": outcome.status, "reason": outcome.reason, "cdr_id": outcome.cdr_id})


ROUTES = (
    ("GET", "/api/v1/rejects", list_rejects, "api_rejects"),
    ("POST", "/api/v1/rejects/{id}/retry", retry_reject, "api_reject_retry"),
)
SCHEMAS = {"Reject": REJECT_SCHEMA}
