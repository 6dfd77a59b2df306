"""Report parameters + the caller's scope -> ReportingService requests (conversion only, no calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from cdrstats.reporting.v1 import reporting_pb2 as pb
from cdrstats_gateway.cdr_rpc import query_to_proto
from cdrstats_gateway.domain.cdr_filters import CdrFilters
from cdrstats_gateway.domain.models import Scope
from cdrstats_gateway.domain.report_params import ReportParams

Builder = Callable[[pb.Scope, ReportParams, CdrFilters], Any]


@dataclasses.dataclass(frozen=True)
class ReportKind:
    """One report: its RPC, how its request is built, and the URL parameters it reads."""

    name: str
    title: str
    rpc: str
    build: Builder
    params: tuple[str, ...]


def scope_to_proto(scope: Scope) -> pb.Scope:
    return pb.Scope(admin=scope.admin, allowed_accountcodes=list(scope.accountcodes))


def _common(scope: pb.Scope, p: ReportParams) -> dict[str, Any]:
    return {"scope": scope, "switch_id": p.switch_id, "accountcode": p.accountcode}


def _daily(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.DailyReportRequest(
        **_common(scope, p), start_date=p.start_date, end_date=p.end_date, query=query_to_proto(f)
    )


def _overview(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.OverviewRequest(
        **_common(scope, p), metric=p.metric, granularity=p.granularity, start_date=p.start_date, end_date=p.end_date
    )


def _monthly(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.MonthlyCompareRequest(**_common(scope, p), month=p.month, months=p.months)


def _hourly(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.HourlyCompareRequest(**_common(scope, p), date=p.date, previous=p.previous, mode=p.mode)


def _countries(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.CountryReportRequest(**_common(scope, p), start_date=p.start_date, end_date=p.end_date, top=p.top)


def _concurrent(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.ConcurrentCallsRequest(**_common(scope, p), date=p.date)


def _destinations(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.TopDestinationsRequest(
        **_common(scope, p), start_date=p.start_date, end_date=p.end_date, by=p.by, limit=p.limit
    )


def _causes(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.HangupCausesRequest(
        **_common(scope, p), start_date=p.start_date, end_date=p.end_date, granularity=p.granularity
    )


def _live(scope: pb.Scope, p: ReportParams, f: CdrFilters) -> Any:
    return pb.LiveCallsRequest(**_common(scope, p))


_RANGE = ("start", "end")
REPORTS = {
    kind.name: kind
    for kind in (
        ReportKind("daily", "Report by day", "GetDailyReport", _daily, (*_RANGE, "search")),
        ReportKind("overview", "Overview", "GetOverview", _overview, (*_RANGE, "metric", "granularity")),
        ReportKind("monthly", "Monthly compare", "GetMonthlyCompare", _monthly, ("month", "months")),
        ReportKind("hourly", "Hourly compare", "GetHourlyCompare", _hourly, ("date", "previous", "mode")),
        ReportKind("countries", "Countries", "GetCountryReport", _countries, (*_RANGE, "top")),
        ReportKind("concurrent", "Concurrent calls", "GetConcurrentCalls", _concurrent, ("date",)),
        ReportKind("destinations", "Top destinations", "GetTopDestinations", _destinations, (*_RANGE, "by", "limit")),
        ReportKind("hangup-causes", "Hangup causes", "GetHangupCauses", _causes, (*_RANGE, "granularity")),
        ReportKind("live", "Calls in progress", "GetLiveCalls", _live, ()),
    )
}
