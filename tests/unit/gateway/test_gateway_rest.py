"""REST /api/v1 through the factory: bearer tokens, HTTP basic, 401/404 bodies, scope pass-through."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, CUSTOMER_PASSWORD, InMemoryServices, visible, window

from cdrstats_common import metrics
from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import Scope

DASHBOARD = "/api/v1/reports/dashboard"


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(username, password)}


def expected_json(services: InMemoryServices, scope: Scope, switch_id: str | None = None) -> dict[str, Any]:
    """Brute force from the raw CDRs with cdrstats_common.metrics."""
    start, end = window()
    cdrs = visible(services.cdrs, scope, switch_id)
    totals = metrics.Totals()
    for cdr in cdrs:
        totals.add_cdr(cdr)
    hours = []
    for hour in range(start, end, 3_600_000_000):
        bucket = metrics.Totals()
        for cdr in cdrs:
            if hour <= cdr["start_time_us"] < hour + 3_600_000_000:
                bucket.add_cdr(cdr)
        hours.append(
            {
                "start": rfc3339(hour),
                "attempts": bucket.attempts,
                "answered": bucket.answered,
                "minutes": bucket.minutes,
            }
        )
    return {
        "window": {"start": rfc3339(start), "end": rfc3339(end)},
        "attempts": totals.attempts,
        "answered": totals.answered,
        "asr": totals.asr,
        "acd": totals.acd,
        "minutes": totals.minutes,
        "ach": totals.attempts / 24,
        "hours": hours,
    }


async def test_dashboard_with_basic_auth(client: TestClient[Any, Any], services: InMemoryServices) -> None:
    response = await client.get(DASHBOARD, headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 200
    body = await response.json()
    assert body == expected_json(services, Scope(admin=True))
    assert body["attempts"] > 0 and body["window"]["start"].endswith("Z")
    assert services.calls == [(Scope(admin=True), None)]


async def test_dashboard_with_a_bearer_token_and_a_switch(
    client: TestClient[Any, Any], services: InMemoryServices
) -> None:
    store = client.app[keys.STORE]
    admin = await asyncio.to_thread(store.authenticate, "admin", ADMIN_PASSWORD)
    token, record = await asyncio.to_thread(store.create_api_token, admin.id, "ci")
    response = await client.get(f"{DASHBOARD}?switch=sw2", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert await response.json() == expected_json(services, Scope(admin=True), "sw2")
    assert services.calls[-1] == (Scope(admin=True), "sw2")
    listed = await asyncio.to_thread(store.list_api_tokens, admin.id)
    assert listed[0].id == record.id and listed[0].last_used_at is not None


async def test_customer_gets_only_their_account_codes(client: TestClient[Any, Any], services: InMemoryServices) -> None:
    store = client.app[keys.STORE]
    await asyncio.to_thread(store.create_user, "cust", CUSTOMER_PASSWORD, "customer", ["acme", "initech"])
    response = await client.get(DASHBOARD, headers=basic("cust", CUSTOMER_PASSWORD))
    scope = Scope(admin=False, accountcodes=("acme", "initech"))
    assert services.calls[-1] == (scope, None)
    body = await response.json()
    assert body == expected_json(services, scope)
    assert body["attempts"] < expected_json(services, Scope(admin=True))["attempts"]


async def test_unauthenticated_is_401_json_with_a_basic_challenge(client: TestClient[Any, Any]) -> None:
    for headers in (
        {},
        basic("admin", "wrong"),
        {"Authorization": "Bearer cdrs_unknown"},
        {"Authorization": "Basic %%%"},
    ):
        response = await client.get(DASHBOARD, headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Basic realm="cdr-stats"'
        body = await response.json()
        assert body["error"] == "unauthenticated" and body["message"] and body["details"] == {}


async def test_a_session_cookie_is_not_api_authentication(client: TestClient[Any, Any]) -> None:
    from gateway_testkit import login

    await login(client, "admin", ADMIN_PASSWORD)
    assert (await client.get(DASHBOARD)).status == 401


async def test_basic_auth_is_throttled_too(client: TestClient[Any, Any]) -> None:
    for _ in range(5):
        assert (await client.get(DASHBOARD, headers=basic("admin", "wrong"))).status == 401
    response = await client.get(DASHBOARD, headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 429
    assert (await response.json())["error"] == "too_many_requests"


async def test_unknown_api_paths_are_json_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/nothing/here", headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 404
    body = await response.json()
    assert body["error"] == "not_found" and set(body) == {"error", "message", "details"}
    response = await client.post(DASHBOARD, headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 405
    assert (await response.json())["error"] == "method_not_allowed"


async def test_service_errors_map_to_http_once(client: TestClient[Any, Any], services: InMemoryServices) -> None:
    services.error = ServiceError(403, "forbidden", "reporting: a customer scope needs account codes")
    response = await client.get(DASHBOARD, headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 403
    assert await response.json() == {
        "error": "forbidden",
        "message": "reporting: a customer scope needs account codes",
        "details": {},
    }


async def test_an_overlong_switch_id_is_400(client: TestClient[Any, Any]) -> None:
    response = await client.get(f"{DASHBOARD}?switch={'x' * 200}", headers=basic("admin", ADMIN_PASSWORD))
    assert response.status == 400
    assert (await response.json())["details"] == {"field": "switch"}
