"""The HTTP receivers against a real SQLite store: XML/JSON CDR POSTs, kept rejects, call-state POSTs."""

from __future__ import annotations

import base64
import json
import pathlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from cdrstats_common import prom
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.http_receiver import KEY_FAILURES, create_receiver_app
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store
from cdrstats_ingest.store.sqlite import SqliteCdrStore

DATA = pathlib.Path(__file__).parent / "data"
B_UUID = "9a0d2e57-3c41-4f88-b7a6-55e0c3d1f2aa"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


FS1 = basic("fs1", "key-1")
FS2 = basic("fs2", "key-2")


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[SqliteCdrStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'ingest.db'}")
    assert isinstance(opened, SqliteCdrStore)
    yield opened
    opened.close()


@pytest.fixture
async def client(aiohttp_client: Any, store: SqliteCdrStore) -> TestClient[Any, Any]:
    service = IngestService(store, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))  # cheap for tests
    service.upsert_switch(SwitchConfig(id="fs1", username="fs1", home_country="US"), "key-1")
    service.upsert_switch(SwitchConfig(id="fs2", username="fs2", home_country="GB"), "key-2")
    result: TestClient[Any, Any] = await aiohttp_client(create_receiver_app(service, max_body_bytes=16_384))
    return result


def outbox(store: SqliteCdrStore, event_type: str) -> list[dict[str, Any]]:
    rows = store.conn.execute("SELECT body FROM outbox WHERE event_type = ? ORDER BY seq", (event_type,))
    return [json.loads(row["body"]) for row in rows]


def counter(source: str, result: str) -> float:
    return prom.CDRS.labels(source, result)._value.get()


async def test_xml_post_in_each_encode_mode_is_one_cdr(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    xml = (DATA / "xml_cdr_b_leg.xml").read_text()
    before = counter("freeswitch_xml", "duplicate")
    bodies = [
        (xml, "text/xml"),
        ("cdr=" + urllib.parse.quote(xml, safe=""), "application/x-www-form-urlencoded"),
        ("cdr=" + base64.b64encode(xml.encode()).decode(), "application/x-www-form-base64-encoded"),
        ("cdr=" + xml, "application/x-www-form-plaintext"),
    ]
    replies = []
    for body, content_type in bodies:
        response = await client.post(
            f"/v1/freeswitch/xml?uuid={B_UUID}", data=body, headers={"Content-Type": content_type, **FS1}
        )
        assert response.status == 200, await response.text()
        replies.append(await response.json())
    assert [r["status"] for r in replies] == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert len({r["id"] for r in replies}) == 1
    assert counter("freeswitch_xml", "duplicate") - before == 3
    [event] = outbox(store, "cdrs_ingested")
    [cdr] = event["data"]["cdrs"]
    assert (cdr["source"], cdr["uuid"], cdr["linked_id"]) == (
        "freeswitch_xml",
        B_UUID,
        "6b8f3c0e-7d2a-4b6e-8c8e-1b2f4a9d7e01",
    )


async def test_json_post_still_works(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    response = await client.post(
        "/v1/freeswitch/json", data=(DATA / "json_cdr_answered_plain.json").read_bytes(), headers=FS1
    )
    assert response.status == 200
    assert (await response.json())["status"] == "accepted"
    assert store.cdr_count() == 1


@pytest.mark.parametrize(
    ("path", "body", "mentions"),
    [
        ("/v1/freeswitch/xml?uuid=abc", b"<cdr><variables><uuid>x</variables></cdr>", "mismatched tag"),
        ("/v1/freeswitch/xml", b"<!DOCTYPE cdr [<!ENTITY a 'b'>]><cdr/>", "DOCTYPE"),
        ("/v1/freeswitch/json?uuid=abc", b'{"variables": {"uuid": "x"}}', "variables.start_uepoch"),
    ],
)
async def test_unreadable_cdr_is_400_and_kept_with_its_raw_body(
    client: TestClient[Any, Any], store: SqliteCdrStore, path: str, body: bytes, mentions: str
) -> None:
    source = "freeswitch_xml" if "xml" in path else "freeswitch_json"
    before = counter(source, "rejected")
    response = await client.post(path, data=body, headers=FS1)
    assert response.status == 400
    reply = await response.json()
    assert reply["error"] == "invalid_cdr" and mentions in reply["message"]
    assert counter(source, "rejected") - before == 1
    [reject] = store.list_rejects("fs1")
    assert (reject.record.source, reject.record.raw, reject.record.location) == (source, body.decode(), f"POST {path}")
    assert mentions in reject.record.reason
    assert store.cdr_count() == 0


async def test_xml_credentials_and_size_limit(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    xml = (DATA / "xml_cdr_b_leg.xml").read_bytes()
    response = await client.post("/v1/freeswitch/xml", data=xml, headers=basic("fs1", "wrong"))
    assert (response.status, (await response.json())["error"]) == (401, "bad_credentials")
    response = await client.post("/v1/freeswitch/xml", data=xml)
    assert response.status == 401 and "Basic" in response.headers["WWW-Authenticate"]
    response = await client.post("/v1/freeswitch/xml", data=b"<cdr>" + b" " * 20_000 + b"</cdr>", headers=FS1)
    assert (response.status, (await response.json())["error"]) == (413, "too_large")
    assert store.count_rejects() == 0


async def test_guessing_a_switch_key_is_throttled_per_switch_user_and_address(
    client: TestClient[Any, Any], store: SqliteCdrStore
) -> None:
    xml = (DATA / "xml_cdr_b_leg.xml").read_bytes()
    for attempt in range(KEY_FAILURES - 1):
        assert (
            await client.post("/v1/freeswitch/xml", data=xml, headers=basic("fs1", f"guess-{attempt}"))
        ).status == 401
    # a right key before the limit resets the count (a switch whose key was just fixed)
    assert (await client.post("/v1/freeswitch/xml", data=xml, headers=FS1)).status == 200
    for attempt in range(KEY_FAILURES):
        assert (
            await client.post("/v1/freeswitch/xml", data=xml, headers=basic("fs1", f"again-{attempt}"))
        ).status == 401
    blocked = await client.post("/v1/freeswitch/xml", data=xml, headers=FS1)
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "fs1" in (await blocked.json())["message"]
    # another switch user from the same address goes on
    other = await client.post("/v1/freeswitch/xml", data=xml, headers=FS2)
    assert other.status == 200, await other.text()


def call(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "event": "answered",
        "uuid": "leg-9",
        "time": "2024-05-01T10:00:04.502117Z",
        "caller_id_number": "+14155550100",
        "destination_number": "2125550123",
        "accountcode": "acme",
        "direction": "inbound",
    }
    values.update(overrides)
    return values


async def test_call_state_post_becomes_a_call_state_event(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    response = await client.post("/v1/switches/fs1/calls", json=call(), headers=FS1)
    assert response.status == 200
    assert await response.json() == {"accepted": 1, "rejected": []}
    [event] = outbox(store, "call_state")
    assert event["schema"] == "cdrstats.call_state.v1"
    assert event["data"] == {
        "switch_id": "fs1",
        "uuid": "leg-9",
        "event": "answered",
        "time_us": 1714557604502117,
        "caller_id_number": "+14155550100",
        "destination_number": "2125550123",
        "destination_e164": "+12125550123",
        "country": "US",
        "accountcode": "acme",
        "direction": "inbound",
    }
    assert store.cdr_count() == 0


async def test_a_bad_event_does_not_reject_its_neighbours(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    events = [call(event="started"), call(event="ringing"), call(event="ended", time=1714557621930412)]
    response = await client.post("/v1/switches/fs1/calls", json=events, headers=FS1)
    assert response.status == 200
    reply = await response.json()
    assert reply["accepted"] == 2
    assert [(r["index"], r["field"]) for r in reply["rejected"]] == [(1, "event")]
    assert [e["data"]["event"] for e in outbox(store, "call_state")] == ["started", "ended"]


@pytest.mark.parametrize(
    ("body", "error", "mentions"),
    [
        (b"{nope", "invalid_call_state", "not valid JSON"),
        (json.dumps(call(time="10:00")).encode(), "invalid_call_state", "time: not an RFC 3339 time"),
        (json.dumps([call(uuid=""), call(event="")]).encode(), "invalid_call_state", "uuid"),
    ],
)
async def test_nothing_usable_is_400(
    client: TestClient[Any, Any], store: SqliteCdrStore, body: bytes, error: str, mentions: str
) -> None:
    response = await client.post("/v1/switches/fs1/calls", data=body, headers=FS1)
    assert response.status == 400
    reply = await response.json()
    assert reply["error"] == error and mentions in reply["message"]
    assert outbox(store, "call_state") == []


async def test_only_the_switch_itself_may_post_its_calls(client: TestClient[Any, Any], store: SqliteCdrStore) -> None:
    response = await client.post("/v1/switches/fs1/calls", json=call(), headers=FS2)
    assert response.status == 403
    assert "'fs2', not 'fs1'" in (await response.json())["message"]
    response = await client.post("/v1/switches/nosuch/calls", json=call(), headers=FS2)
    assert response.status == 403
    response = await client.post("/v1/switches/fs1/calls", json=call(), headers=basic("fs1", "bad"))
    assert response.status == 401
    assert outbox(store, "call_state") == []
