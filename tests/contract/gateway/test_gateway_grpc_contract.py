"""The gateway's real ServiceClients against real grpc.aio servicers (written here from a list of CDRs).

One grpc.aio server on a free port hosts the standard health service, a small
ReportingService and a small IngestService; all four peer addresses point at it.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common import metrics
from cdrstats_common.cdr import new_cdr
from cdrstats_gateway.app import create_app
from cdrstats_gateway.clients import ServiceClients, ServiceError
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import Scope
from cdrstats_gateway.settings import GatewaySettings

HOUR_US = 3_600_000_000
NOW_US = 1_760_000_000_000_000
WINDOW_END = NOW_US - NOW_US % HOUR_US + HOUR_US
WINDOW_START = WINDOW_END - 24 * HOUR_US
PASSWORD = "contract-admin-pw"


def make_cdrs() -> list[dict[str, Any]]:
    cdrs = []
    for i in range(40):
        start = WINDOW_START + (i * 5 % 25) * HOUR_US - HOUR_US // 2  # the first half-hour lies outside
        answered = i % 4 != 0
        billsec = 1_000 * (i * 13 % 200) if answered else 0
        cdrs.append(
            new_cdr(
                switch_id=("sw1", "sw2")[i % 2],
                accountcode=("acme", "globex")[i % 3 == 0],
                start_time_us=start,
                answer_time_us=start + 1_000_000 if answered else 0,
                billsec_ms=billsec,
            )
        )
    return cdrs


class ReportingFromCdrs(reporting_pb2_grpc.ReportingServiceServicer):
    """Brute force over the CDR list with cdrstats_common.metrics, as reporting defines the dashboard."""

    def __init__(self, cdrs: list[dict[str, Any]]) -> None:
        self.cdrs = cdrs
        self.requests: list[reporting_pb2.DashboardRequest] = []
        self.applied = len(cdrs)

    async def GetDashboard(
        self, request: reporting_pb2.DashboardRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.Dashboard:
        self.requests.append(request)
        if not request.scope.admin and not request.scope.allowed_accountcodes:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "a customer scope needs account codes")
        total = metrics.Totals()
        hours = {h: metrics.Totals() for h in range(WINDOW_START, WINDOW_END, HOUR_US)}
        for cdr in self.cdrs:
            if not WINDOW_START <= cdr["start_time_us"] < WINDOW_END:
                continue
            if not request.scope.admin and cdr["accountcode"] not in request.scope.allowed_accountcodes:
                continue
            if request.switch_id and cdr["switch_id"] != request.switch_id:
                continue
            total.add_cdr(cdr)
            hours[cdr["start_time_us"] - cdr["start_time_us"] % HOUR_US].add_cdr(cdr)
        return reporting_pb2.Dashboard(
            window_start_us=WINDOW_START,
            window_end_us=WINDOW_END,
            attempts=total.attempts,
            answered=total.answered,
            asr=total.asr,
            acd=total.acd,
            minutes=total.minutes,
            ach=metrics.ach(total.attempts, 24),
            hours=[
                reporting_pb2.HourBucket(start_us=h, attempts=t.attempts, answered=t.answered, minutes=t.minutes)
                for h, t in sorted(hours.items())
            ],
        )

    async def GetStatus(
        self, request: reporting_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ReportingStatus:
        return reporting_pb2.ReportingStatus(cdrs_applied=self.applied, events_applied=1)


class IngestFromCdrs(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, cdrs: list[dict[str, Any]]) -> None:
        self.stored = len(cdrs)
        self.outbox_pending = 0

    async def ListSwitches(
        self, request: ingest_pb2.ListSwitchesRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListSwitchesResponse:
        switches = [ingest_pb2.Switch(id="sw1", name="Switch One", enabled=True), ingest_pb2.Switch(id="sw2")]
        return ingest_pb2.ListSwitchesResponse(switches=switches)

    async def GetStatus(
        self, request: ingest_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestStatus:
        return ingest_pb2.IngestStatus(cdrs_stored=self.stored, outbox_pending=self.outbox_pending)


@dataclasses.dataclass
class Backend:
    server: grpc.aio.Server
    address: str
    health: HealthServicer
    reporting: ReportingFromCdrs
    ingest: IngestFromCdrs
    cdrs: list[dict[str, Any]]


@pytest.fixture
async def backend(port: int) -> AsyncIterator[Backend]:
    cdrs = make_cdrs()
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reporting, ingest = ReportingFromCdrs(cdrs), IngestFromCdrs(cdrs)
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(reporting, server)
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(ingest, server)
    address = f"127.0.0.1:{port}"
    assert server.add_insecure_port(address) == port
    await server.start()
    for name in ("", "worker"):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    try:
        yield Backend(server, address, health, reporting, ingest, cdrs)
    finally:
        await server.stop(None)


@pytest.fixture
def settings(backend: Backend, tmp_path: pathlib.Path) -> GatewaySettings:
    return GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        ingest_grpc_addr=backend.address,
        reporting_grpc_addr=backend.address,
        alerting_grpc_addr=backend.address,
        notify_grpc_addr=backend.address,
        admin_password=PASSWORD,
        cookie_secure=False,
        startup_marker=tmp_path / "demo-loading",
    )


@pytest.fixture
async def clients(settings: GatewaySettings) -> AsyncIterator[ServiceClients]:
    real = ServiceClients.from_settings(settings)
    yield real
    await real.close()


def brute_force(cdrs: list[dict[str, Any]], codes: tuple[str, ...] | None, switch_id: str | None) -> metrics.Totals:
    totals = metrics.Totals()
    for cdr in cdrs:
        if not WINDOW_START <= cdr["start_time_us"] < WINDOW_END:
            continue
        if (codes is None or cdr["accountcode"] in codes) and switch_id in (None, cdr["switch_id"]):
            totals.add_cdr(cdr)
    return totals


async def test_service_clients_dashboard_converts_and_passes_the_scope(
    backend: Backend, clients: ServiceClients
) -> None:
    report = await clients.dashboard(Scope(admin=False, accountcodes=("acme",)), "sw1")
    expected = brute_force(backend.cdrs, ("acme",), "sw1")
    assert (report.attempts, report.answered) == (expected.attempts, expected.answered) != (0, 0)
    assert (report.asr, report.acd, report.minutes) == (expected.asr, expected.acd, expected.minutes)
    assert (report.window_start_us, report.window_end_us) == (WINDOW_START, WINDOW_END)
    assert len(report.hours) == 24 and sum(h.attempts for h in report.hours) == expected.attempts
    sent = backend.reporting.requests[-1]
    assert (sent.scope.admin, list(sent.scope.allowed_accountcodes), sent.switch_id) == (False, ["acme"], "sw1")
    switches = await clients.switches()
    assert [(s.id, s.name) for s in switches] == [("sw1", "Switch One"), ("sw2", "sw2")]


async def test_grpc_status_codes_become_http_statuses(backend: Backend, clients: ServiceClients) -> None:
    with pytest.raises(ServiceError) as denied:
        await clients.dashboard(Scope(admin=False), None)
    assert (denied.value.status, denied.value.code) == (403, "forbidden")
    await backend.server.stop(None)
    with pytest.raises(ServiceError) as down:
        await clients.dashboard(Scope(admin=True), None)
    assert down.value.status == 503


async def test_readiness_needs_every_worker_and_every_delivery(
    backend: Backend, clients: ServiceClients, settings: GatewaySettings
) -> None:
    ready, details = await clients.readiness()
    assert ready, details
    assert details["services"]["notify"] == {"api": "SERVING", "worker": "SERVING"}
    backend.reporting.applied -= 1  # one stored CDR not counted yet
    ready, details = await clients.readiness()
    assert not ready and details["delivery"]["cdrs_applied"] == len(backend.cdrs) - 1
    backend.reporting.applied += 1
    backend.ingest.outbox_pending = 3
    assert (await clients.readiness())[0] is False
    backend.ingest.outbox_pending = 0
    await backend.health.set("worker", health_pb2.HealthCheckResponse.NOT_SERVING)
    ready, details = await clients.readiness()
    assert not ready and details["services"]["reporting"]["worker"] == "NOT_SERVING"
    await backend.health.set("worker", health_pb2.HealthCheckResponse.SERVING)
    assert settings.startup_marker is not None
    settings.startup_marker.write_text("loading")
    ready, details = await clients.readiness()
    assert not ready and details["startup"] == "demo data loading"


async def test_rest_dashboard_end_to_end(backend: Backend, settings: GatewaySettings, aiohttp_client: Any) -> None:
    client = await aiohttp_client(await create_app(settings))
    auth = {"Authorization": aiohttp.encode_basic_auth("admin", PASSWORD)}
    response = await client.get("/api/v1/reports/dashboard?switch=sw2", headers=auth)
    assert response.status == 200
    body = await response.json()
    expected = brute_force(backend.cdrs, None, "sw2")
    assert body["window"] == {"start": rfc3339(WINDOW_START), "end": rfc3339(WINDOW_END)}
    assert (body["attempts"], body["answered"], body["asr"], body["acd"], body["minutes"]) == (
        expected.attempts,
        expected.answered,
        expected.asr,
        expected.acd,
        expected.minutes,
    )
    assert body["ach"] == expected.attempts / 24
    assert [h["start"] for h in body["hours"]] == [rfc3339(WINDOW_START + i * HOUR_US) for i in range(24)]
    assert sum(h["attempts"] for h in body["hours"]) == expected.attempts
    assert backend.reporting.requests[-1].scope.admin is True

    health = await client.get("/healthz")
    assert (health.status, await health.json()) == (200, {"status": "ok"})
    await backend.server.stop(None)
    response = await client.get("/api/v1/reports/dashboard", headers=auth)
    assert response.status == 503 and (await response.json())["error"] == "unavailable"
    health = await client.get("/healthz")
    assert health.status == 503
