"""The delivery log does not show a webhook URL's password (the contacts page, where it was typed, does).

Real notify and gateway (control_testkit); the webhook goes to a real receiver, so the test also
proves the password was still used for the request.
"""

from __future__ import annotations

import base64
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_testkit import ControlWorld, control_world
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, basic, logged_in

from cdrstats_common.testing_receivers import WebhookReceiver

HOOK_PASSWORD = "hook-password-Gecko-4471"


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as made:
        yield made


async def test_delivery_log_masks_webhook_passwords_for_owner_and_admin(world: ControlWorld) -> None:
    client = world.client
    csrf = await logged_in(client, "alice", PASSWORD_A)
    with WebhookReceiver() as hooks:
        url = hooks.url("/hook").replace("http://", f"http://hookuser:{HOOK_PASSWORD}@")
        form = {"action": "test_webhook", "target": url, "csrf_token": csrf}
        sent = await client.post("/contacts", data=form)
        assert sent.status == 200 and "sent to" in await sent.text()
        received = hooks.wait(1, timeout_s=20)[0]
    expected = "Basic " + base64.b64encode(f"hookuser:{HOOK_PASSWORD}".encode()).decode()
    assert received.headers["Authorization"] == expected, "the password was still used to call the webhook"
    masked = url.replace(HOOK_PASSWORD, "********")
    views = [
        await (await client.get("/deliveries")).text(),
        await (await client.get("/api/v1/deliveries", headers=basic("alice", PASSWORD_A))).text(),
        await (await client.get("/api/v1/deliveries", headers=basic("admin", ADMIN_PASSWORD))).text(),
    ]
    for shown in views:
        assert HOOK_PASSWORD not in shown
        assert masked in shown, "the delivery is listed, with its password masked"
