"""notify api process: gRPC NotifyService with the standard health service."""

from __future__ import annotations

import asyncio
import functools

import grpc

from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import open_store


class NotifyServicer(notify_pb2_grpc.NotifyServiceServicer):
    async def GetStatus(
        self, request: notify_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> notify_pb2.NotifyStatus:
        return notify_pb2.NotifyStatus(deliveries=0)


async def serve(settings: NotifySettings) -> None:
    register = functools.partial(notify_pb2_grpc.add_NotifyServiceServicer_to_server, NotifyServicer())
    await serve_api(
        settings.grpc_listen,
        admin_port=settings.admin_port,
        store=open_store(settings.store_url),
        services=[("cdrstats.notify.v1.NotifyService", register)],
    )


def main() -> None:
    settings = load_or_exit(NotifySettings.from_env)
    setup_logging("notify", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
