"""gRPC api process: the ReportingService servicer and ``main()`` (``python -m cdrstats_reporting.api``)."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc

from cdrstats.reporting.v1 import reporting_pb2 as pb
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_reporting import convert
from cdrstats_reporting.domain.errors import InvalidArgument, PermissionDenied, ReportingError
from cdrstats_reporting.domain.live import MAX_LISTED, TIMEOUT_US
from cdrstats_reporting.domain.rollup import Filters
from cdrstats_reporting.queries import CdrSearch, ReportQueries, selection
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.settings import ReportingSettings
from cdrstats_reporting.store import ZoneMismatch, open_store

SERVICE_NAME = "cdrstats.reporting.v1.ReportingService"
WATCH_POLL_S = 0.5
WATCH_KEEPALIVE_S = 15.0
T = TypeVar("T")
Ctx = grpc.aio.ServicerContext

_STATUS: dict[type[ReportingError], grpc.StatusCode] = {
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
}


async def _call(context: Ctx, fn: Callable[[], T]) -> T:
    """Run a blocking use-case in a thread; a domain error becomes its gRPC status here, once."""
    try:
        return await asyncio.to_thread(fn)
    except ReportingError as exc:
        await context.abort(_STATUS.get(type(exc), grpc.StatusCode.FAILED_PRECONDITION), str(exc))
        raise  # abort raises; this line only satisfies the type checker
    except grpc.RpcError as exc:  # ingest's search failed
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"ingest search: {exc}")
        raise


def _filters(request: Any) -> Filters:
    return selection(
        request.scope.admin, list(request.scope.allowed_accountcodes), request.switch_id, [request.accountcode]
    )


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, service: ReportingService, search: CdrSearch | None = None) -> None:
        self.service = service
        self.queries = ReportQueries(service.store, service.clock, search)

    async def _run(self, context: Ctx, request: Any, fn: Callable[[Filters], T]) -> T:
        return await _call(context, lambda: fn(_filters(request)))

    async def GetDashboard(self, request: pb.DashboardRequest, context: Ctx) -> pb.Dashboard:
        report = await _call(
            context,
            functools.partial(
                self.service.dashboard,
                request.scope.admin,
                list(request.scope.allowed_accountcodes),
                request.switch_id or None,
                request.now_us,
                request.accountcode,
            ),
        )
        return convert.dashboard_to_proto(report, self.queries.grid.zone_name)

    async def GetStatus(self, request: pb.GetStatusRequest, context: Ctx) -> pb.ReportingStatus:
        (cdrs, events), live = await _call(context, lambda: (self.service.status(), self.service.live_calls_count()))
        return convert.status_to_proto(cdrs, events, self.queries.grid.zone_name, live)

    async def GetDailyReport(self, request: pb.DailyReportRequest, context: Ctx) -> pb.DailyReport:
        def run(filters: Filters) -> Any:
            rollup_filters, search_query = convert.split_query(request.query, filters)
            return self.queries.daily_report(rollup_filters, request.start_date, request.end_date, search_query)

        return convert.daily(await self._run(context, request, run))

    async def GetOverview(self, request: pb.OverviewRequest, context: Ctx) -> pb.Overview:
        r = request
        report = await self._run(
            context, r, lambda f: self.queries.overview(f, r.metric, r.granularity, r.start_date, r.end_date)
        )
        return convert.overview(report)

    async def GetMonthlyCompare(self, request: pb.MonthlyCompareRequest, context: Ctx) -> pb.MonthlyCompare:
        r = request
        return convert.monthly(
            await self._run(context, r, lambda f: self.queries.monthly_compare(f, r.month, r.months))
        )

    async def GetHourlyCompare(self, request: pb.HourlyCompareRequest, context: Ctx) -> pb.HourlyCompare:
        r = request
        report = await self._run(context, r, lambda f: self.queries.hourly_compare(f, r.date, r.previous, r.mode))
        return convert.hourly(report)

    async def GetCountryReport(self, request: pb.CountryReportRequest, context: Ctx) -> pb.CountryReport:
        r = request
        report = await self._run(context, r, lambda f: self.queries.country_report(f, r.start_date, r.end_date, r.top))
        return convert.country(report)

    async def GetConcurrentCalls(self, request: pb.ConcurrentCallsRequest, context: Ctx) -> pb.ConcurrentCalls:
        start, peaks = await self._run(context, request, lambda f: self.queries.concurrent_calls(f, request.date))
        return convert.concurrent(start, peaks, self.queries.grid.zone_name)

    async def GetLiveCalls(self, request: pb.LiveCallsRequest, context: Ctx) -> pb.LiveCalls:
        now = self.service.clock()
        calls = await self._run(context, request, lambda f: self.service.store.live_calls(f, now - TIMEOUT_US))
        return convert.live(calls, now, MAX_LISTED)

    async def WatchLiveCalls(self, request: pb.LiveCallsRequest, context: Ctx) -> AsyncIterator[pb.LiveCalls]:
        """A snapshot now, then one whenever the live calls change (polled), and at least every 15 s."""
        last_version, last_sent = -1, 0.0
        loop = asyncio.get_running_loop()
        while True:
            version = await _call(context, self.service.store.live_version)
            if version != last_version or loop.time() - last_sent >= WATCH_KEEPALIVE_S:
                yield await self.GetLiveCalls(request, context)
                last_version, last_sent = version, loop.time()
            await asyncio.sleep(WATCH_POLL_S)

    async def GetTopDestinations(self, request: pb.TopDestinationsRequest, context: Ctx) -> pb.TopDestinations:
        r = request
        report = await self._run(
            context, r, lambda f: self.queries.top_destinations(f, r.start_date, r.end_date, r.by, r.limit)
        )
        return convert.top_destinations(report)

    async def GetHangupCauses(self, request: pb.HangupCausesRequest, context: Ctx) -> pb.HangupCauses:
        r = request
        report = await self._run(
            context, r, lambda f: self.queries.hangup_causes(f, r.start_date, r.end_date, r.granularity)
        )
        return convert.hangup_causes(report)

    async def QueryMetric(self, request: pb.MetricQueryRequest, context: Ctx) -> pb.MetricValue:
        r = request

        def run() -> Any:
            filters = selection(r.scope.admin, list(r.scope.allowed_accountcodes), r.switch_id, r.accountcodes)
            if r.countries:
                filters = Filters(filters.switch_ids, filters.accountcodes, countries=list(r.countries))
            query = None
            if r.destination_prefix:
                query = convert.ingest_pb2.CdrQuery(
                    destination_prefixes=[r.destination_prefix], countries=list(r.countries)
                )
            return self.queries.metric(filters, r.metric, r.start_us, r.end_us, query, r.hangup_cause)

        return convert.metric(await _call(context, run))


async def serve(settings: ReportingSettings) -> None:
    store = await asyncio.to_thread(open_store, settings.store_url, settings.time_zone)
    search = None
    if settings.ingest_grpc_addr:
        from cdrstats_reporting.ingest_client import IngestClient

        search = IngestClient(settings.ingest_grpc_addr)
    servicer = ReportingServicer(ReportingService(store), search)
    register = functools.partial(reporting_pb2_grpc.add_ReportingServiceServicer_to_server, servicer)
    await serve_api(
        settings.grpc_listen, admin_port=settings.admin_port, store=store, services=[(SERVICE_NAME, register)]
    )


def main() -> None:
    settings = load_or_exit(ReportingSettings.from_env)
    setup_logging("reporting", "api", settings.log_level)
    try:
        asyncio.run(serve(settings))
    except ZoneMismatch as exc:
        print(f"reporting api: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
