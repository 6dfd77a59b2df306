"""ListTenants on alerting and notify: the real servicer over a real grpc.aio server, on SQLite and on MongoDB
(mongomock). The gateway pages through it to find tenants whose customer is gone, so every page must be
complete, ordered and terminated, and a removed tenant (SetTenant without codes) must not be listed."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import mongomock
import pytest

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.store import open_store as open_alerting_store
from cdrstats_common.tenants import MAX_TENANT_PAGE
from cdrstats_common.testing import patch_mongomock_bulk_write
from cdrstats_notify.api import NotifyServicer
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import open_store as open_notify_store


class Api:
    """One service's stub with its own message module, so one test body covers both."""

    def __init__(self, stub: Any, pb: Any, store: Any) -> None:
        self.stub, self.pb, self.store = stub, pb, store

    async def set(self, tenant_id: str, codes: list[str], name: str = "") -> None:
        await self.stub.SetTenant(self.pb.Tenant(id=tenant_id, accountcodes=codes, name=name), timeout=5)

    async def page(self, after_id: str = "", limit: int = 0) -> tuple[list[tuple[str, str, list[str]]], str]:
        reply = await self.stub.ListTenants(self.pb.ListTenantsRequest(after_id=after_id, limit=limit), timeout=5)
        return [(t.id, t.name, list(t.accountcodes)) for t in reply.tenants], reply.next_after_id


def _store(service: str, backend: str, tmp_path: pathlib.Path) -> Any:
    if backend == "sqlite":
        opener = open_alerting_store if service == "alerting" else open_notify_store
        return opener(f"sqlite:///{tmp_path}/{service}.db")
    database = mongomock.MongoClient()[f"cdrstats_{service}_tenants_test"]
    if service == "alerting":
        from cdrstats_alerting.store.mongo import MongoAlertingStore

        return MongoAlertingStore(database)
    from cdrstats_notify.store.mongo import MongoNotifyStore

    return MongoNotifyStore(database)


@pytest.fixture(params=["alerting/sqlite", "alerting/mongomock", "notify/sqlite", "notify/mongomock"])
async def api(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    service, backend = request.param.split("/")
    if backend == "mongomock":
        patch_mongomock_bulk_write(monkeypatch)
    store = _store(service, backend, tmp_path)
    server = grpc.aio.server()
    if service == "alerting":
        alerting_pb2_grpc.add_AlertingServiceServicer_to_server(AlertingServicer(store), server)
    else:
        settings = NotifySettings.from_env({"CDRSTATS_DATA_DIR": str(tmp_path)})
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(NotifyServicer(store, settings), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            if service == "alerting":
                yield Api(alerting_pb2_grpc.AlertingServiceStub(channel), alerting_pb2, store)
            else:
                yield Api(notify_pb2_grpc.NotifyServiceStub(channel), notify_pb2, store)
    finally:
        await server.stop(None)
        store.close()


async def test_an_empty_service_lists_no_tenants(api: Api) -> None:
    assert await api.page() == ([], "")


async def test_pages_are_ordered_complete_and_end_with_an_empty_cursor(api: Api) -> None:
    for n in (3, 1, 10, 2, 20):  # ids sort as strings: customer:1, customer:10, customer:2, ...
        await api.set(f"customer:{n}", [f"code{n}", f"alt{n}"], f"C{n}")

    first, after = await api.page(limit=2)
    assert first == [("customer:1", "C1", ["alt1", "code1"]), ("customer:10", "C10", ["alt10", "code10"])]
    assert after == "customer:10"
    second, after = await api.page(after, limit=2)
    assert [t[0] for t in second] == ["customer:2", "customer:20"] and after == "customer:20"
    third, after = await api.page(after, limit=2)
    assert [t[0] for t in third] == ["customer:3"] and after == "", "a short page is the last"

    everything, after = await api.page()  # limit 0: the default page, which holds them all
    assert [t[0] for t in everything] == ["customer:1", "customer:10", "customer:2", "customer:20", "customer:3"]
    assert after == ""


async def test_a_full_last_page_is_followed_by_an_empty_one(api: Api) -> None:
    await api.set("customer:1", ["a"])
    await api.set("customer:2", ["b"])
    page, after = await api.page(limit=2)
    assert len(page) == 2 and after == "customer:2"
    assert await api.page(after, limit=2) == ([], "")


async def test_a_removed_tenant_is_not_listed(api: Api) -> None:
    await api.set("customer:1", ["a"])
    await api.set("customer:2", ["b"])
    await api.set("customer:1", [])  # the deleted form
    assert await api.page() == ([("customer:2", "", ["b"])], "")


async def test_a_huge_limit_is_capped(api: Api) -> None:
    for n in range(MAX_TENANT_PAGE + 1):  # straight into the store: a thousand RPCs would only be slow
        api.store.set_tenant(f"customer:{n:05d}", ["x"])
    page, after = await api.page(limit=10 * MAX_TENANT_PAGE)
    assert len(page) == MAX_TENANT_PAGE and after == page[-1][0]
    rest, after = await api.page(after, limit=10 * MAX_TENANT_PAGE)
    assert [t[0] for t in rest] == [f"customer:{MAX_TENANT_PAGE:05d}"] and after == ""
