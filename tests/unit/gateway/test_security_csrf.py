"""CSRF on every state-changing form, found from the router: no token, a wrong one, another session's.

The check runs in the session middleware before any handler, so every non-GET page route is
posted to with the route's own method (a DELETE page route would slip past a POST-only check)
and a placeholder for its path parameters. Afterwards the gateway's state must be as before.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PlatformServices, add_tenants, logged_in

from cdrstats_gateway import keys
from cdrstats_gateway.auth import CSRF_HEADER, SESSION_COOKIE

#: what a form would post to each page if the token were right: enough to change something
FORMS: dict[str, dict[str, str]] = {
    "/logout": {},
    "/account/tokens": {"action": "create", "name": "forged"},
    "/account/password": {
        "current_password": ADMIN_PASSWORD,
        "new_password": "forged-password-1",
        "confirm_password": "forged-password-1",
    },
    "/account/settings": {"email": "forged@evil.example", "time_zone": "Asia/Tokyo"},
    "/admin/users": {"username": "forged", "password": "forged-password-1", "role": "admin"},
    "/admin/customers": {"name": "Forged", "accountcodes": "forged"},
}


@pytest.fixture
def services() -> PlatformServices:
    return PlatformServices()


def state_changing_page_routes(client: TestClient[Any, Any]) -> list[tuple[str, str]]:
    """(method, url) of every page route that is not a GET/HEAD, path parameters filled with ``1``."""
    found = []
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("path") or info.get("formatter") or ""
        if route.method in ("GET", "HEAD") or not template or template.startswith("/api/"):
            continue
        found.append((route.method, re.sub(r"{\w+}", "1", template)))
    return found


async def snapshot(client: TestClient[Any, Any], services: PlatformServices) -> dict[str, Any]:
    store = client.app[keys.STORE]
    users = await asyncio.to_thread(store.list_users)
    return {
        "users": [(u.id, u.username, u.role, u.email, u.time_zone) for u in users],
        "customers": [(c.id, c.name, c.accountcodes) for c in await asyncio.to_thread(store.list_customers)],
        "tokens": {u.id: len(await asyncio.to_thread(store.list_api_tokens, u.id)) for u in users},
        "switches": dict(services.registry),
        "profiles": dict(services.profiles),
        "imports": len(services.imports),
        "admin_password_ok": await asyncio.to_thread(store.authenticate, "admin", ADMIN_PASSWORD) is not None,
    }


async def test_every_form_refuses_a_missing_wrong_or_foreign_token(
    client: TestClient[Any, Any], services: PlatformServices
) -> None:
    await add_tenants(client)
    foreign_csrf = await foreign_session_csrf(client)
    csrf = await logged_in(client, "admin", ADMIN_PASSWORD)
    session_id = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    before = await snapshot(client, services)
    routes = state_changing_page_routes(client)
    assert len(routes) >= 20 and {m for m, _ in routes} == {"POST"}, routes
    problems = []
    for method, url in routes:
        form = FORMS.get(url, {"action": "delete", "name": "p1"})
        attempts: dict[str, dict[str, Any]] = {
            "no token": {"data": form},
            "wrong token": {"data": {**form, "csrf_token": csrf[:-2] + "xx"}},
            "another session's token": {"data": {**form, "csrf_token": foreign_csrf}},
            "wrong header, right field": {"data": {**form, "csrf_token": csrf}, "headers": {CSRF_HEADER: "nope"}},
            "multipart without token": {"data": multipart(form)},
        }
        for what, kwargs in attempts.items():
            response = await client.request(method, url, allow_redirects=False, **kwargs)
            text = await response.text()
            if response.status != 403 or "security token" not in text:
                problems.append(f"{method} {url} with {what}: {response.status}")
    assert problems == [], "\n".join(problems)
    assert await snapshot(client, services) == before, "a refused form changed something"
    assert await asyncio.to_thread(client.app[keys.STORE].get_session, session_id) is not None, "logout went through"
    # positive control: the same forms with the session's token do change what the snapshot sees
    for url in ("/account/tokens", "/account/settings", "/admin/users", "/admin/customers", "/account/password"):
        done = await client.post(url, data={**FORMS[url], "csrf_token": csrf}, allow_redirects=False)
        assert done.status in (200, 201, 303), (url, done.status)
    after = await snapshot(client, services)
    changed = {key for key in before if after[key] != before[key]}
    assert changed == {"users", "customers", "tokens", "admin_password_ok"}


async def foreign_session_csrf(client: TestClient[Any, Any]) -> str:
    """The CSRF token of customer A's own session (then logged out of the jar): valid, but not for admin."""
    token = await logged_in(client, "alice", PASSWORD_A)
    client.session.cookie_jar.clear()
    return token


def multipart(form: dict[str, str]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value in form.items():
        data.add_field(name, value)
    data.add_field("file", b"uuid\n1\n", filename="cdrs.csv", content_type="text/csv")
    return data


async def test_the_header_token_works_for_scripts_and_the_field_for_forms(client: TestClient[Any, Any]) -> None:
    """The two accepted ways, so the refusals above are about the token and nothing else."""
    csrf = await logged_in(client, "admin", ADMIN_PASSWORD)
    by_header = await client.post(
        "/account/tokens", data={"action": "create", "name": "by header"}, headers={CSRF_HEADER: csrf}
    )
    by_field = await client.post("/account/tokens", data={"action": "create", "name": "by field", "csrf_token": csrf})
    assert (by_header.status, by_field.status) == (201, 201)
