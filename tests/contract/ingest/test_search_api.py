"""SearchCdrs, ExportCdrs, ReplayCdrs and GetCdr over a real grpc.aio server in process (SQLite store):
proto conversion, cursors across calls, and domain errors as status codes naming the field."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.api import IngestServicer
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store

T0 = 1_760_000_000_000_000
ADMIN = ingest_pb2.Scope(admin=True)


@pytest.fixture
async def stub(tmp_path: pathlib.Path) -> AsyncIterator[ingest_pb2_grpc.IngestServiceStub]:
    store = open_store(f"sqlite:///{tmp_path}/ingest.db")
    cdrs = [
        new_cdr(
            switch_id="sw1" if i % 2 else "sw2",
            uuid=f"u-{i}",
            accountcode=("acme", "globex", "initech")[i % 3],
            destination_number=f"4420794601{i:02d}",
            destination_e164=f"+4420794601{i:02d}",
            country="GB",
            start_time_us=T0 + i * 1_000_000,
            duration_ms=1000 * (i % 4),
            answered=i % 2 == 0,
            extra={"sip_user_agent": "FreeSWITCH"},
        )
        for i in range(60)
    ]
    store.add_cdrs(cdrs)
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(IngestService(store)), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield ingest_pb2_grpc.IngestServiceStub(channel)
    finally:
        await server.stop(None)
        store.close()


async def test_search_pages_with_cursor_and_total(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    query = ingest_pb2.CdrQuery(
        destination_number=ingest_pb2.TextFilter(op="begins", value="+44207946010"),
        duration_ms=[ingest_pb2.NumberFilter(op="ge", value=1000)],
        answered=False,
    )
    request = ingest_pb2.SearchCdrsRequest(scope=ADMIN, query=query, page_size=2, with_total=True)
    first = await stub.SearchCdrs(request)
    # u-1..u-9: odd (unanswered) with duration >= 1 s: 1, 3, 5, 7, 9 -> newest first
    assert [cdr.uuid for cdr in first.cdrs] == ["u-9", "u-7"] and first.total == 5
    assert first.cdrs[0].extra["sip_user_agent"] == "FreeSWITCH" and first.cdrs[0].answered is False
    seen = [cdr.uuid for cdr in first.cdrs]
    cursor = first.next_cursor
    while cursor:
        request.cursor = cursor
        page = await stub.SearchCdrs(request)
        seen += [cdr.uuid for cdr in page.cdrs]
        cursor = page.next_cursor
    assert seen == ["u-9", "u-7", "u-5", "u-3", "u-1"]


async def test_unset_answered_means_any_and_sort_ascending(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    reply = await stub.SearchCdrs(
        ingest_pb2.SearchCdrsRequest(scope=ADMIN, sort_by="duration_ms", ascending=True, page_size=1000)
    )
    assert len(reply.cdrs) == 60 and reply.next_cursor == ""
    assert [cdr.duration_ms for cdr in reply.cdrs] == sorted(cdr.duration_ms for cdr in reply.cdrs)


async def test_customers_see_only_their_accounts(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    scope = ingest_pb2.Scope(allowed_accountcodes=["acme"])
    reply = await stub.SearchCdrs(ingest_pb2.SearchCdrsRequest(scope=scope, page_size=1000, with_total=True))
    assert {cdr.accountcode for cdr in reply.cdrs} == {"acme"} and reply.total == 20
    other = reply.cdrs[0].id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetCdr(ingest_pb2.GetCdrRequest(id=other, allowed_accountcodes=["globex"]))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # not yours == not found
    mine = await stub.GetCdr(ingest_pb2.GetCdrRequest(id=other, allowed_accountcodes=["acme"]))
    assert mine.id == other


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (ingest_pb2.SearchCdrsRequest(scope=ADMIN, sort_by="rowid"), "INVALID_ARGUMENT", "sort_by: expected one of"),
        (ingest_pb2.SearchCdrsRequest(scope=ADMIN, cursor="garbage"), "INVALID_ARGUMENT", "cursor: not a cursor"),
        (ingest_pb2.SearchCdrsRequest(scope=ADMIN, page_size=5000), "INVALID_ARGUMENT", "page_size: expected 1..1000"),
        (
            ingest_pb2.SearchCdrsRequest(
                scope=ADMIN, query=ingest_pb2.CdrQuery(caller_id_name=ingest_pb2.TextFilter(op="like", value="x"))
            ),
            "INVALID_ARGUMENT",
            "query.caller_id_name.op: expected one of equals, begins, contains, ends",
        ),
        (ingest_pb2.SearchCdrsRequest(scope=ingest_pb2.Scope()), "PERMISSION_DENIED", "allowed_accountcodes"),
    ],
)
async def test_bad_searches_get_a_status_naming_the_field(
    stub: ingest_pb2_grpc.IngestServiceStub, request_: ingest_pb2.SearchCdrsRequest, code: str, message: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SearchCdrs(request_)
    assert caught.value.code() == getattr(grpc.StatusCode, code)
    assert message in (caught.value.details() or "")


async def test_a_cursor_of_another_query_is_refused(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    first = await stub.SearchCdrs(ingest_pb2.SearchCdrsRequest(scope=ADMIN, page_size=5))
    other = ingest_pb2.SearchCdrsRequest(scope=ADMIN, query=ingest_pb2.CdrQuery(switch_ids=["sw1"]))
    other.cursor = first.next_cursor
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SearchCdrs(other)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cursor: was made for another query" in (caught.value.details() or "")


async def test_export_streams_every_match_in_batches(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    request = ingest_pb2.ExportCdrsRequest(
        scope=ingest_pb2.Scope(allowed_accountcodes=["acme", "globex"]),
        batch_size=7,
        sort_by="start_time",
        ascending=True,
    )
    batches = [batch async for batch in stub.ExportCdrs(request)]
    assert [len(batch.cdrs) for batch in batches] == [7, 7, 7, 7, 7, 5]
    uuids = [cdr.uuid for batch in batches for cdr in batch.cdrs]
    assert uuids == [f"u-{i}" for i in range(60) if i % 3 != 2]
    request.limit = 10
    assert sum([len(batch.cdrs) async for batch in stub.ExportCdrs(request)]) == 10
    request.limit = -1
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        [batch async for batch in stub.ExportCdrs(request)]
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit:" in (caught.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        [batch async for batch in stub.ExportCdrs(ingest_pb2.ExportCdrsRequest())]
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_replay_streams_everything_after_a_point_in_id_order(stub: ingest_pb2_grpc.IngestServiceStub) -> None:
    everything = [cdr async for batch in stub.ReplayCdrs(ingest_pb2.ReplayCdrsRequest()) for cdr in batch.cdrs]
    assert [cdr.uuid for cdr in everything] == [f"u-{i}" for i in range(60)]
    ids = [cdr.id for cdr in everything]
    assert ids == sorted(ids)
    request = ingest_pb2.ReplayCdrsRequest(after_id=ids[49], batch_size=4)
    batches = [batch async for batch in stub.ReplayCdrs(request)]
    assert [len(batch.cdrs) for batch in batches] == [4, 4, 2]
    assert [cdr.id for batch in batches for cdr in batch.cdrs] == ids[50:]
