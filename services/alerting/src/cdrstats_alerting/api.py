"""alerting api process: gRPC AlertingService with the standard health service."""

from __future__ import annotations

import asyncio
import functools

import grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats_alerting.settings import AlertingSettings
from cdrstats_alerting.store import open_store
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit


class AlertingServicer(alerting_pb2_grpc.AlertingServiceServicer):
    async def GetStatus(
        self, request: alerting_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> alerting_pb2.AlertingStatus:
        return alerting_pb2.AlertingStatus(alarms=0)


async def serve(settings: AlertingSettings) -> None:
    register = functools.partial(alerting_pb2_grpc.add_AlertingServiceServicer_to_server, AlertingServicer())
    await serve_api(
        settings.grpc_listen,
        admin_port=settings.admin_port,
        store=open_store(settings.store_url),
        services=[("cdrstats.alerting.v1.AlertingService", register)],
    )


def main() -> None:
    settings = load_or_exit(AlertingSettings.from_env)
    setup_logging("alerting", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
