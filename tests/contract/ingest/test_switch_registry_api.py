"""The switch registry over a real in-process grpc.aio server, on every store kind (conftest ``store``)."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from argon2 import PasswordHasher

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.api import IngestServicer
from cdrstats_ingest.convert import switch_from_proto, switch_to_proto
from cdrstats_ingest.domain.errors import UnknownSwitch
from cdrstats_ingest.domain.switch import ConnectorSettings, SwitchConfig
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import CdrStore, open_store

PUBLIC_URL = "https://cdr.example.net"
Stub = ingest_pb2_grpc.IngestServiceStub


@pytest.fixture
def service(store: CdrStore) -> IngestService:
    return IngestService(store, PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))  # cheap for tests


@pytest.fixture
async def stub(service: IngestService) -> AsyncIterator[Stub]:
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(service, public_url=PUBLIC_URL), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Stub(channel)
    finally:
        await server.stop(None)


def switch(**overrides: Any) -> ingest_pb2.Switch:
    values: dict[str, Any] = {
        "id": "fs1",
        "name": "Paris edge",
        "type": "freeswitch",
        "home_country": "FR",
        "enabled": True,
    }
    values.update(overrides)
    return ingest_pb2.Switch(**values)


async def upsert(stub: Stub, password: str = "", **overrides: Any) -> ingest_pb2.Switch:
    return await stub.UpsertSwitch(ingest_pb2.UpsertSwitchRequest(switch=switch(**overrides), password=password))


async def test_passwords_are_kept_when_an_update_leaves_them_empty_and_never_returned(
    stub: Stub, service: IngestService, store: CdrStore
) -> None:
    esl = ingest_pb2.ConnectorSettings(type="freeswitch_esl", dsn="10.0.0.5:8021", password="ClueCon-1")
    created = await upsert(stub, "s3cret", username="fs1", connector=esl)
    assert created.has_password and created.username == "fs1"
    assert created.connector.password == ""  # write only
    no_secret = ingest_pb2.ConnectorSettings(type="freeswitch_esl", dsn="10.0.0.6:8021")
    updated = await upsert(stub, username="fs1", time_zone="Europe/Paris", connector=no_secret)
    assert updated.has_password and updated.time_zone == "Europe/Paris" and updated.connector.dsn == "10.0.0.6:8021"
    stored = store.get_switch("fs1")
    assert stored is not None and stored.config.connector.password == "ClueCon-1"
    assert service.authenticate("fs1", "s3cret").id == "fs1"
    fetched = await stub.GetSwitch(ingest_pb2.GetSwitchRequest(id="fs1"))
    assert fetched.has_password and fetched.connector.password == ""
    listed = await stub.ListSwitches(ingest_pb2.ListSwitchesRequest())
    assert [(s.id, s.has_password, s.connector.password) for s in listed.switches] == [("fs1", True, "")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "switch.time_zone"),
        ({"home_country": "ZZ"}, "switch.home_country"),
        ({"id": "bad id"}, "switch.id"),
        (
            {"direction_rules": [ingest_pb2.DirectionRule(field="context", pattern="[", direction="inbound")]},
            "switch.direction_rules[0].pattern",
        ),
        ({"connector": ingest_pb2.ConnectorSettings(type="ftp", dsn="x")}, "switch.connector.type"),
    ],
)
async def test_invalid_switches_are_refused_naming_the_field(stub: Stub, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await upsert(stub, **overrides)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith(f"{field}: ")
    assert (await stub.ListSwitches(ingest_pb2.ListSwitchesRequest())).switches == []


async def test_a_username_belongs_to_one_switch(stub: Stub) -> None:
    await upsert(stub, "pw", username="edge")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await upsert(stub, "pw", id="fs2", username="edge")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "switch.username" in (caught.value.details() or "") and "'fs1'" in (caught.value.details() or "")


async def test_a_deleted_switch_keeps_its_cdrs_and_can_no_longer_push(
    stub: Stub, service: IngestService, store: CdrStore
) -> None:
    await upsert(stub, "pw", username="fs1")
    cdr_id = store.add_cdrs([new_cdr(switch_id="fs1", source="api", uuid="u-1", start_time_us=1)]).ids[0]
    assert service.authenticate("fs1", "pw").id == "fs1"
    await stub.DeleteSwitch(ingest_pb2.DeleteSwitchRequest(id="fs1"))
    with pytest.raises(UnknownSwitch):
        service.authenticate("fs1", "pw")
    for call in (
        stub.GetSwitch(ingest_pb2.GetSwitchRequest(id="fs1")),
        stub.DeleteSwitch(ingest_pb2.DeleteSwitchRequest(id="fs1")),
        stub.GetSwitchSetup(ingest_pb2.GetSwitchRequest(id="fs1")),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "fs1" in (caught.value.details() or "")
    batch = ingest_pb2.SubmitCdrsRequest(switch_id="fs1", cdrs=[cdr_pb2.Cdr(uuid="u-2", start_time_us=2)])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SubmitCdrs(iter([batch]))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    kept = await stub.GetCdr(ingest_pb2.GetCdrRequest(id=cdr_id, admin=True))
    assert kept.uuid == "u-1"


async def test_switch_setup_points_the_switch_at_the_public_url(stub: Stub) -> None:
    await upsert(stub, "pw", username="paris-fs")
    setup = await stub.GetSwitchSetup(ingest_pb2.GetSwitchRequest(id="fs1"))
    assert setup.ingest_url == f"{PUBLIC_URL}/v1/freeswitch/json"
    assert setup.call_state_url == f"{PUBLIC_URL}/v1/switches/fs1/calls"
    assert setup.snippet_language == "xml"
    assert f'value="{setup.ingest_url}"' in setup.snippet and 'value="paris-fs:' in setup.snippet
    assert "pw" not in setup.snippet.replace("PASSWORD", "")


def test_dsn_password_is_masked_in_the_api_and_kept_when_sent_back(tmp_path: pathlib.Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/i.db")
    service = IngestService(store)
    dsn = "postgresql://kamailio:s3cr3t@127.0.0.1:5432/kamailio"
    connector = ConnectorSettings(type="kamailio_acc", dsn=dsn, table="acc_cdrs")
    service.upsert_switch(SwitchConfig(id="kam", type="kamailio", connector=connector))
    shown = switch_to_proto(store.get_switch("kam").config)  # type: ignore[union-attr]
    assert "s3cr3t" not in shown.SerializeToString().decode("latin-1")
    assert shown.connector.dsn == "postgresql://kamailio:********@127.0.0.1:5432/kamailio"
    service.upsert_switch(switch_from_proto(shown))  # the edit form sends the masked DSN back
    assert store.get_switch("kam").config.connector.dsn == dsn  # type: ignore[union-attr]
    changed = shown.connector.dsn.replace("********", "n3w").replace("127.0.0.1", "db2")
    shown.connector.dsn = changed
    service.upsert_switch(switch_from_proto(shown))
    assert store.get_switch("kam").config.connector.dsn == "postgresql://kamailio:n3w@db2:5432/kamailio"  # type: ignore[union-attr]
    store.close()


async def test_status_shows_each_pull_connectors_last_poll_and_watermark(stub: Stub, store: CdrStore) -> None:
    assert list((await stub.GetStatus(ingest_pb2.GetStatusRequest())).connectors) == []
    store.set_watermark("kam", "kamailio_acc postgresql://db:5432/kamailio acc_cdrs", {"id": 200})
    store.record_poll("kam", accepted=150, duplicates=50)
    store.record_poll("kam", error="connection refused")
    [status] = (await stub.GetStatus(ingest_pb2.GetStatusRequest())).connectors
    assert (status.switch_id, status.last_error, status.total_accepted) == ("kam", "connection refused", 150)
    assert status.source.endswith("acc_cdrs") and status.last_success_time > 0
    assert status.last_poll_time >= status.last_success_time
    assert json.loads(status.watermark_json) == {"id": 200}


async def test_switch_credentials_are_checked_for_the_gateway(stub: Stub) -> None:
    await upsert(stub, password="right-key", id="fs9", username="fs9-user")
    switch = await stub.AuthenticateSwitch(
        ingest_pb2.AuthenticateSwitchRequest(username="fs9-user", password="right-key")
    )
    assert switch.id == "fs9"
    for username, password in (("fs9-user", "wrong"), ("nobody", "right-key")):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.AuthenticateSwitch(ingest_pb2.AuthenticateSwitchRequest(username=username, password=password))
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
