"""The alarm list and detail show a last value only when the last evaluation measured one: "—" before the
first, "too few calls (20 of 50)" when the window had too few attempts, the error (flagged) when reporting
failed - never a false "0 %". The REST items carry last_verdict and last_message (valid per the OpenAPI).

Runs against the real alerting servicer in process; evaluations are stored as alerting's worker stores them.
"""

from __future__ import annotations

import asyncio
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alarms_testkit import AlarmWorld, alarm_world
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import basic, logged_in
from test_openapi_platform import check_response, document

from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.metric_source import MetricSource

ADMIN = basic("admin", ADMIN_PASSWORD)


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[AlarmWorld]:
    async with alarm_world(aiohttp_client, tmp_path) as found:
        yield found


async def evaluate(world: AlarmWorld, alarm_id: str, metrics: MetricSource | None) -> None:
    """One scheduled evaluation of that alarm (the worker's path: measured, judged, stored)."""
    service = AlarmsService(world.backend.store, metrics, clock=lambda: world.now_us / 1e6)
    alarm = await asyncio.to_thread(world.backend.store.get_alarm, alarm_id)
    assert alarm is not None
    assert await asyncio.to_thread(service.evaluate_one, alarm, world.now_us) is not None


def row(html: str, alarm_id: str) -> str:
    match = re.search(rf'<tr data-alarm-id="{alarm_id}".*?</tr>', html, re.S)
    assert match, f"a row for {alarm_id}"
    return match.group(0)


def last_cell(html: str) -> str:
    match = re.search(r'data-label="Last value"[^>]*>(.*?)</td>', html, re.S)
    assert match
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


async def test_the_list_shows_no_value_where_none_was_measured(world: AlarmWorld) -> None:
    backend = world.backend
    few = await backend.create(name="Too few", min_attempts=50)  # the world has 20 calls
    broken = await backend.create(name="Broken", min_attempts=5)
    never = await backend.create(name="Never", min_attempts=5)
    measured = await backend.create(name="Measured", min_attempts=5)
    await evaluate(world, few.id, backend.source)
    await evaluate(world, broken.id, None)  # reporting unreachable: the verdict is "error"
    await evaluate(world, measured.id, backend.source)

    await logged_in(world.client, "admin", ADMIN_PASSWORD)
    response = await world.client.get("/alarms")
    assert response.status == 200
    html = await response.text()
    assert last_cell(row(html, few.id)) == "too few calls (20 of 50)"
    assert 'data-last="insufficient"' in row(html, few.id)
    error_row = row(html, broken.id)
    assert 'data-last="error"' in error_row and 'class="error"' in error_row and "badge verdict-error" in error_row
    assert last_cell(error_row) == "Error no reporting service configured (REPORTING_GRPC_ADDR)"
    assert last_cell(row(html, never.id)) == "—"
    assert last_cell(row(html, measured.id)) == "55 %"
    for alarm in (few, broken, never):
        assert "0 %" not in last_cell(row(html, alarm.id))

    detail = await world.client.get(f"/alarms/{few.id}")
    text = await detail.text()
    assert detail.status == 200 and "too few calls (20 of 50)" in text
    assert not re.search(r"<dt>Last value</dt><dd[^>]*>\s*0 %", text)


async def test_rest_items_carry_the_last_verdict_and_message(world: AlarmWorld) -> None:
    backend = world.backend
    few = await backend.create(name="Too few", min_attempts=50)
    measured = await backend.create(name="Measured", min_attempts=5)
    await evaluate(world, few.id, backend.source)
    await evaluate(world, measured.id, backend.source)
    never = await backend.create(name="Never", min_attempts=5)

    response = await world.client.get("/api/v1/alarms", headers=ADMIN)
    assert response.status == 200
    body = await response.json()
    await check_response(await document(world.client), world.client.app, "GET", "/api/v1/alarms", 200, body)
    items = {item["id"]: item for item in body["items"]}
    assert (items[few.id]["last_verdict"], items[few.id]["last_value"]) == ("insufficient", None)
    assert "20 attempts, fewer than the minimum 50" in items[few.id]["last_message"]
    assert (items[measured.id]["last_verdict"], items[measured.id]["last_value"]) == ("ok", 55.0)
    assert items[measured.id]["last_message"].startswith("ASR 55 %")
    assert (items[never.id]["last_verdict"], items[never.id]["last_message"], items[never.id]["last_value"]) == (
        None, None, None,
    )  # fmt: skip
    one = await world.client.get(f"/api/v1/alarms/{few.id}", headers=ADMIN)
    assert (await one.json())["last_verdict"] == "insufficient"
