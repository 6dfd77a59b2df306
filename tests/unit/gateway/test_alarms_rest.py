"""The alarms REST API against the real alerting servicer in process: CRUD, evaluate now, history
paging by time, tenant scoping, errors naming the field, and answers valid against the OpenAPI."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alarms_testkit import ASR_ACME, ASR_ALL, ASR_GLOBEX, MINUTE_US, AlarmWorld, alarm_world, record_history
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, basic
from test_openapi_platform import check_response, document

ADMIN = basic("admin", ADMIN_PASSWORD)
ALICE = basic("alice", PASSWORD_A)
BOB = basic("bob", PASSWORD_B)
LOW_ASR = {
    "name": "Low ASR on acme",
    "metric": "asr",
    "scope": {"kind": "accountcode", "value": "acme"},
    "window": "last_hour",
    "condition": "lt",
    "threshold": 40,
    "min_attempts": 5,
    "cooldown_s": 600,
    "emails": ["noc@acme.example"],
    "webhooks": ["https://hooks.acme.example/cdr"],
}


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[AlarmWorld]:
    async with alarm_world(aiohttp_client, tmp_path) as found:
        yield found


async def call(world: AlarmWorld, method: str, url: str, auth: dict[str, str], **kwargs: Any) -> tuple[int, Any]:
    response = await world.client.request(method, url, headers=auth, **kwargs)
    body = await response.json() if response.content_type == "application/json" else None
    return response.status, body


async def test_a_customer_creates_reads_changes_and_deletes_its_alarm(world: AlarmWorld) -> None:
    status, created = await call(world, "POST", "/api/v1/alarms", ALICE, json=LOW_ASR)
    assert status == 201, created
    assert created["owner"] == f"customer:{world.tenants.a_customer}"
    assert created["scope"] == {"kind": "accountcode", "value": "acme"}
    assert (created["state"], created["last_value"], created["last_evaluated"]) == ("OK", None, None)
    assert created["created"].endswith("Z") and created["baseline"] is None and created["hangup_cause"] is None
    assert created["description"] == "ASR is less than 40 % over the last hour"
    alarm_id = created["id"]

    status, page = await call(world, "GET", "/api/v1/alarms", ALICE)
    assert status == 200 and [a["id"] for a in page["items"]] == [alarm_id] and page["next_cursor"] is None
    status, changed = await call(
        world, "PUT", f"/api/v1/alarms/{alarm_id}", ALICE, json={"threshold": 25.5, "enabled": False}
    )
    assert status == 200, changed
    assert (changed["threshold"], changed["enabled"], changed["name"]) == (25.5, False, "Low ASR on acme")
    assert changed["emails"] == ["noc@acme.example"], "fields not given keep their value"
    status, relative = await call(
        world,
        "PUT",
        f"/api/v1/alarms/{alarm_id}",
        ALICE,
        json={"condition": "falls_by_pct", "baseline": "same_window_last_week", "threshold": 20},
    )
    assert status == 200 and relative["baseline"] == "same_window_last_week", relative
    assert relative["description"].endswith("compared with the same window last week")

    assert (await call(world, "DELETE", f"/api/v1/alarms/{alarm_id}", ALICE))[0] == 204
    status, body = await call(world, "GET", f"/api/v1/alarms/{alarm_id}", ALICE)
    assert status == 404 and body["error"] == "not_found" and set(body) == {"error", "message", "details"}


async def test_a_cic_alarm_needs_no_window(world: AlarmWorld) -> None:
    body = {"name": "Unanswered run", "metric": "cic", "condition": "gt", "threshold": 10}
    status, created = await call(world, "POST", "/api/v1/alarms", ADMIN, json=body)
    assert status == 201, created
    assert (
        created["window"] == "" and created["description"] == "CIC (unanswered calls in a row) is greater than 10 calls"
    )
    status, answer = await call(world, "POST", "/api/v1/alarms", ADMIN, json={**body, "metric": "asr"})
    assert (status, answer["details"]) == (400, {"field": "window"}), "other metrics need a window"


async def test_bad_definitions_are_refused_naming_the_field(world: AlarmWorld) -> None:
    cases = [
        ({**LOW_ASR, "threshold": "forty"}, "threshold"),
        ({key: value for key, value in LOW_ASR.items() if key != "name"}, "name"),
        ({**LOW_ASR, "metric": "happiness"}, "metric"),
        ({**LOW_ASR, "emails": ["noc@acme.example", "not an address"]}, "emails"),
        ({**LOW_ASR, "webhooks": ["ftp://files.example"]}, "webhooks"),
        ({**LOW_ASR, "condition": "falls_by"}, "baseline"),
        ({**LOW_ASR, "scope": {"kind": "galaxy", "value": "x"}}, "scope.kind"),
        ({**LOW_ASR, "scope": {"kind": "country", "value": "Atlantis"}}, "scope.value"),
        ({**LOW_ASR, "metric": "cause_share"}, "hangup_cause"),
        ({**LOW_ASR, "enabled": "yes"}, "enabled"),
    ]
    for body, field in cases:
        status, answer = await call(world, "POST", "/api/v1/alarms", ALICE, json=body)
        assert status == 400, (field, answer)
        assert answer["error"] == "invalid_argument"
        assert answer["details"]["field"].startswith(field), (field, answer)
        assert field.split(".")[0] in answer["message"], answer
    status, answer = await call(world, "POST", "/api/v1/alarms", ALICE, data=b"{not json")
    assert status == 400 and answer["details"] == {"field": "body"}
    status, page = await call(world, "GET", "/api/v1/alarms", ADMIN)
    assert page["items"] == [], "nothing invalid was stored"


async def test_evaluate_now_answers_in_the_callers_scope_and_stores_nothing(world: AlarmWorld) -> None:
    unsaved = {**LOW_ASR, "scope": {"kind": "all", "value": ""}}
    expected = ((ADMIN, ASR_ALL, 20), (ALICE, ASR_ACME, 10), (BOB, ASR_GLOBEX, 10))
    for auth, asr, attempts in expected:
        status, result = await call(world, "POST", "/api/v1/alarms/test", auth, json=unsaved)
        assert status == 200, result
        assert result["value"] == pytest.approx(asr) and result["attempts"] == attempts, (auth, result)
        assert result["verdict"] == ("breach" if asr < 40 else "ok")
        assert result["threshold"] == 40 and result["message"]
        assert result["window"]["start"].endswith("Z") and result["window"]["end"].endswith("Z")

    status, saved = await call(world, "POST", "/api/v1/alarms", ALICE, json=LOW_ASR)
    assert status == 201
    status, result = await call(world, "POST", f"/api/v1/alarms/{saved['id']}/test", ALICE)
    assert status == 200 and result["verdict"] == "breach" and result["value"] == pytest.approx(ASR_ACME)
    assert result["alarm_id"] in ("", saved["id"])
    status, history = await call(world, "GET", f"/api/v1/alarms/{saved['id']}/evaluations", ALICE)
    assert status == 200 and history == {"items": [], "next_cursor": None}, "a test stores nothing"
    status, after = await call(world, "GET", f"/api/v1/alarms/{saved['id']}", ALICE)
    assert (after["state"], after["last_evaluated"]) == ("OK", None), "a test changes no state"


async def test_a_customer_cannot_watch_another_customers_account_code(world: AlarmWorld) -> None:
    status, answer = await call(world, "POST", "/api/v1/alarms", BOB, json=LOW_ASR)  # acme is A's code
    assert (status, answer["details"]) == (400, {"field": "scope.value"}), answer
    status, answer = await call(world, "POST", "/api/v1/alarms/test", BOB, json=LOW_ASR)
    assert (status, answer["details"]) == (400, {"field": "scope.value"}), "no value of A's calls either"
    assert (await call(world, "GET", "/api/v1/alarms", ADMIN))[1]["items"] == []


async def test_customers_see_their_own_alarms_and_admins_see_all_with_the_owner(world: AlarmWorld) -> None:
    a_alarm = (await call(world, "POST", "/api/v1/alarms", ALICE, json=LOW_ASR))[1]
    b_body = {**LOW_ASR, "name": "Globex ASR", "scope": {"kind": "accountcode", "value": "globex"}}
    b_alarm = (await call(world, "POST", "/api/v1/alarms", BOB, json=b_body))[1]
    own = (await call(world, "POST", "/api/v1/alarms", ADMIN, json={**LOW_ASR, "name": "All ASR"}))[1]
    assert own["owner"] == ""
    assert [a["id"] for a in (await call(world, "GET", "/api/v1/alarms", BOB))[1]["items"]] == [b_alarm["id"]]
    everything = (await call(world, "GET", "/api/v1/alarms", ADMIN))[1]["items"]
    assert {a["id"]: a["owner"] for a in everything} == {
        a_alarm["id"]: f"customer:{world.tenants.a_customer}",
        b_alarm["id"]: f"customer:{world.tenants.b_customer}",
        own["id"]: "",
    }
    for method, suffix, kwargs in (
        ("GET", "", {}),
        ("PUT", "", {"json": {"threshold": 1}}),
        ("POST", "/test", {}),
        ("GET", "/evaluations", {}),
        ("DELETE", "", {}),
    ):
        status, body = await call(world, method, f"/api/v1/alarms/{a_alarm['id']}{suffix}", BOB, **kwargs)
        assert status == 404 and body["error"] == "not_found", (method, suffix, body)
    kept = (await call(world, "GET", f"/api/v1/alarms/{a_alarm['id']}", ALICE))[1]
    assert kept["threshold"] == 40, "B's PUT changed nothing"


async def test_the_alarm_list_pages_by_cursor(world: AlarmWorld) -> None:
    ids = [
        (await call(world, "POST", "/api/v1/alarms", ADMIN, json={**LOW_ASR, "name": f"n{i}"}))[1]["id"]
        for i in range(3)
    ]
    seen, cursor = [], ""
    for _ in range(3):
        status, page = await call(world, "GET", f"/api/v1/alarms?limit=2{'&cursor=' + cursor if cursor else ''}", ADMIN)
        assert status == 200
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    for query, field in (("limit=0", "limit"), ("cursor=zzz", "cursor")):
        status, body = await call(world, "GET", f"/api/v1/alarms?{query}", ADMIN)
        assert status == 400 and body["details"]["field"] == field


async def test_the_history_pages_back_in_time(world: AlarmWorld) -> None:
    alarm = (await call(world, "POST", "/api/v1/alarms", ADMIN, json={**LOW_ASR, "name": "history"}))[1]
    times = await record_history(world, alarm["id"], minutes=5)
    url = f"/api/v1/alarms/{alarm['id']}/evaluations"
    status, first = await call(world, "GET", f"{url}?limit=2", ADMIN)
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    stamps = [item["time"] for item in first["items"]]
    assert stamps == sorted(stamps, reverse=True), "newest first"
    status, second = await call(world, "GET", f"{url}?limit=2&before={first['next_cursor']}", ADMIN)
    assert status == 200 and len(second["items"]) == 2
    assert max(i["time"] for i in second["items"]) < min(stamps), "strictly before the cursor"
    everything = (await call(world, "GET", f"{url}?limit=100", ADMIN))[1]["items"]
    assert len(everything) == len(times) and everything[0]["verdict"] == "breach"
    assert everything[0]["value"] == pytest.approx(ASR_ACME)
    since = everything[2]["time"]
    recent = (await call(world, "GET", f"{url}?since={since}", ADMIN))[1]["items"]
    assert [i["id"] for i in recent] == [i["id"] for i in everything[:3]]
    for query, field in (
        ("before=yesterday", "before"),
        ("since=2026-01-02T03:04:05", "since"),
        ("limit=5001", "limit"),
    ):
        status, body = await call(world, "GET", f"{url}?{query}", ADMIN)
        assert status == 400 and body["details"]["field"] == field, (query, body)
    assert times[-1] - times[0] == 4 * MINUTE_US


async def test_answers_validate_against_the_openapi_document(world: AlarmWorld) -> None:
    client = world.client
    doc = await document(client)
    created = (await call(world, "POST", "/api/v1/alarms", ALICE, json=LOW_ASR))[1]
    await record_history(world, created["id"], minutes=2)
    path = f"/api/v1/alarms/{created['id']}"
    calls = [
        ("GET", "/api/v1/alarms", {}, ALICE),
        ("POST", "/api/v1/alarms", {"json": {**LOW_ASR, "metric": "cause_share", "hangup_cause": 17}}, ALICE),
        ("POST", "/api/v1/alarms", {"json": {**LOW_ASR, "threshold": None}}, ALICE),
        (
            "POST",
            "/api/v1/alarms",
            {"json": {"name": "CIC", "metric": "cic", "condition": "gt", "threshold": 10}},
            ALICE,
        ),
        ("POST", "/api/v1/alarms/test", {"json": LOW_ASR}, ALICE),
        ("GET", path, {}, ALICE),
        ("GET", path, {}, BOB),
        ("PUT", path, {"json": {"window": "week"}}, ALICE),
        ("PUT", path, {"json": {"window": "fortnight"}}, ALICE),
        ("POST", f"{path}/test", {}, ALICE),
        ("GET", f"{path}/evaluations", {}, ALICE),
        ("GET", f"{path}/evaluations?before=nope", {}, ALICE),
        ("DELETE", path, {}, ALICE),
    ]
    statuses = set()
    for method, url, kwargs, auth in calls:
        status, body = await call(world, method, url, auth, **kwargs)
        await check_response(doc, client.app, method, url, status, body)
        statuses.add(status)
    assert statuses == {200, 201, 204, 400, 404}
    anonymous = await client.get("/api/v1/alarms")
    await check_response(doc, client.app, "GET", "/api/v1/alarms", 401, await anonymous.json())
