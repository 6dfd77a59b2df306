"""The gRPC servicer in process over a real grpc.aio server: conversion and domain error -> status code."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.domain.dashboard import dashboard_window
from cdrstats_reporting.domain.rollup import HOUR_US
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

NOW_US = 1_760_000_000_000_000


@pytest.fixture
async def stub(tmp_path: pathlib.Path) -> AsyncIterator[reporting_pb2_grpc.ReportingServiceStub]:
    store = SqliteRollupStore.open(tmp_path / "reporting.db")
    service = ReportingService(store, clock=lambda: NOW_US)
    cdrs = [
        new_cdr(accountcode="a1", start_time_us=NOW_US, answer_time_us=NOW_US + 1, billsec_ms=90_000),
        new_cdr(accountcode="a2", start_time_us=NOW_US - 2 * HOUR_US, hangup_cause=17),
    ]
    service.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs}))
    server = grpc.aio.server()
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(ReportingServicer(service), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield reporting_pb2_grpc.ReportingServiceStub(channel)
    finally:
        await server.stop(None)
        store.close()


async def test_dashboard_over_grpc(stub: reporting_pb2_grpc.ReportingServiceStub) -> None:
    reply = await stub.GetDashboard(reporting_pb2.DashboardRequest(scope=reporting_pb2.Scope(admin=True)))
    assert (reply.window_start_us, reply.window_end_us) == dashboard_window(NOW_US)
    assert (reply.attempts, reply.answered) == (2, 1)
    assert (reply.asr, reply.acd, reply.minutes, reply.ach) == (50.0, 90.0, 1.5, 2 / 24)
    assert len(reply.hours) == 24
    assert reply.hours[-1].attempts == 1 and reply.hours[-1].minutes == 1.5
    assert reply.hours[-3].attempts == 1 and reply.hours[-3].answered == 0

    scope = reporting_pb2.Scope(admin=False, allowed_accountcodes=["a2"])
    scoped = await stub.GetDashboard(reporting_pb2.DashboardRequest(scope=scope))
    assert (scoped.attempts, scoped.answered) == (1, 0)

    status = await stub.GetStatus(reporting_pb2.GetStatusRequest())
    assert (status.cdrs_applied, status.events_applied) == (2, 1)


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (reporting_pb2.DashboardRequest(), grpc.StatusCode.PERMISSION_DENIED),
        (
            reporting_pb2.DashboardRequest(scope=reporting_pb2.Scope(admin=True), now_us=-5),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
async def test_domain_errors_become_status_codes(
    stub: reporting_pb2_grpc.ReportingServiceStub, request_: reporting_pb2.DashboardRequest, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await stub.GetDashboard(request_)
    assert excinfo.value.code() == code


async def test_every_report_over_grpc(stub: reporting_pb2_grpc.ReportingServiceStub) -> None:
    """Each RPC answers through the real servicer; the numbers are proved by the property test."""
    admin = reporting_pb2.Scope(admin=True)
    today = "2025-10-09"  # NOW_US is 2025-10-09 08:53 UTC
    daily = await stub.GetDailyReport(reporting_pb2.DailyReportRequest(scope=admin, start_date=today, end_date=today))
    assert (daily.totals.attempts, daily.totals.answered, daily.source, daily.time_zone) == (2, 1, "rollups", "UTC")
    assert [d.label for d in daily.days] == [today]

    overview = await stub.GetOverview(
        reporting_pb2.OverviewRequest(scope=admin, metric="minutes", granularity="hour", start_date=today)
    )
    assert [s.name for s in overview.series] == ["", ""]  # the total, then the one switch (its id is "")
    assert sum(p.value for p in overview.series[0].points) == 1.5 and len(overview.buckets) == 24

    monthly = await stub.GetMonthlyCompare(reporting_pb2.MonthlyCompareRequest(scope=admin, months=2))
    assert [m.label for m in monthly.months] == ["2025-09", "2025-10"] and monthly.months[1].stats.attempts == 2

    hourly = await stub.GetHourlyCompare(reporting_pb2.HourlyCompareRequest(scope=admin, previous=7, mode="weekday"))
    assert hourly.day.date == today and len(hourly.compared) == 7 and hourly.day.totals.attempts == 2

    countries = await stub.GetCountryReport(reporting_pb2.CountryReportRequest(scope=admin, start_date=today))
    assert [(c.country, c.stats.attempts) for c in countries.countries] == [("", 2)]

    concurrent = await stub.GetConcurrentCalls(reporting_pb2.ConcurrentCallsRequest(scope=admin))
    assert len(concurrent.peaks) == 1440

    top = await stub.GetTopDestinations(reporting_pb2.TopDestinationsRequest(scope=admin, by="prefix"))
    assert (top.total_attempts, top.other_attempts, top.by) == (2, 0, "prefix")

    causes = await stub.GetHangupCauses(reporting_pb2.HangupCausesRequest(scope=admin, granularity="hour"))
    assert {c.hangup_cause: c.attempts for c in causes.causes} == {0: 1, 17: 1} and len(causes.bucket_start_us) == 24

    hour = NOW_US - NOW_US % HOUR_US
    metric = await stub.QueryMetric(
        reporting_pb2.MetricQueryRequest(scope=admin, metric="asr", start_us=hour - 3 * HOUR_US, end_us=hour + HOUR_US)
    )
    assert (metric.value, metric.source) == (50.0, "rollups")

    live = await stub.GetLiveCalls(reporting_pb2.LiveCallsRequest(scope=admin))
    assert live.total == 0
    watch = stub.WatchLiveCalls(reporting_pb2.LiveCallsRequest(scope=admin))
    first = await watch.read()
    assert first.total == 0
    watch.cancel()


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        ("GetDailyReport", grpc.StatusCode.INVALID_ARGUMENT, "start_date: expected a date YYYY-MM-DD"),
        ("GetOverview", grpc.StatusCode.INVALID_ARGUMENT, "metric: expected one of"),
        ("GetTopDestinations", grpc.StatusCode.PERMISSION_DENIED, "accountcode: zz not in the caller's scope"),
        ("QueryMetric", grpc.StatusCode.INVALID_ARGUMENT, "needs ingest's search"),
        ("GetConcurrentCalls", grpc.StatusCode.PERMISSION_DENIED, "needs allowed_accountcodes"),
    ],
)
async def test_bad_requests_name_the_field(
    stub: reporting_pb2_grpc.ReportingServiceStub, call: str, code: grpc.StatusCode, message: str
) -> None:
    admin = reporting_pb2.Scope(admin=True)
    customer = reporting_pb2.Scope(allowed_accountcodes=["a1"])
    requests = {
        "GetDailyReport": reporting_pb2.DailyReportRequest(scope=admin, start_date="09/10/2025"),
        "GetOverview": reporting_pb2.OverviewRequest(scope=admin, metric="mos"),
        "GetTopDestinations": reporting_pb2.TopDestinationsRequest(scope=customer, accountcode="zz"),
        "QueryMetric": reporting_pb2.MetricQueryRequest(scope=admin, metric="asr", start_us=5, end_us=NOW_US),
        "GetConcurrentCalls": reporting_pb2.ConcurrentCallsRequest(scope=reporting_pb2.Scope()),
    }
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await getattr(stub, call)(requests[call])
    assert excinfo.value.code() == code
    assert message in (excinfo.value.details() or "")
