"""A customer deleted while its removal could not reach alerting and notify is still removed there.

The gateway keeps a failed SetTenant pending only in memory. These tests lose that memory on purpose
(the gateway is stopped while alerting is unreachable) and check that the next gateway's start-up pass
lists the tenants alerting and notify hold (ListTenants) and removes every one without a customer:
its alarm stops measuring (``insufficient``, the deleted-tenant semantics), and when its account code
goes to a new customer, only the new customer's tenant owns it. Real alerting, notify and reporting
servicers on grpc.aio servers; the gateway is create_app with the product's own ServiceClients.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import grpc
from aiohttp.test_utils import TestClient
from control_testkit import NOW_US, Backends, backends, gateway_settings
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import basic

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.metric_client import ReportingMetricSource
from cdrstats_common.testing import free_port
from cdrstats_gateway import keys
from cdrstats_gateway.app import create_app
from cdrstats_gateway.tenant_sync import TENANT_SYNC

ADMIN = basic("admin", ADMIN_PASSWORD)
TICK_US = 15 * 60_000_000  # a month-window alarm is due every 15 evaluation minutes


async def settle(client: TestClient[Any, Any]) -> None:
    await asyncio.wait_for(client.app[TENANT_SYNC].idle.wait(), 15)


def tenants_held(back: Backends) -> tuple[set[str], set[str]]:
    """(alerting's tenant ids, notify's tenant ids), read from their own stores."""
    return set(back.alerting_store.accountcode_tenants().values()), set(back.notify_store.tenants())


async def customer_alarm(back: Backends, tenant: str, code: str) -> str:
    """An alarm the customer made in its own scope: fires while its code has any call this month."""
    scope = alerting_pb2.Scope(tenant=tenant, allowed_accountcodes=[code])
    alarm = alerting_pb2.Alarm(
        name="any call",
        metric="attempts",
        scope=alerting_pb2.AlarmScope(kind="all"),
        window="month",
        condition="gt",
        threshold=0,
        enabled=True,
        emails=["fraud@acme.example"],
    )
    async with grpc.aio.insecure_channel(back.alerting_address) as channel:
        made = await alerting_pb2_grpc.AlertingServiceStub(channel).CreateAlarm(
            alerting_pb2.SaveAlarmRequest(scope=scope, alarm=alarm), timeout=5
        )
    return made.id


async def test_a_customer_deleted_while_alerting_was_down_is_removed_by_the_next_gateway(
    aiohttp_client: Any, tmp_path: pathlib.Path
) -> None:
    async with backends(tmp_path) as back:
        settings = gateway_settings(tmp_path, back)
        first: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        made = await first.post("/api/v1/customers", json={"name": "Acme", "accountcodes": ["acme"]}, headers=ADMIN)
        acme = (await made.json())["id"]
        tenant = f"customer:{acme}"
        await settle(first)
        await first.close()
        assert tenants_held(back) == ({tenant}, {tenant})

        alarm_id = await customer_alarm(back, tenant, "acme")
        clock = {"us": NOW_US}
        alarms = AlarmsService(
            back.alerting_store,
            ReportingMetricSource(back.reporting_address, timeout_s=10),
            clock=lambda: clock["us"] / 1_000_000,
        )
        assert await asyncio.to_thread(alarms.evaluate_due) == 1
        before = back.alerting_store.list_evaluations(alarm_id)[0]
        assert (before.verdict, before.state_after) == ("breach", "FIRING"), before.message

        # the customer is deleted while alerting cannot be reached; the gateway stops before a retry
        down = gateway_settings(tmp_path, back, alerting_grpc_addr=f"127.0.0.1:{free_port()}")
        second: TestClient[Any, Any] = await aiohttp_client(await create_app(down))
        second.app[TENANT_SYNC].first_retry_s = 60.0
        assert (await second.delete(f"/api/v1/customers/{acme}", headers=ADMIN)).status == 204
        await asyncio.sleep(0.5)  # the push is tried (and fails) in the background
        assert acme in second.app[TENANT_SYNC].pending
        await second.close()
        assert tenants_held(back) == ({tenant}, {tenant}), "nobody removed the tenant yet"

        third: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        await settle(third)
        assert tenants_held(back) == (set(), set())
        assert back.notify_store.tenant(tenant) is None  # its mail report now has no tenant to cover

        clock["us"] += TICK_US
        assert await asyncio.to_thread(alarms.evaluate_due) == 1
        after = back.alerting_store.list_evaluations(alarm_id)[0]
        assert after.verdict == "insufficient" and "has no account codes" in after.message

        # the freed code goes to a new customer: it is the only tenant owning it in either service
        made = await third.post("/api/v1/customers", json={"name": "Globex", "accountcodes": ["acme"]}, headers=ADMIN)
        globex = f"customer:{(await made.json())['id']}"
        await settle(third)
        assert back.alerting_store.accountcode_tenants() == {"acme": globex}
        assert back.notify_store.tenants() == {globex: ("Globex", ("acme",))}
        clock["us"] += TICK_US
        assert await asyncio.to_thread(alarms.evaluate_due) == 1
        latest = back.alerting_store.list_evaluations(alarm_id)[0]
        assert latest.verdict == "insufficient", "the deleted customer's alarm never measures Globex's calls"


async def test_start_up_removes_every_tenant_without_a_customer_once_alerting_answers(
    aiohttp_client: Any, tmp_path: pathlib.Path
) -> None:
    """Tenants only one service holds, or with ids no customer can have, go too; live customers stay."""
    async with backends(tmp_path) as back:
        port = free_port()  # alerting is down when the gateway starts, and comes back here
        settings = gateway_settings(tmp_path, back, alerting_grpc_addr=f"127.0.0.1:{port}")
        client: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        sync = client.app[TENANT_SYNC]
        sync.first_retry_s = 0.2
        kept = await asyncio.to_thread(client.app[keys.STORE].create_customer, "Initech", ["initech"])
        back.alerting_store.set_tenant("customer:9001", ["gone-a"], "Gone A")  # alerting only
        back.alerting_store.set_tenant("customer:acme", ["gone-b"])  # no customer has such an id
        back.alerting_store.set_tenant(f"customer:0{kept.id}", ["gone-d"])  # nor this one
        async with grpc.aio.insecure_channel(back.notify_address) as channel:
            await notify_pb2_grpc.NotifyServiceStub(channel).SetTenant(
                notify_pb2.Tenant(id="customer:9002", accountcodes=["gone-c"]), timeout=5
            )  # notify only
        await asyncio.sleep(0.5)
        assert not sync.idle.is_set(), "nothing is done while alerting does not answer"

        server = grpc.aio.server()
        alerting_pb2_grpc.add_AlertingServiceServicer_to_server(AlertingServicer(back.alerting_store, None), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        try:
            await settle(client)
        finally:
            await server.stop(None)
        live = f"customer:{kept.id}"
        assert tenants_held(back) == ({live}, {live})
        assert back.alerting_store.tenant_accountcodes(live) == ("initech",)
        assert back.notify_store.tenant(live) == ("Initech", ("initech",))


async def test_a_push_everything_asked_for_during_a_pass_is_not_lost(
    aiohttp_client: Any, tmp_path: pathlib.Path
) -> None:
    """``changed_all`` while the start-up pass is still reading (the ``synced`` helper, a reassign) gets its own pass."""
    async with backends(tmp_path) as back:
        client: TestClient[Any, Any] = await aiohttp_client(await create_app(gateway_settings(tmp_path, back)))
        sync = client.app[TENANT_SYNC]
        await settle(client)
        store = client.app[keys.STORE]
        made: list[int] = []
        list_tenants = sync.known
        assert list_tenants is not None

        async def known_then_a_new_customer() -> set[str]:
            held = await list_tenants()
            if not made:  # after this pass read the customers: one more appears, and everyone is asked for
                made.append((await asyncio.to_thread(store.create_customer, "Late", ["late"])).id)
                sync.changed_all()
            return held

        sync.known = known_then_a_new_customer
        sync.changed_all()
        await settle(client)
        assert made and back.alerting_store.tenant_accountcodes(f"customer:{made[0]}") == ("late",)
        assert back.notify_store.tenant(f"customer:{made[0]}") == ("Late", ("late",))
