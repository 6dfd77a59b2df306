"""The gateway tells alerting and notify each tenant's account codes (SetTenant) and keeps them converged.

Real alerting and notify servicers in process; customers are changed through the admin REST API
and pages, as an operator would; the services' own stores are read to see what they were told.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient
from control_testkit import Backends, backends, gateway_settings, synced
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import basic, logged_in

from cdrstats.alerting.v1 import alerting_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_common.testing import free_port
from cdrstats_gateway import keys
from cdrstats_gateway.app import create_app
from cdrstats_gateway.tenant_sync import TENANT_SYNC

ADMIN = basic("admin", ADMIN_PASSWORD)


async def settle(client: TestClient[Any, Any]) -> None:
    """Wait until every change queued so far is pushed."""
    await asyncio.wait_for(client.app[TENANT_SYNC].idle.wait(), 10)


def told(back: Backends, customer_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(alerting's codes, notify's codes) for the tenant."""
    tenant = f"customer:{customer_id}"
    in_notify = back.notify_store.tenant(tenant)
    return back.alerting_store.tenant_accountcodes(tenant), (in_notify[1] if in_notify else ())


async def test_customer_changes_reach_alerting_and_notify(aiohttp_client: Any, tmp_path: pathlib.Path) -> None:
    async with backends(tmp_path) as back:
        client: TestClient[Any, Any] = await aiohttp_client(await create_app(gateway_settings(tmp_path, back)))
        made = await client.post("/api/v1/customers", json={"name": "Acme", "accountcodes": ["acme"]}, headers=ADMIN)
        acme = (await made.json())["id"]
        await settle(client)
        assert told(back, acme) == (("acme",), ("acme",))
        assert back.notify_store.tenant(f"customer:{acme}") == ("Acme", ("acme",))

        await client.patch(f"/api/v1/customers/{acme}", json={"accountcodes": ["acme", "acme2"]}, headers=ADMIN)
        await settle(client)
        assert told(back, acme) == (("acme", "acme2"), ("acme", "acme2"))

        # a code taken from another customer leaves that customer in both services too
        made = await client.post(
            "/api/v1/customers", json={"name": "Globex", "accountcodes": ["acme2"], "reassign": True}, headers=ADMIN
        )
        globex = (await made.json())["id"]
        await settle(client)
        assert told(back, acme) == (("acme",), ("acme",))
        assert told(back, globex) == (("acme2",), ("acme2",))

        # the admin pages push the same way; deleting a customer removes its codes
        csrf = await logged_in(client, "admin", ADMIN_PASSWORD)
        form = {"csrf_token": csrf, "name": "Globex", "accountcodes": "acme2, globex"}
        assert (await client.post(f"/admin/customers/{globex}", data=form, allow_redirects=False)).status == 303
        await settle(client)
        assert told(back, globex) == (("acme2", "globex"), ("acme2", "globex"))
        gone = await client.post(
            f"/admin/customers/{globex}", data={"csrf_token": csrf, "action": "delete"}, allow_redirects=False
        )
        assert gone.status == 303
        await settle(client)
        assert told(back, globex) == ((), ())
        assert told(back, acme) == (("acme",), ("acme",))


async def test_start_up_pushes_every_customer(aiohttp_client: Any, tmp_path: pathlib.Path) -> None:
    """Customers changed while the gateway was down (or the services lost them) converge at start-up."""
    async with backends(tmp_path) as back:
        settings = gateway_settings(tmp_path, back)
        first: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        store = first.app[keys.STORE]
        made = [await asyncio.to_thread(store.create_customer, f"C{i}", [f"code{i}"]) for i in range(3)]
        await first.close()  # the gateway stops; nobody was told about C0..C2
        assert all(told(back, c.id) == ((), ()) for c in made)

        second: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        await settle(second)
        assert [told(back, c.id) for c in made] == [((f"code{i}",), (f"code{i}",)) for i in range(3)]


async def test_an_outage_is_retried_until_the_services_answer(
    aiohttp_client: Any, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with backends(tmp_path) as back:
        port = free_port()  # alerting comes back on this address later
        settings = gateway_settings(tmp_path, back, alerting_grpc_addr=f"127.0.0.1:{port}")
        client: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
        sync = client.app[TENANT_SYNC]
        sync.first_retry_s = 0.2
        with caplog.at_level(logging.WARNING, logger="cdrstats_gateway.tenant_sync"):
            made = await client.post(
                "/api/v1/customers", json={"name": "Acme", "accountcodes": ["acme"]}, headers=ADMIN
            )
            assert made.status == 201, "a customer change never waits for (or fails with) the services"
            acme = (await made.json())["id"]
            for _ in range(100):
                if any("tenant sync failed" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
        assert any("tenant sync failed" in r.getMessage() for r in caplog.records), "the failure is logged"
        assert not sync.idle.is_set() and acme in sync.pending

        server = grpc.aio.server()
        alerting_pb2_grpc.add_AlertingServiceServicer_to_server(AlertingServicer(back.alerting_store, None), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        try:
            await asyncio.wait_for(sync.idle.wait(), 15)
            assert told(back, acme) == (("acme",), ("acme",))
            assert sync.pending == set()
        finally:
            await server.stop(None)


async def test_synced_helper_pushes_customers_made_in_the_store(aiohttp_client: Any, tmp_path: pathlib.Path) -> None:
    """The helper other tests use: customers written straight into the store reach both services."""
    async with backends(tmp_path) as back:
        client: TestClient[Any, Any] = await aiohttp_client(await create_app(gateway_settings(tmp_path, back)))
        customer = await asyncio.to_thread(client.app[keys.STORE].create_customer, "Initech", ["initech"])
        await synced(client)
        assert told(back, customer.id) == (("initech",), ("initech",))
