"""Every route of the app, tried as anonymous, as customer B against customer A's objects, and as admin.

The routes come from the app's router, so a new page or endpoint is tried without
editing this file (a new path parameter needs a sample in ``SAMPLES``). Back ends:
the real ingest and reporting servicers in process (CDRs of three account codes)
and, for the switch registry and imports, the in-memory PlatformServices.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from alarms_testkit import alerting_backend, recent_cdrs
from control_testkit import TenantAData, add_tenant_a_data, notify_backend
from gateway_testkit import ADMIN_PASSWORD
from pages_testkit import BASE_US, DAY_US, IngestBackend, make_cdrs, start_ingest
from platform_testkit import PASSWORD_A, PASSWORD_B, PlatformServices, Tenants, add_tenants, basic, logged_in

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port
from cdrstats_gateway import keys
from cdrstats_gateway.app import create_app
from cdrstats_gateway.clients import ServiceClients
from cdrstats_gateway.ingest_admin import IngestAdmin
from cdrstats_gateway.openapi import DOCUMENT
from cdrstats_gateway.rest_imports import IMPORTS
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.ingest_client import IngestClient
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

NOW_US = BASE_US + 2 * DAY_US - 3_600_000_000
PUBLIC = {"index", "login", "login_post", "logout", "healthz", "livez", "readyz", "static", "openapi"}
SSE = {"dashboard_events", "live_events"}
ADMIN_PAGES = re.compile(r"^/(admin|import)(/|$)")
PLATFORM_CALLS = {name for name in dir(IngestAdmin) if not name.startswith("_")}
CDR_RANGE = "from=2025-10-01&to=2025-11-01"
REPORT_RANGE = "start=2025-10-09&end=2025-10-10"


def with_data_range(template: str, url: str) -> str:
    """Lists default to recent times; ask for the days the test CDRs are on, so a leak would show."""
    if template in ("/cdrs", "/cdrs/export", "/api/v1/cdrs", "/api/v1/cdrs/export"):
        return f"{url}?{CDR_RANGE}"
    if (
        template.startswith(("/reports/", "/api/v1/reports/"))
        and "live" not in template
        and "dashboard" not in template
    ):
        return f"{url}?{REPORT_RANGE}"
    return url


class Combined:
    """Platform calls to the in-memory registry, every other call to the real services."""

    def __init__(self, real: ServiceClients, platform: PlatformServices) -> None:
        self.real, self.platform = real, platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self.platform if name in PLATFORM_CALLS else self.real, name)


@dataclasses.dataclass
class World:
    client: TestClient[Any, Any]
    tenants: Tenants
    samples: dict[str, str]
    a_cdr_ids: list[str]
    a_token: str
    #: only customer A's data carries these: its account code, its CDR ids and calling numbers
    a_markers: tuple[str, ...]
    #: customer A's alarm, in the real alerting servicer (its scope names "acme")
    a_alarm: alerting_pb2.Alarm
    alerting: Any
    #: customer A's list entry, geo rule, hits, mail report, contacts and delivery (C2)
    control: TenantAData | None = None


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[World]:
    ingest: IngestBackend = await start_ingest(tmp_path, free_port(), make_cdrs())
    rollups = SqliteRollupStore.open(tmp_path / "reporting.db")
    reporting = ReportingService(rollups, clock=lambda: NOW_US)
    reporting.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": ingest.cdrs}))
    server = grpc.aio.server()
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(
        ReportingServicer(reporting, IngestClient(ingest.address)), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    stack = contextlib.AsyncExitStack()
    alerting = await stack.enter_async_context(alerting_backend(tmp_path, recent_cdrs(int(time.time() * 1e6))))
    notify = await stack.enter_async_context(notify_backend(tmp_path, address, ingest.address))
    settings = GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        ingest_grpc_addr=ingest.address,
        reporting_grpc_addr=address,
        alerting_grpc_addr=alerting.address,
        notify_grpc_addr=notify.address,
        admin_password=ADMIN_PASSWORD,
        cookie_secure=False,
    )
    real = ServiceClients.from_settings(settings)
    client: TestClient[Any, Any] = await aiohttp_client(
        await create_app(settings, clients=Combined(real, PlatformServices()))
    )  # type: ignore[arg-type]
    tenants = await add_tenants(client)
    await alerting.set_tenant(tenants.a_customer, ["acme"])
    await alerting.set_tenant(tenants.b_customer, ["globex", "initech"])
    a_alarm = await alerting.create(
        f"customer:{tenants.a_customer}",
        name="A-only alarm",
        scope=alerting_pb2.AlarmScope(kind="accountcode", value="acme"),
    )
    control = await add_tenant_a_data(client, alerting.stub, alerting.store, notify, tenants, ingest)
    store = client.app[keys.STORE]
    a_token, token = await asyncio.to_thread(store.create_api_token, tenants.a.id, "a's token")
    admin = next(u for u in await asyncio.to_thread(store.list_users) if u.is_admin)
    job = client.app[IMPORTS].create(admin.id)
    a_cdrs = [c["id"] for c in ingest.visible("acme")]
    samples = {
        "cdrs/{id}": a_cdrs[0],
        "tokens/{id}": str(token.id),
        "users/{id}": str(tenants.a.id),
        "customers/{id}": str(tenants.a_customer),
        "switches/{id}": "sw1",
        "jobs/{id}": job.id,
        "imports/{id}": job.id,
        "mapping-profiles/{name}": "p1",
        "rejects/{id}": "r1",
        "alarms/{id}": a_alarm.id,
        **control.samples,
    }
    callers = tuple(c["caller_id_number"].lstrip("+") for c in ingest.visible("acme"))
    markers = ("acme", "A-only alarm", *a_cdrs, *callers, *control.markers)
    yield World(client, tenants, samples, a_cdrs, a_token, markers, a_alarm, alerting, control)
    await real.close()
    await stack.aclose()
    await server.stop(None)
    await ingest.server.stop(None)
    rollups.close()


def routes(world: World) -> list[tuple[str, str, str, str]]:
    """(method, template, concrete url, route name) for every route but HEAD and static files."""
    found = []
    for route in world.client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("path") or info.get("formatter") or ""
        if route.method == "HEAD" or route.name == "static" or not template:
            continue
        url = template
        for param in re.findall(r"{\w+}", template):
            key = next((k for k in world.samples if template.endswith(k) or f"{k}/" in template), None)
            assert key is not None, f"add a sample for {param} of {template} to the isolation test"
            url = url.replace(param, world.samples[key])
        found.append((route.method, template, with_data_range(template, url), route.name or ""))
    return found


def admin_only(world: World, method: str, template: str) -> bool:
    if ADMIN_PAGES.match(template):
        return True
    spec = world.client.app[DOCUMENT]["paths"].get(template, {}).get(method.lower(), {})
    return bool(spec.get("x-admin-only"))


async def fetch(client: TestClient[Any, Any], method: str, url: str, name: str, **kwargs: Any) -> tuple[int, str, str]:
    """Status, body (the first chunk of an event stream) and Location."""
    response = await client.request(method, url, allow_redirects=False, **kwargs)
    try:
        if name in SSE and response.status == 200:
            body = (await asyncio.wait_for(response.content.readany(), 10)).decode()
        else:
            body = await response.text()
    finally:
        response.close()
    return response.status, body, response.headers.get("Location", "")


async def test_anonymous_gets_401_from_the_api_and_the_login_page_elsewhere(world: World) -> None:
    problems = []
    for method, template, url, name in routes(world):
        if name in PUBLIC:
            continue
        status, body, location = await fetch(world.client, method, url, name)
        if template.startswith("/api/"):
            ok = status == 401 and '"unauthenticated"' in body
        else:
            ok = status == 303 and location.startswith("/login")
        if not ok:
            problems.append(f"{method} {url}: {status} {location}")
    assert problems == []


async def test_customer_b_never_sees_or_changes_customer_a(world: World) -> None:
    client = world.client
    csrf = await logged_in(client, "bob", PASSWORD_B)
    bob_api = basic("bob", PASSWORD_B)
    problems = []
    for method, template, url, name in routes(world):
        if name in PUBLIC:
            continue
        api = template.startswith("/api/")
        kwargs: dict[str, Any] = {"headers": bob_api} if api else {}
        if method != "GET" and not api:
            kwargs["data"] = {"csrf_token": csrf}
        elif method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = {}
        status, body, _ = await fetch(client, method, url, name, **kwargs)
        shown = body.replace(url.split("/")[-1], "<asked id>")  # a 404 may name the id it was asked for
        leaked = any(marker in shown for marker in world.a_markers)
        if admin_only(world, method, template):
            expected_ok = status == 403
        elif ("{id}" in template and template.endswith(("cdrs/{id}", "tokens/{id}"))) or "/alarms/{id}" in template:
            expected_ok = status == 404  # A's CDR, token, or any read, change, test and delete of A's alarm
        else:
            expected_ok = status < 500 and status not in (401, 403)
        if leaked or not expected_ok:
            problems.append(f"{method} {url}: {status}{' LEAKS customer A' if leaked else ''}")
    assert problems == []
    store = client.app[keys.STORE]
    assert await asyncio.to_thread(store.user_for_api_token, world.a_token), "A's token survived B's DELETE"
    assert (await asyncio.to_thread(store.require_user, world.tenants.a.id)).accountcodes == ("acme",)
    admin_ref = alerting_pb2.AlarmRef(scope=alerting_pb2.Scope(admin=True), id=world.a_alarm.id)
    kept = await world.alerting.stub.GetAlarm(admin_ref)
    assert (kept.name, kept.threshold, kept.enabled) == ("A-only alarm", 40, True), "B changed A's alarm"
    assert world.control is not None
    await world.control.assert_untouched()


async def test_customer_a_sees_their_own_data_through_the_same_urls(world: World) -> None:
    """The positive control: the leak check above would have caught A's data."""
    alice = basic("alice", PASSWORD_A)
    for url in (
        f"/api/v1/cdrs?{CDR_RANGE}",
        f"/api/v1/cdrs/{world.a_cdr_ids[0]}",
        f"/api/v1/cdrs/export?format=jsonl&{CDR_RANGE}",
        "/api/v1/alarms",
        f"/api/v1/alarms/{world.a_alarm.id}",
        *(world.control.api_urls if world.control else ()),
    ):
        response = await world.client.get(url, headers=alice)
        assert response.status == 200 and "acme" in await response.text(), url
    await logged_in(world.client, "alice", PASSWORD_A)
    for url in (
        f"/cdrs?{CDR_RANGE}",
        f"/cdrs/{world.a_cdr_ids[0]}",
        "/account",
        f"/alarms/{world.a_alarm.id}",
        *(world.control.page_urls if world.control else ()),
    ):
        response = await world.client.get(url)
        text = await response.text()
        assert response.status == 200 and "acme" in text, url


async def test_customer_b_cannot_watch_customer_a_account_codes(world: World) -> None:
    """An alarm (saved or tested) scoped to A's code would measure A's calls: refused, through API and form."""
    bob = basic("bob", PASSWORD_B)
    definition = {
        "name": "peek",
        "metric": "asr",
        "scope": {"kind": "accountcode", "value": "acme"},
        "window": "last_hour",
        "condition": "lt",
        "threshold": 40,
    }
    for url in ("/api/v1/alarms", "/api/v1/alarms/test"):
        response = await world.client.post(url, json=definition, headers=bob)
        assert response.status == 400 and (await response.json())["details"] == {"field": "scope.value"}, url
    csrf = await logged_in(world.client, "bob", PASSWORD_B)
    form = {
        "csrf_token": csrf,
        "name": "peek",
        "metric": "asr",
        "scope_kind": "accountcode",
        "scope_value_accountcode": "acme",
        "window": "last_hour",
        "condition": "lt",
        "threshold": "40",
    }
    for action in ("save", "test"):
        response = await world.client.post("/alarms/new", data={**form, "action": action}, allow_redirects=False)
        assert response.status == 400 and 'id="error-scope"' in await response.text(), action
    admin_view = alerting_pb2.ListAlarmsRequest(scope=alerting_pb2.Scope(admin=True))
    assert [a.id for a in (await world.alerting.stub.ListAlarms(admin_view)).alarms] == [world.a_alarm.id]


async def test_admin_reaches_every_route(world: World) -> None:
    client = world.client
    csrf = await logged_in(client, "admin", ADMIN_PASSWORD)
    admin_api = basic("admin", ADMIN_PASSWORD)
    problems = []
    for method, template, url, name in routes(world):
        if name in PUBLIC or method != "GET":
            continue  # writes are covered by the handler tests; here: nothing is refused or broken
        kwargs: dict[str, Any] = {"headers": admin_api} if template.startswith("/api/") else {}
        status, _, _ = await fetch(client, method, url, name, **kwargs)
        if status in (401, 403) or status >= 500:
            problems.append(f"{method} {url}: {status}")
    assert problems == []
    assert csrf
    assert web.HTTPOk.status_code == 200
