"""Destination-control pages and the CDR flags, through create_app against the real alerting servicer.

Lists are read back through alerting's own API, so a page that only looked right would fail here.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_testkit import ControlWorld, control_world, gateway_settings
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, basic, logged_in

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats_common.testing import free_port
from cdrstats_gateway.app import create_app

CDR_RANGE = "from=2025-10-01T00:00&to=2025-11-01T00:00"


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as built:
        yield built


async def stored_entries(world: ControlWorld) -> list[tuple[str, str, str, str, str]]:
    """(list, owner, prefix, country, note) of every entry, as alerting keeps them."""
    request = alerting_pb2.ListListEntriesRequest(scope=alerting_pb2.Scope(admin=True))
    reply = await world.alerting.ListListEntries(request)
    return sorted((e.list, e.owner, e.prefix, e.country, e.note) for e in reply.entries)


async def post(world: ControlWorld, path: str, csrf: str, **form: Any) -> tuple[int, str, str]:
    response = await world.client.post(path, data={"csrf_token": csrf, **form}, allow_redirects=False)
    return response.status, await response.text(), response.headers.get("Location", "")


async def as_user(world: ControlWorld, username: str, password: str) -> str:
    """Log in as someone else (a fresh cookie jar); returns the session's CSRF token."""
    world.client.session.cookie_jar.clear()
    return await logged_in(world.client, username, password)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'data-field-error="{field}">([^<]*)<', html)
    return match.group(1) if match else ""


async def test_pick_a_country_and_tick_its_prefixes(world: ControlWorld) -> None:
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    page = await (await world.client.get("/destinations?list=black&country=GB")).text()
    assert 'name="prefixes" value="44"' in page and "shared with GG, IM, JE" in page
    assert re.search(r'value="4474"[^>]*> <span><code>\+4474</code> — mobile', page)
    assert 'value="4490"' in page and "premium rate" in page
    status, _, location = await post(
        world,
        "/destinations",
        csrf,
        action="add",
        list="black",
        country="GB",
        whole_country="on",
        prefixes=["4474", "4490"],
        note="IRSF",
    )
    assert status == 303 and location.endswith("list=black&done=added")
    assert await stored_entries(world) == [
        ("black", "", "", "GB", "IRSF"),
        ("black", "", "4474", "", "IRSF"),
        ("black", "", "4490", "", "IRSF"),
    ]
    listed = await (await world.client.get(location)).text()
    assert "Added to the list." in listed and "<code>+4474</code>" in listed and "whole country" in listed
    prefixes = await (await world.client.get("/destinations/prefixes?country=FR")).json()
    assert (
        prefixes["calling_code"] == 33
        and {"prefix": "336", "kinds": ["mobile"]}.items()
        <= next(c for c in prefixes["choices"] if c["prefix"] == "336").items()
    )
    bad = await world.client.get("/destinations/prefixes?country=XX")
    assert bad.status == 400 and "country" in (await bad.json())["message"]


async def test_typed_prefixes_and_errors_next_to_the_field(world: ControlWorld) -> None:
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    status, _, _ = await post(
        world, "/destinations", csrf, action="add", list="white", prefix="+44 70\n0049 30", note=""
    )
    assert status == 303
    assert await stored_entries(world) == [("white", "", "4470", "", ""), ("white", "", "4930", "", "")]
    status, html, _ = await post(world, "/destinations", csrf, action="add", list="white", prefix="4470x", note="kept")
    assert status == 400 and "E.164 digits" in field_error(html, "prefix")
    assert 'value="kept"' in html and "4470x</textarea>" in html, "the form keeps what was typed"
    assert 'href="/destinations?list=white" aria-current="page"' in html, "still on the white list tab"
    status, html, _ = await post(world, "/destinations", csrf, action="add", list="black", note="nothing ticked")
    assert status == 400 and "tick at least one prefix" in field_error(html, "prefix")
    assert len(await stored_entries(world)) == 2


async def test_customers_own_their_entries_and_read_the_global_ones(world: ControlWorld) -> None:
    admin = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    await post(world, "/destinations", admin, action="add", list="black", prefix="4420", note="global block")
    alice = await as_user(world, "alice", PASSWORD_A)
    status, _, _ = await post(world, "/destinations", alice, action="add", list="black", prefix="3314", note="acme")
    assert status == 303
    a_tenant = world.a_tenant
    assert ("black", a_tenant, "3314", "", "acme") in await stored_entries(world)
    page = await (await world.client.get("/destinations?list=black")).text()
    assert "global block" in page and "acme" in page
    rows = dict(re.findall(r'<tr data-entry-id="([^"]+)">(.*?)</tr>', page, re.S))
    own = next(i for i, row in rows.items() if "3314" in row)
    glob = next(i for i, row in rows.items() if "4420" in row)
    assert 'value="delete"' in rows[own] and 'value="delete"' not in rows[glob], "global entries are read-only"
    refused, _, _ = await post(world, "/destinations", alice, action="delete", list="black", id=glob)
    assert refused in (403, 404)

    bob = await as_user(world, "bob", PASSWORD_B)
    page = await (await world.client.get("/destinations?list=black")).text()
    assert "global block" in page and "3314" not in page
    status, html, _ = await post(world, "/destinations", bob, action="delete", list="black", id=own)
    assert status == 404 and "3314" not in html
    assert ("black", a_tenant, "3314", "", "acme") in await stored_entries(world), "B could not delete A's entry"
    alice = await as_user(world, "alice", PASSWORD_A)
    status, _, location = await post(world, "/destinations", alice, action="delete", list="black", id=own)
    assert status == 303 and location.endswith("done=deleted")
    assert [e for e in await stored_entries(world) if e[1] == a_tenant] == []


async def test_check_a_number(world: ControlWorld) -> None:
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    await post(world, "/destinations", csrf, action="add", list="black", prefix="4420", note="")
    await post(world, "/destinations", csrf, action="add", list="white", prefix="442071", note="")
    page = await (await world.client.get("/destinations?number=%2B442081234567")).text()
    assert 'class="badge verdict-black"' in page and "4420" in page and "<code>+442081234567</code>" in page
    page = await (await world.client.get("/destinations?number=442071234567")).text()
    assert 'class="badge verdict-white"' in page
    page = await (await world.client.get("/destinations?number=%2B33142000000")).text()
    assert 'class="badge verdict-none"' in page and "No list entry or geographic rule matches" in page
    page = await (await world.client.get("/destinations?number=abc")).text()
    assert "data-check-result" in page and 'class="error"' in page


async def test_geo_rules_add_edit_and_delete(world: ControlWorld) -> None:
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    status, _, location = await post(
        world, "/destinations/geo", csrf, action="save", mode="allow", countries="de, FR", switch_id="", note="EU"
    )
    assert status == 303 and location.endswith("done=saved")
    rules = (
        await world.alerting.ListGeoRules(alerting_pb2.ListGeoRulesRequest(scope=alerting_pb2.Scope(admin=True)))
    ).rules
    assert [(r.mode, list(r.countries), r.note, r.owner) for r in rules] == [("allow", ["DE", "FR"], "EU", "")]
    rule_id = rules[0].id
    edit = await (await world.client.get(f"/destinations/geo?edit={rule_id}")).text()
    assert "Edit rule" in edit and 'value="DE, FR"' in edit and f'name="id" value="{rule_id}"' in edit
    status, _, _ = await post(
        world, "/destinations/geo", csrf, action="save", id=rule_id, mode="forbid", countries="CU", switch_id="sw1"
    )
    assert status == 303
    rules = (
        await world.alerting.ListGeoRules(alerting_pb2.ListGeoRulesRequest(scope=alerting_pb2.Scope(admin=True)))
    ).rules
    assert [(r.id, r.mode, list(r.countries), r.switch_id) for r in rules] == [(rule_id, "forbid", ["CU"], "sw1")]
    status, html, _ = await post(world, "/destinations/geo", csrf, action="save", mode="forbid", countries="CU, XX")
    assert status == 400 and "XX" in field_error(html, "countries")
    status, _, _ = await post(world, "/destinations/geo", csrf, action="delete", id=rule_id)
    assert status == 303
    rules = (
        await world.alerting.ListGeoRules(alerting_pb2.ListGeoRulesRequest(scope=alerting_pb2.Scope(admin=True)))
    ).rules
    assert list(rules) == []


async def test_hits_and_flags_on_cdr_pages(world: ControlWorld) -> None:
    """A black-listed destination: the hit log page, the flag in search results, detail and the REST detail."""
    csrf = await logged_in(world.client, "admin", ADMIN_PASSWORD)
    await post(world, "/destinations", csrf, action="add", list="black", prefix="4420", note="London")
    world.back.apply_cdrs()
    hit_ids = [c["id"] for c in world.back.ingest.cdrs if c["destination_e164"].startswith("+4420")]
    flagged = [i for i in hit_ids if next(c for c in world.back.ingest.cdrs if c["id"] == i)["direction"] != "inbound"]
    assert flagged, "some outbound CDRs go to London"

    hits = await (await world.client.get("/destinations/hits")).text()
    linked = set(re.findall(r'<tr data-hit-cdr="([^"]+)">', hits))
    assert linked == set(flagged)
    assert f'href="/cdrs/{flagged[0]}"' in hits and "black list prefix 4420" in hits

    search = await (await world.client.get(f"/cdrs?{CDR_RANGE}&page_size=100")).text()
    assert search.count('data-flag="black"') == len(flagged)
    detail = await (await world.client.get(f"/cdrs/{flagged[0]}")).text()
    assert 'data-flag="black"' in detail and "black list prefix 4420" in detail
    clean = next(c["id"] for c in world.back.ingest.cdrs if c["id"] not in hit_ids)
    assert "No black/white-list entry" in await (await world.client.get(f"/cdrs/{clean}")).text()

    admin = basic("admin", ADMIN_PASSWORD)
    body = await (await world.client.get(f"/api/v1/cdrs/{flagged[0]}", headers=admin)).json()
    assert body["destination_verdict"]["verdict"] == "black" and body["destination_verdict"]["rule"].startswith(
        "black list prefix 4420"
    )
    assert (await (await world.client.get(f"/api/v1/cdrs/{clean}", headers=admin)).json())[
        "destination_verdict"
    ] is None
    # a customer sees flags of its own calls only: acme's calls here are all inbound (never checked)
    await as_user(world, "bob", PASSWORD_B)
    bob_hits = await (await world.client.get("/destinations/hits")).text()
    bob_cdrs = {c["id"] for c in world.back.ingest.visible("globex", "initech")}
    assert set(re.findall(r'<tr data-hit-cdr="([^"]+)">', bob_hits)) == set(flagged) & bob_cdrs


async def test_pages_render_without_alerting(aiohttp_client: Any, tmp_path: pathlib.Path, world: ControlWorld) -> None:
    """Alerting down: CDR pages still work and say the flags are missing; control pages say why they are empty."""
    down = gateway_settings(
        tmp_path,
        world.back,
        store_url=f"sqlite:///{tmp_path / 'other.db'}",
        alerting_grpc_addr=f"127.0.0.1:{free_port()}",
    )
    client = await aiohttp_client(await create_app(down))
    await logged_in(client, "admin", ADMIN_PASSWORD)
    search = await client.get(f"/cdrs?{CDR_RANGE}")
    assert search.status == 200 and "data-flags-unavailable" in await search.text()
    cdr_id = world.back.ingest.cdrs[0]["id"]
    detail = await client.get(f"/cdrs/{cdr_id}")
    assert detail.status == 200 and "data-flags-unavailable" in await detail.text()
    rest = await client.get(f"/api/v1/cdrs/{cdr_id}", headers=basic("admin", ADMIN_PASSWORD))
    assert rest.status == 200 and (await rest.json())["destination_verdict"] is None
    for path in ("/destinations", "/destinations/geo", "/destinations/hits"):
        page = await client.get(path)
        assert page.status == 200 and "alerting is unavailable" in await page.text(), path
