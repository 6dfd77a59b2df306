"""Admin, account and import pages through the factory (forms with CSRF, as a browser posts them)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, ClientFactory, login
from platform_testkit import PASSWORD_A, PlatformServices, add_tenants, logged_in

from cdrstats_gateway import keys


@pytest.fixture
def services() -> PlatformServices:
    return PlatformServices()


async def admin_session(client: TestClient[Any, Any]) -> str:
    return await logged_in(client, "admin", ADMIN_PASSWORD)


async def test_customers_and_users_pages(client: TestClient[Any, Any]) -> None:
    csrf = await admin_session(client)
    made = await client.post(
        "/admin/customers",
        data={"name": "Acme", "accountcodes": "a1, a2\na3", "csrf_token": csrf},
        allow_redirects=False,
    )
    assert made.status == 303
    acme_url = made.headers["Location"]
    clash = await client.post("/admin/customers", data={"name": "Beta", "accountcodes": "a3", "csrf_token": csrf})
    assert clash.status == 409 and "belongs to customer" in await clash.text()
    beta = await client.post(
        "/admin/customers", data={"name": "Beta", "accountcodes": "a3", "reassign": "on", "csrf_token": csrf}
    )
    assert beta.status == 200
    acme_page = await (await client.get(acme_url)).text()
    assert "a1\na2</textarea>" in acme_page, "a3 moved to Beta"
    store = client.app[keys.STORE]
    acme_id = int(acme_url.rsplit("/", 1)[1])
    created = await client.post(
        "/admin/users",
        data={
            "username": "carol",
            "password": "short",
            "role": "customer",
            "customer_id": str(acme_id),
            "csrf_token": csrf,
        },
    )
    assert created.status == 400 and "password: 10 to 256 characters" in await created.text()
    created = await client.post(
        "/admin/users",
        data={
            "username": "carol",
            "password": "long-password",
            "role": "customer",
            "customer_id": str(acme_id),
            "csrf_token": csrf,
        },
        allow_redirects=False,
    )
    assert created.status == 303
    carol = next(u for u in await asyncio.to_thread(store.list_users) if u.username == "carol")
    assert carol.accountcodes == ("a1", "a2")
    users_page = await (await client.get("/admin/users")).text()
    assert f'data-user-id="{carol.id}"' in users_page and "a1, a2" in users_page
    promoted = await client.post(
        f"/admin/users/{carol.id}",
        data={"action": "save", "role": "admin", "customer_id": str(acme_id), "csrf_token": csrf},
    )
    assert promoted.status == 200
    assert (await asyncio.to_thread(store.require_user, carol.id)).scope.admin
    reset = await client.post(
        f"/admin/users/{carol.id}", data={"action": "password", "password": "brand-new-pass", "csrf_token": csrf}
    )
    assert "Password set" in await reset.text()
    assert await asyncio.to_thread(store.authenticate, "carol", "brand-new-pass")
    removed = await client.post(
        f"/admin/users/{carol.id}", data={"action": "delete", "csrf_token": csrf}, allow_redirects=False
    )
    assert removed.status == 303 and await asyncio.to_thread(store.get_user, carol.id) is None
    assert (await client.get("/admin/users/99999")).status == 404
    assert (await client.get("/admin/customers/nope")).status == 404


async def test_customers_cannot_open_admin_pages_and_anonymous_go_to_login(client: TestClient[Any, Any]) -> None:
    for path in ("/admin/users", "/admin/customers", "/admin/switches", "/import", "/account", "/api"):
        anonymous = await client.get(path, allow_redirects=False)
        assert anonymous.status == 303 and anonymous.headers["Location"].startswith("/login?next=")
    await add_tenants(client)
    csrf = await logged_in(client, "alice", PASSWORD_A)
    for path in (
        "/admin/users",
        "/admin/customers",
        "/admin/customers/1",
        "/admin/switches",
        "/admin/switches/sw1",
        "/import",
    ):
        assert (await client.get(path)).status == 403, path
    posted = await client.post("/admin/customers", data={"name": "Mine", "accountcodes": "globex", "csrf_token": csrf})
    assert posted.status == 403
    assert [c.name for c in await asyncio.to_thread(client.app[keys.STORE].list_customers)] == ["Acme", "Globex"]
    page = await (await client.get("/account")).text()
    assert "/admin/switches" not in page and "data-accountcodes>acme<" in page


async def test_account_settings_and_password_change(make_client: ClientFactory) -> None:
    client = await make_client()
    await add_tenants(client)
    csrf = await logged_in(client, "alice", PASSWORD_A)
    other = await make_client()  # a second browser of the same user
    await logged_in(other, "alice", PASSWORD_A)
    bad = await client.post("/account/settings", data={"time_zone": "Nowhere/Land", "csrf_token": csrf})
    assert bad.status == 400 and "time_zone: an IANA time zone" in await bad.text()
    saved = await client.post(
        "/account/settings", data={"time_zone": "Asia/Tokyo", "email": "a@acme.example", "csrf_token": csrf}
    )
    assert saved.status == 200 and "Saved." in await saved.text()
    data = {
        "current_password": "wrong-password",
        "new_password": "next-password-1",
        "confirm_password": "next-password-1",
    }
    assert (await client.post("/account/password", data={**data, "csrf_token": csrf})).status == 403
    mismatch = {**data, "current_password": PASSWORD_A, "confirm_password": "other"}
    assert (await client.post("/account/password", data={**mismatch, "csrf_token": csrf})).status == 400
    changed = await client.post("/account/password", data={**data, "current_password": PASSWORD_A, "csrf_token": csrf})
    assert changed.status == 200 and "Password changed" in await changed.text()
    assert (await client.get("/account", allow_redirects=False)).status == 200, "this session stays"
    assert (await other.get("/account", allow_redirects=False)).status == 303, "the other session ended"
    assert (await login(other, "alice", "next-password-1")).status == 303
    await other.close()


async def test_switch_pages_show_credentials_once_and_the_setup(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    csrf = await admin_session(client)
    form = {
        "id": "fs-berlin",
        "name": "Berlin",
        "type": "freeswitch",
        "home_country": "de",
        "time_zone": "Europe/Berlin",
        "internal_extension_max_len": "4",
        "enabled": "on",
        "remove_prefixes": "0049\n9",
        "direction_rules": "context ^public inbound",
        "connector_type": "",
        "connector_columns": "",
        "csrf_token": csrf,
    }
    bad = await client.post("/admin/switches/new", data={**form, "direction_rules": "context ( inbound"})
    assert bad.status == 400 and "direction_rules[0].pattern" in await bad.text()
    created = await client.post("/admin/switches/new", data=form)
    page = await created.text()
    assert created.status == 201
    password = re.search(r"data-switch-password>([^<]+)<", page)
    assert password and services.passwords["fs-berlin"] == password.group(1)
    assert "http://127.0.0.1:8081/v1/freeswitch/fs-berlin" in page and "data-snippet" in page
    stored = services.registry["fs-berlin"]
    assert (stored.home_country, stored.remove_prefixes, stored.internal_extension_max_len) == ("DE", ("0049", "9"), 4)
    again = await (await client.get("/admin/switches/fs-berlin")).text()
    assert password.group(1) not in again and "data-switch-password" not in again
    await client.post("/admin/switches/fs-berlin", data={"action": "disable", "csrf_token": csrf})
    assert services.registry["fs-berlin"].enabled is False
    assert "disabled" in await (await client.get("/admin/switches")).text()
    reset = await (
        await client.post("/admin/switches/fs-berlin", data={"action": "reset_password", "csrf_token": csrf})
    ).text()
    assert services.passwords["fs-berlin"] in reset and services.passwords["fs-berlin"] != password.group(1)
    edited = {**form, "action": "save", "connector_type": "freeswitch_mongodb", "connector_columns": "uuid=_id"}
    await client.post("/admin/switches/fs-berlin", data=edited)
    assert services.registry["fs-berlin"].connector.columns == (("uuid", "_id"),)
    await client.post("/admin/switches/fs-berlin", data={"action": "delete", "csrf_token": csrf})
    assert "fs-berlin" not in services.registry
    assert (await client.get("/admin/switches/fs-berlin")).status == 404


def multipart(fields: dict[str, str], data: bytes, *, csrf_first: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if csrf_first is not None:
        form.add_field("csrf_token", csrf_first)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", data, filename="calls.csv", content_type="text/csv")
    return form


async def test_import_progress_reaches_100_percent(client: TestClient[Any, Any], services: PlatformServices) -> None:
    csrf = await admin_session(client)
    assert 'id="import-form"' in await (await client.get("/import")).text()
    assert '<option value="sw2" selected>' in await (await client.get("/import?switch=sw2")).text()
    job = await (await client.post("/import/jobs", headers={"X-CSRF-Token": csrf})).json()
    assert job["state"] == "waiting" and job["progress"] == 0
    data = b"".join(b"u%05d,caller,callee\n" % i for i in range(20_000))  # 400 kB: several chunks
    services.import_gate = asyncio.Event()
    fields = {"job": job["id"], "size": str(len(data)), "switch_id": "sw1", "format": "asterisk_csv"}
    upload = asyncio.create_task(
        client.post(
            "/import", data=multipart(fields, data), headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
        )
    )
    await asyncio.wait_for(services.first_chunk_seen.wait(), 10)
    running = await (await client.get(job["status_url"])).json()
    assert running["state"] == "uploading" and 0 < running["progress"] < 100
    services.import_gate.set()
    response = await upload
    final = await response.json()
    assert response.status == 200 and final["state"] == "done" and final["progress"] == 100
    assert final["result"]["lines"] == 20_000 and final["sent_bytes"] == len(data)
    assert services.imports[-1][1] == data, "the file reached ingest byte for byte"
    page = await (await client.get(job["page_url"])).text()
    assert 'value="100"' in page and "data-accepted>20,000<" in page


async def test_import_without_script_and_csrf_rules(client: TestClient[Any, Any], services: PlatformServices) -> None:
    csrf = await admin_session(client)
    fields = {"switch_id": "sw2", "format": "generic_csv", "columns": "uuid=1\nstart_time=2", "has_header": "on"}
    no_token = await client.post("/import", data=multipart(fields, b"a,b\n"))
    assert no_token.status == 403
    wrong = await client.post("/import", data=multipart(fields, b"a,b\n"), headers={"X-CSRF-Token": "nope"})
    assert wrong.status == 403
    done = await client.post(
        "/import", data=multipart(fields, b"h1,h2\nx,2026-01-01\n", csrf_first=csrf), allow_redirects=False
    )
    assert done.status == 303
    page = await (await client.get(done.headers["Location"])).text()
    assert "data-lines>2<" in page
    request = services.imports[-1][0]
    assert request.mapping is not None and request.mapping.columns == (("uuid", "1"), ("start_time", "2"))
    saved = await client.post(
        "/import/profiles", data={"name": "billing", "columns": "uuid=Call", "delimiter": ";", "csrf_token": csrf}
    )
    assert saved.status == 200 and services.profiles["billing"].delimiter == ";"
    assert "billing" in await saved.text()


async def test_api_page_lists_operations_for_the_role(client: TestClient[Any, Any]) -> None:
    await add_tenants(client)
    await logged_in(client, "alice", PASSWORD_A)
    page = await (await client.get("/api")).text()
    assert "/api/v1/openapi.json" in page and "/api/v1/me" in page and "/api/v1/users" not in page


async def test_rejected_lines_can_be_corrected_and_retried(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    csrf = await admin_session(client)
    fields = {"switch_id": "sw1", "format": "asterisk_csv"}
    await client.post("/import", data=multipart(fields, b"u1,a\n,broken\nu3,c\n", csrf_first=csrf))
    page = await (await client.get("/import/rejects")).text()
    assert 'data-reject-id="r1"' in page and "line 2 of calls.csv" in page and ",broken</textarea>" in page
    still_bad = await client.post("/import/rejects/r1/retry", data={"raw": "", "csrf_token": csrf})
    assert "rejected: uuid: expected a value" in await still_bad.text()
    fixed = await client.post("/import/rejects/r1/retry", data={"raw": "u2,fixed", "csrf_token": csrf})
    assert "accepted (CDR cdr-r1)" in await fixed.text()
    assert 'data-reject-id="r1"' not in await fixed.text(), "a re-imported record leaves the open list"
    assert (await client.post("/import/rejects/nope/retry", data={"csrf_token": csrf})).status == 404
