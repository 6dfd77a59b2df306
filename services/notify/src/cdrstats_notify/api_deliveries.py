"""The contacts, test-send and delivery-log RPCs of NotifyService: proto <-> domain and the owner rules.

Owner rules (notify.proto): an admin may name any owner ("" = the installation); a customer always acts
on its own tenant, and naming another owner is NOT_FOUND (other tenants are never confirmed). A request
that is neither admin nor a tenant is PERMISSION_DENIED. Customers list only their own deliveries.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import NoReturn

import grpc

from cdrstats.notify.v1 import notify_pb2
from cdrstats_notify import rendering
from cdrstats_notify.deliveries_service import DeliveriesService, InlineDispatcher
from cdrstats_notify.domain.backoff import US
from cdrstats_notify.domain.deliveries import (
    CHANNELS,
    EMAIL,
    KINDS,
    PENDING,
    SENT,
    STATUSES,
    WEBHOOK,
    Contacts,
    Delivery,
    DeliveryFilter,
    clean_contacts,
    is_email,
    is_webhook_url,
)
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore

Ctx = grpc.aio.ServicerContext
_TENANT = re.compile(r"customer:\S+")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


async def _abort(context: Ctx, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort raises")  # pragma: no cover


async def _owner(context: Ctx, scope: notify_pb2.Scope, requested: str) -> str:
    if scope.admin:
        if requested and not _TENANT.fullmatch(requested):
            message = f"owner: expected '' (the installation) or a tenant id 'customer:<id>', got {requested!r}"
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, message)
        return requested
    if not _TENANT.fullmatch(scope.tenant):
        await _abort(context, grpc.StatusCode.PERMISSION_DENIED, "scope: expected an admin or a tenant 'customer:<id>'")
    if requested and requested != scope.tenant:
        await _abort(context, grpc.StatusCode.NOT_FOUND, f"owner: no contacts for {requested!r}")
    return scope.tenant


def contacts_to_proto(contacts: Contacts) -> notify_pb2.Contacts:
    return notify_pb2.Contacts(owner=contacts.owner, emails=contacts.emails, webhooks=contacts.webhooks)


def delivery_to_proto(delivery: Delivery) -> notify_pb2.Delivery:
    return notify_pb2.Delivery(
        id=delivery.id,
        owner=delivery.owner,
        channel=delivery.channel,
        recipient=delivery.recipient,
        kind=delivery.kind,
        reference=delivery.reference,
        subject=delivery.subject,
        status=delivery.status,
        attempts=delivery.attempts,
        last_error=delivery.last_error,
        created_us=delivery.created_us,
        next_attempt_us=delivery.next_attempt_us if delivery.status == PENDING else 0,
        sent_us=delivery.sent_us,
    )


class DeliveriesApi:
    """Mixin of NotifyServicer: uses ``self.store`` and ``self.settings``."""

    store: NotifyStore
    settings: NotifySettings

    async def GetContacts(self, request: notify_pb2.OwnerRequest, context: Ctx) -> notify_pb2.Contacts:
        owner = await _owner(context, request.scope, request.owner)
        return contacts_to_proto(await asyncio.to_thread(self.store.get_contacts, owner))

    async def SaveContacts(self, request: notify_pb2.SaveContactsRequest, context: Ctx) -> notify_pb2.Contacts:
        owner = await _owner(context, request.scope, request.contacts.owner)
        try:
            contacts = clean_contacts(owner, list(request.contacts.emails), list(request.contacts.webhooks))
        except ValueError as exc:
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return contacts_to_proto(await asyncio.to_thread(self.store.save_contacts, contacts))

    async def SendTest(self, request: notify_pb2.SendTestRequest, context: Ctx) -> notify_pb2.SendReply:
        owner = await _owner(context, request.scope, "")
        email, hook = request.email.strip(), request.webhook.strip()
        if bool(email) == bool(hook):
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "email, webhook: expected exactly one of the two")
        if email and not is_email(email):
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"email: expected an e-mail address, got {email!r}")
        if hook and not is_webhook_url(hook):
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"webhook: expected an http(s) URL, got {hook!r}")
        delivery_id, message = await asyncio.to_thread(
            self._send_test, owner, EMAIL if email else WEBHOOK, email or hook
        )
        return notify_pb2.SendReply(delivery_ids=[delivery_id], message=message)

    def _send_test(self, owner: str, channel: str, recipient: str) -> tuple[str, str]:
        """Queue the test delivery (so it is logged) and send it now, here; no retries: the caller is waiting."""
        mail = rendering.test_message(owner)
        payload = rendering.webhook_body("test", []) if channel == WEBHOOK else None
        delivery = Delivery(
            owner=owner,
            channel=channel,
            recipient=recipient,
            kind="test",
            reference="test",
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            payload=payload,
        )
        (delivery_id,) = self.store.enqueue([delivery]) or [""]
        claimed = self.store.claim(delivery_id, int(time.time() * US))
        if claimed is None:  # the worker took it first: it reports the outcome in the delivery log
            return delivery_id, f"queued for {recipient}"
        service = DeliveriesService(self.store, self.settings, dispatcher=InlineDispatcher())
        done = service.deliver(claimed, retry=False)
        if done is not None and done.status == SENT:
            return delivery_id, f"sent to {recipient}"
        return delivery_id, f"failed: {done.last_error if done else 'no longer pending'}"

    async def ListDeliveries(
        self, request: notify_pb2.ListDeliveriesRequest, context: Ctx
    ) -> notify_pb2.ListDeliveriesReply:
        owner: str | None = None if request.scope.admin else await _owner(context, request.scope, "")
        for field, value, allowed in (
            ("status", request.status, STATUSES),
            ("channel", request.channel, CHANNELS),
            ("kind", request.kind, KINDS),
        ):
            if value and value not in allowed:
                message = f"{field}: expected one of {', '.join(allowed)} (or empty), got {value!r}"
                await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, message)
        if not 0 <= request.limit <= MAX_LIMIT:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"limit: expected 0..{MAX_LIMIT}, got {request.limit}"
            )
        if request.before_us < 0:
            await _abort(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"before_us: expected >= 0, got {request.before_us}"
            )
        limit = request.limit or DEFAULT_LIMIT
        selection = DeliveryFilter(owner, request.status, request.channel, request.kind, request.before_us, limit)
        rows = await asyncio.to_thread(self.store.list_deliveries, selection)
        next_before = rows[-1].created_us if len(rows) == limit else 0
        return notify_pb2.ListDeliveriesReply(
            deliveries=[delivery_to_proto(row) for row in rows], next_before_us=next_before
        )
