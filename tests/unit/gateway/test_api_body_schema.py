"""JSON bodies of /api/v1 are held to the OpenAPI document (bugs schemathesis found, issue 8):
wrong types, unknown and missing required fields are a 400 naming the field, nothing is stored."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PlatformServices, add_tenants, basic

from cdrstats_gateway import body_schema
from cdrstats_gateway.clients import service_error
from cdrstats_gateway.openapi import OPENAPI_PATH

ADMIN = basic("admin", ADMIN_PASSWORD)
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "hour": {"type": ["integer", "null"], "minimum": 0, "maximum": 23},
        "kind": {"enum": ["daily", "weekly"]},
        "draft": {
            "type": "object",
            "properties": {"recipients": {"type": "array", "items": {"type": "string"}}},
            "additionalProperties": False,
        },
        "columns": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["name"],
    "additionalProperties": False,
}


@pytest.fixture
def services() -> PlatformServices:
    return PlatformServices()


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ({"name": "a", "hour": None, "kind": "weekly", "draft": {"recipients": ["x"]}, "columns": {"a": "1"}}, None),
        ({}, ("name", "required")),
        ({"name": ["a"]}, ("name", "expected a string, got an array")),
        ({"name": "a", "hour": True}, ("hour", "expected an integer or null, got a boolean")),
        ({"name": "a", "hour": 1.5}, ("hour", "expected an integer or null, got a number")),
        ({"name": "a", "hour": 24}, ("hour", "expected at most 23")),
        ({"name": "a", "kind": "monthly"}, ("kind", "expected one of 'daily', 'weekly'")),
        ({"name": "a", "draft": {"recipients": ["x", None]}}, ("draft.recipients[1]", "expected a string, got null")),
        ({"name": "a", "draft": {"recipient": []}}, ("draft.recipient", "unknown field (known: recipients)")),
        ({"name": "a", "columns": {"uuid": 1}}, ("columns.uuid", "expected a string, got an integer")),
        ({"name": "a", "x" * 100: 1}, ("x" * 64, "unknown field (known: name, hour, kind, draft, columns)")),
    ],
)
def test_problem_names_the_first_violation(body: dict[str, Any], found: tuple[str, str] | None) -> None:
    assert body_schema.problem(SCHEMA, body) == found


async def test_bodies_violating_the_document_are_400_and_change_nothing(client: TestClient[Any, Any]) -> None:
    tenants = await add_tenants(client)
    alice = basic("alice", PASSWORD_A)
    refused = [
        ("POST", "/api/v1/customers", {"name": [None, None]}, ADMIN, "name"),
        ("POST", "/api/v1/customers", {"name": "Initech", "accountcodes": [None]}, ADMIN, "accountcodes[0]"),
        ("PATCH", f"/api/v1/customers/{tenants.a_customer}", {"name": 5}, ADMIN, "name"),
        ("PATCH", f"/api/v1/customers/{tenants.a_customer}", {"reassign": None}, ADMIN, "reassign"),
        ("POST", "/api/v1/tokens", {"name": [None]}, alice, "name"),
        ("PATCH", "/api/v1/me", {"time_zone": "Europe/Paris", "timezone": "UTC"}, alice, "timezone"),
        ("PATCH", "/api/v1/me", {"time_zone": None}, alice, "time_zone"),
        ("POST", "/api/v1/users", {"username": "carol", "password": "long-password"}, ADMIN, "role"),
    ]
    for method, path, body, auth, field in refused:
        response = await client.request(method, path, json=body, headers=auth)
        assert response.status == 400, (method, path, body)
        answer = await response.json()
        assert answer["error"] == "invalid_argument" and answer["details"] == {"field": field}, answer
        assert answer["message"].startswith(f"{field}: ")
    customers = await (await client.get("/api/v1/customers", headers=ADMIN)).json()
    assert [(c["name"], c["accountcodes"]) for c in customers["items"]] == [
        ("Acme", ["acme"]),
        ("Globex", ["globex", "initech"]),
    ]
    assert await (await client.get("/api/v1/tokens", headers=alice)).json() == []
    assert (await (await client.get("/api/v1/me", headers=alice)).json())["time_zone"] == ""
    # documented as optional, an all-optional body may be left out
    assert (await client.patch("/api/v1/me", headers=alice)).status == 200


async def test_the_document_says_what_the_api_does(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get(OPENAPI_PATH)).json()
    paths = doc["paths"]
    assert paths["/api/v1/me"]["patch"]["requestBody"]["required"] is False
    assert paths["/api/v1/customers"]["post"]["requestBody"]["required"] is True
    assert paths["/api/v1/imports"]["post"]["requestBody"]["required"] is True
    export = paths["/api/v1/cdrs/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"text/csv", "application/x-ndjson"}
    for path, method in [("/api/v1/mail-report", "get"), ("/api/v1/mail-report", "put")]:
        assert "409" in paths[path][method]["responses"], f"{method} {path}"
    hour = paths["/api/v1/mail-report"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert hour["properties"]["hour"] == {**hour["properties"]["hour"], "minimum": 0, "maximum": 23}


def test_failed_precondition_is_a_409_the_caller_can_read() -> None:
    """notify's "tenant unknown" (a customer without account codes) was a 502 upstream_error."""
    details = "owner: tenant 'customer:7' is unknown to notify (no SetTenant for it yet)"
    error = grpc.aio.AioRpcError(grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(), grpc.aio.Metadata(), details)
    mapped = service_error("notify", error)
    assert (mapped.status, mapped.code, mapped.message) == (409, "conflict", f"notify: {details}")
