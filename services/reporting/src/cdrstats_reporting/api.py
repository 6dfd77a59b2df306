"""gRPC api process: the ReportingService servicer and ``main()`` (``python -m cdrstats_reporting.api``)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

import grpc

from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_reporting import convert
from cdrstats_reporting.domain.errors import InvalidArgument, PermissionDenied, ReportingError
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.settings import ReportingSettings
from cdrstats_reporting.store import open_store

SERVICE_NAME = "cdrstats.reporting.v1.ReportingService"
T = TypeVar("T")

_STATUS: dict[type[ReportingError], grpc.StatusCode] = {
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
}


async def _call(context: grpc.aio.ServicerContext, fn: Callable[[], T]) -> T:
    """Run a blocking use-case in a thread; a domain error becomes its gRPC status here, once."""
    try:
        return await asyncio.to_thread(fn)
    except ReportingError as exc:
        await context.abort(_STATUS.get(type(exc), grpc.StatusCode.FAILED_PRECONDITION), str(exc))
        raise  # abort raises; this line only satisfies the type checker


class ReportingServicer(reporting_pb2_grpc.ReportingServiceServicer):
    def __init__(self, service: ReportingService) -> None:
        self.service = service

    async def GetDashboard(
        self, request: reporting_pb2.DashboardRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.Dashboard:
        report = await _call(
            context,
            functools.partial(
                self.service.dashboard,
                request.scope.admin,
                list(request.scope.allowed_accountcodes),
                request.switch_id or None,
                request.now_us,
            ),
        )
        return convert.dashboard_to_proto(report)

    async def GetStatus(
        self, request: reporting_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> reporting_pb2.ReportingStatus:
        cdrs_applied, events_applied = await _call(context, self.service.status)
        return convert.status_to_proto(cdrs_applied, events_applied)


async def serve(settings: ReportingSettings) -> None:
    store = await asyncio.to_thread(open_store, settings.store_url)
    servicer = ReportingServicer(ReportingService(store))
    register = functools.partial(reporting_pb2_grpc.add_ReportingServiceServicer_to_server, servicer)
    await serve_api(
        settings.grpc_listen, admin_port=settings.admin_port, store=store, services=[(SERVICE_NAME, register)]
    )


def main() -> None:
    settings = load_or_exit(ReportingSettings.from_env)
    setup_logging("reporting", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
