"""Switches connecting at once: each first key check holds argon2's 64 MiB, so the checks are bounded."""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from cdrstats_common.testing import PeakRss
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.http_receiver import create_receiver_app
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store
from cdrstats_ingest.store.sqlite import SqliteCdrStore

SWITCHES = 8  # more than the receiver's thread pool runs at once on a small machine (cpu_count + 4)
ARGON2_MIB = 64  # argon2-cffi's default memory_cost, which the product uses


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[SqliteCdrStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'ingest.db'}")
    assert isinstance(opened, SqliteCdrStore)
    yield opened
    opened.close()


async def test_first_posts_of_many_switches_hold_at_most_two_argon2_buffers(
    aiohttp_client: Any, store: SqliteCdrStore
) -> None:
    service = IngestService(store)  # the product's hasher, not a cheap test one: its memory is the point
    for i in range(SWITCHES):
        service.upsert_switch(SwitchConfig(id=f"fs{i}", username=f"fs{i}", home_country="US"), f"key-{i}")
    client = await aiohttp_client(create_receiver_app(service, max_body_bytes=16_384))

    async def post(i: int) -> int:
        auth = base64.b64encode(f"fs{i}:{'key-' if i % 2 else 'wrong-'}{i}".encode()).decode()
        response = await client.post(
            "/v1/freeswitch/json", data=json.dumps({"variables": {}}), headers={"Authorization": f"Basic {auth}"}
        )
        return int(response.status)

    with PeakRss() as peak:
        statuses = await asyncio.wait_for(asyncio.gather(*(post(i) for i in range(SWITCHES))), timeout=60)
    # a right key gets past the check (and the empty document is refused); a wrong one is 401
    assert statuses == [401 if i % 2 == 0 else 400 for i in range(SWITCHES)]
    # unbounded, the receiver's six threads held six buffers at once (+384 MiB)
    assert peak.growth_mib < 3 * ARGON2_MIB, f"peak RSS rose {peak.growth_mib:.0f} MiB during {SWITCHES} first POSTs"
