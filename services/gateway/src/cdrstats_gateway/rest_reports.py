"""REST API for the reports: GET /api/v1/reports/<name> answers the JSON the report page draws.

Each handler carries its OpenAPI description; the response schema is derived from the
reporting reply type by the same rules that produce the JSON (``report_json``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from cdrstats.reporting.v1 import reporting_pb2
from cdrstats_gateway import keys, report_rpc, rest
from cdrstats_gateway.domain import cdr_filters, report_params
from cdrstats_gateway.domain.cdr_filters import FilterError
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.report_json import json_schema
from cdrstats_gateway.rest import INT, Param
from cdrstats_gateway.views_reports import fetch_report

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DATE = {"type": "string", "format": "date"}
_COMMON = (
    Param("switch", description="a switch id; absent: every switch"),
    Param("accountcode", description="one account code within the caller's scope; absent: all of them"),
)
#: report parameter name -> its OpenAPI description
_PARAMS = {
    "start": (Param("start", schema=_DATE, description="first day (local YYYY-MM-DD); default 6 days before end"),),
    "end": (Param("end", schema=_DATE, description="last day, inclusive; default today, at most 366 days"),),
    "date": (Param("date", schema=_DATE, description="the day (local YYYY-MM-DD); default today"),),
    "month": (Param("month", description="the last month shown, YYYY-MM; default this month"),),
    "months": (Param("months", schema=INT, description="how many months, 1 to 36 (default 6)"),),
    "previous": (Param("previous", schema=INT, description="compared days or weeks, 1 to 31 (default 1)"),),
    "mode": (Param("mode", schema={"enum": ["days", "weekday"]}, description="previous days or same weekdays"),),
    "metric": (Param("metric", schema={"enum": list(report_params.METRICS)}),),
    "granularity": (Param("granularity", schema={"enum": list(report_params.GRANULARITIES)}),),
    "top": (Param("top", schema=INT, description="countries with a daily series, 1 to 50 (default 10)"),),
    "by": (Param("by", schema={"enum": ["number", "prefix"]}),),
    "limit": (Param("limit", schema=INT, description="rows, 1 to 100 (default 10)"),),
    "search": tuple(
        Param(name, description="a CDR search filter (see GET /api/v1/cdrs)")
        for name in cdr_filters.PARAMS
        if name not in ("from", "to", "switch", "accountcode", "sort", "order", "page_size", "cursor")
    ),
}
_METHODS = reporting_pb2.DESCRIPTOR.services_by_name["ReportingService"].methods_by_name


def report_api(name: str) -> Handler:
    kind = report_rpc.REPORTS[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            _, _, data = await fetch_report(request, kind, request[keys.USER].scope)
        except FilterError as exc:
            raise ApiError(400, "invalid_argument", str(exc), {"field": exc.field}) from exc
        return web.json_response(data)

    handler.__doc__ = f"GET /api/v1/reports/{name}: {kind.title} in the caller's scope."
    params = (*_COMMON, *(p for key in kind.params for p in _PARAMS[key]))
    schema = json_schema(_METHODS[kind.rpc].output_type)
    return rest.documented(kind.title, "reports", schema, params=params, errors=(400, 403, 503))(handler)


#: (method, path, handler, route name); the dashboard's endpoint lives in rest.py
ROUTES = tuple(
    ("GET", f"/api/v1/reports/{name}", report_api(name), f"api_report_{name.replace('-', '_')}")
    for name in report_rpc.REPORTS
)
