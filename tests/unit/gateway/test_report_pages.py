"""Report pages, /api/v1/reports/*, the dashboard's and live calls' SSE, against real in-process services.

Reporting is the real ReportingServicer over a SQLite roll-up store fed the same CDRs
ingest stored (as the cdrs_ingested event would); ingest is the real servicer too.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import jsonschema
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, CUSTOMER_PASSWORD, login
from pages_testkit import BASE_US, DAY_US, IngestBackend, make_cdrs, start_ingest

from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port
from cdrstats_gateway import keys, openapi, report_rpc, views_reports
from cdrstats_gateway.app import create_app
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.ingest_client import IngestClient
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

NOW_US = BASE_US + 2 * DAY_US - 3_600_000_000  # the last hour of the second day
RANGE = "start=2025-10-09&end=2025-10-10"


@pytest.fixture
async def ingest(tmp_path: pathlib.Path) -> AsyncIterator[IngestBackend]:
    backend = await start_ingest(tmp_path, free_port(), make_cdrs())
    yield backend
    await backend.server.stop(None)


@pytest.fixture
async def reporting(tmp_path: pathlib.Path, ingest: IngestBackend) -> AsyncIterator[tuple[str, ReportingService]]:
    store = SqliteRollupStore.open(tmp_path / "reporting.db")
    service = ReportingService(store, clock=lambda: NOW_US)
    service.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": ingest.cdrs}))
    server = grpc.aio.server()
    servicer = ReportingServicer(service, IngestClient(ingest.address))
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", service
    await server.stop(None)
    store.close()


@pytest.fixture
async def web(
    aiohttp_client: Any, ingest: IngestBackend, reporting: tuple[str, ReportingService], tmp_path: pathlib.Path
) -> TestClient[Any, Any]:
    settings = GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        ingest_grpc_addr=ingest.address,
        reporting_grpc_addr=reporting[0],
        alerting_grpc_addr=ingest.address,
        notify_grpc_addr=ingest.address,
        admin_password=ADMIN_PASSWORD,
        cookie_secure=False,
    )
    client: TestClient[Any, Any] = await aiohttp_client(await create_app(settings))
    await asyncio.to_thread(client.app[keys.STORE].create_user, "cust", CUSTOMER_PASSWORD, "customer", ("acme",))
    return client


async def bearer(client: TestClient[Any, Any], username: str) -> dict[str, str]:
    store = client.app[keys.STORE]
    users = {u.username: u for u in await asyncio.to_thread(store.list_users)}
    raw, _ = await asyncio.to_thread(store.create_api_token, users[username].id, "test")
    return {"Authorization": f"Bearer {raw}"}


async def next_event(response: ClientResponse) -> tuple[str, Any]:
    """Read one SSE event (skipping keepalive comments)."""
    event, data = "", ""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif not line and event:
            return event, json.loads(data)


async def test_every_report_page_and_endpoint_answers_with_the_scope_applied(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "admin", ADMIN_PASSWORD)
    headers = await bearer(web, "cust")
    for name in report_rpc.REPORTS:
        query = RANGE if "start" in report_rpc.REPORTS[name].params else "date=2025-10-10&month=2025-10"
        page = await web.get(f"/reports/{name}?{query}")
        html = await page.text()
        assert page.status == 200, (name, html[-500:])
        assert 'id="report-data"' in html and "<script>" not in html
        api = await web.get(f"/api/v1/reports/{name}?{query}", headers=headers)
        assert api.status == 200, (name, await api.text())
    document = openapi.build_document(web.app)
    for name in report_rpc.REPORTS:
        query = RANGE if "start" in report_rpc.REPORTS[name].params else "date=2025-10-10&month=2025-10"
        operation = document["paths"][f"/api/v1/reports/{name}"]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        body = await (await web.get(f"/api/v1/reports/{name}?{query}", headers=headers)).json()
        jsonschema.validate(body, schema)  # the documented shape is the served shape
        documented = {p["name"] for p in operation["parameters"]}
        assert {"switch", "accountcode"} <= documented and set(report_rpc.REPORTS[name].params) - {
            "search"
        } <= documented
    daily = await (await web.get(f"/api/v1/reports/daily?{RANGE}", headers=headers)).json()
    acme = ingest.visible("acme")
    assert daily["totals"]["attempts"] == len(acme) and [d["label"] for d in daily["days"]] == [
        "2025-10-09",
        "2025-10-10",
    ]
    assert daily["days"][0]["start"] == "2025-10-09T00:00:00Z"
    assert sum(d["stats"]["answered"] for d in daily["days"]) == sum(c["answered"] for c in acme)


async def test_report_by_day_takes_the_search_filters(web: TestClient[Any, Any], ingest: IngestBackend) -> None:
    headers = await bearer(web, "admin")
    body = await (await web.get(f"/api/v1/reports/daily?{RANGE}&destination=%2B4930", headers=headers)).json()
    expected = [c for c in ingest.cdrs if c["destination_number"].startswith("+4930")]
    assert body["totals"]["attempts"] == len(expected) > 0 and body["source"] == "search"


async def test_country_report_names_countries_for_the_world_map(
    web: TestClient[Any, Any], ingest: IngestBackend
) -> None:
    await login(web, "admin", ADMIN_PASSWORD)
    html = await (await web.get(f"/reports/countries?{RANGE}")).text()
    assert 'data-atlas="/static/vendor/countries-110m.json"' in html and "topojson-client.min.js" in html
    headers = await bearer(web, "admin")
    body = await (await web.get(f"/api/v1/reports/countries?{RANGE}", headers=headers)).json()
    by_country = {c["country"]: c for c in body["countries"]}
    germany = [c for c in ingest.cdrs if c["country"] == "DE"]
    assert by_country["DE"]["stats"]["attempts"] == len(germany) > 0
    assert (by_country["DE"]["country_name"], by_country["DE"]["iso_numeric"]) == ("Germany", "276")
    atlas = json.loads(
        (pathlib.Path(views_reports.STATIC_DIR) / "vendor" / "countries-110m.json").read_text(encoding="utf-8")
    )
    ids = {g.get("id") for g in atlas["objects"]["countries"]["geometries"]}
    assert {c["iso_numeric"] for c in body["countries"] if c["iso_numeric"]} <= ids  # every country finds its shape


async def test_bad_report_parameters_and_foreign_account_codes(web: TestClient[Any, Any]) -> None:
    headers = await bearer(web, "cust")
    for query, field in (
        ("start=2025-13-01", "start"),
        ("start=2025-10-09&end=2025-10-01", "end"),
        ("metric=profit", "metric"),
        ("granularity=hour&start=2025-10-01&end=2025-10-09", "granularity"),
        ("months=0", "months"),
    ):
        response = await web.get(f"/api/v1/reports/overview?{query}", headers=headers)
        body = await response.json()
        assert response.status == 400 and body["details"] == {"field": field}, (query, body)
    foreign = await web.get(f"/api/v1/reports/daily?{RANGE}&accountcode=globex", headers=headers)
    assert foreign.status == 403 and (await foreign.json())["error"] == "forbidden"
    await login(web, "cust", CUSTOMER_PASSWORD)
    page = await web.get("/reports/daily?start=yesterday")
    assert page.status == 400 and "start: a date YYYY-MM-DD" in await page.text()


async def test_dashboard_refreshes_over_sse(
    web: TestClient[Any, Any], ingest: IngestBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views_reports, "DASHBOARD_REFRESH_S", 0.05)
    await login(web, "cust", CUSTOMER_PASSWORD)
    page = await (await web.get("/dashboard")).text()
    assert 'data-events="/dashboard/events"' in page and 'data-live-metric="ner"' in page
    async with web.get("/dashboard/events?switch=sw1") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await next_event(response)
        second = await next_event(response)
    assert first[0] == second[0] == "dashboard"
    window = [c for c in ingest.visible("acme") if c["switch_id"] == "sw1" and c["start_time_us"] > NOW_US - DAY_US]
    assert first[1]["attempts"] == len(window) and len(first[1]["labels"]) == len(first[1]["hour_labels"]) == 24
    countries = {c["country"]: c for c in first[1]["top_countries"]}
    assert sum(c["stats"]["attempts"] for c in countries.values()) == len(window)
    assert "DE" not in countries or countries["DE"]["country_name"] == "Germany"
    causes = {c["hangup_cause"]: c for c in first[1]["hangup_causes"]}
    assert causes[16]["cause_name"] == "Normal clearing" and causes[16]["attempts"] == sum(
        c["hangup_cause"] == 16 for c in window
    )


def call_state(uuid: str, event: str, accountcode: str, time_us: int) -> dict[str, Any]:
    data = {"switch_id": "sw1", "uuid": uuid, "event": event, "time_us": time_us, "accountcode": accountcode}
    return make_envelope("call_state", "ingest", {**data, "destination_number": "+4930999", "country": "DE"})


async def test_live_calls_stream_snapshots_as_calls_change(
    web: TestClient[Any, Any], reporting: tuple[str, ReportingService]
) -> None:
    service = reporting[1]
    service.apply_call_state_event(call_state("live-1", "started", "acme", NOW_US - 5_000_000))
    service.apply_call_state_event(call_state("live-2", "started", "globex", NOW_US - 4_000_000))
    await login(web, "cust", CUSTOMER_PASSWORD)
    page = await web.get("/reports/live")
    assert 'data-events="/reports/live/events"' in await page.text()
    async with web.get("/reports/live/events") as response:
        event, snapshot = await next_event(response)
        assert event == "live" and [c["uuid"] for c in snapshot["calls"]] == ["live-1"]
        service.apply_call_state_event(call_state("live-3", "started", "acme", NOW_US - 1_000_000))
        service.apply_call_state_event(call_state("live-1", "answered", "acme", NOW_US - 500_000))
        for _ in range(5):
            event, snapshot = await next_event(response)
            if snapshot["total"] == 2 and snapshot["answered"] == 1:
                break
    assert sorted(c["uuid"] for c in snapshot["calls"]) == ["live-1", "live-3"]
