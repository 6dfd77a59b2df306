"""NotifyService over a real grpc.aio server with the real servicer and SQLite store: contacts with the owner
rules, SendTest to a real SMTP server / webhook receiver, the scoped delivery log, and named input errors."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_common.testing import free_port
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver
from cdrstats_notify.api import NotifyServicer
from cdrstats_notify.domain import webhook
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore, open_store

ADMIN = notify_pb2.Scope(admin=True)
ACME = notify_pb2.Scope(tenant="customer:1", allowed_accountcodes=["acme"])
OTHER = notify_pb2.Scope(tenant="customer:2")
SECRET = "api-secret"


class Api:
    def __init__(
        self, stub: notify_pb2_grpc.NotifyServiceStub, store: NotifyStore, smtp: SmtpCapture, hooks: WebhookReceiver
    ) -> None:
        self.stub, self.store, self.smtp, self.hooks = stub, store, smtp, hooks


@pytest.fixture
async def api(tmp_path: pathlib.Path) -> AsyncIterator[Api]:
    with SmtpCapture() as smtp, WebhookReceiver() as hooks:
        settings = NotifySettings.from_env(
            {
                "CDRSTATS_DATA_DIR": str(tmp_path),
                "CDRSTATS_SMTP_HOST": "127.0.0.1",
                "CDRSTATS_SMTP_PORT": str(smtp.port),
                "CDRSTATS_WEBHOOK_SECRET": SECRET,
            }
        )
        store = open_store(settings.store_url)
        server = grpc.aio.server()
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(NotifyServicer(store, settings), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield Api(notify_pb2_grpc.NotifyServiceStub(channel), store, smtp, hooks)
        finally:
            await server.stop(None)
            store.close()


async def expect(code: grpc.StatusCode, call: Any, text: str = "") -> str:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call
    assert excinfo.value.code() == code, excinfo.value.details()
    assert text in (excinfo.value.details() or "")
    return str(excinfo.value.details())


async def test_contacts_per_owner_and_the_owner_rules(api: Api) -> None:
    saved = await api.stub.SaveContacts(
        notify_pb2.SaveContactsRequest(
            scope=ACME,
            contacts=notify_pb2.Contacts(emails=[" fraud@acme.example ", "fraud@acme.example"], webhooks=["https://h.acme.example/x"]),
        )
    )  # fmt: skip
    assert (saved.owner, list(saved.emails), list(saved.webhooks)) == (
        "customer:1", ["fraud@acme.example"], ["https://h.acme.example/x"],
    )  # fmt: skip
    mine = await api.stub.GetContacts(notify_pb2.OwnerRequest(scope=ACME))
    assert mine == saved
    as_admin = await api.stub.GetContacts(notify_pb2.OwnerRequest(scope=ADMIN, owner="customer:1"))
    assert as_admin == saved
    installation = await api.stub.GetContacts(notify_pb2.OwnerRequest(scope=ADMIN))
    assert (installation.owner, list(installation.emails)) == ("", [])
    await expect(
        grpc.StatusCode.NOT_FOUND, api.stub.GetContacts(notify_pb2.OwnerRequest(scope=OTHER, owner="customer:1"))
    )
    other = await api.stub.GetContacts(notify_pb2.OwnerRequest(scope=OTHER))
    assert (other.owner, list(other.emails)) == ("customer:2", [])
    await expect(grpc.StatusCode.PERMISSION_DENIED, api.stub.GetContacts(notify_pb2.OwnerRequest()), "scope")
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.GetContacts(notify_pb2.OwnerRequest(scope=ADMIN, owner="acme")),
        "owner: expected",
    )


@pytest.mark.parametrize(
    ("contacts", "message"),
    [
        (
            notify_pb2.Contacts(emails=["ok@example.com", "nope"]),
            "contacts.emails[1]: expected an e-mail address, got 'nope'",
        ),
        (notify_pb2.Contacts(webhooks=["ftp://x.example/"]), "contacts.webhooks[0]: expected an http(s) URL"),
        (notify_pb2.Contacts(emails=[f"u{i}@example.com" for i in range(21)]), "contacts.emails: expected at most 20"),
    ],
)
async def test_bad_contacts_name_the_field(api: Api, contacts: notify_pb2.Contacts, message: str) -> None:
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.SaveContacts(notify_pb2.SaveContactsRequest(scope=ADMIN, contacts=contacts)),
        message,
    )


async def test_send_test_email_and_webhook_now(api: Api) -> None:
    reply = await api.stub.SendTest(notify_pb2.SendTestRequest(scope=ACME, email="me@acme.example"))
    assert reply.message == "sent to me@acme.example" and len(reply.delivery_ids) == 1
    (mail,) = api.smtp.wait(1)
    assert mail.recipients == ("me@acme.example",) and mail.message["Subject"] == "[CDR-Stats] Test notification"
    assert "customer:1" in mail.part("plain")
    hook = await api.stub.SendTest(notify_pb2.SendTestRequest(scope=ADMIN, webhook=api.hooks.url("/t")))
    assert hook.message == f"sent to {api.hooks.url('/t')}"
    (request,) = api.hooks.wait(1)
    assert (
        request.headers["X-CDRStats-Event"] == "test" and request.headers["X-CDRStats-Delivery"] == hook.delivery_ids[0]
    )
    assert webhook.verify_signature(SECRET, request.headers["X-CDRStats-Signature"], request.body)
    api.hooks.status = 500
    failed = await api.stub.SendTest(notify_pb2.SendTestRequest(scope=ADMIN, webhook=api.hooks.url("/t")))
    assert failed.message == "failed: HTTP 500 Internal Server Error"  # a test is not retried
    log = await api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest(scope=ADMIN, kind="test"))
    assert [(d.status, d.attempts) for d in log.deliveries] == [("failed", 1), ("sent", 1), ("sent", 1)]
    assert log.deliveries[2].owner == "customer:1" and log.deliveries[2].sent_us > 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (notify_pb2.SendTestRequest(scope=ADMIN), "email, webhook: expected exactly one of the two"),
        (notify_pb2.SendTestRequest(scope=ADMIN, email="a@b.example", webhook="http://x.example"), "exactly one"),
        (notify_pb2.SendTestRequest(scope=ADMIN, email="a b"), "email: expected an e-mail address, got 'a b'"),
        (notify_pb2.SendTestRequest(scope=ADMIN, webhook="localhost:80"), "webhook: expected an http(s) URL"),
    ],
)
async def test_bad_test_requests_name_the_field(api: Api, request_: notify_pb2.SendTestRequest, message: str) -> None:
    await expect(grpc.StatusCode.INVALID_ARGUMENT, api.stub.SendTest(request_), message)


async def test_a_test_to_a_dead_server_reports_the_error(api: Api) -> None:
    reply = await api.stub.SendTest(notify_pb2.SendTestRequest(scope=ADMIN, webhook=f"http://127.0.0.1:{free_port()}/"))
    assert reply.message.startswith("failed: POST 127.0.0.1") and "ConnectionRefusedError" in reply.message


async def test_the_log_is_scoped_filtered_and_paged(api: Api) -> None:
    for index in range(12):
        owner = ["", "customer:1", "customer:2"][index % 3]
        api.store.enqueue([Delivery(owner=owner, channel="email", recipient=f"r{index}@example.com", kind="alarm_triggered",
                                    reference=f"ev-{index}", subject=f"s{index}")])  # fmt: skip
    page = await api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest(scope=ADMIN, limit=5))
    assert [d.subject for d in page.deliveries] == ["s11", "s10", "s9", "s8", "s7"]
    assert page.next_before_us == page.deliveries[-1].created_us
    rest = await api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest(scope=ADMIN, before_us=page.next_before_us))
    assert [d.subject for d in rest.deliveries] == [f"s{i}" for i in range(6, -1, -1)] and rest.next_before_us == 0
    assert all(d.status == "pending" and d.next_attempt_us > 0 for d in rest.deliveries)
    mine = await api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest(scope=ACME))
    assert [d.subject for d in mine.deliveries] == ["s10", "s7", "s4", "s1"]
    assert {d.owner for d in mine.deliveries} == {"customer:1"}
    failed = await api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest(scope=ACME, status="failed"))
    assert list(failed.deliveries) == []
    status = await api.stub.GetStatus(notify_pb2.GetStatusRequest())
    assert (status.deliveries, status.pending, status.failed) == (12, 12, 0)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (notify_pb2.ListDeliveriesRequest(scope=ADMIN, status="done"), "status: expected one of pending, sent, failed"),
        (notify_pb2.ListDeliveriesRequest(scope=ADMIN, channel="sms"), "channel: expected one of email, webhook"),
        (notify_pb2.ListDeliveriesRequest(scope=ADMIN, kind="x"), "kind: expected one of"),
        (notify_pb2.ListDeliveriesRequest(scope=ADMIN, limit=1001), "limit: expected 0..1000, got 1001"),
        (notify_pb2.ListDeliveriesRequest(scope=ADMIN, before_us=-1), "before_us: expected >= 0"),
    ],
)
async def test_bad_log_requests_name_the_field(
    api: Api, request_: notify_pb2.ListDeliveriesRequest, message: str
) -> None:
    await expect(grpc.StatusCode.INVALID_ARGUMENT, api.stub.ListDeliveries(request_), message)


async def test_an_unscoped_log_request_is_refused(api: Api) -> None:
    await expect(grpc.StatusCode.PERMISSION_DENIED, api.stub.ListDeliveries(notify_pb2.ListDeliveriesRequest()))
