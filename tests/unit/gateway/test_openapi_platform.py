"""The OpenAPI document matches the handlers: every route documented, every documented route real,
and real answers (success and error) validate against the documented schemas."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PlatformServices, add_tenants, basic

from cdrstats_gateway.openapi import OPENAPI_PATH
from cdrstats_gateway.openapi_external import ROUTE_DOCS

ADMIN = basic("admin", ADMIN_PASSWORD)


@pytest.fixture
def services() -> PlatformServices:
    return PlatformServices()


def api_routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/v1/") and route.method != "HEAD" and path != OPENAPI_PATH:
            found.add((route.method.lower(), path))
    return found


async def document(client: TestClient[Any, Any]) -> dict[str, Any]:
    response = await client.get(OPENAPI_PATH)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_every_route_is_documented_and_every_documented_route_exists(client: TestClient[Any, Any]) -> None:
    doc = await document(client)
    documented = {(method, path) for path, methods in doc["paths"].items() for method in methods}
    assert documented == api_routes(client.app)
    undocumented = [
        f"{method.upper()} {path}"
        for path, methods in doc["paths"].items()
        for method, spec in methods.items()
        if spec.get("x-undocumented")
    ]
    assert undocumented == [], "add @rest.documented to the handler or an entry to openapi_external.ROUTE_DOCS"
    names = {route.name for route in client.app.router.routes()}
    assert set(ROUTE_DOCS) <= names, "ROUTE_DOCS names a route that no longer exists"


async def test_path_parameters_and_refs_are_declared(client: TestClient[Any, Any]) -> None:
    doc = await document(client)
    schemas = doc["components"]["schemas"]
    for path, methods in doc["paths"].items():
        for method, spec in methods.items():
            declared = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), f"{method} {path}"
            assert "401" in spec["responses"], "every operation needs credentials"
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"')))
    assert refs <= set(schemas)
    jsonschema.Draft202012Validator.check_schema({**schemas["Switch"], "components": doc["components"]})


async def check_response(
    doc: dict[str, Any], app: web.Application, method: str, url: str, status: int, body: Any
) -> None:
    match = await app.router.resolve(make_mocked_request(method, url, app=app))
    template = match.route.resource.canonical  # type: ignore[union-attr]
    spec = doc["paths"][template][method.lower()]
    assert str(status) in spec["responses"], f"{method} {url} answered {status}, not documented"
    content = spec["responses"][str(status)].get("content", {})
    if "application/json" not in content:
        assert body is None, f"{method} {url} {status}: documented without a body"
        return
    schema = {**content["application/json"]["schema"], "components": doc["components"]}
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


async def test_real_answers_validate_against_the_document(client: TestClient[Any, Any]) -> None:
    await add_tenants(client)
    doc = await document(client)
    alice = basic("alice", PASSWORD_A)
    calls: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("GET", "/api/v1/me", {}, alice),
        ("PATCH", "/api/v1/me", {"json": {"email": "a@acme.example"}}, alice),
        ("PATCH", "/api/v1/me", {"json": {"email": "nope"}}, alice),
        ("POST", "/api/v1/tokens", {"json": {"name": "ci"}}, alice),
        ("GET", "/api/v1/tokens", {}, alice),
        ("DELETE", "/api/v1/tokens/1", {}, alice),
        ("DELETE", "/api/v1/tokens/999", {}, alice),
        ("GET", "/api/v1/users", {}, ADMIN),
        ("GET", "/api/v1/users", {}, alice),
        ("POST", "/api/v1/users", {"json": {"username": "carol", "password": "long-password", "role": "admin"}}, ADMIN),
        ("GET", "/api/v1/users/1", {}, ADMIN),
        ("PATCH", "/api/v1/users/2", {"json": {"email": "x@y.example"}}, ADMIN),
        ("GET", "/api/v1/customers", {}, ADMIN),
        ("POST", "/api/v1/customers", {"json": {"name": "Initrode", "accountcodes": ["i1"]}}, ADMIN),
        ("POST", "/api/v1/customers", {"json": {"name": "Initrode"}}, ADMIN),
        ("GET", "/api/v1/customers/1", {}, ADMIN),
        ("PATCH", "/api/v1/customers/1", {"json": {"accountcodes": ["acme", "acme2"]}}, ADMIN),
        ("GET", "/api/v1/switches", {}, ADMIN),
        ("GET", "/api/v1/switches", {}, alice),
        ("POST", "/api/v1/switches", {"json": {"id": "ast-1", "type": "asterisk"}}, ADMIN),
        ("GET", "/api/v1/switches/ast-1", {}, ADMIN),
        ("PUT", "/api/v1/switches/ast-1", {"json": {"name": "Asterisk", "type": "asterisk"}}, ADMIN),
        ("GET", "/api/v1/switches/ast-1/setup", {}, ADMIN),
        ("POST", "/api/v1/switches/ast-1/password", {}, ADMIN),
        ("GET", "/api/v1/switches/nope", {}, ADMIN),
        ("DELETE", "/api/v1/switches/ast-1", {}, ADMIN),
        ("POST", "/api/v1/imports?switch_id=sw1&format=asterisk_csv", {"data": b"u1,x\n"}, ADMIN),
        ("GET", "/api/v1/imports", {}, ADMIN),
        ("PUT", "/api/v1/mapping-profiles/p1", {"json": {"columns": {"uuid": "1"}}}, ADMIN),
        ("GET", "/api/v1/mapping-profiles", {}, ADMIN),
        ("DELETE", "/api/v1/mapping-profiles/p1", {}, ADMIN),
        ("GET", "/api/v1/rejects", {}, ADMIN),
        ("POST", "/api/v1/imports?switch_id=sw1&format=asterisk_csv", {"data": b",bad\n"}, ADMIN),
        ("GET", "/api/v1/rejects?include_reimported=true", {}, ADMIN),
        ("POST", "/api/v1/rejects/r1/retry", {"json": {"raw": "u1,ok"}}, ADMIN),
        ("POST", "/api/v1/rejects/nope/retry", {"json": {}}, ADMIN),
        ("GET", "/api/v1/reports/dashboard", {}, alice),
        ("DELETE", "/api/v1/users/2", {}, alice),
        ("DELETE", "/api/v1/customers/2", {}, ADMIN),
    ]
    statuses = set()
    for method, url, kwargs, headers in calls:
        response = await client.request(method, url, headers=headers, **kwargs)
        body = await response.json() if response.content_type == "application/json" else None
        await check_response(doc, client.app, method, url, response.status, body)
        statuses.add(response.status)
    assert {200, 201, 204, 400, 403, 404, 409} <= statuses, "successes and every error kind were checked"
    anonymous = await client.get("/api/v1/users")
    await check_response(doc, client.app, "GET", "/api/v1/users", 401, await anonymous.json())
