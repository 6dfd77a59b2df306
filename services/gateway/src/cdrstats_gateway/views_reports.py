"""Report pages, the dashboard's and live calls' event streams, and the shared report fetching.

A report is fetched once per request by ``fetch_report`` (parameters validated, the
caller's scope attached, reply turned into the public JSON): the page renders that JSON
and puts it in a data island for its chart; ``rest_reports`` returns the same JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cdrstats.reporting.v1 import reporting_pb2
from cdrstats_gateway import auth, keys, report_rpc, sse
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import cdr_filters, formatting
from cdrstats_gateway.domain.cdr_filters import FilterError
from cdrstats_gateway.domain.models import Scope, SwitchInfo
from cdrstats_gateway.domain.report_params import GRANULARITIES, METRICS, ReportParams, parse_report_params
from cdrstats_gateway.rendering import STATIC_DIR, render
from cdrstats_gateway.report_json import to_json
from cdrstats_gateway.views import read_switch_id

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: how often an open dashboard asks reporting again (roll-ups move with every ingested batch)
DASHBOARD_REFRESH_S = 30.0


def parse_report(request: web.Request, kind: report_rpc.ReportKind) -> tuple[ReportParams, cdr_filters.CdrFilters]:
    time_zone = request.app[keys.SETTINGS].time_zone
    params = parse_report_params(request.query, time_zone)
    search = cdr_filters.parse_filters(request.query, time_zone) if "search" in kind.params else None
    return params, search or cdr_filters.CdrFilters()


async def fetch_report(
    request: web.Request, kind: report_rpc.ReportKind, scope: Scope
) -> tuple[ReportParams, cdr_filters.CdrFilters, dict[str, Any]]:
    """Validate, call reporting with the caller's scope, convert; FilterError for bad parameters."""
    params, search = parse_report(request, kind)
    message = kind.build(report_rpc.scope_to_proto(scope), params, search)
    reply = await request.app[keys.SERVICES].report(kind.rpc, message)
    return params, search, to_json(reply)


async def _switches(request: web.Request) -> list[SwitchInfo]:
    try:
        return await request.app[keys.SERVICES].switches()
    except ServiceError:
        return []


def report_page(name: str) -> Handler:
    kind = report_rpc.REPORTS[name]
    template = f"report_{name.replace('-', '_')}.html"

    async def page(request: web.Request) -> web.StreamResponse:
        user = auth.require_user(request)
        context: dict[str, Any] = {
            "kind": kind,
            "reports": report_rpc.REPORTS,
            "switches": await _switches(request),
            "form": dict(request.query),
            "metrics": METRICS,
            "granularities": GRANULARITIES,
            "time_zone": request.app[keys.SETTINGS].time_zone,
            "has_echarts": (STATIC_DIR / "vendor" / "echarts.min.js").exists(),
            "has_map": (STATIC_DIR / "vendor" / "countries-110m.json").exists(),
            "error": "",
            "data": None,
        }
        try:
            params, search, data = await fetch_report(request, kind, user.scope)
        except FilterError as exc:
            context["error"] = str(exc)
            return render(request, template, context, status=400)
        context.update(params=params, search=search, data=data)
        context["form"] = {**_form_defaults(params), **context["form"]}
        return render(request, template, context)

    return page


def _form_defaults(params: ReportParams) -> dict[str, str]:
    """What the inputs show when the URL leaves a parameter out (the defaults the report used)."""
    return {
        "start": params.start_date,
        "end": params.end_date,
        "date": params.date,
        "month": params.month,
        "months": str(params.months),
        "previous": str(params.previous),
        "mode": params.mode,
        "metric": params.metric,
        "granularity": params.granularity,
        "top": str(params.top),
        "by": params.by,
        "limit": str(params.limit),
    }


# --- live pages (SSE) ---------------------------------------------------------------------------


async def dashboard_events(request: web.Request) -> web.StreamResponse:
    """GET /dashboard/events?switch=: the whole dashboard now and every DASHBOARD_REFRESH_S.

    Sends reporting's full Dashboard (NER, PDD, top countries and hangup causes besides the
    page's first numbers) as the public JSON, plus the hour labels in the page's zone.
    """
    user = auth.require_user(request)
    switch_id = read_switch_id(request)
    services = request.app[keys.SERVICES]
    time_zone = request.app[keys.SETTINGS].time_zone
    message = reporting_pb2.DashboardRequest(scope=report_rpc.scope_to_proto(user.scope), switch_id=switch_id or "")
    response = await sse.open_stream(request)
    while True:
        try:
            reply = await services.report("GetDashboard", message)
        except ServiceError as exc:
            sent = await sse.send(response, "problem", {"message": exc.message}, retry_ms=10_000)
        else:
            hours = [formatting.local_hour(h.start_us, time_zone) for h in reply.hours]
            body = {**to_json(reply), "labels": [h[-5:] for h in hours], "hour_labels": hours}
            sent = await sse.send(response, "dashboard", body, retry_ms=10_000)
        if not sent:
            return response
        await asyncio.sleep(DASHBOARD_REFRESH_S)


async def live_events(request: web.Request) -> web.StreamResponse:
    """GET /reports/live/events: reporting's WatchLiveCalls forwarded as SSE (a snapshot, then changes)."""
    user = auth.require_user(request)
    kind = report_rpc.REPORTS["live"]
    try:
        params, search = parse_report(request, kind)
    except FilterError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    message = kind.build(report_rpc.scope_to_proto(user.scope), params, search)
    response = await sse.open_stream(request)
    stream = request.app[keys.SERVICES].watch_live_calls(message)
    try:
        async for snapshot in stream:
            if not await sse.send(response, "live", to_json(snapshot), retry_ms=5_000):
                break
    except ServiceError as exc:
        await sse.send(response, "problem", {"message": exc.message}, retry_ms=5_000)
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    return response
