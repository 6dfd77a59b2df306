"""gRPC clients of the back-end services, and the one place a gRPC status becomes an HTTP status."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common import telemetry
from cdrstats_gateway import cdr_rpc
from cdrstats_gateway.alarm_rpc import AlarmsAdmin, AlarmsClient
from cdrstats_gateway.control_rpc import ControlAdmin, ControlClient
from cdrstats_gateway.domain.cdr_filters import CdrFilters
from cdrstats_gateway.domain.models import Dashboard, HourBucket, Scope, SwitchInfo
from cdrstats_gateway.ingest_admin import IngestAdmin, IngestAdminClient
from cdrstats_gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 2.0
SEARCH_TIMEOUT_S = 15.0
REPORT_TIMEOUT_S = 15.0
SUBMIT_TIMEOUT_S = 60.0
SERVICES = ("ingest", "reporting", "alerting", "notify")
T = TypeVar("T")

#: gRPC status -> (HTTP status, API error code); anything else is a 502 "upstream_error"
_HTTP_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.UNAVAILABLE: (503, "unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "unavailable"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_argument"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    # the request needs state the service does not have (notify: a customer without account codes)
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict"),
}


class ServiceError(Exception):
    """A back-end call failed; carries the HTTP status and API error code the gateway answers with."""

    def __init__(self, status: int, code: str, message: str, *, service: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.service = service


#: statuses whose details are written for the caller (the rest may name internal addresses: logged only)
_CALLER_FACING = {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
}


def service_error(service: str, error: grpc.aio.AioRpcError, *, quiet: bool = False) -> ServiceError:
    status, code = _HTTP_STATUS.get(error.code(), (502, "upstream_error"))
    if error.code() in _CALLER_FACING:
        message = f"{service}: {error.details() or error.code().name}"
    else:
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "service call failed",
            extra={"fields": {"peer": service, "grpc_status": error.code().name, "grpc_details": error.details()}},
        )
        message = f"{service} is unavailable" if status == 503 else f"{service} failed ({error.code().name})"
    return ServiceError(status, code, message, service=service)


class Services(IngestAdmin, AlarmsAdmin, ControlAdmin, Protocol):
    """What the views need from the back end; tests pass an in-memory implementation."""

    async def dashboard(self, scope: Scope, switch_id: str | None) -> Dashboard: ...

    async def switches(self) -> list[SwitchInfo]: ...

    async def readiness(self) -> tuple[bool, dict[str, Any]]: ...

    async def serving(self) -> tuple[bool, dict[str, Any]]: ...

    # -- CDRs and reports (G-pages: views_cdrs, views_reports, rest_cdrs, rest_reports) --
    async def search_cdrs(self, scope: Scope, filters: CdrFilters, *, with_total: bool) -> cdr_rpc.CdrPage: ...

    async def get_cdr(self, scope: Scope, cdr_id: str) -> dict[str, Any]: ...

    def export_cdrs(self, scope: Scope, filters: CdrFilters, limit: int) -> AsyncIterator[list[dict[str, Any]]]: ...

    async def submit_cdrs(self, switch_id: str, cdrs: Sequence[dict[str, Any]]) -> cdr_rpc.SubmitResult: ...

    async def report(self, rpc: str, request: Any) -> Any: ...

    def watch_live_calls(self, request: Any) -> AsyncIterator[Any]: ...


def scope_to_proto(scope: Scope) -> reporting_pb2.Scope:
    return reporting_pb2.Scope(admin=scope.admin, allowed_accountcodes=list(scope.accountcodes))


def dashboard_from_proto(reply: reporting_pb2.Dashboard) -> Dashboard:
    hours = tuple(HourBucket(h.start_us, h.attempts, h.answered, h.minutes) for h in reply.hours)
    return Dashboard(
        window_start_us=reply.window_start_us,
        window_end_us=reply.window_end_us,
        attempts=reply.attempts,
        answered=reply.answered,
        asr=reply.asr,
        acd=reply.acd,
        minutes=reply.minutes,
        ach=reply.ach,
        hours=hours,
    )


class ServiceClients(IngestAdminClient, AlarmsClient, ControlClient):
    """One grpc.aio channel per service; close with ``await close()`` (the app's cleanup context)."""

    def __init__(self, addresses: dict[str, str], *, startup_marker: pathlib.Path | None = None) -> None:
        self.addresses = addresses
        self.startup_marker = startup_marker
        interceptors = telemetry.grpc_client_interceptors()  # trace context into every call when tracing is on
        self.channels = {
            name: grpc.aio.insecure_channel(address, interceptors=interceptors) for name, address in addresses.items()
        }
        self.health = {name: health_pb2_grpc.HealthStub(channel) for name, channel in self.channels.items()}
        self.ingest = ingest_pb2_grpc.IngestServiceStub(self.channels["ingest"])
        self.reporting = reporting_pb2_grpc.ReportingServiceStub(self.channels["reporting"])

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ServiceClients:
        addresses = {
            "ingest": settings.ingest_grpc_addr,
            "reporting": settings.reporting_grpc_addr,
            "alerting": settings.alerting_grpc_addr,
            "notify": settings.notify_grpc_addr,
        }
        return cls(addresses, startup_marker=settings.startup_marker)

    async def close(self) -> None:
        await asyncio.gather(*(channel.close(None) for channel in self.channels.values()))

    async def _call(self, service: str, call: Callable[[], Awaitable[T]], *, quiet: bool = False) -> T:
        """One call; a gRPC error becomes a ServiceError (``quiet``: probes, where failures are expected)."""
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            raise service_error(service, exc, quiet=quiet) from exc

    async def dashboard(self, scope: Scope, switch_id: str | None) -> Dashboard:
        request = reporting_pb2.DashboardRequest(scope=scope_to_proto(scope), switch_id=switch_id or "")
        reply = await self._call("reporting", lambda: self.reporting.GetDashboard(request, timeout=CALL_TIMEOUT_S))
        return dashboard_from_proto(reply)

    async def switches(self) -> list[SwitchInfo]:
        request = ingest_pb2.ListSwitchesRequest()
        reply = await self._call("ingest", lambda: self.ingest.ListSwitches(request, timeout=CALL_TIMEOUT_S))
        return [SwitchInfo(s.id, s.name or s.id, s.enabled) for s in reply.switches]

    # -- CDRs and reports (G-pages) ----------------------------------------------------------

    async def search_cdrs(self, scope: Scope, filters: CdrFilters, *, with_total: bool) -> cdr_rpc.CdrPage:
        request = cdr_rpc.search_request(scope, filters, with_total=with_total)
        reply = await self._call("ingest", lambda: self.ingest.SearchCdrs(request, timeout=SEARCH_TIMEOUT_S))
        return cdr_rpc.page_from_proto(reply, with_total=with_total)

    async def get_cdr(self, scope: Scope, cdr_id: str) -> dict[str, Any]:
        request = cdr_rpc.get_request(scope, cdr_id)
        reply = await self._call("ingest", lambda: self.ingest.GetCdr(request, timeout=CALL_TIMEOUT_S))
        return cdr_rpc.cdr_from_proto(reply)

    async def export_cdrs(self, scope: Scope, filters: CdrFilters, limit: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches as ingest streams them: no deadline (an export may be large), one batch in memory."""
        call = self.ingest.ExportCdrs(cdr_rpc.export_request(scope, filters, limit))
        try:
            async for batch in call:
                yield cdr_rpc.batch_from_proto(batch)
        except grpc.aio.AioRpcError as exc:
            raise service_error("ingest", exc) from exc
        finally:
            call.cancel()

    async def submit_cdrs(self, switch_id: str, cdrs: Sequence[dict[str, Any]]) -> cdr_rpc.SubmitResult:
        requests = cdr_rpc.submit_requests(switch_id, cdrs)
        reply = await self._call("ingest", lambda: self.ingest.SubmitCdrs(iter(requests), timeout=SUBMIT_TIMEOUT_S))
        return cdr_rpc.submit_from_proto(reply)

    async def report(self, rpc: str, request: Any) -> Any:
        """One unary ReportingService call by name (GetDailyReport, GetOverview, ...)."""
        method = getattr(self.reporting, rpc)
        return await self._call("reporting", lambda: method(request, timeout=REPORT_TIMEOUT_S))

    async def watch_live_calls(self, request: Any) -> AsyncIterator[Any]:
        call = self.reporting.WatchLiveCalls(request)
        try:
            async for snapshot in call:
                yield snapshot
        except grpc.aio.AioRpcError as exc:
            raise service_error("reporting", exc) from exc
        finally:
            call.cancel()

    async def _health(self, service: str, name: str) -> str:
        request = health_pb2.HealthCheckRequest(service=name)
        try:
            reply = await self.health[service].Check(request, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def _service_health(self, service: str) -> dict[str, str]:
        api, worker = await asyncio.gather(self._health(service, ""), self._health(service, "worker"))
        return {"api": api, "worker": worker}

    async def _counters(self) -> dict[str, int]:
        ingest, reporting = await asyncio.gather(
            self._call(
                "ingest",
                lambda: self.ingest.GetStatus(ingest_pb2.GetStatusRequest(), timeout=CALL_TIMEOUT_S),
                quiet=True,
            ),
            self._call(
                "reporting",
                lambda: self.reporting.GetStatus(reporting_pb2.GetStatusRequest(), timeout=CALL_TIMEOUT_S),
                quiet=True,
            ),
        )
        return {
            "cdrs_stored": ingest.cdrs_stored,
            "outbox_pending": ingest.outbox_pending,
            "cdrs_applied": reporting.cdrs_applied,
        }

    async def serving(self) -> tuple[bool, dict[str, Any]]:
        """Every api answers SERVING (what pages and the API call); workers and backlogs don't matter here."""
        names = list(self.channels)
        healths = await asyncio.gather(*(self._health(name, "") for name in names))
        details = {name: {"api": health} for name, health in zip(names, healths, strict=True)}
        return all(health == "SERVING" for health in healths), {"services": details}

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready = every api and worker serving, the outbox drained, every stored CDR counted, no start-up marker."""
        details: dict[str, Any] = {}
        loading = self.startup_marker is not None and self.startup_marker.exists()
        details["startup"] = "demo data loading" if loading else "done"
        healths = await asyncio.gather(*(self._service_health(name) for name in self.channels))
        details["services"] = dict(zip(self.channels, healths, strict=True))
        serving = all(value == "SERVING" for health in healths for value in health.values())
        try:
            counters = await self._counters()
        except ServiceError as exc:
            details["delivery"] = {"error": exc.message}
            caught_up = False
        else:
            details["delivery"] = counters
            caught_up = counters["outbox_pending"] == 0 and counters["cdrs_applied"] == counters["cdrs_stored"]
        return serving and caught_up and not loading, details
