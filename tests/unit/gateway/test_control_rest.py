"""REST API of destination control and notifications against the real alerting and notify servicers;
every answer (success and error) is validated against the OpenAPI document."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_testkit import CDR_DAY, ControlWorld, control_world
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, basic
from test_openapi_platform import check_response

from cdrstats_gateway.openapi import OPENAPI_PATH

ADMIN = basic("admin", ADMIN_PASSWORD)
ALICE = basic("alice", PASSWORD_A)
BOB = basic("bob", PASSWORD_B)


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as built:
        yield built


class Api:
    """Calls the API and checks each answer against the document."""

    def __init__(self, world: ControlWorld, doc: dict[str, Any]) -> None:
        self.world, self.doc = world, doc
        self.statuses: set[int] = set()

    async def __call__(self, method: str, url: str, who: dict[str, str], json: Any = None) -> tuple[int, Any]:
        kwargs = {"json": json} if json is not None else {}
        response = await self.world.client.request(method, url, headers=who, **kwargs)
        body = await response.json() if response.content_type == "application/json" else None
        await check_response(self.doc, self.world.client.app, method, url, response.status, body)
        self.statuses.add(response.status)
        return response.status, body


@pytest.fixture
async def api(world: ControlWorld) -> Api:
    return Api(world, await (await world.client.get(OPENAPI_PATH)).json())


async def test_list_entries_create_page_and_delete(world: ControlWorld, api: Api) -> None:
    entries = [{"list": "black", "prefix": f"+44 90{i}"} for i in range(3)] + [{"list": "black", "country": "cu"}]
    status, body = await api("POST", "/api/v1/lists", ADMIN, {"entries": entries})
    assert status == 201 and [(e["prefix"], e["country"], e["owner"]) for e in body["items"]] == [
        ("44900", "", ""),
        ("44901", "", ""),
        ("44902", "", ""),
        ("", "CU", ""),
    ]
    assert body["items"][0]["created_at"].endswith("Z")
    status, mine = await api("POST", "/api/v1/lists", ALICE, {"entries": [{"list": "white", "prefix": "4490"}]})
    assert status == 201 and mine["items"][0]["owner"] == world.a_tenant

    seen, cursor = [], ""
    while True:
        status, page = await api("GET", f"/api/v1/lists?list=black&limit=2{cursor}", ALICE)
        assert status == 200
        seen += [e["prefix"] or e["country"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == ["44900", "44901", "44902", "CU"], "customers read the global entries"
    status, page = await api("GET", "/api/v1/lists?prefix=4490", ALICE)
    assert {e["prefix"] for e in page["items"]} == {"44900", "44901", "44902", "4490"}
    status, page = await api("GET", "/api/v1/lists", BOB)
    assert "4490" not in {e["prefix"] for e in page["items"]}, "B does not see A's entry"

    status, error = await api("DELETE", f"/api/v1/lists/{mine['items'][0]['id']}", BOB)
    assert status == 404 and error["error"] == "not_found"
    status, error = await api("DELETE", f"/api/v1/lists/{body['items'][0]['id']}", ALICE)
    assert status in (403, 404), "a global entry is read-only for customers"
    status, _ = await api("DELETE", f"/api/v1/lists/{mine['items'][0]['id']}", ALICE)
    assert status == 204
    status, error = await api(
        "POST", "/api/v1/lists", ALICE, {"entries": [{"list": "black", "prefix": "1"}], "global": True}
    )
    assert status == 403

    for bad, field in (
        ({"entries": [{"list": "black", "prefix": "44x"}]}, "entries[0].prefix"),
        ({"entries": [{"list": "black"}]}, "entries[0].prefix"),
        ({"entries": [{"list": "grey", "prefix": "44"}]}, "list"),
        ({"entries": []}, "entries"),
    ):
        status, error = await api("POST", "/api/v1/lists", ADMIN, bad)
        assert status == 400 and error["details"]["field"].endswith(field.split(".")[-1]), (bad, error)
    status, error = await api("GET", "/api/v1/lists?cursor=nonsense", ADMIN)
    assert status == 400 and error["details"] == {"field": "cursor"}


async def test_geo_rules_check_and_hits(world: ControlWorld, api: Api) -> None:
    status, rule = await api("POST", "/api/v1/geo-rules", ADMIN, {"mode": "allow", "countries": ["de", "FR", "GB"]})
    assert status == 201 and rule["countries"] == ["DE", "FR", "GB"] and rule["owner"] == ""
    status, changed = await api(
        "PUT", f"/api/v1/geo-rules/{rule['id']}", ADMIN, {"mode": "allow", "countries": ["DE", "FR", "GB", "US"]}
    )
    assert status == 200 and changed["id"] == rule["id"] and changed["countries"][-1] == "US"
    status, error = await api("PUT", f"/api/v1/geo-rules/{rule['id']}", BOB, {"mode": "forbid", "countries": ["US"]})
    assert status in (403, 404)
    status, error = await api("POST", "/api/v1/geo-rules", ALICE, {"mode": "sometimes", "countries": ["DE"]})
    assert status == 400 and error["details"]["field"] == "mode"
    status, rules = await api("GET", "/api/v1/geo-rules", ALICE)
    assert [r["id"] for r in rules] == [rule["id"]]

    await api("POST", "/api/v1/lists", ADMIN, {"entries": [{"list": "black", "prefix": "4420"}]})
    status, verdict = await api("GET", "/api/v1/destinations/check?number=%2B442071234567", ALICE)
    assert status == 200 and verdict["verdict"] == "black" and verdict["country"] == "GB"
    status, verdict = await api("GET", "/api/v1/destinations/check?number=%2B81312345678", ALICE)
    assert verdict["verdict"] == "geo" and verdict["country"] == "JP"
    status, error = await api("GET", "/api/v1/destinations/check", ALICE)
    assert status == 400 and error["details"] == {"field": "number"}

    world.back.apply_cdrs()
    status, hits = await api("GET", "/api/v1/hits?limit=1000", ADMIN)
    assert status == 200 and hits["items"] and {h["verdict"] for h in hits["items"]} <= {"black", "geo"}
    assert all(h["start_time"].endswith("Z") and h["checked_at"].endswith("Z") for h in hits["items"])
    status, black = await api("GET", "/api/v1/hits?verdict=black&limit=2", ADMIN)
    assert len(black["items"]) == 2 and {h["verdict"] for h in black["items"]} == {"black"}
    status, later = await api("GET", "/api/v1/hits?since=2999-01-01T00:00:00Z", ADMIN)
    assert later["items"] == []
    status, bobs = await api("GET", "/api/v1/hits?limit=1000", BOB)
    bob_codes = {h["accountcode"] for h in bobs["items"]}
    assert bobs["items"] and bob_codes <= {"globex", "initech"}
    status, error = await api("GET", "/api/v1/hits?since=yesterday", ADMIN)
    assert status == 400 and error["details"] == {"field": "since"}
    status, _ = await api("DELETE", f"/api/v1/geo-rules/{rule['id']}", ADMIN)
    assert status == 204
    status, _ = await api("DELETE", f"/api/v1/geo-rules/{rule['id']}", ADMIN)
    assert status == 404


async def test_mail_report_contacts_and_deliveries(world: ControlWorld, api: Api) -> None:
    status, report = await api("GET", "/api/v1/mail-report", ALICE)
    assert status == 200 and report["owner"] == world.a_tenant and report["time_zone"] == "UTC"
    status, report = await api("PUT", "/api/v1/mail-report", ALICE, {"daily": True, "recipients": ["n@acme.example"]})
    assert status == 200 and report["daily"] and report["recipients"] == ["n@acme.example"]
    status, report = await api("PUT", "/api/v1/mail-report", ALICE, {"hour": 5})
    assert report["hour"] == 5 and report["recipients"] == ["n@acme.example"], "absent fields keep their value"
    status, error = await api("PUT", "/api/v1/mail-report", ALICE, {"recipients": ["x@y.example", "nope"]})
    assert status == 400 and error["details"] == {"field": "recipients[1]"}, "the service names the entry"
    status, error = await api("PUT", "/api/v1/mail-report", ALICE, {"hour": "five"})
    assert status == 400 and error["details"] == {"field": "hour"}
    status, others = await api("GET", f"/api/v1/mail-report?owner={world.a_tenant}", ADMIN)
    assert others["recipients"] == ["n@acme.example"]
    status, error = await api("GET", "/api/v1/mail-report?owner=acme", ADMIN)
    assert status == 400 and error["details"] == {"field": "owner"}

    status, mail = await api("POST", "/api/v1/mail-report/preview", ALICE, {"period": CDR_DAY})
    assert status == 200 and mail["period"] == CDR_DAY and "Acme" in mail["subject"] and "<html" in mail["html"].lower()
    assert (mail["period_start"], mail["period_end"]) == (f"{CDR_DAY}T00:00:00Z", "2025-10-10T00:00:00Z")
    status, error = await api("POST", "/api/v1/mail-report/preview", ALICE, {"kind": "hourly"})
    assert status == 400 and error["details"] == {"field": "kind"}
    draft = {"period": CDR_DAY, "draft": {"recipients": ["other@acme.example"]}}
    status, sent = await api("POST", "/api/v1/mail-report/send", ALICE, draft)
    assert status == 200 and len(sent["delivery_ids"]) == 1

    status, contacts = await api("PUT", "/api/v1/contacts", BOB, {"emails": ["noc@globex.example"], "webhooks": []})
    assert status == 200 and contacts["owner"] == f"customer:{world.tenants.b_customer}"
    status, contacts = await api("GET", "/api/v1/contacts", BOB)
    assert contacts["emails"] == ["noc@globex.example"]
    status, error = await api("PUT", "/api/v1/contacts", BOB, {"emails": "noc@globex.example"})
    assert status == 400 and error["details"] == {"field": "emails"}

    status, page = await api("GET", "/api/v1/deliveries?limit=1", ALICE)
    assert status == 200 and [d["recipient"] for d in page["items"]] == ["other@acme.example"]
    assert page["items"][0]["status"] == "pending" and page["items"][0]["sent_at"] is None
    status, bobs = await api("GET", "/api/v1/deliveries", BOB)
    assert bobs["items"] == [] and bobs["next_cursor"] is None
    status, error = await api("GET", "/api/v1/deliveries?status=lost", ALICE)
    assert status == 400 and error["details"] == {"field": "status"}
    assert {200, 400} <= api.statuses


async def test_every_new_route_is_documented(world: ControlWorld) -> None:
    doc = await (await world.client.get(OPENAPI_PATH)).json()
    for path in (
        "/api/v1/lists",
        "/api/v1/lists/{id}",
        "/api/v1/geo-rules",
        "/api/v1/geo-rules/{id}",
        "/api/v1/destinations/check",
        "/api/v1/hits",
        "/api/v1/mail-report",
        "/api/v1/mail-report/preview",
        "/api/v1/mail-report/send",
        "/api/v1/contacts",
        "/api/v1/deliveries",
    ):
        assert path in doc["paths"], path
        for spec in doc["paths"][path].values():
            assert not spec.get("x-undocumented") and not spec["x-admin-only"], path
    detail = doc["components"]["schemas"]["CdrDetail"]
    assert "destination_verdict" in detail["required"]
    assert doc["paths"]["/api/v1/cdrs/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CdrDetail"
    }
