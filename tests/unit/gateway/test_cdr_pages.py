"""CDR search, detail, export and bulk create through the app factory against a real in-process ingest."""

from __future__ import annotations

import asyncio
import base64
import csv
import datetime
import io
import json
import pathlib
import zoneinfo
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, CUSTOMER_PASSWORD, login
from pages_testkit import BASE_US, IngestBackend, make_cdrs, start_ingest

from cdrstats_common.testing import free_port
from cdrstats_gateway import keys
from cdrstats_gateway.app import create_app
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_ingest.domain.switch import SwitchConfig


@pytest.fixture
async def ingest(tmp_path: pathlib.Path) -> AsyncIterator[IngestBackend]:
    backend = await start_ingest(tmp_path, free_port(), make_cdrs())
    yield backend
    await backend.server.stop(None)


@pytest.fixture
async def web(aiohttp_client: Any, ingest: IngestBackend, tmp_path: pathlib.Path) -> TestClient[Any, Any]:
    settings = GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        ingest_grpc_addr=ingest.address,
        reporting_grpc_addr=ingest.address,
        alerting_grpc_addr=ingest.address,
        notify_grpc_addr=ingest.address,
        admin_password=ADMIN_PASSWORD,
        cookie_secure=False,
    )
    client: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
    store = client.app[keys.STORE]
    await asyncio.to_thread(store.create_user, "cust", CUSTOMER_PASSWORD, "customer", ("acme",))
    return client


async def token(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    store = client.app[keys.STORE]
    users = {u.username: u for u in await asyncio.to_thread(store.list_users)}
    raw, _ = await asyncio.to_thread(store.create_api_token, users[username].id, "test")
    return {"Authorization": f"Bearer {raw}"}


def linked_ids(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('href="/cdrs/')[1:] if not part.startswith("export")]


async def test_search_page_takes_every_filter_from_the_url_and_lists_what_ingest_found(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "admin", ADMIN_PASSWORD)
    url = "/cdrs?destination=%2B4930&destination_op=begins&answered=yes&switch=sw1&sort=billsec_ms&order=asc"
    page = await web.get(url)
    html = await page.text()
    assert page.status == 200, html
    expected = [
        c
        for c in ingest.cdrs
        if c["destination_number"].startswith("+4930") and c["answered"] and c["switch_id"] == "sw1"
    ]
    assert expected, "the demo data has such calls"
    ordered = sorted(expected, key=lambda c: (c["billsec_ms"], c["id"]))
    assert linked_ids(html) == [c["id"] for c in ordered]
    assert f"{len(expected)} CDRs match" in html or f"{len(expected)} CDR match" in html
    # the form shows the search back, and export links carry it
    assert 'name="destination" value="+4930"' in html
    blank = await (await web.get("/cdrs")).text()  # each match operator starts at its default
    assert '<option value="begins" selected>begins</option>' in blank.split('name="destination_op"')[1]
    assert "/cdrs/export?switch=sw1&amp;destination=%2B4930&amp;destination_op=begins&amp;answered=yes" in html


async def test_the_page_opens_on_the_newest_calls_before_any_search(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "cust", CUSTOMER_PASSWORD)
    html = await (await web.get("/cdrs")).text()
    newest = sorted(ingest.visible("acme"), key=lambda c: (c["start_time_us"], c["id"]), reverse=True)
    assert linked_ids(html) == [c["id"] for c in newest][:50]


async def test_customer_search_and_detail_never_show_another_tenant(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "cust", CUSTOMER_PASSWORD)
    html = await (await web.get("/cdrs?page_size=1000")).text()
    assert sorted(linked_ids(html)) == sorted(c["id"] for c in ingest.visible("acme"))
    # asking for another tenant's account code narrows to nothing rather than widening
    html = await (await web.get("/cdrs?accountcode=globex")).text()
    assert linked_ids(html) == []
    foreign = ingest.visible("globex")[0]["id"]
    assert (await web.get(f"/cdrs/{foreign}")).status == 404
    own = ingest.visible("acme")[0]
    detail = await web.get(f"/cdrs/{own['id']}")
    text = await detail.text()
    assert detail.status == 200 and own["uuid"] in text and "sip_user_agent" in text and "FreeSWITCH" in text
    headers = await token(web, "cust")
    assert (await web.get(f"/api/v1/cdrs/{foreign}", headers=headers)).status == 404
    body = await (await web.get("/api/v1/cdrs?page_size=1000&total=true", headers=headers)).json()
    assert {c["accountcode"] for c in body["cdrs"]} == {"acme"} and body["total"] == len(ingest.visible("acme"))


async def test_bad_filters_answer_400_naming_the_parameter(web: TestClient[Any, Any]) -> None:
    await login(web, "admin", ADMIN_PASSWORD)
    page = await web.get("/cdrs?hangup_cause=16,abc")
    assert page.status == 400 and "hangup_cause: whole numbers from 0 to 127" in await page.text()
    headers = await token(web, "admin")
    for query, field in (
        ("from=yesterday", "from"),
        ("from=2026-01-02&to=2026-01-01", "to"),
        ("destination_op=regex&destination=1", "destination_op"),
        ("country=Germany", "country"),
        ("duration_min=9&duration_max=3", "duration_max"),
        ("page_size=0", "page_size"),
        ("sort=password", "sort"),
        ("answered=maybe", "answered"),
    ):
        response = await web.get(f"/api/v1/cdrs?{query}", headers=headers)
        body = await response.json()
        assert response.status == 400, query
        assert body["error"] == "invalid_argument" and body["details"] == {"field": field}, body
        assert body["message"].startswith(f"{field}: ")
    export = await web.get("/api/v1/cdrs/export?format=xlsx", headers=headers)
    assert export.status == 400 and (await export.json())["details"] == {"field": "format"}


async def test_api_cursor_pages_visit_every_cdr_once(web: TestClient[Any, Any], ingest: IngestBackend) -> None:
    headers = await token(web, "admin")
    seen: list[str] = []
    url = "/api/v1/cdrs?page_size=7&total=true&order=asc"
    total = None
    while url:
        body = await (await web.get(url, headers=headers)).json()
        total = body["total"] if total is None else total
        seen += [c["id"] for c in body["cdrs"]]
        url = f"/api/v1/cdrs?page_size=7&order=asc&cursor={quote(body['next_cursor'])}" if body["next_cursor"] else ""
    assert sorted(seen) == sorted(c["id"] for c in ingest.cdrs) and len(seen) == len(set(seen)) == total
    one = await (await web.get(f"/api/v1/cdrs/{seen[0]}", headers=headers)).json()
    first = min(ingest.cdrs, key=lambda c: (c["start_time_us"], c["id"]))
    assert one["id"] == first["id"] and one["start_time"].endswith("Z") and "start_time_us" not in one
    assert one["extra"] == first["extra"]


async def test_csv_export_streams_the_whole_search_with_formulas_neutralised(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "admin", ADMIN_PASSWORD)
    response = await web.get("/cdrs/export?format=csv&page_size=5&sort=start_time&order=asc")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="cdrs-')
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["id"] for r in rows] == [
        c["id"] for c in sorted(ingest.cdrs, key=lambda c: (c["start_time_us"], c["id"]))
    ]
    numbers = {r["destination_number"] for r in rows}
    assert "'=1+2" in numbers and "=1+2" not in numbers  # would run as a formula in a spreadsheet
    assert "+4930123456" in numbers  # a signed plain number is data, not a formula
    assert all(r["answer_time"] == "" or r["answer_time"].endswith("Z") for r in rows)
    assert json.loads(rows[0]["extra"])["sip_user_agent"] == "FreeSWITCH"


async def test_jsonl_export_is_scoped_and_limited(web: TestClient[Any, Any], ingest: IngestBackend) -> None:
    headers = await token(web, "cust")
    response = await web.get("/api/v1/cdrs/export?format=jsonl", headers=headers)
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert sorted(c["id"] for c in lines) == sorted(c["id"] for c in ingest.visible("acme"))
    limited = await web.get("/api/v1/cdrs/export?format=jsonl&limit=3", headers=headers)
    assert len((await limited.text()).splitlines()) == 3


def bulk_record(i: int) -> dict[str, Any]:
    start = BASE_US + 5 * 86_400_000_000 + i * 60_000_000
    return {
        "uuid": f"bulk-{i}",
        "accountcode": "acme",
        "caller_id_number": "+12125550000",
        "destination_number": "+4930555000",
        "start_time": f"2025-10-14T08:{i:02d}:00Z" if start else None,
        "answer_time": f"2025-10-14T08:{i:02d}:02Z",
        "end_time": f"2025-10-14T08:{i:02d}:32Z",
        "duration_ms": 32_000,
        "billsec_ms": 30_000,
        "hangup_cause": 16,
        "extra": {"origin": "bulk"},
    }


async def test_bulk_create_goes_through_ingest_and_is_admin_only(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    admin, customer = await token(web, "admin"), await token(web, "cust")
    body = {"switch_id": "sw1", "cdrs": [bulk_record(i) for i in range(3)]}
    denied = await web.post("/api/v1/cdrs", json=body, headers=customer)
    assert denied.status == 403 and (await denied.json())["error"] == "forbidden"
    created = await web.post("/api/v1/cdrs", json=body, headers=admin)
    assert created.status == 200, await created.text()
    assert (await created.json())["accepted"] == 3
    again = await (await web.post("/api/v1/cdrs", json=body, headers=admin)).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    found = await (await web.get("/api/v1/cdrs?uuid=bulk-1", headers=admin)).json()
    assert [c["start_time"] for c in found["cdrs"]] == ["2025-10-14T08:01:00Z"]
    assert found["cdrs"][0]["extra"] == {"origin": "bulk"} and found["cdrs"][0]["source"] == "api"
    bad = {"switch_id": "sw1", "cdrs": [bulk_record(0), {**bulk_record(1), "start_time": "14/10/2025"}]}
    response = await web.post("/api/v1/cdrs", json=bad, headers=admin)
    error = await response.json()
    assert response.status == 400 and error["details"] == {"field": "cdrs[1].start_time"}, error
    backwards = {**bulk_record(7), "end_time": "2025-10-14T07:00:00Z"}  # well-typed, but ends before it starts
    mixed = await web.post(
        "/api/v1/cdrs", json={"switch_id": "sw1", "cdrs": [bulk_record(6), backwards]}, headers=admin
    )
    outcome = await mixed.json()
    assert (outcome["accepted"], outcome["rejected"]) == (1, 1), outcome
    assert outcome["rejects"][0]["index"] == 1 and "end" in outcome["rejects"][0]["reason"]
    unknown = await web.post("/api/v1/cdrs", json={"switch_id": "nope", "cdrs": [bulk_record(0)]}, headers=admin)
    assert unknown.status == 404
    too_many = await web.post("/api/v1/cdrs", json={"switch_id": "sw1", "cdrs": [{}] * 10_001}, headers=admin)
    assert too_many.status == 400 and (await too_many.json())["details"] == {"field": "cdrs"}


async def test_pages_need_a_login(web: TestClient[Any, Any]) -> None:
    for path in ("/cdrs", "/cdrs/export", "/cdrs/x"):
        response = await web.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].startswith("/login?next=")
    assert (await web.get("/api/v1/cdrs")).status == 401


async def test_a_switch_may_bulk_create_its_own_cdrs_with_its_push_credentials(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await asyncio.to_thread(
        ingest.service.upsert_switch, SwitchConfig(id="sw1", name="Berlin edge", home_country="DE"), "sw1-push-key"
    )
    own = {"Authorization": "Basic " + base64.b64encode(b"sw1:sw1-push-key").decode()}
    body = {"switch_id": "sw1", "cdrs": [bulk_record(i) | {"uuid": f"by-switch-{i}"} for i in range(2)]}
    created = await web.post("/api/v1/cdrs", json=body, headers=own)
    assert created.status == 200, await created.text()
    assert (await created.json())["accepted"] == 2
    other = await web.post("/api/v1/cdrs", json={**body, "switch_id": "sw2"}, headers=own)
    assert other.status == 403 and (await other.json())["details"]["field"] == "switch_id"
    wrong = {"Authorization": "Basic " + base64.b64encode(b"sw1:not-the-key").decode()}
    assert (await web.post("/api/v1/cdrs", json=body, headers=wrong)).status == 401
    # the push key opens nothing else
    assert (await web.get("/api/v1/cdrs", headers=own)).status == 401


async def test_raw_cdr_times_are_shown_in_the_viewers_own_zone(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    store = web.app[keys.STORE]
    cust = next(u for u in await asyncio.to_thread(store.list_users) if u.username == "cust")
    await asyncio.to_thread(store.update_user, cust.id, time_zone="Asia/Kolkata")
    await login(web, "cust", CUSTOMER_PASSWORD)
    own = ingest.visible("acme")[0]
    text = await (await web.get(f"/cdrs/{own['id']}")).text()
    kolkata = datetime.datetime.fromtimestamp(own["start_time_us"] / 1e6, tz=zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert kolkata.strftime("%Y-%m-%d %H:%M:%S") in text and "Asia/Kolkata" in text
