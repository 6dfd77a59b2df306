"""REST API of the platform through the factory: me, password, tokens, users, customers, switches, imports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PlatformServices, add_tenants, basic

from cdrstats_gateway import keys

ADMIN = basic("admin", ADMIN_PASSWORD)


@pytest.fixture
def services() -> PlatformServices:
    return PlatformServices()


async def test_me_settings_and_password_change(client: TestClient[Any, Any]) -> None:
    tenants = await add_tenants(client)
    alice = basic("alice", PASSWORD_A)
    me = await (await client.get("/api/v1/me", headers=alice)).json()
    assert me["accountcodes"] == ["acme"] and me["customer_name"] == "Acme" and me["role"] == "customer"
    assert me["created_at"].endswith("Z")
    bad = await client.patch("/api/v1/me", json={"time_zone": "Mars/Base"}, headers=alice)
    assert bad.status == 400 and (await bad.json())["details"] == {"field": "time_zone"}
    ok = await client.patch("/api/v1/me", json={"time_zone": "Europe/Paris", "email": "a@acme.example"}, headers=alice)
    assert (await ok.json())["time_zone"] == "Europe/Paris"
    wrong = await client.post(
        "/api/v1/me/password", json={"current_password": "nope", "new_password": "new-password-1"}, headers=alice
    )
    assert wrong.status == 403 and (await wrong.json())["details"]["field"] == "current_password"
    changed = await client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD_A, "new_password": "new-password-1"}, headers=alice
    )
    assert changed.status == 204
    assert (await client.get("/api/v1/me", headers=alice)).status == 401
    assert (await client.get("/api/v1/me", headers=basic("alice", "new-password-1"))).status == 200
    assert tenants.a.id == me["id"]


async def test_guessing_the_current_password_is_throttled_like_a_login(client: TestClient[Any, Any]) -> None:
    """A stolen token or session must not allow unlimited guesses of the current password."""
    await add_tenants(client)
    store = client.app[keys.STORE]
    alice_user = next(u for u in await asyncio.to_thread(store.list_users) if u.username == "alice")
    raw, _ = await asyncio.to_thread(store.create_api_token, alice_user.id, "stolen")
    stolen = {"Authorization": f"Bearer {raw}"}

    async def change(current: str) -> Any:
        body = {"current_password": current, "new_password": "new-password-1"}
        return await client.post("/api/v1/me/password", json=body, headers=stolen)

    for attempt in range(5):
        assert (await change(f"guess-{attempt}")).status == 403
    throttled = await change(PASSWORD_A)  # even the right one: the key is blocked
    assert throttled.status == 429 and int(throttled.headers["Retry-After"]) > 0
    assert "current_password" in (await throttled.json())["message"]
    assert await asyncio.to_thread(store.authenticate, "alice", PASSWORD_A) is not None, "password unchanged"


async def test_switch_keys_on_the_bulk_route_cannot_be_guessed_past_the_throttle(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    services.passwords["sw1"] = "the-real-key"
    assert (await client.post("/api/v1/cdrs", json={"cdrs": []}, headers=basic("sw1", "the-real-key"))).status != 401
    for attempt in range(5):
        wrong = await client.post("/api/v1/cdrs", json={"cdrs": []}, headers=basic("sw1", f"guess-{attempt}"))
        assert wrong.status == 401
    # throttled: even the right key is not tried any more
    blocked = await client.post("/api/v1/cdrs", json={"cdrs": []}, headers=basic("sw1", "the-real-key"))
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0


async def test_tokens_create_list_use_and_revoke(client: TestClient[Any, Any]) -> None:
    await add_tenants(client)
    alice = basic("alice", PASSWORD_A)
    created = await client.post("/api/v1/tokens", json={"name": "ci"}, headers=alice)
    assert created.status == 201
    body = await created.json()
    token, record = body["token"], body["record"]
    assert token.startswith(record["prefix"]) and record["revoked"] is False
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await (await client.get("/api/v1/me", headers=bearer)).json())["username"] == "alice"
    listed = await (await client.get("/api/v1/tokens", headers=alice)).json()
    assert [t["id"] for t in listed] == [record["id"]] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    bob_revokes = await client.delete(f"/api/v1/tokens/{record['id']}", headers=basic("bob", "customer-b-password"))
    assert bob_revokes.status == 404, "another user's token id looks unknown"
    assert (await client.delete(f"/api/v1/tokens/{record['id']}", headers=alice)).status == 204
    assert (await client.get("/api/v1/me", headers=bearer)).status == 401
    assert (await client.post("/api/v1/tokens", json={"name": ""}, headers=alice)).status == 400


async def test_admin_manages_customers_and_users_with_cursor_pages(client: TestClient[Any, Any]) -> None:
    made = await client.post("/api/v1/customers", json={"name": "Acme", "accountcodes": ["a1", "a2"]}, headers=ADMIN)
    assert made.status == 201
    acme = await made.json()
    clash = await client.post("/api/v1/customers", json={"name": "Other", "accountcodes": ["a2"]}, headers=ADMIN)
    assert clash.status == 409 and "belongs to customer 'Acme'" in (await clash.json())["message"]
    other = await (
        await client.post(
            "/api/v1/customers", json={"name": "Other", "accountcodes": ["a2"], "reassign": True}, headers=ADMIN
        )
    ).json()
    assert other["accountcodes"] == ["a2"]
    assert (await (await client.get(f"/api/v1/customers/{acme['id']}", headers=ADMIN)).json())["accountcodes"] == ["a1"]
    for i in range(3):
        response = await client.post(
            "/api/v1/users",
            json={"username": f"user{i}", "password": "a-long-password", "role": "customer", "customer_id": acme["id"]},
            headers=ADMIN,
        )
        assert response.status == 201, await response.text()
    dup = await client.post(
        "/api/v1/users", json={"username": "user0", "password": "a-long-password", "role": "customer"}, headers=ADMIN
    )
    assert dup.status == 409 and (await dup.json())["details"] == {"field": "username"}
    seen, cursor = [], ""
    while True:
        page = await (
            await client.get(f"/api/v1/users?limit=2{'&cursor=' + cursor if cursor else ''}", headers=ADMIN)
        ).json()
        seen += [u["username"] for u in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == ["admin", "user0", "user1", "user2"]
    assert (await client.get("/api/v1/users?cursor=garbage!", headers=ADMIN)).status == 400
    assert (await client.get("/api/v1/users?limit=0", headers=ADMIN)).status == 400
    user1 = next(
        u
        for u in (await (await client.get("/api/v1/users", headers=ADMIN)).json())["items"]
        if u["username"] == "user1"
    )
    moved = await client.patch(f"/api/v1/users/{user1['id']}", json={"customer_id": other["id"]}, headers=ADMIN)
    assert (await moved.json())["accountcodes"] == ["a2"]
    busy = await client.delete(f"/api/v1/customers/{acme['id']}", headers=ADMIN)
    assert busy.status == 409
    assert (await client.get("/api/v1/users/999999", headers=ADMIN)).status == 404
    assert (await client.get("/api/v1/users/abc", headers=ADMIN)).status == 404


async def test_switch_registry_with_credentials_shown_once(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    body = {
        "id": "fs-paris",
        "name": "Paris",
        "type": "freeswitch",
        "home_country": "fr",
        "time_zone": "Europe/Paris",
        "internal_extension_max_len": 4,
        "remove_prefixes": ["0033", "9"],
        "direction_rules": [{"field": "context", "pattern": "^public", "direction": "inbound"}],
        "connector": {"type": "", "password": "secret-db"},
    }
    created = await client.post("/api/v1/switches", json=body, headers=ADMIN)
    assert created.status == 201, await created.text()
    answer = await created.json()
    assert answer["credentials"]["username"] == "fs-paris" and len(answer["credentials"]["password"]) >= 20
    assert services.passwords["fs-paris"] == answer["credentials"]["password"]
    stored = answer["switch"]
    assert stored["home_country"] == "FR" and stored["remove_prefixes"] == ["0033", "9"]
    assert "password" not in stored["connector"]
    assert (await client.post("/api/v1/switches", json=body, headers=ADMIN)).status == 409
    bad = await client.put("/api/v1/switches/fs-paris", json={**body, "remove_prefixes": ["12a"]}, headers=ADMIN)
    assert bad.status == 400 and (await bad.json())["details"]["field"] == "remove_prefixes[0]"
    disabled = await client.put("/api/v1/switches/fs-paris", json={**body, "enabled": False}, headers=ADMIN)
    assert (await disabled.json())["enabled"] is False
    reset = await (await client.post("/api/v1/switches/fs-paris/password", headers=ADMIN)).json()
    assert services.passwords["fs-paris"] == reset["password"] != answer["credentials"]["password"]
    setup = await (await client.get("/api/v1/switches/fs-paris/setup", headers=ADMIN)).json()
    assert setup["ingest_url"].endswith("/fs-paris")
    assert (await client.delete("/api/v1/switches/fs-paris", headers=ADMIN)).status == 204
    assert (await client.get("/api/v1/switches/fs-paris", headers=ADMIN)).status == 404


async def test_customers_see_switch_names_only(client: TestClient[Any, Any]) -> None:
    await add_tenants(client)
    listed = await (await client.get("/api/v1/switches", headers=basic("alice", PASSWORD_A))).json()
    assert listed == [
        {"id": "sw1", "name": "Switch One", "type": "freeswitch", "enabled": True},
        {"id": "sw2", "name": "Switch Two", "type": "asterisk", "enabled": True},
    ]


async def test_import_streams_the_body_and_reports_the_job(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    data = b"u1,a,b\n,missing uuid\nu3,c,d\n"
    response = await client.post(
        "/api/v1/imports?switch_id=sw1&format=asterisk_csv&file_name=calls.csv", data=data, headers=ADMIN
    )
    assert response.status == 200, await response.text()
    job = await response.json()
    assert job["state"] == "done" and job["progress"] == 100 and job["sent_bytes"] == len(data)
    assert job["result"]["accepted"] == 2 and job["result"]["rejects"] == [
        {"line": 2, "reason": "uuid: expected a value"}
    ]
    assert services.imports[-1][1] == data and services.imports[-1][0].file_name == "calls.csv"
    again = await (await client.get(f"/api/v1/imports/{job['id']}", headers=ADMIN)).json()
    assert again == job
    assert [j["id"] for j in await (await client.get("/api/v1/imports", headers=ADMIN)).json()] == [job["id"]]
    unknown = await client.post("/api/v1/imports?switch_id=nope&format=asterisk_csv", data=data, headers=ADMIN)
    assert unknown.status == 404
    bad = await client.post("/api/v1/imports?switch_id=sw1&format=xls", data=data, headers=ADMIN)
    assert bad.status == 400 and (await bad.json())["details"] == {"field": "format"}


async def test_mapping_profiles(client: TestClient[Any, Any]) -> None:
    profile = {
        "columns": {"uuid": "Call ID", "start_time": "Start"},
        "date_format": "%Y-%m-%d %H:%M:%S",
        "delimiter": ";",
    }
    saved = await client.put("/api/v1/mapping-profiles/billing", json=profile, headers=ADMIN)
    assert (await saved.json())["columns"] == {"uuid": "Call ID", "start_time": "Start"}
    bad = await client.put("/api/v1/mapping-profiles/x", json={"columns": {}}, headers=ADMIN)
    assert bad.status == 400 and (await bad.json())["details"] == {"field": "columns"}
    assert [p["name"] for p in await (await client.get("/api/v1/mapping-profiles", headers=ADMIN)).json()] == [
        "billing"
    ]
    assert (await client.delete("/api/v1/mapping-profiles/billing", headers=ADMIN)).status == 204
    assert (await client.delete("/api/v1/mapping-profiles/billing", headers=ADMIN)).status == 404


async def test_openapi_document_is_public(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    assert (await response.json())["openapi"].startswith("3.1")
    store = client.app[keys.STORE]
    assert await asyncio.to_thread(store.list_users) != []


async def test_rejects_are_listed_and_retried(client: TestClient[Any, Any], services: PlatformServices) -> None:
    await client.post(
        "/api/v1/imports?switch_id=sw2&format=asterisk_csv&file_name=f.csv", data=b",x\n,y\n", headers=ADMIN
    )
    first = await (await client.get("/api/v1/rejects?limit=1", headers=ADMIN)).json()
    assert first["total"] == 2 and len(first["items"]) == 1 and first["next_cursor"]
    assert first["items"][0]["location"] == "line 2 of f.csv" and first["items"][0]["received_at"].endswith("Z")
    second = await (await client.get(f"/api/v1/rejects?limit=1&cursor={first['next_cursor']}", headers=ADMIN)).json()
    assert second["next_cursor"] is None and second["items"][0]["id"] != first["items"][0]["id"]
    retried = await client.post(f"/api/v1/rejects/{first['items'][0]['id']}/retry", json={"raw": "u9,y"}, headers=ADMIN)
    assert await retried.json() == {"status": "accepted", "reason": "", "cdr_id": "cdr-r2"}
    assert (await client.post("/api/v1/rejects/r1/retry", json={"raw": 5}, headers=ADMIN)).status == 400
    assert (await client.get("/api/v1/rejects?limit=0", headers=ADMIN)).status == 400
