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
