"""notify api process: gRPC NotifyService with the standard health service."""

from __future__ import annotations

import asyncio

import grpc

from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_common.admin import start_admin
from cdrstats_common.grpc_server import GrpcApp, watch_worker
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
    store = open_store(settings.store_url)
    app = GrpcApp(settings.grpc_listen)
    app.add_service(
        "cdrstats.notify.v1.NotifyService",
        lambda server: notify_pb2_grpc.add_NotifyServiceServicer_to_server(NotifyServicer(), server),
    )
    app.add_background(lambda: watch_worker(app, store.worker_alive))
    admin = start_admin(settings.admin_port, lambda: True)  # liveness; readiness is the gRPC health service
    try:
        await app.run()
    finally:
        if admin is not None:
            admin.stop()
        store.close()


def main() -> None:
    settings = load_or_exit(NotifySettings.from_env)
    setup_logging("notify", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
