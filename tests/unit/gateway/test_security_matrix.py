"""The gaps the tenant-isolation walk leaves: guessed ids, customer A's own walk, cookies on the API.

Same world and the same router-driven route list as ``test_tenant_isolation`` (imported, not
copied), so a new route is covered here too. API calls use bearer tokens: HTTP basic would run
argon2 on every request and make the walks slow; basic auth itself is tested elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, logged_in
from test_tenant_isolation import PUBLIC, SSE, World, admin_only, fetch, routes, world

from cdrstats_gateway import keys
from cdrstats_gateway.auth import PUBLIC_API_PATHS

__all__ = ["world"]  # the fixture, imported so pytest finds it for this module

#: strings only customer B's data carries (B's account codes as they appear in CDRs and reports)
B_MARKERS = ("globex", "initech")
#: valid bodies for the writes that check the body before looking the id up (else both answers are 400)
VALID_BODIES = {"/api/v1/geo-rules/{id}": {"mode": "forbid", "countries": ["KP"], "note": "b's guess"}}


def guessed(value: str) -> str:
    """An id of the same shape that names nothing: digits +5, letters rot13, the rest kept."""
    out = []
    for char in value:
        if char.isdigit():
            out.append(str((int(char) + 5) % 10))
        elif char.isascii() and char.isalpha():
            base = ord("a") if char.islower() else ord("A")
            out.append(chr((ord(char) - base + 13) % 26 + base))
        else:
            out.append(char)
    return "".join(out)


def without(value: str, text: str) -> str:
    """``text`` with ``value`` (as a whole word: ids may be a single digit) replaced by a placeholder."""
    return re.sub(rf"(?<![\w-]){re.escape(value)}(?![\w-])", "<id>", text)


async def bearer(world: World, user_id: int) -> dict[str, str]:
    token, _ = await asyncio.to_thread(world.client.app[keys.STORE].create_api_token, user_id, "security walk")
    return {"Authorization": f"Bearer {token}"}


def request_kwargs(method: str, template: str, api_headers: dict[str, str], csrf: str) -> dict[str, Any]:
    if template.startswith("/api/"):
        kwargs: dict[str, Any] = {"headers": api_headers}
        if method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = VALID_BODIES.get(template, {})
        return kwargs
    return {"data": {"csrf_token": csrf}} if method != "GET" else {}


async def test_guessed_ids_answer_exactly_like_ids_that_never_existed(world: World) -> None:
    """B asking for A's CDR, alarm, list entry, token, user, switch, job, reject... learns nothing.

    Every route with a path parameter is called twice by B: with A's real id and with a made-up
    id of the same shape. Both must be refused (403 or 404) with the same answer, so a
    customer cannot probe which ids exist.
    """
    csrf = await logged_in(world.client, "bob", PASSWORD_B)
    api = await bearer(world, world.tenants.b.id)
    fake_world = dataclasses.replace(world, samples={k: guessed(v) for k, v in world.samples.items()})
    real_routes = [r for r in routes(world) if "{" in r[1] and r[3] not in PUBLIC]
    fake_urls = {(m, t): u for m, t, u, _ in routes(fake_world)}
    assert len(real_routes) >= 35, "the walk found the routes with ids"
    problems = []
    for method, template, url, name in real_routes:
        fake_url = fake_urls[(method, template)]
        assert fake_url != url
        kwargs = request_kwargs(method, template, api, csrf)
        fake_status, fake_body, _ = await fetch(world.client, method, fake_url, name, **kwargs)
        status, body, _ = await fetch(world.client, method, url, name, **kwargs)
        real_id = next(p for p, q in zip(url.split("/"), fake_url.split("/"), strict=True) if p != q)
        fake_id = guessed(real_id)
        same = status == fake_status and (body == fake_body or without(real_id, body) == without(fake_id, fake_body))
        if status not in (403, 404) or not same:
            problems.append(f"{method} {template}: A's id -> {status}, made-up id -> {fake_status}")
    assert problems == [], "\n".join(problems)


async def test_customer_a_walks_every_route_and_sees_nothing_of_b(world: World) -> None:
    """The fourth role of the matrix: every GET as A; admin-only is 403, the rest works and shows no B data."""
    await logged_in(world.client, "alice", PASSWORD_A)
    api = await bearer(world, world.tenants.a.id)
    problems = []
    walked = 0
    for method, template, url, name in routes(world):
        if name in PUBLIC or method != "GET":
            continue
        walked += 1
        kwargs = {"headers": api} if template.startswith("/api/") else {}
        status, body, _ = await fetch(world.client, method, url, name, **kwargs)
        leaked = [m for m in B_MARKERS if m in body]
        expected_ok = status == 403 if admin_only(world, method, template) else status not in (401, 403)
        ok = expected_ok and status < 500
        if leaked or not ok:
            problems.append(f"{method} {url}: {status}{f' shows {leaked}' if leaked else ''}")
    assert walked >= 60
    assert problems == [], "\n".join(problems)


async def test_a_session_cookie_opens_no_api_route(world: World) -> None:
    """Every /api/ route and method: a logged-in admin's cookie (even with its CSRF header) is 401.

    The API takes tokens or basic auth only; were a cookie accepted, any site could make the
    browser call the API with the user's authority (SameSite=Lax still sends top-level POSTs).
    """
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    problems = []
    walked = 0
    for method, template, url, name in routes(world):
        if not template.startswith("/api/") or template in PUBLIC_API_PATHS:
            continue
        walked += 1
        kwargs: dict[str, Any] = {"headers": {"X-CSRF-Token": csrf}}
        if method in ("POST", "PATCH", "PUT"):
            kwargs["json"] = {}
        status, body, _ = await fetch(world.client, method, url, name, **kwargs)
        if status != 401 or '"unauthenticated"' not in body:
            problems.append(f"{method} {template}: {status}")
    assert walked >= 65
    assert problems == [], "\n".join(problems)
    page = await world.client.get("/dashboard", allow_redirects=False)
    assert page.status == 200, "positive control: the cookie is a valid session for pages"


async def test_streams_and_exports_are_closed_to_anonymous_and_scoped_for_customers(world: World) -> None:
    """SSE and exports by name: anonymous gets no stream, B's export holds none of A's CDRs, A's does."""
    stream_routes = [r for r in routes(world) if r[3] in SSE or r[1].endswith("/export")]
    assert {r[3] for r in stream_routes} >= SSE | {"cdrs_export", "api_cdrs_export"}
    for method, template, url, name in stream_routes:
        status, _, location = await fetch(world.client, method, url, name)
        assert status in (303, 401) and ("/api/" in template or location.startswith("/login")), url
    for user, password, expect_a in (("bob", PASSWORD_B, False), ("alice", PASSWORD_A, True)):
        world.client.session.cookie_jar.clear()
        await logged_in(world.client, user, password)
        tenant = world.tenants.b if user == "bob" else world.tenants.a
        api = await bearer(world, tenant.id)
        for method, template, url, name in stream_routes:
            kwargs = {"headers": api} if template.startswith("/api/") else {}
            status, body, _ = await fetch(world.client, method, url, name, **kwargs)
            assert status == 200, (user, url)
            if name in SSE:
                continue  # live streams start empty; their scope is checked by the isolation walk's leak check
            assert any(cdr_id in body for cdr_id in world.a_cdr_ids) is expect_a, (user, url)
