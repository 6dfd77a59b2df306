"""The gateway's switch, mapping-profile and import calls against ingest's real servicer and SQLite store.

Proves the proto <-> domain conversions of ``ingest_admin`` and the REST shapes on top of
them with the owner of the data answering (no stand-in).
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp.test_utils import TestClient

from cdrstats.ingest.v1 import ingest_pb2_grpc
from cdrstats_gateway.app import create_app
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_ingest.api import IngestServicer
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import CdrStore, open_store

PASSWORD = "contract-admin-pw"
ADMIN = {"Authorization": aiohttp.encode_basic_auth("admin", PASSWORD)}
LINE = (
    '"acme","0145678901","0612345678","from-trunk","""Jean"" <0145678901>","SIP/carrier-1","SIP/1001-2","Dial",'
    '"SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15","2024-03-05 14:03:16",65,61,"{disposition}",'
    '"DOCUMENTATION","{uid}",""'
)


def master_csv(count: int) -> bytes:
    lines = [LINE.format(uid=f"1709643731.{n}", disposition="HUNG" if n == 3 else "ANSWERED") for n in range(count)]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture
def ingest_store(tmp_path: pathlib.Path) -> Iterator[CdrStore]:
    store = open_store(f"sqlite:///{tmp_path / 'ingest.db'}")
    yield store
    store.close()


@pytest.fixture
async def web(
    aiohttp_client: Any, tmp_path: pathlib.Path, ingest_store: CdrStore
) -> AsyncIterator[TestClient[Any, Any]]:
    store = ingest_store
    server = grpc.aio.server()
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(
        IngestServicer(IngestService(store), public_url="http://cdr.example.test:8081"), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    settings = GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        ingest_grpc_addr=address,
        reporting_grpc_addr=address,
        alerting_grpc_addr=address,
        notify_grpc_addr=address,
        admin_password=PASSWORD,
        cookie_secure=False,
    )
    client: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
    yield client
    await client.close()
    await server.stop(None)


async def test_switch_registry_round_trip(web: TestClient[Any, Any]) -> None:
    body = {
        "id": "pbx",
        "name": "Paris FreeSWITCH",
        "type": "freeswitch",
        "home_country": "FR",
        "time_zone": "Europe/Paris",
        "internal_extension_max_len": 4,
        "remove_prefixes": ["9"],
        "direction_rules": [{"field": "context", "pattern": "^from-trunk", "direction": "inbound"}],
    }
    created = await web.post("/api/v1/switches", json=body, headers=ADMIN)
    assert created.status == 201, await created.text()
    answer = await created.json()
    stored = answer["switch"]
    assert stored["has_password"] is True and stored["remove_prefixes"] == ["9"]
    assert stored["direction_rules"] == body["direction_rules"] and stored["internal_extension_max_len"] == 4
    setup = await (await web.get("/api/v1/switches/pbx/setup", headers=ADMIN)).json()
    assert setup["ingest_url"].startswith("http://cdr.example.test:8081") and setup["snippet"]
    changed = await web.put(
        "/api/v1/switches/pbx", json={**body, "enabled": False, "remove_prefixes": []}, headers=ADMIN
    )
    assert changed.status == 200, await changed.text()
    again = await (await web.get("/api/v1/switches/pbx", headers=ADMIN)).json()
    assert again["enabled"] is False and again["remove_prefixes"] == [] and again["has_password"] is True
    invalid = await web.put("/api/v1/switches/pbx", json={**body, "time_zone": "Mars/Base"}, headers=ADMIN)
    assert invalid.status == 400
    assert [s["id"] for s in await (await web.get("/api/v1/switches", headers=ADMIN)).json()] == ["pbx"]
    assert (await web.delete("/api/v1/switches/pbx", headers=ADMIN)).status == 204
    missing = await web.get("/api/v1/switches/pbx", headers=ADMIN)
    assert missing.status == 404 and (await missing.json())["error"] == "not_found"


async def test_the_switch_page_shows_how_its_pull_connector_is_doing(
    web: TestClient[Any, Any], ingest_store: CdrStore
) -> None:
    body = {
        "id": "kam",
        "type": "kamailio",
        "home_country": "GB",
        "connector": {
            "type": "kamailio_acc",
            "dsn": "postgresql://reader@db.example.test/kamailio",
            "table": "acc_cdrs",
        },
    }
    created = await web.post("/api/v1/switches", json=body, headers=ADMIN)
    assert created.status == 201, await created.text()
    login_page = await (await web.get("/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    assert token is not None
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await web.post("/login", data=form, allow_redirects=False)).status == 303
    never = await (await web.get("/admin/switches/kam")).text()
    assert "The connector has not polled yet." in never
    ingest_store.set_watermark("kam", "kamailio db.example.test acc_cdrs", {"id": 4211})
    ingest_store.record_poll("kam", accepted=37, duplicates=2, rejected=1)
    ingest_store.record_poll("kam", error="connection refused by db.example.test:5432")
    page = await (await web.get("/admin/switches/kam")).text()
    assert "connection refused by db.example.test:5432" in page
    assert "kamailio db.example.test acc_cdrs" in page and "4211" in page
    assert "0 accepted, 0 duplicates, 0 rejected" in page  # the last (failed) poll read nothing
    assert "Accepted in all</dt><dd>37</dd>" in page


async def test_a_csv_import_streams_to_ingest_and_reports_rejects(web: TestClient[Any, Any]) -> None:
    assert (
        await web.post("/api/v1/switches", json={"id": "pbx", "type": "asterisk", "home_country": "FR"}, headers=ADMIN)
    ).status == 201
    data = master_csv(50)
    response = await web.post(
        "/api/v1/imports?switch_id=pbx&format=asterisk_csv&file_name=Master.csv", data=data, headers=ADMIN
    )
    assert response.status == 200, await response.text()
    job = await response.json()
    result = job["result"]
    assert job["progress"] == 100 and job["sent_bytes"] == len(data)
    assert (result["lines"], result["accepted"], result["rejected"]) == (50, 49, 1)
    assert result["rejects"][0]["line"] == 4 and "disposition" in result["rejects"][0]["reason"].lower()
    again = await (await web.post("/api/v1/imports?switch_id=pbx&format=asterisk_csv", data=data, headers=ADMIN)).json()
    assert again["result"]["duplicates"] == 49 and again["result"]["accepted"] == 0
    rejects = await (await web.get("/api/v1/rejects?switch_id=pbx", headers=ADMIN)).json()
    assert rejects["total"] >= 1
    reject = rejects["items"][0]
    assert '"HUNG"' in reject["raw"] and reject["location"].startswith("line 4 of ")
    corrected = reject["raw"].replace('"HUNG"', '"ANSWERED"')
    retried = await web.post(f"/api/v1/rejects/{reject['id']}/retry", json={"raw": corrected}, headers=ADMIN)
    assert retried.status == 200, await retried.text()
    assert (await retried.json())["status"] == "accepted"
    missing = await web.post("/api/v1/rejects/no-such-reject/retry", json={}, headers=ADMIN)
    assert missing.status == 404


async def test_mapping_profiles_round_trip(web: TestClient[Any, Any]) -> None:
    profile = {
        "columns": {"uuid": "Call", "start_time": "Start", "billsec": "Billed"},
        "delimiter": ";",
        "duration_unit": "ms",
    }
    saved = await web.put("/api/v1/mapping-profiles/billing", json=profile, headers=ADMIN)
    assert saved.status == 200, await saved.text()
    listed = await (await web.get("/api/v1/mapping-profiles", headers=ADMIN)).json()
    assert listed == [
        {
            "name": "billing",
            "has_header": True,
            "delimiter": ";",
            "date_format": "iso8601",
            "time_zone": "",
            "duration_unit": "ms",
            "columns": profile["columns"],
        }
    ]
    assert (await web.delete("/api/v1/mapping-profiles/billing", headers=ADMIN)).status == 204
    assert (await web.get("/api/v1/mapping-profiles", headers=ADMIN)).status == 200
