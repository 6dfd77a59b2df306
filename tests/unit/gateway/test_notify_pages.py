"""Mail report (settings, live preview, send now), contacts (with test sends) and the delivery log pages,
through create_app against the real notify servicer (which renders from the real reporting and ingest,
and mails to an in-process aiosmtpd)."""

from __future__ import annotations

import asyncio
import pathlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import pytest
from control_testkit import CDR_DAY, ControlWorld, control_world
from gateway_testkit import ADMIN_PASSWORD
from platform_testkit import PASSWORD_A, PASSWORD_B, logged_in

from cdrstats_common.testing_receivers import WebhookReceiver
from cdrstats_notify.domain.deliveries import Delivery


@pytest.fixture
async def world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    async with control_world(aiohttp_client, tmp_path) as built:
        yield built


async def as_user(world: ControlWorld, username: str, password: str) -> str:
    world.client.session.cookie_jar.clear()
    return await logged_in(world.client, username, password)


async def post(world: ControlWorld, path: str, csrf: str, **form: Any) -> tuple[int, str, str]:
    response = await world.client.post(path, data={"csrf_token": csrf, **form}, allow_redirects=False)
    return response.status, await response.text(), response.headers.get("Location", "")


def field_error(html: str, field: str) -> str:
    match = re.search(rf'data-field-error="{field}">([^<]*)<', html)
    return match.group(1) if match else ""


async def test_customer_saves_the_mail_report_and_errors_show_at_the_field(world: ControlWorld) -> None:
    csrf = await as_user(world, "alice", PASSWORD_A)
    form = {"daily": "on", "hour": "6", "weekday": "5", "recipients": "noc@acme.example\nboss@acme.example"}
    status, _, location = await post(world, "/mail-report", csrf, action="save", switch_id="sw1", **form)
    assert status == 303 and location == "/mail-report?saved=1"
    saved = world.back.notify_store.get_mail_report(world.a_tenant)
    assert saved is not None
    assert (saved.daily, saved.weekly, saved.hour, saved.weekday, saved.switch_id) == (True, False, 6, 5, "sw1")
    assert saved.recipients == ("noc@acme.example", "boss@acme.example")
    page = await (await world.client.get(location)).text()
    assert "Settings saved." in page and "noc@acme.example\nboss@acme.example</textarea>" in page
    assert '<option value="6" selected>06:00</option>' in page

    status, html, _ = await post(world, "/mail-report", csrf, action="save", **{**form, "recipients": "nope"})
    assert status == 400 and "expected an e-mail address" in field_error(html, "recipients")
    assert ">nope</textarea>" in html, "the form shows what was typed"
    status, html, _ = await post(world, "/mail-report", csrf, action="save", **{**form, "hour": "25"})
    assert status == 400 and "0 to 23" in field_error(html, "hour")
    unchanged = world.back.notify_store.get_mail_report(world.a_tenant)
    assert unchanged is not None and unchanged.recipients == ("noc@acme.example", "boss@acme.example")


async def test_live_preview_is_the_tenants_mail_in_a_locked_down_document(world: ControlWorld) -> None:
    await as_user(world, "alice", PASSWORD_A)
    page = await (await world.client.get(f"/mail-report?period={CDR_DAY}")).text()
    frame = re.search(r'<iframe class="mail-preview"[^>]*sandbox=""[^>]*src="([^"]+)"', page)
    assert frame, "the preview is a sandboxed iframe"
    src = frame.group(1).replace("&amp;", "&")
    assert f"period={CDR_DAY}" in src
    preview = await world.client.get(src)
    assert preview.status == 200 and preview.content_type == "text/html"
    csp = preview.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'self'" in csp
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = await preview.text()
    assert f"Daily report {CDR_DAY}" in html and "<script" not in html
    acme_calls = sum(1 for c in world.back.ingest.visible("acme") if c["start_time_us"] // 86_400_000_000 == 20370)
    assert acme_calls and re.search(rf">{acme_calls}</", html), "the tenant's own attempts"

    meta = await (
        await world.client.get(f"/mail-report/preview.json?period={CDR_DAY}&recipients=x%40acme.example")
    ).json()
    assert meta["period"] == CDR_DAY and "Acme" in meta["subject"] and meta["recipients"] == ["x@acme.example"]
    assert meta["from"] == f"{CDR_DAY} 00:00"
    bad = await (await world.client.get("/mail-report/preview.json?period=yesterday")).json()
    assert "period" in bad["error"]
    broken = await world.client.get("/mail-report/preview?kind=weekly&period=2025-10-09")
    assert broken.status == 200 and "expected an ISO week" in await broken.text()

    await as_user(world, "bob", PASSWORD_B)
    bob = await (await world.client.get(f"/mail-report/preview.json?period={CDR_DAY}")).json()
    assert "Globex" in bob["subject"] and "Acme" not in bob["subject"]


async def test_send_now_queues_the_report_and_the_log_shows_it(world: ControlWorld) -> None:
    csrf = await as_user(world, "alice", PASSWORD_A)
    status, html, _ = await post(
        world, "/mail-report", csrf, action="send", kind="daily", period=CDR_DAY, recipients="boss@acme.example"
    )
    assert status == 200 and "queued 1 e-mail(s)" in html
    log = await (await world.client.get("/deliveries?kind=mail_report")).text()
    assert "boss@acme.example" in log and f"Daily report {CDR_DAY}" in log
    await as_user(world, "bob", PASSWORD_B)
    assert "boss@acme.example" not in await (await world.client.get("/deliveries")).text()


async def test_contacts_and_test_sends(world: ControlWorld) -> None:
    csrf = await as_user(world, "alice", PASSWORD_A)
    with WebhookReceiver() as hooks:
        form = {"emails": "noc@acme.example", "webhooks": hooks.url()}
        status, _, location = await post(world, "/contacts", csrf, action="save", **form)
        assert status == 303 and location == "/contacts?saved=1"
        kept = world.back.notify_store.get_contacts(world.a_tenant)
        assert (kept.emails, kept.webhooks) == (("noc@acme.example",), (hooks.url(),))
        page = await (await world.client.get(location)).text()
        assert "Contacts saved." in page and f'value="{hooks.url()}"' in page

        status, html, _ = await post(world, "/contacts", csrf, action="test_email", target="noc@acme.example")
        assert status == 200 and "sent to noc@acme.example" in html
        [mail] = await asyncio.to_thread(world.back.smtp.wait, 1, 10.0, "noc@acme.example")
        assert mail.recipients == ("noc@acme.example",)
        status, html, _ = await post(world, "/contacts", csrf, action="test_webhook", target=hooks.url())
        assert status == 200 and "sent to" in html
        assert len(await asyncio.to_thread(hooks.wait, 1, 10.0)) == 1

    status, html, _ = await post(world, "/contacts", csrf, action="save", emails="not-an-address", webhooks="")
    assert status == 400 and "expected" in field_error(html, "emails") and "not-an-address" in html
    status, html, _ = await post(world, "/contacts", csrf, action="test_webhook", target="ftp://x")
    assert status == 400 and "http(s) URL" in field_error(html, "webhook")
    log = await (await world.client.get("/deliveries?kind=test")).text()
    assert log.count('class="badge status-sent"') == 2 and "noc@acme.example" in log


async def test_admin_picks_whose_settings(world: ControlWorld) -> None:
    csrf = await as_user(world, "alice", PASSWORD_A)
    await post(world, "/contacts", csrf, action="save", emails="noc@acme.example", webhooks="")
    admin = await as_user(world, "admin", ADMIN_PASSWORD)
    page = await (await world.client.get("/contacts")).text()
    assert f'<option value="{world.a_tenant}">Customer: Acme</option>' in page and "noc@acme.example" not in page
    page = await (await world.client.get(f"/contacts?owner={world.a_tenant}")).text()
    assert "noc@acme.example</textarea>" in page
    status, _, location = await post(
        world, "/mail-report", admin, action="save", owner=world.a_tenant, weekly="on", recipients="a@acme.example"
    )
    assert status == 303 and unquote(location) == f"/mail-report?owner={world.a_tenant}&saved=1"
    saved = world.back.notify_store.get_mail_report(world.a_tenant)
    assert saved is not None and saved.weekly and saved.recipients == ("a@acme.example",)
    assert (await world.client.get("/mail-report?owner=customer:999")).status == 404


async def test_delivery_log_filters_and_pages(world: ControlWorld) -> None:
    rows = [
        Delivery(
            owner=world.a_tenant if i % 2 else "",
            channel="email",
            recipient=f"r{i}@example.com",
            kind="destination_alert",
            reference=f"ev-{i}",
            subject=f"alert {i}",
        )
        for i in range(60)
    ]
    for row in rows:  # one by one: distinct creation times, as real alerts have
        await asyncio.to_thread(world.back.notify_store.enqueue, [row])
        await asyncio.sleep(0.001)
    await as_user(world, "admin", ADMIN_PASSWORD)
    first = await (await world.client.get("/deliveries")).text()
    assert first.count("<tr data-delivery-id=") == 50 and "r59@example.com" in first
    older = re.search(r'href="(\?[^"]*before=\d+)" rel="next"', first)
    assert older
    second = await (await world.client.get("/deliveries" + older.group(1).replace("&amp;", "&"))).text()
    assert second.count("<tr data-delivery-id=") == 10 and "r0@example.com" in second and "r59@" not in second
    assert (await world.client.get("/deliveries?status=lost")).status == 400

    await as_user(world, "alice", PASSWORD_A)
    mine = await (await world.client.get("/deliveries?kind=destination_alert")).text()
    shown = re.findall(r"r(\d+)@example.com", mine)
    assert len(shown) == 30 and all(int(n) % 2 for n in shown), "a customer sees its own deliveries only"
