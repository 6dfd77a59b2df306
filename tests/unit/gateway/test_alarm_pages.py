"""Alarm pages against the real alerting servicer in process: create through the form, errors next
to the field, "Test now" without saving, list with state and owner, history chart data, actions."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alarms_testkit import ASR_ACME, AlarmWorld, alarm_world, record_history
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, logged_in

from cdrstats.alerting.v1 import alerting_pb2

FORM = {
    "name": "Low ASR on acme",
    "metric": "asr",
    "hangup_cause": "17",
    "scope_kind": "accountcode",
    "scope_value_accountcode": "acme",
    "scope_value_switch": "sw1",
    "scope_value_country": "FR",
    "scope_value_prefix": "",
    "window": "last_hour",
    "condition": "lt",
    "threshold": "40",
    "baseline": "previous_window",
    "min_attempts": "5",
    "cooldown_min": "15",
    "enabled": "on",
    "emails": "noc@acme.example\nops@acme.example",
    "webhooks": "https://hooks.acme.example/cdr",
}


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[AlarmWorld]:
    async with alarm_world(aiohttp_client, tmp_path) as found:
        yield found


async def page(world: AlarmWorld, url: str) -> str:
    response = await world.client.get(url)
    assert response.status == 200, (url, response.status)
    return await response.text()


async def post(world: AlarmWorld, url: str, data: dict[str, str], csrf: str) -> tuple[int, str, str]:
    response = await world.client.post(url, data={**data, "csrf_token": csrf}, allow_redirects=False)
    return response.status, await response.text(), response.headers.get("Location", "")


def island(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="alarm-history">(.*?)</script>', html, re.S)
    assert match, "the history chart's data island"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


async def test_a_customer_creates_an_alarm_through_the_form(world: AlarmWorld) -> None:
    csrf = await logged_in(world.client, "alice", PASSWORD_A)
    listing = await page(world, "/alarms")
    assert 'href="/alarms"' in listing and "No alarms yet" in listing
    form = await page(world, "/alarms/new")
    assert '<option value="acme">' in form and "globex" not in form, "only the customer's own codes"
    assert 'data-show-for-metric="cause_share"' in form and "data-show-if-relative" in form
    assert 'src="/static/js/alarms.js"' in form and "<script>" not in form

    status, _, location = await post(world, "/alarms/new", {**FORM, "action": "save"}, csrf)
    assert status == 303 and location.startswith("/alarms/al") and location.endswith("?done=created")
    detail = await page(world, location)
    assert "Alarm created." in detail and "ASR is less than 40 % over the last hour" in detail
    assert "account code acme" in detail and "noc@acme.example, ops@acme.example" in detail
    assert "15 min" in detail and "Not evaluated yet" in detail
    assert 'href="/cdrs?accountcode=acme"' in detail

    listing = await page(world, "/alarms")
    row = re.search(r'<tr data-alarm-id="[^"]+">.*?</tr>', listing, re.S)
    assert row, listing
    assert all(text in row.group(0) for text in ("Low ASR on acme", "badge ok", "account code acme", "Disable"))
    assert "Owner" not in listing, "customers see no owner column"


async def test_errors_are_shown_next_to_the_field_with_the_values_kept(world: AlarmWorld) -> None:
    csrf = await logged_in(world.client, "alice", PASSWORD_A)
    cases = [
        ({"emails": "noc@acme.example\nnot-an-address"}, "emails", "not-an-address"),
        ({"threshold": "forty"}, "threshold", "expected a number"),
        ({"condition": "falls_by", "baseline": ""}, "baseline", "previous_window"),
        ({"scope_value_accountcode": "globex"}, "scope", "tenant&#39;s account codes"),
        ({"webhooks": "ftp://files.example"}, "webhooks", "http(s)"),
        ({"name": ""}, "name", "characters"),
    ]
    for change, field, says in cases:
        status, html, _ = await post(world, "/alarms/new", {**FORM, **change, "action": "save"}, csrf)
        assert status == 400, (field, status)
        message = re.search(rf'<span class="field-error" id="error-{field}" role="alert">(.*?)</span>', html, re.S)
        assert message and says in message.group(1), (field, html[html.find("field-error") - 200 :][:600])
        assert f'aria-describedby="error-{field}"' in html
        assert "correct the marked field" in html
        if field != "name":
            assert 'value="Low ASR on acme"' in html, "what was typed is kept"
    assert "No alarms yet" in await page(world, "/alarms"), "nothing was saved"


async def test_test_now_on_the_form_shows_the_verdict_without_saving(world: AlarmWorld) -> None:
    csrf = await logged_in(world.client, "alice", PASSWORD_A)
    status, html, _ = await post(world, "/alarms/new", {**FORM, "action": "test"}, csrf)
    assert status == 200
    result = html[html.index("data-test-result") :]
    assert "Breach" in result and f"{ASR_ACME:g} %" in result
    assert "ASR 30 % &lt; 40 % over the last hour" in result
    assert "Nothing was stored and nobody was notified." in result
    assert 'value="Low ASR on acme"' in html and "noc@acme.example\nops@acme.example" in html
    assert "No alarms yet" in await page(world, "/alarms")

    status, html, _ = await post(world, "/alarms/new", {**FORM, "threshold": "20", "action": "test"}, csrf)
    assert status == 200 and "would not fire" in html
    status, html, _ = await post(world, "/alarms/new", {**FORM, "min_attempts": "50", "action": "test"}, csrf)
    assert "Too few calls" in html and "fewer than the 50 needed" in html


async def test_the_detail_page_charts_the_history_and_tests_now(world: AlarmWorld) -> None:
    csrf = await logged_in(world.client, "alice", PASSWORD_A)
    _, _, location = await post(world, "/alarms/new", {**FORM, "action": "save"}, csrf)
    alarm_id = location.split("/")[-1].split("?")[0]
    await record_history(world, alarm_id, minutes=4, recover_after=2)

    detail = await page(world, f"/alarms/{alarm_id}")
    data = island(detail)
    assert [p["state"] for p in data["points"]] == ["FIRING", "FIRING", "OK", "OK"]
    assert [p["level"] for p in data["points"]] == [40.0] * 4
    assert data["points"][0]["value"] == pytest.approx(ASR_ACME) and data["points"][3]["value"] > 70
    times = [p["t"] for p in data["points"]]
    assert times == sorted(times) and data["firing"] == [[times[0], times[2]]]
    assert (data["unit"], data["relative"]) == ("%", False)
    assert detail.count('<tr class="verdict-') == 4 and "badge firing" in detail
    assert "/cdrs?from=" in detail and "accountcode=acme" in detail, "the newest window's CDR search"
    assert 'src="/static/js/alarms.js"' in detail

    status, html, _ = await post(world, f"/alarms/{alarm_id}", {"action": "test"}, csrf)
    assert status == 200 and "data-test-result" in html and "would not fire" in html
    again = island(await page(world, f"/alarms/{alarm_id}"))
    assert len(again["points"]) == 4, "a test stores no evaluation"


async def test_edit_enable_disable_and_delete(world: AlarmWorld) -> None:
    csrf = await logged_in(world.client, "alice", PASSWORD_A)
    _, _, location = await post(world, "/alarms/new", {**FORM, "action": "save"}, csrf)
    alarm_id = location.split("/")[-1].split("?")[0]
    edit = await page(world, f"/alarms/{alarm_id}/edit")
    assert 'value="Low ASR on acme"' in edit and 'value="15"' in edit and "ops@acme.example" in edit
    changed = {**FORM, "condition": "falls_by_pct", "baseline": "same_window_last_week", "threshold": "25"}
    status, _, location = await post(world, f"/alarms/{alarm_id}/edit", {**changed, "action": "save"}, csrf)
    assert status == 303 and location == f"/alarms/{alarm_id}?done=saved"
    detail = await page(world, location)
    assert "ASR falls by more than 25 % over the last hour, compared with the same window last week" in detail

    status, _, location = await post(world, f"/alarms/{alarm_id}", {"action": "disable", "back": "list"}, csrf)
    assert (status, location) == (303, "/alarms?done=disabled")
    listing = await page(world, location)
    assert "badge off" in listing and ">Enable<" in listing and "Alarm disabled." in listing
    status, _, location = await post(world, f"/alarms/{alarm_id}", {"action": "enable"}, csrf)
    assert location == f"/alarms/{alarm_id}?done=enabled"
    assert "badge ok" in await page(world, location)
    status, _, location = await post(world, f"/alarms/{alarm_id}", {"action": "delete"}, csrf)
    assert location == "/alarms?done=deleted"
    assert (await world.client.get(f"/alarms/{alarm_id}")).status == 404
    status, _, _ = await post(world, f"/alarms/{alarm_id}", {"action": "explode"}, csrf)
    assert status == 404


async def test_admins_see_every_alarm_with_its_owner_and_pick_any_code(world: AlarmWorld) -> None:
    await world.backend.create(f"customer:{world.tenants.a_customer}", name="Acme's own")
    await world.backend.create("", name="Installation-wide")
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    listing = await page(world, "/alarms")
    assert "<th>Owner</th>" in listing
    owner_cell = r'<td data-label="Owner">([^<]*)</td>'
    rows = dict(re.findall(rf'<a href="/alarms/[^"]+">([^<]+)</a>.*?{owner_cell}', listing, re.S))
    assert rows == {"Acme&#39;s own": "Acme", "Installation-wide": "Installation"}
    form = await page(world, "/alarms/new")
    assert 'list="alarm-accountcodes"' in form
    assert all(f'<option value="{code}">' in form for code in ("acme", "globex", "initech"))
    assert '<option value="sw1"' in form and "Switch One" in form and '<option value="FR"' in form
    status, _, location = await post(world, "/alarms/new", {**FORM, "name": "Admin ASR", "action": "save"}, csrf)
    assert status == 303
    assert "Installation (admins)" in await page(world, location)


async def test_customer_b_cannot_reach_customer_a_alarm_pages(world: AlarmWorld) -> None:
    a_alarm = await world.backend.create(f"customer:{world.tenants.a_customer}", name="Acme secret")
    csrf = await logged_in(world.client, "bob", PASSWORD_B)
    for url in (f"/alarms/{a_alarm.id}", f"/alarms/{a_alarm.id}/edit"):
        response = await world.client.get(url)
        assert response.status == 404 and "Acme secret" not in await response.text()
    for url, action in ((f"/alarms/{a_alarm.id}", "delete"), (f"/alarms/{a_alarm.id}/edit", "save")):
        status, html, _ = await post(world, url, {**FORM, "action": action}, csrf)
        assert status == 404 and "Acme secret" not in html
    assert "Acme secret" not in await page(world, "/alarms")
    admin_ref = alerting_pb2.AlarmRef(scope=alerting_pb2.Scope(admin=True), id=a_alarm.id)
    still = await world.backend.stub.GetAlarm(admin_ref)
    assert still.name == "Acme secret" and still.threshold == 40
