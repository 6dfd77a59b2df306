"""Gateway alarm tests: the real alerting servicer in process (tmp SQLite store), fed by alerting's
brute-force metric source over CDRs of the last half hour (TestAlarm evaluates at the real clock).

Switch registry and other ingest calls go to the in-memory PlatformServices; every alarm call
goes through the real ServiceClients to the real gRPC server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PlatformServices, Tenants, add_tenants

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.metric_source import CdrListMetricSource
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_gateway.alarm_rpc import AlarmsAdmin
from cdrstats_gateway.app import create_app
from cdrstats_gateway.clients import ServiceClients
from cdrstats_gateway.settings import GatewaySettings

MINUTE_US = 60_000_000
ALARM_CALLS = {name for name in dir(AlarmsAdmin) if not name.startswith("_")}
#: what the CDRs below make: ASR per account code and over everything
ASR_ACME, ASR_GLOBEX, ASR_ALL = 30.0, 80.0, 55.0


def recent_cdrs(now_us: int) -> list[dict[str, Any]]:
    """acme on sw1: 10 attempts, 3 answered; globex on sw2: 10 attempts, 8 answered (all in the last 30 min)."""
    cdrs = []
    for code, switch, answered in (("acme", "sw1", 3), ("globex", "sw2", 8)):
        for i in range(10):
            start = now_us - (30 - 2 * i) * MINUTE_US
            up = i < answered
            cdrs.append(
                new_cdr(
                    id=f"{code}-{i}",
                    switch_id=switch,
                    uuid=f"{code}-{i}",
                    accountcode=code,
                    destination_e164="+442071838750",
                    country="GB",
                    start_time_us=start,
                    answer_time_us=start + 2_000_000 if up else 0,
                    end_time_us=start + (62_000_000 if up else 5_000_000),
                    billsec_ms=60_000 if up else 0,
                    duration_ms=62_000 if up else 5_000,
                    hangup_cause=16 if up else 17,
                )
            )
    return cdrs


@dataclasses.dataclass
class AlertingBackend:
    server: grpc.aio.Server
    store: AlertingStore
    source: CdrListMetricSource
    address: str
    channel: grpc.aio.Channel

    @property
    def stub(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channel)

    async def set_tenant(self, customer_id: int, codes: list[str]) -> None:
        await self.stub.SetTenant(alerting_pb2.Tenant(id=f"customer:{customer_id}", accountcodes=codes))

    async def create(self, tenant: str = "", **fields: Any) -> alerting_pb2.Alarm:
        """An alarm made through alerting's own API (not the gateway), as a tenant or the installation."""
        definition: dict[str, Any] = {
            "name": "ASR watch",
            "metric": "asr",
            "scope": alerting_pb2.AlarmScope(kind="all"),
            "window": "last_hour",
            "condition": "lt",
            "threshold": 40.0,
            "min_attempts": 5,
            "enabled": True,
            **fields,
        }
        scope = alerting_pb2.Scope(admin=not tenant, tenant=tenant)
        request = alerting_pb2.SaveAlarmRequest(scope=scope, alarm=alerting_pb2.Alarm(**definition))
        return await self.stub.CreateAlarm(request)


@contextlib.asynccontextmanager
async def alerting_backend(tmp_path: pathlib.Path, cdrs: list[dict[str, Any]]) -> AsyncIterator[AlertingBackend]:
    store = open_store(f"sqlite:///{tmp_path / 'alerting.db'}")
    source = CdrListMetricSource(cdrs)
    server = grpc.aio.server()
    alerting_pb2_grpc.add_AlertingServiceServicer_to_server(AlertingServicer(store, source), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(address)
    try:
        yield AlertingBackend(server, store, source, address, channel)
    finally:
        await channel.close()
        await server.stop(None)
        store.close()


class WithAlerting:
    """Alarm calls to the real ServiceClients, the rest (switch registry, ...) to PlatformServices."""

    def __init__(self, real: ServiceClients, platform: PlatformServices) -> None:
        self.real, self.platform = real, platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real if name in ALARM_CALLS else self.platform, name)


@dataclasses.dataclass
class AlarmWorld:
    client: TestClient[Any, Any]
    backend: AlertingBackend
    tenants: Tenants
    now_us: int


@contextlib.asynccontextmanager
async def alarm_world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[AlarmWorld]:
    """The gateway with customers A (acme) and B (globex, initech) known to alerting."""
    now_us = int(time.time() * 1_000_000)
    async with alerting_backend(tmp_path, recent_cdrs(now_us)) as backend:
        settings = GatewaySettings(
            store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
            alerting_grpc_addr=backend.address,
            admin_password=ADMIN_PASSWORD,
            cookie_secure=False,
        )
        real = ServiceClients.from_settings(settings)
        app = await create_app(settings, clients=WithAlerting(real, PlatformServices()))  # type: ignore[arg-type]
        client: TestClient[Any, Any] = await aiohttp_client(app)
        tenants = await add_tenants(client)
        await backend.set_tenant(tenants.a_customer, ["acme"])
        await backend.set_tenant(tenants.b_customer, ["globex", "initech"])
        try:
            yield AlarmWorld(client, backend, tenants, now_us)
        finally:
            await real.close()


async def record_history(world: AlarmWorld, alarm_id: str, *, minutes: int, recover_after: int = 0) -> list[int]:
    """Scheduled evaluations one minute apart, stored as alerting's worker stores them.

    ``recover_after``: after that many evaluations, 20 answered acme calls arrive, so an ASR alarm
    on acme clears (a FIRING period with an end). Returns the evaluation times (us).
    """
    from cdrstats_alerting.alarms_service import AlarmsService

    clock = {"us": world.now_us}
    service = AlarmsService(world.backend.store, world.backend.source, clock=lambda: clock["us"] / 1_000_000)
    times = []
    for minute in range(1, minutes + 1):
        if recover_after and minute == recover_after + 1:
            world.backend.source.add(answered_calls(clock["us"], 20))
        clock["us"] = world.now_us + minute * MINUTE_US
        await asyncio.to_thread(service.evaluate_due)
        times.append(clock["us"])
    stored = await asyncio.to_thread(world.backend.store.list_evaluations, alarm_id, 0, 1000)
    assert len(stored) == minutes, f"one stored evaluation per minute for {alarm_id}"
    return times


def answered_calls(now_us: int, count: int) -> list[dict[str, Any]]:
    return [
        new_cdr(
            id=f"late-{now_us}-{i}",
            switch_id="sw1",
            uuid=f"late-{now_us}-{i}",
            accountcode="acme",
            destination_e164="+442071838750",
            country="GB",
            start_time_us=now_us - 120_000_000 + i,
            answer_time_us=now_us - 118_000_000,
            end_time_us=now_us - 58_000_000,
            billsec_ms=60_000,
            duration_ms=62_000,
            hangup_cause=16,
        )
        for i in range(count)
    ]
