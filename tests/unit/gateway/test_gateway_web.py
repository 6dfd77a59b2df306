"""Web UI through the factory: login, CSRF, throttling, sessions, the dashboard numbers, API tokens."""

from __future__ import annotations

import asyncio
import dataclasses
import html.parser
import json
import re
from typing import Any

from aiohttp.test_utils import TestClient
from gateway_testkit import (
    ADMIN_PASSWORD,
    CUSTOMER_PASSWORD,
    ClientFactory,
    InMemoryServices,
    hidden_csrf,
    login,
    visible,
)

from cdrstats_common import metrics
from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain.models import Scope
from cdrstats_gateway.settings import GatewaySettings


class MetricParser(html.parser.HTMLParser):
    """Text of every element with a data-metric attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = dict(attrs).get("data-metric")
        if name:
            self._current = name
            self.metrics[name] = ""

    def handle_endtag(self, tag: str) -> None:
        self._current = None

    def handle_data(self, data: str) -> None:
        if self._current:
            self.metrics[self._current] += data.strip()


def page_metrics(page: str) -> dict[str, str]:
    parser = MetricParser()
    parser.feed(page)
    return parser.metrics


def expected_metrics(services: InMemoryServices, scope: Scope, switch_id: str | None = None) -> dict[str, str]:
    """Brute force from the raw CDRs with the shared metric definitions, formatted as the page shows them."""
    totals = metrics.Totals()
    for cdr in visible(services.cdrs, scope, switch_id):
        totals.add_cdr(cdr)
    acd = round(totals.acd)
    return {
        "attempts": f"{totals.attempts:,}",
        "answered": f"{totals.answered:,}",
        "asr": f"{totals.asr:.1f}",
        "acd": f"{acd // 60}:{acd % 60:02d}",
        "minutes": f"{totals.minutes:,.1f}",
        "ach": f"{metrics.ach(totals.attempts, 24):.1f}",
    }


async def add_customer(client: TestClient[Any, Any], codes: tuple[str, ...] = ("acme",)) -> None:
    store = client.app[keys.STORE]
    await asyncio.to_thread(store.create_user, "cust", CUSTOMER_PASSWORD, "customer", codes)


async def test_login_success_sets_a_session_and_lands_on_the_dashboard(
    client: TestClient[Any, Any], services: InMemoryServices
) -> None:
    response = await login(client, "admin", ADMIN_PASSWORD)
    assert response.status == 303
    assert response.headers["Location"] == "/dashboard"
    assert "cdrstats_session" in response.cookies
    page = await client.get("/dashboard")
    assert page.status == 200
    assert page_metrics(await page.text()) == expected_metrics(services, Scope(admin=True))
    assert services.calls[-1] == (Scope(admin=True), None)


async def test_login_failure_sets_no_session(client: TestClient[Any, Any]) -> None:
    response = await login(client, "admin", "wrong password")
    assert response.status == 200
    assert "Wrong username or password" in await response.text()
    assert "cdrstats_session" not in response.cookies
    dashboard = await client.get("/dashboard", allow_redirects=False)
    assert dashboard.status == 303
    assert dashboard.headers["Location"].startswith("/login?next=")


async def test_login_redirects_back_to_next_but_never_off_site(client: TestClient[Any, Any]) -> None:
    response = await login(client, "admin", ADMIN_PASSWORD, next="/dashboard?switch=sw1")
    assert response.headers["Location"] == "/dashboard?switch=sw1"
    client.session.cookie_jar.clear()  # logged in, /login would send us to the dashboard
    response = await login(client, "admin", ADMIN_PASSWORD, next="//evil.example/")
    assert response.headers["Location"] == "/dashboard"


async def test_login_without_or_with_a_wrong_csrf_token_is_403(client: TestClient[Any, Any]) -> None:
    await client.get("/login")  # the signed pre-session cookie is set, but the form field is missing
    response = await client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status == 403
    assert "security token" in await response.text()
    response = await client.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": "forged"}
    )
    assert response.status == 403
    client.session.cookie_jar.clear()  # a field copied from the page but no cookie: still refused
    page = await client.get("/login")
    token = hidden_csrf(await page.text())
    client.session.cookie_jar.clear()
    response = await client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.status == 403


async def test_posts_with_a_session_need_the_session_csrf_token(client: TestClient[Any, Any]) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    response = await client.post("/logout", data={}, allow_redirects=False)
    assert response.status == 403
    response = await client.post("/account/tokens", data={"action": "create", "name": "x", "csrf_token": "nope"})
    assert response.status == 403
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200, "the session survived"


async def test_throttling_after_five_failures_per_username(client: TestClient[Any, Any]) -> None:
    for _ in range(5):
        assert (await login(client, "admin", "bad")).status == 200
    response = await login(client, "admin", ADMIN_PASSWORD)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "cdrstats_session" not in response.cookies


async def test_throttling_after_five_failures_per_client_ip(client: TestClient[Any, Any]) -> None:
    await add_customer(client)
    for i in range(5):
        assert (await login(client, f"nobody{i}", "bad")).status == 200
    assert (await login(client, "cust", CUSTOMER_PASSWORD)).status == 429


async def test_session_cookie_flags_and_a_new_id_on_every_login(
    make_client: ClientFactory, settings: GatewaySettings
) -> None:
    # Secure cookies are not sent back over the test's plain HTTP by the jar: pass them by hand.
    client = await make_client(dataclasses.replace(settings, cookie_secure=True))
    store = client.app[keys.STORE]
    page = await client.get("/login")
    login_cookie = page.headers["Set-Cookie"]
    assert login_cookie.startswith("cdrstats_login_csrf=")
    assert cookie_flags(login_cookie) >= {"httponly", "secure", "samesite=lax"}
    form = {"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": hidden_csrf(await page.text())}
    cookies = {"cdrstats_login_csrf": page.cookies["cdrstats_login_csrf"].value}
    first = await client.post("/login", data=form, cookies=cookies, allow_redirects=False)
    assert first.status == 303
    session_cookie = next(h for h in first.headers.getall("Set-Cookie") if h.startswith("cdrstats_session="))
    assert cookie_flags(session_cookie) >= {"httponly", "secure", "samesite=lax", "path=/"}
    old_id = first.cookies["cdrstats_session"].value
    second = await client.post(
        "/login", data=form, cookies={**cookies, "cdrstats_session": old_id}, allow_redirects=False
    )
    assert second.status == 303
    assert second.cookies["cdrstats_session"].value != old_id
    assert await asyncio.to_thread(store.get_session, old_id) is None, "the previous session is gone"


def cookie_flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


async def test_logout_deletes_the_session(client: TestClient[Any, Any]) -> None:
    response = await login(client, "admin", ADMIN_PASSWORD)
    session_id = response.cookies["cdrstats_session"].value
    page = await client.get("/dashboard")
    response = await client.post("/logout", data={"csrf_token": hidden_csrf(await page.text())}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert await asyncio.to_thread(client.app[keys.STORE].get_session, session_id) is None
    replay = await client.get("/dashboard", cookies={"cdrstats_session": session_id}, allow_redirects=False)
    assert replay.status == 303


async def test_customer_dashboard_is_scoped_to_their_account_codes(
    client: TestClient[Any, Any], services: InMemoryServices
) -> None:
    await add_customer(client, ("acme",))
    await login(client, "cust", CUSTOMER_PASSWORD)
    page = await (await client.get("/dashboard?switch=sw1")).text()
    scope = Scope(admin=False, accountcodes=("acme",))
    assert services.calls[-1] == (scope, "sw1")
    assert page_metrics(page) == expected_metrics(services, scope, "sw1")
    assert page_metrics(page) != expected_metrics(services, Scope(admin=True), "sw1")
    assert '<option value="sw1" selected>Switch One</option>' in page


async def test_dashboard_chart_data_island_and_hourly_table(
    client: TestClient[Any, Any], services: InMemoryServices
) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    page = await (await client.get("/dashboard")).text()
    island = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    assert island
    data = json.loads(island.group(1))
    report = await services.dashboard(Scope(admin=True), None)
    assert data["attempts"] == [h.attempts for h in report.hours]
    assert len(data["labels"]) == 24
    assert sum(data["attempts"]) == report.attempts > 0
    assert page.count("<tr><td>") == 24
    assert 'src="/static/js/dashboard.js"' in page
    assert "<script>" not in page and "style=" not in page, "nothing inline (CSP)"


async def test_service_errors_become_an_error_page(client: TestClient[Any, Any], services: InMemoryServices) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    services.error = ServiceError(503, "unavailable", "reporting: connection refused")
    response = await client.get("/dashboard")
    assert response.status == 503
    assert "reporting: connection refused" in await response.text()


async def test_api_tokens_are_shown_once_hashed_and_revocable(client: TestClient[Any, Any]) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    page = await client.get("/account/tokens")
    csrf = hidden_csrf(await page.text())
    created = await client.post("/account/tokens", data={"action": "create", "name": "ci", "csrf_token": csrf})
    assert created.status == 201
    match = re.search(r"<code class=\"token\" data-new-token>([^<]+)</code>", await created.text())
    assert match
    token = match.group(1)
    listing = await (await client.get("/account/tokens")).text()
    assert token not in listing and token[:12] in listing
    store = client.app[keys.STORE]
    rows = store.conn.execute("SELECT token_hash FROM api_tokens").fetchall()  # type: ignore[attr-defined]
    assert token not in {row["token_hash"] for row in rows}

    api = await client.get("/api/v1/reports/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 200
    token_id = re.search(r'data-token-id="(\d+)"', listing)
    assert token_id
    revoked = await client.post(
        "/account/tokens",
        data={"action": "revoke", "token_id": token_id.group(1), "csrf_token": csrf},
        allow_redirects=False,
    )
    assert revoked.status == 303
    api = await client.get("/api/v1/reports/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert api.status == 401


async def test_security_headers_on_every_response(client: TestClient[Any, Any]) -> None:
    await login(client, "admin", ADMIN_PASSWORD)
    for path in ("/login", "/dashboard", "/static/css/app.css", "/nowhere", "/api/v1/reports/dashboard", "/healthz"):
        response = await client.get(path)
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        ), path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "same-origin", path


async def test_index_redirects_to_the_dashboard(client: TestClient[Any, Any]) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/dashboard"


async def test_probes_split_liveness_readiness_and_caught_up(
    client: TestClient[Any, Any], services: InMemoryServices, settings: GatewaySettings
) -> None:
    """A backlog (pipeline not caught up) fails /healthz only; an api down fails /readyz; /livez only needs the loop."""
    services.ready = False  # e.g. reporting still counting under steady traffic
    statuses = [(await client.get(path)).status for path in ("/livez", "/readyz", "/healthz")]
    assert statuses == [200, 200, 503]
    services.serving_now = False
    response = await client.get("/readyz")
    assert response.status == 503 and (await response.json())["details"] == {"fake": "not serving"}
    assert (await client.get("/livez")).status == 200
    assert settings.startup_marker is not None
    settings.startup_marker.write_text("demo data loading\n")
    services.serving_now = True
    assert [(await client.get(path)).status for path in ("/livez", "/readyz")] == [200, 503]
    settings.startup_marker.unlink()


async def test_healthz_follows_readiness_and_the_startup_marker(
    client: TestClient[Any, Any], services: InMemoryServices, settings: GatewaySettings
) -> None:
    response = await client.get("/healthz")
    assert (response.status, await response.json()) == (200, {"status": "ok"})
    assert settings.startup_marker is not None
    settings.startup_marker.write_text("demo data loading\n")
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["message"] == "demo data loading"
    settings.startup_marker.unlink()
    services.ready = False
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 503 and body["details"] == {"fake": "not ready"}
