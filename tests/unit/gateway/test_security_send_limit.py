"""Sends to typed-in addresses are limited per user: test e-mails/webhooks and "send the report now".

Real notify (mailing to an in-process SMTP server) behind a real gateway (control_testkit): the
sends that pass go out, the sixth in ten minutes is a 429 with Retry-After, through the page and
the API alike, and neither another user nor the next window is affected.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from control_testkit import ControlWorld, control_world
from platform_testkit import PASSWORD_A, PASSWORD_B, basic, logged_in

from cdrstats_gateway import keys
from cdrstats_gateway.throttle import SEND_LIMIT, SEND_WINDOW_S


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as made:
        yield made


async def test_test_sends_are_limited_per_user_with_retry_after(world: ControlWorld) -> None:
    client = world.client
    csrf = await logged_in(client, "alice", PASSWORD_A)
    now = [1000.0]
    client.app[keys.SEND_THROTTLE].clock = lambda: now[0]

    async def send(action: str, target: str) -> Any:
        form = {"action": action, "target": target, "csrf_token": csrf}
        return await client.post("/contacts", data=form, allow_redirects=False)

    empty = await send("test_email", "")
    assert empty.status == 400, "a typo is refused before it counts"
    for i in range(SEND_LIMIT - 1):
        sent = await send("test_email", f"probe{i}@acme.example")
        assert sent.status == 200 and f"sent to probe{i}@acme.example" in await sent.text()
    hook = await send("test_webhook", "http://127.0.0.1:9/hook")  # webhooks count toward the same limit
    assert hook.status == 200
    refused = await send("test_email", "victim@elsewhere.example")
    assert refused.status == 429
    assert 0 < int(refused.headers["Retry-After"]) <= SEND_WINDOW_S
    assert "Too many sends" in await refused.text()

    api = await client.post("/api/v1/mail-report/send", json={"kind": "daily"}, headers=basic("alice", PASSWORD_A))
    assert api.status == 429 and int(api.headers["Retry-After"]) > 0
    assert (await api.json())["error"] == "too_many_requests"

    mails = world.back.smtp.wait(SEND_LIMIT - 1, timeout_s=20)
    assert all("victim@elsewhere.example" not in m.recipients for m in mails)
    assert len(world.back.smtp.mails) == SEND_LIMIT - 1, "the refused send never reached notify"

    client.session.cookie_jar.clear()
    bob_csrf = await logged_in(client, "bob", PASSWORD_B)
    bob = await client.post(
        "/contacts",
        data={"action": "test_email", "target": "bob@globex.example", "csrf_token": bob_csrf},
        allow_redirects=False,
    )
    assert bob.status == 200, "the limit is per user"

    now[0] += SEND_WINDOW_S + 1
    client.session.cookie_jar.clear()
    csrf = await logged_in(client, "alice", PASSWORD_A)
    assert (await send("test_email", "later@acme.example")).status == 200, "the next window is open again"


async def test_the_report_send_form_is_limited_too(world: ControlWorld) -> None:
    client = world.client
    throttle = client.app[keys.SEND_THROTTLE]
    for _ in range(SEND_LIMIT):
        assert throttle.take(world.tenants.a.id) == 0
    csrf = await logged_in(client, "alice", PASSWORD_A)
    form = {"action": "send", "kind": "daily", "recipients": "x@elsewhere.example", "csrf_token": csrf}
    refused = await client.post("/mail-report", data=form, allow_redirects=False)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert world.back.smtp.mails == []
