"""notify api process: gRPC NotifyService (contacts, deliveries, mail reports) with the standard health service."""

from __future__ import annotations

import asyncio
import functools

import grpc

from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_common.tenants import list_tenants
from cdrstats_notify.api_deliveries import DeliveriesApi
from cdrstats_notify.api_reports import MailReportsApi
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore, open_store

Ctx = grpc.aio.ServicerContext


class NotifyServicer(DeliveriesApi, MailReportsApi, notify_pb2_grpc.NotifyServiceServicer):
    """The mixins hold the RPCs of their area; they share ``self.store`` and ``self.settings``."""

    def __init__(self, store: NotifyStore, settings: NotifySettings) -> None:
        self.store = store
        self.settings = settings

    async def GetStatus(self, request: notify_pb2.GetStatusRequest, context: Ctx) -> notify_pb2.NotifyStatus:
        counts = await asyncio.to_thread(self.store.delivery_counts)
        smtp = self.settings.smtp
        return notify_pb2.NotifyStatus(**counts, smtp_host=smtp.host, smtp_port=smtp.port if smtp.host else 0)

    async def SetTenant(self, request: notify_pb2.Tenant, context: Ctx) -> notify_pb2.Tenant:
        if not request.id.startswith("customer:"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id: expected a tenant id 'customer:<id>'")
        await asyncio.to_thread(self.store.set_tenant, request.id, list(request.accountcodes), request.name)
        return request

    async def ListTenants(self, request: notify_pb2.ListTenantsRequest, context: Ctx) -> notify_pb2.ListTenantsReply:
        rows, after = await asyncio.to_thread(list_tenants, self.store, request.after_id, request.limit)
        tenants = [notify_pb2.Tenant(id=id_, name=name, accountcodes=codes) for id_, (name, codes) in rows]
        return notify_pb2.ListTenantsReply(tenants=tenants, next_after_id=after)


async def serve(settings: NotifySettings) -> None:
    store = await asyncio.to_thread(open_store, settings.store_url)
    register = functools.partial(notify_pb2_grpc.add_NotifyServiceServicer_to_server, NotifyServicer(store, settings))
    await serve_api(
        settings.grpc_listen,
        admin_port=settings.admin_port,
        store=store,
        services=[("cdrstats.notify.v1.NotifyService", register)],
    )


def main() -> None:
    settings = load_or_exit(NotifySettings.from_env)
    setup_logging("notify", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
