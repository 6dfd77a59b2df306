"""The recent-hits page and GET /api/v1/hits page back through a large hit log: 100 rows a page with
"Older"/"Newest" links, a before/next_cursor cursor on the API, every hit exactly once, newest first.

Against the real alerting servicer (control_testkit); the hits are logged as alerting's worker logs them.
"""

from __future__ import annotations

import asyncio
import html
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_testkit import ControlWorld, control_world
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import basic, logged_in
from test_openapi_platform import check_response, document

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope

ADMIN = basic("admin", ADMIN_PASSWORD)
START_US = 1_760_000_000_000_000


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as built:
        yield built


def call(cdr_id: str, n: int) -> dict[str, Any]:
    return new_cdr(
        id=cdr_id, uuid=cdr_id, switch_id="sw1", direction="outbound", destination_number=f"+4478{n:08d}",
        destination_e164=f"+4478{n:08d}", country="GB", accountcode="acme", start_time_us=START_US + n,
        end_time_us=START_US + n + 1_000_000,
    )  # fmt: skip


async def log_hits(world: ControlWorld, *batches: int) -> list[str]:
    """Outbound calls to a black-listed +4478 prefix, one cdrs_ingested event per batch; the CDR ids."""
    entry = alerting_pb2.ListEntry(list="black", prefix="4478", note="paging")
    scope = alerting_pb2.Scope(admin=True)
    await world.alerting.CreateListEntries(alerting_pb2.CreateListEntriesRequest(scope=scope, entries=[entry]))
    ids: list[str] = []
    for number, size in enumerate(batches):
        cdrs = [call(f"pg-{number}-{i:03d}", i) for i in range(size)]
        envelope = make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs})
        await asyncio.to_thread(world.back.alerting.apply_cdrs_event, envelope)
        ids += [c["id"] for c in cdrs]
    return ids


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-hit-cdr="([^"]+)">', page)


def link(page: str, label: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]*>{label}</a>', page)
    return html.unescape(match.group(1)) if match else ""


async def test_the_page_shows_100_hits_and_pages_back_with_older(world: ControlWorld) -> None:
    logged = await log_hits(world, 150, 80)
    await logged_in(world.client, "admin", ADMIN_PASSWORD)
    seen: list[str] = []
    url, pages = "/destinations/hits?verdict=black", []
    while url:
        response = await world.client.get(url if url.startswith("/") else f"/destinations/hits{url}")
        assert response.status == 200
        page = await response.text()
        pages.append(page)
        seen += rows(page)
        url = link(page, "Older")
    assert [len(rows(p)) for p in pages] == [100, 100, 30]
    assert sorted(seen) == sorted(logged) and len(set(seen)) == 230, "every hit once"
    assert seen[:80] == [f"pg-1-{i:03d}" for i in reversed(range(80))], "newest first (the later event)"
    assert not link(pages[0], "Newest") and link(pages[1], "Newest") == "?verdict=black"
    assert "verdict=black" in link(pages[0], "Older")

    beyond = await world.client.get("/destinations/hits?before=1")
    assert beyond.status == 200 and "No older hits." in await beyond.text()
    assert (await world.client.get("/destinations/hits?before=yesterday")).status == 400


async def test_the_api_pages_back_with_before_and_next_cursor(world: ControlWorld) -> None:
    logged = await log_hits(world, 120, 45)
    doc = await document(world.client)
    seen: list[str] = []
    url, cursors = "/api/v1/hits?verdict=black&limit=70", []
    while url:
        response = await world.client.get(url, headers=ADMIN)
        body = await response.json()
        assert response.status == 200, body
        await check_response(doc, world.client.app, "GET", url, 200, body)
        seen += [hit["cdr_id"] for hit in body["items"]]
        cursors.append(body["next_cursor"])
        url = f"/api/v1/hits?verdict=black&limit=70&before={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(cursors) == 3 and cursors[-1] is None and all(c.endswith("Z") for c in cursors[:-1])
    assert sorted(seen) == sorted(logged) and len(set(seen)) == 165

    everything = await (await world.client.get("/api/v1/hits?verdict=black&limit=1000", headers=ADMIN)).json()
    assert len(everything["items"]) == 165 and everything["next_cursor"] is None
    bad = await world.client.get("/api/v1/hits?before=last+week", headers=ADMIN)
    problem = await bad.json()
    assert bad.status == 400 and problem["details"]["field"] == "before" and "before:" in problem["message"]
