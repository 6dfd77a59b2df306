"""alerting api process: gRPC AlertingService (alarms, destination control) with the standard health service."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats_alerting.api_alarms import AlarmsApi
from cdrstats_alerting.api_destinations import DestinationsApi
from cdrstats_alerting.metric_client import ReportingMetricSource
from cdrstats_alerting.settings import AlertingSettings
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_common.tenants import list_tenants

Ctx = grpc.aio.ServicerContext


class AlertingServicer(AlarmsApi, DestinationsApi, alerting_pb2_grpc.AlertingServiceServicer):
    """The mixins hold the RPCs of their area; they share ``self.store`` and ``self.metrics``."""

    def __init__(
        self, store: AlertingStore, metrics: Any = None, *, time_zone: str = "UTC", public_url: str = ""
    ) -> None:
        self.store = store
        self.metrics = metrics  # MetricSource (reporting); None: TestAlarm answers UNAVAILABLE
        self.time_zone = time_zone  # calendar alarm windows (TestAlarm)
        self.public_url = public_url  # links in evaluations

    async def GetStatus(self, request: alerting_pb2.GetStatusRequest, context: Ctx) -> alerting_pb2.AlertingStatus:
        alarms = await asyncio.to_thread(self.store.alarm_counts)
        destinations = await asyncio.to_thread(self.store.destination_counts)
        return alerting_pb2.AlertingStatus(**alarms, **destinations)

    async def SetTenant(self, request: alerting_pb2.Tenant, context: Ctx) -> alerting_pb2.Tenant:
        if not request.id.startswith("customer:"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "id: expected a tenant id 'customer:<id>'")
        await asyncio.to_thread(self.store.set_tenant, request.id, list(request.accountcodes), request.name)
        return request

    async def ListTenants(
        self, request: alerting_pb2.ListTenantsRequest, context: Ctx
    ) -> alerting_pb2.ListTenantsReply:
        rows, after = await asyncio.to_thread(list_tenants, self.store, request.after_id, request.limit)
        tenants = [alerting_pb2.Tenant(id=id_, name=name, accountcodes=codes) for id_, (name, codes) in rows]
        return alerting_pb2.ListTenantsReply(tenants=tenants, next_after_id=after)


async def serve(settings: AlertingSettings) -> None:
    store = await asyncio.to_thread(open_store, settings.store_url)
    metrics = ReportingMetricSource(settings.reporting_grpc_addr) if settings.reporting_grpc_addr else None
    servicer = AlertingServicer(store, metrics, time_zone=settings.time_zone, public_url=settings.public_url)
    register = functools.partial(alerting_pb2_grpc.add_AlertingServiceServicer_to_server, servicer)
    await serve_api(
        settings.grpc_listen,
        admin_port=settings.admin_port,
        store=store,
        services=[("cdrstats.alerting.v1.AlertingService", register)],
    )


def main() -> None:
    settings = load_or_exit(AlertingSettings.from_env)
    setup_logging("alerting", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
