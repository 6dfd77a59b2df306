"""CDR pages: search (the whole search lives in the URL), detail, and streamed CSV / JSON Lines export."""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import zoneinfo
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from cdrstats_common.cdr import DIRECTIONS, SOURCES
from cdrstats_gateway import auth, cdr_flags, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import cdr_filters, cdr_format
from cdrstats_gateway.domain.cdr_filters import CdrFilters, FilterError
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.models import Scope, SwitchInfo, User
from cdrstats_gateway.rendering import render

log = logging.getLogger(__name__)

EXPORT_FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "jsonl": ("application/x-ndjson", "jsonl")}
MAX_CDR_ID = 64
#: the search table's sortable columns: (sort key, heading)
COLUMNS = (
    ("start_time", "Start"),
    ("switch_id", "Switch"),
    ("direction", "Direction"),
    ("caller_id_number", "Caller"),
    ("destination_number", "Destination"),
    ("country", "Country"),
    ("accountcode", "Account"),
    ("duration_ms", "Duration"),
    ("billsec_ms", "Billsec"),
    ("hangup_cause", "Cause"),
    ("sip_code", "SIP"),
)


def local_time(time_us: int, time_zone: str, *, seconds: bool = True) -> str:
    if not time_us:
        return ""
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, tz=zoneinfo.ZoneInfo(time_zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%dT%H:%M")


def seconds(ms: int) -> str:
    """Durations on pages: ``h:mm:ss`` (a CDR's duration is rarely longer than a few hours)."""
    total = ms // 1000
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def parse_or_400(
    request: web.Request, *, default_page_size: int = cdr_filters.DEFAULT_PAGE_SIZE, time_zone: str = ""
) -> CdrFilters:
    """The search in the query string; local dates in ``time_zone`` (default: the reporting zone)."""
    zone = time_zone or request.app[keys.SETTINGS].time_zone
    return cdr_filters.parse_filters(request.query, zone, default_page_size=default_page_size)


def viewer_zone(request: web.Request, user: User) -> str:
    """Raw CDR times are shown (and typed) in the viewer's zone: their own setting, else the installation's."""
    return user.time_zone or request.app[keys.SETTINGS].time_zone


async def _switches(request: web.Request) -> list[SwitchInfo]:
    try:
        return await request.app[keys.SERVICES].switches()
    except ServiceError:
        return []  # the switch list only fills a filter; the search still works without it


def _form(filters: CdrFilters | None, request: web.Request, time_zone: str) -> dict[str, str]:
    """Inputs show the search back; times in the local form a datetime-local input takes."""
    defaults = {f"{name}_op": op for name, (_, op) in cdr_filters.TEXT_FILTERS.items()}
    if filters is None:
        given = {name: ",".join(request.query.getall(name, [])) for name in cdr_filters.PARAMS}
        return {**defaults, **{name: value for name, value in given.items() if value}}
    values = {**defaults, **cdr_filters.form_values(filters)}
    values["from"] = local_time(filters.start_from_us, time_zone, seconds=False)
    values["to"] = local_time(filters.start_to_us, time_zone, seconds=False)
    return values


async def search(request: web.Request) -> web.StreamResponse:
    """GET /cdrs: the search form and one page of results (keyset pages: next and first)."""
    user = auth.require_user(request)
    time_zone = viewer_zone(request, user)
    switches = await _switches(request)
    context: dict[str, Any] = {
        "switches": switches,
        "time_zone": time_zone,
        "text_ops": cdr_filters.TEXT_OPS,
        "directions": DIRECTIONS,
        "sources": SOURCES,
        "sort_keys": cdr_filters.SORT_KEYS,
        "columns": COLUMNS,
        "local_time": lambda us: local_time(us, time_zone),
        "seconds": seconds,
        "error": "",
        "page": None,
        "filters": None,
        "flags": cdr_flags.Flags({}, True),
    }
    try:
        filters = parse_or_400(request, time_zone=time_zone)
    except FilterError as exc:
        context.update(error=str(exc), form=_form(None, request, time_zone))
        return render(request, "cdrs.html", context, status=400)
    context.update(filters=filters, form=_form(filters, request, time_zone))
    # no query yet: the newest calls (the default filters), which is what an operator opening the page looks for
    services = request.app[keys.SERVICES]
    context["page"] = page = await services.search_cdrs(user.scope, filters, with_total=not filters.cursor)
    context["flags"] = await cdr_flags.flags_for(request, user, [c["id"] for c in page.cdrs])
    return render(request, "cdrs.html", context)


async def detail(request: web.Request) -> web.StreamResponse:
    """GET /cdrs/{id}: every field and ``extra``; another tenant's id is simply not found."""
    user = auth.require_user(request)
    cdr_id = request.match_info["id"]
    if len(cdr_id) > MAX_CDR_ID:
        raise web.HTTPNotFound(text="No such CDR.")
    cdr = await request.app[keys.SERVICES].get_cdr(user.scope, cdr_id)
    time_zone = viewer_zone(request, user)
    shown = cdr_format.cdr_json(cdr)
    times = {
        name: {"local": local_time(cdr[f"{name}_us"], time_zone), "utc": shown[name] or ""}
        for name in cdr_format.TIME_FIELDS
    }
    fields = [(name, value) for name, value in shown.items() if name not in (*cdr_format.TIME_FIELDS, "extra")]
    context = {
        "cdr": cdr,
        "fields": fields,
        "times": times,
        "extra": sorted(cdr["extra"].items()),
        "time_zone": time_zone,
        "duration": seconds(cdr["duration_ms"]),
        "billsec": seconds(cdr["billsec_ms"]),
        "flags": await cdr_flags.flags_for(request, user, [cdr["id"]]),
        "local_time": lambda us: local_time(us, time_zone),
    }
    return render(request, "cdr_detail.html", context)


# --- export -----------------------------------------------------------------------------------


def _lines(fmt: str, batch: list[dict[str, Any]]) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(cdr_format.cdr_json(c), ensure_ascii=False) + "\n" for c in batch).encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(cdr_format.csv_row(c) for c in batch)
    return buffer.getvalue().encode()


def _header(fmt: str) -> bytes:
    if fmt == "jsonl":
        return b""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cdr_format.COLUMNS)
    return buffer.getvalue().encode()


def export_format(request: web.Request) -> str:
    fmt = request.query.get("format", "csv").strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise FilterError("format", f"one of {', '.join(EXPORT_FORMATS)} (got {fmt!r})")
    return fmt


def export_limit(request: web.Request) -> int:
    value = request.query.get("limit", "").strip()
    if value and (not plain_digits(value) or int(value) > 1_000_000_000):
        raise FilterError("limit", f"a whole number of CDRs, 0 for all (got {value!r})")
    return int(value or 0)


async def stream_export(
    request: web.Request, scope: Scope, filters: CdrFilters, fmt: str, limit: int
) -> web.StreamResponse:
    """Stream ExportCdrs to the client one batch at a time (constant memory, any size).

    The first batch is awaited before the headers go out, so a refused or invalid search still
    gets its proper status; a failure later cuts the connection (a truncated file must not look whole).
    """
    batches: AsyncIterator[list[dict[str, Any]]] = request.app[keys.SERVICES].export_cdrs(scope, filters, limit)
    first: list[dict[str, Any]] = await anext(batches, [])
    content_type, extension = EXPORT_FORMATS[fmt]
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="cdrs-{stamp}.{extension}"',
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    rows = len(first)
    try:
        await response.write(_header(fmt) + _lines(fmt, first))
        async for batch in batches:
            await response.write(_lines(fmt, batch))
            rows += len(batch)
    except ServiceError as exc:
        log.warning("export cut short", extra={"fields": {"rows": rows, "error": exc.message}})
        if request.transport is not None:
            request.transport.close()
        return response
    finally:
        close = getattr(batches, "aclose", None)
        if close is not None:
            await close()  # a client that went away also ends the gRPC stream at once
    await response.write_eof()
    return response


async def export(request: web.Request) -> web.StreamResponse:
    """GET /cdrs/export?format=csv|jsonl&<the search>: the whole search, not only the page shown."""
    user = auth.require_user(request)
    try:
        filters = parse_or_400(request, time_zone=viewer_zone(request, user))  # the page's form, in its zone
        fmt, limit = export_format(request), export_limit(request)
    except FilterError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    return await stream_export(request, user.scope, filters, fmt, limit)
