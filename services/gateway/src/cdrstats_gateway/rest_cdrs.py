"""REST API for CDRs: search (the page's filters), one CDR, streamed export, bulk create (admin)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cdrstats_gateway import cdr_flags, json_body, keys
from cdrstats_gateway.domain import cdr_format
from cdrstats_gateway.domain.cdr_filters import FilterError
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.views_cdrs import MAX_CDR_ID, export_format, export_limit, parse_or_400, stream_export

MAX_BULK_CDRS = 10_000
#: 10,000 CDRs with a modest ``extra`` each; read from the stream (the app's body limit is for forms)
MAX_BULK_BYTES = 32 * 1024 * 1024
MAX_SWITCH_ID = 128


def _bad_filter(exc: FilterError) -> ApiError:
    return ApiError(400, "invalid_argument", str(exc), {"field": exc.field})


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "").strip().lower()
    if value not in ("", "true", "false", "1", "0"):
        raise ApiError(400, "invalid_argument", f"{name}: expected true or false", {"field": name})
    return value in ("true", "1")


async def list_cdrs(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/cdrs: one page; ``next_cursor`` (null on the last page) fetches the next."""
    try:
        filters = parse_or_400(request)
    except FilterError as exc:
        raise _bad_filter(exc) from exc
    with_total = _flag(request, "total")
    page = await request.app[keys.SERVICES].search_cdrs(request[keys.USER].scope, filters, with_total=with_total)
    body = {
        "cdrs": [cdr_format.cdr_json(c) for c in page.cdrs],
        "next_cursor": page.next_cursor or None,
        "total": page.total,
    }
    return web.json_response(body)


async def get_cdr(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/cdrs/{id}: another tenant's CDR is 404, exactly like a missing one."""
    cdr_id = request.match_info["id"]
    if len(cdr_id) > MAX_CDR_ID:
        raise ApiError(404, "not_found", f"no CDR {cdr_id[:MAX_CDR_ID]!r}...")
    cdr = await request.app[keys.SERVICES].get_cdr(request[keys.USER].scope, cdr_id)
    flags = await cdr_flags.flags_for(request, request[keys.USER], [cdr["id"]])
    verdict = cdr_flags.verdict_json(flags.hits.get(cdr["id"]))
    return web.json_response({**cdr_format.cdr_json(cdr), "destination_verdict": verdict})


async def export_cdrs(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/cdrs/export?format=csv|jsonl&limit=N: every matching CDR, streamed."""
    try:
        filters = parse_or_400(request)
        fmt, limit = export_format(request), export_limit(request)
    except FilterError as exc:
        raise _bad_filter(exc) from exc
    return await stream_export(request, request[keys.USER].scope, filters, fmt, limit)


async def _read_body(request: web.Request) -> Any:
    return await json_body.read_json(request, MAX_BULK_BYTES, 'a JSON object {"switch_id": ..., "cdrs": [...]}')


def _bulk_input(body: Any) -> tuple[str, list[dict[str, Any]]]:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_argument", 'body: expected {"switch_id": ..., "cdrs": [...]}', {"field": "body"})
    switch_id = body.get("switch_id")
    if not isinstance(switch_id, str) or not 0 < len(switch_id) <= MAX_SWITCH_ID:
        message = f"switch_id: expected the id of a registered switch (1 to {MAX_SWITCH_ID} characters)"
        raise ApiError(400, "invalid_argument", message, {"field": "switch_id"})
    records = body.get("cdrs")
    if not isinstance(records, list) or not 0 < len(records) <= MAX_BULK_CDRS:
        message = f"cdrs: expected a list of 1 to {MAX_BULK_CDRS} CDR objects"
        raise ApiError(400, "invalid_argument", message, {"field": "cdrs"})
    try:
        return switch_id, [cdr_format.cdr_from_json(record, i) for i, record in enumerate(records)]
    except cdr_format.CdrInputError as exc:
        raise ApiError(400, "invalid_argument", str(exc), {"field": exc.field}) from exc


async def create_cdrs(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/cdrs: up to 10,000 CDRs of one switch through ingest (normalised, deduplicated).

    Allowed to an admin (token or basic), or to a switch with its own push credentials, for its own CDRs.
    """
    by_switch = request.get(keys.SWITCH)
    if by_switch is None and not request[keys.USER].is_admin:
        raise ApiError(403, "forbidden", "creating CDRs needs an admin token or the switch's own credentials")
    switch_id, cdrs = _bulk_input(await _read_body(request))
    if by_switch is not None and switch_id != by_switch:
        message = f"switch_id: these credentials belong to switch {by_switch!r}, not {switch_id!r}"
        raise ApiError(403, "forbidden", message, {"field": "switch_id"})
    result = await request.app[keys.SERVICES].submit_cdrs(switch_id, cdrs)
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
        "rejects": result.rejects,
    }
    return web.json_response(body, status=200)


#: (method, path, handler, route name) in registration order: /export before /{id}
ROUTES = (
    ("GET", "/api/v1/cdrs", list_cdrs, "api_cdrs"),
    ("POST", "/api/v1/cdrs", create_cdrs, "api_cdrs_create"),
    ("GET", "/api/v1/cdrs/export", export_cdrs, "api_cdrs_export"),
    ("GET", "/api/v1/cdrs/{id}", get_cdr, "api_cdr"),
)
