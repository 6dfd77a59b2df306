"""Destination control (alerting) and notification settings (notify) over gRPC: proto <-> domain.

A mixin of ``clients.ServiceClients`` (like ``ingest_admin``) so the gRPC status -> HTTP status
mapping stays in one place. Stubs are made from ``self.channels`` on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_gateway import control_convert as convert
from cdrstats_gateway.domain.control import (
    Contacts,
    ControlScope,
    DeliveryPage,
    DeliveryQuery,
    EntryPage,
    EntryQuery,
    GeoRule,
    Hit,
    ListEntry,
    MailReport,
    RenderedMail,
    SendResult,
    TenantCodes,
    Verdict,
)

CALL_TIMEOUT_S = 5.0
#: a report preview or send asks reporting for a day or a week of roll-ups
RENDER_TIMEOUT_S = 20.0
T = TypeVar("T")


class ControlAdmin(Protocol):
    """What destination-control and notification pages need; every call carries the caller's scope."""

    async def set_tenant(self, tenant: TenantCodes) -> None:
        """Push one tenant's account codes to alerting and notify (both, or an error)."""
        ...

    async def list_tenants(self) -> set[str]:
        """Every tenant id alerting or notify knows (to remove those without a customer)."""
        ...

    async def list_entries(self, scope: ControlScope, query: EntryQuery) -> EntryPage: ...

    async def create_entries(
        self, scope: ControlScope, entries: Sequence[ListEntry], *, global_: bool
    ) -> list[ListEntry]: ...

    async def delete_entry(self, scope: ControlScope, entry_id: str) -> None: ...

    async def list_geo_rules(self, scope: ControlScope) -> list[GeoRule]: ...

    async def save_geo_rule(self, scope: ControlScope, rule: GeoRule, *, global_: bool) -> GeoRule: ...

    async def delete_geo_rule(self, scope: ControlScope, rule_id: str) -> None: ...

    async def check_destination(
        self, scope: ControlScope, number: str, switch_id: str = "", accountcode: str = ""
    ) -> Verdict: ...

    async def get_hits(self, scope: ControlScope, cdr_ids: Sequence[str]) -> list[Hit]: ...

    async def list_hits(
        self, scope: ControlScope, verdict: str = "", since_us: int = 0, limit: int = 0, *, before_us: int = 0
    ) -> list[Hit]:
        """Newest first; ``before_us`` (a hit's ``time_us``) pages back to the hits checked before it."""
        ...

    async def get_contacts(self, scope: ControlScope, owner: str = "") -> Contacts: ...

    async def save_contacts(self, scope: ControlScope, contacts: Contacts) -> Contacts: ...

    async def get_mail_report(self, scope: ControlScope, owner: str = "") -> MailReport: ...

    async def save_mail_report(self, scope: ControlScope, report: MailReport) -> MailReport: ...

    async def preview_mail_report(
        self, scope: ControlScope, owner: str, kind: str, period: str, draft: MailReport | None
    ) -> RenderedMail: ...

    async def send_mail_report(
        self, scope: ControlScope, owner: str, kind: str, period: str, draft: MailReport | None
    ) -> SendResult: ...

    async def send_test(self, scope: ControlScope, *, email: str = "", webhook: str = "") -> SendResult: ...

    async def list_deliveries(self, scope: ControlScope, query: DeliveryQuery) -> DeliveryPage: ...


class ControlClient:
    """Mixin: needs ``self.channels`` and ``self._call`` (status mapping) of ServiceClients."""

    channels: dict[str, grpc.aio.Channel]
    _control_stubs: tuple[alerting_pb2_grpc.AlertingServiceStub, notify_pb2_grpc.NotifyServiceStub] | None = None

    async def _call(self, service: str, call: Callable[[], Awaitable[T]], *, quiet: bool = False) -> T:
        raise NotImplementedError

    def _stubs(self) -> tuple[alerting_pb2_grpc.AlertingServiceStub, notify_pb2_grpc.NotifyServiceStub]:
        if self._control_stubs is None:
            self._control_stubs = (
                alerting_pb2_grpc.AlertingServiceStub(self.channels["alerting"]),
                notify_pb2_grpc.NotifyServiceStub(self.channels["notify"]),
            )
        return self._control_stubs

    async def _alerting(self, method: str, request: object, timeout: float = CALL_TIMEOUT_S) -> object:
        rpc = getattr(self._stubs()[0], method)
        return await self._call("alerting", lambda: rpc(request, timeout=timeout))

    async def _notify(self, method: str, request: object, timeout: float = CALL_TIMEOUT_S) -> object:
        rpc = getattr(self._stubs()[1], method)
        return await self._call("notify", lambda: rpc(request, timeout=timeout))

    async def set_tenant(self, tenant: TenantCodes) -> None:
        codes = list(tenant.accountcodes)
        await self._alerting("SetTenant", alerting_pb2.Tenant(id=tenant.id, accountcodes=codes, name=tenant.name))
        await self._notify("SetTenant", notify_pb2.Tenant(id=tenant.id, accountcodes=codes, name=tenant.name))

    async def list_tenants(self) -> set[str]:
        ids: set[str] = set()
        for call, request in (
            (self._alerting, alerting_pb2.ListTenantsRequest),
            (self._notify, notify_pb2.ListTenantsRequest),
        ):
            after = ""
            while True:
                reply: Any = await call("ListTenants", request(after_id=after))
                ids.update(tenant.id for tenant in reply.tenants)
                after = reply.next_after_id
                if not after:
                    break
        return ids

    # -- alerting: destination control ---------------------------------------------------------

    async def list_entries(self, scope: ControlScope, query: EntryQuery) -> EntryPage:
        request = alerting_pb2.ListListEntriesRequest(
            scope=convert.alerting_scope(scope),
            list=query.list,
            prefix_starts=query.prefix_starts,
            country=query.country,
            after_id=query.after_id,
            limit=query.limit,
        )
        reply = await self._alerting("ListListEntries", request)
        assert isinstance(reply, alerting_pb2.ListListEntriesReply)
        return EntryPage(tuple(convert.entry_from_proto(e) for e in reply.entries), reply.next_after_id)

    async def create_entries(
        self, scope: ControlScope, entries: Sequence[ListEntry], *, global_: bool
    ) -> list[ListEntry]:
        request = alerting_pb2.CreateListEntriesRequest(
            scope=convert.alerting_scope(scope), entries=[convert.entry_to_proto(e) for e in entries]
        )
        setattr(request, "global", global_)  # a Python keyword: set by name
        reply = await self._alerting("CreateListEntries", request)
        assert isinstance(reply, alerting_pb2.ListListEntriesReply)
        return [convert.entry_from_proto(e) for e in reply.entries]

    async def delete_entry(self, scope: ControlScope, entry_id: str) -> None:
        await self._alerting("DeleteListEntry", alerting_pb2.EntryRef(scope=convert.alerting_scope(scope), id=entry_id))

    async def list_geo_rules(self, scope: ControlScope) -> list[GeoRule]:
        reply = await self._alerting(
            "ListGeoRules", alerting_pb2.ListGeoRulesRequest(scope=convert.alerting_scope(scope))
        )
        assert isinstance(reply, alerting_pb2.ListGeoRulesReply)
        return [convert.rule_from_proto(r) for r in reply.rules]

    async def save_geo_rule(self, scope: ControlScope, rule: GeoRule, *, global_: bool) -> GeoRule:
        request = alerting_pb2.SaveGeoRuleRequest(scope=convert.alerting_scope(scope), rule=convert.rule_to_proto(rule))
        setattr(request, "global", global_)
        reply = await self._alerting("SaveGeoRule", request)
        assert isinstance(reply, alerting_pb2.GeoRule)
        return convert.rule_from_proto(reply)

    async def delete_geo_rule(self, scope: ControlScope, rule_id: str) -> None:
        await self._alerting("DeleteGeoRule", alerting_pb2.EntryRef(scope=convert.alerting_scope(scope), id=rule_id))

    async def check_destination(
        self, scope: ControlScope, number: str, switch_id: str = "", accountcode: str = ""
    ) -> Verdict:
        request = alerting_pb2.CheckDestinationRequest(
            scope=convert.alerting_scope(scope), number=number, switch_id=switch_id, accountcode=accountcode
        )
        reply = await self._alerting("CheckDestination", request)
        assert isinstance(reply, alerting_pb2.DestinationVerdict)
        return Verdict(reply.verdict or "none", reply.rule_id, reply.rule, reply.country, reply.destination_e164)

    async def get_hits(self, scope: ControlScope, cdr_ids: Sequence[str]) -> list[Hit]:
        request = alerting_pb2.GetHitsRequest(scope=convert.alerting_scope(scope), cdr_ids=list(cdr_ids))
        reply = await self._alerting("GetHits", request)
        assert isinstance(reply, alerting_pb2.HitsReply)
        return [convert.hit_from_proto(h) for h in reply.hits]

    async def list_hits(
        self, scope: ControlScope, verdict: str = "", since_us: int = 0, limit: int = 0, *, before_us: int = 0
    ) -> list[Hit]:
        request = alerting_pb2.ListHitsRequest(
            scope=convert.alerting_scope(scope), verdict=verdict, since_us=since_us, limit=limit, before_us=before_us
        )
        reply = await self._alerting("ListHits", request)
        assert isinstance(reply, alerting_pb2.HitsReply)
        return [convert.hit_from_proto(h) for h in reply.hits]

    # -- notify: contacts, mail report, deliveries ---------------------------------------------

    async def get_contacts(self, scope: ControlScope, owner: str = "") -> Contacts:
        reply = await self._notify(
            "GetContacts", notify_pb2.OwnerRequest(scope=convert.notify_scope(scope), owner=owner)
        )
        assert isinstance(reply, notify_pb2.Contacts)
        return Contacts(reply.owner, tuple(reply.emails), tuple(reply.webhooks))

    async def save_contacts(self, scope: ControlScope, contacts: Contacts) -> Contacts:
        message = notify_pb2.Contacts(
            owner=contacts.owner, emails=list(contacts.emails), webhooks=list(contacts.webhooks)
        )
        reply = await self._notify(
            "SaveContacts", notify_pb2.SaveContactsRequest(scope=convert.notify_scope(scope), contacts=message)
        )
        assert isinstance(reply, notify_pb2.Contacts)
        return Contacts(reply.owner, tuple(reply.emails), tuple(reply.webhooks))

    async def get_mail_report(self, scope: ControlScope, owner: str = "") -> MailReport:
        reply = await self._notify(
            "GetMailReport", notify_pb2.OwnerRequest(scope=convert.notify_scope(scope), owner=owner)
        )
        assert isinstance(reply, notify_pb2.MailReport)
        return convert.report_from_proto(reply)

    async def save_mail_report(self, scope: ControlScope, report: MailReport) -> MailReport:
        request = notify_pb2.SaveMailReportRequest(
            scope=convert.notify_scope(scope), report=convert.report_to_proto(report)
        )
        reply = await self._notify("SaveMailReport", request)
        assert isinstance(reply, notify_pb2.MailReport)
        return convert.report_from_proto(reply)

    async def preview_mail_report(
        self, scope: ControlScope, owner: str, kind: str, period: str, draft: MailReport | None
    ) -> RenderedMail:
        request = convert.mail_request(scope, owner, kind, period, draft)
        reply = await self._notify("PreviewMailReport", request, RENDER_TIMEOUT_S)
        assert isinstance(reply, notify_pb2.RenderedMail)
        return RenderedMail(
            reply.subject,
            reply.text,
            reply.html,
            tuple(reply.recipients),
            reply.period,
            reply.period_start_us,
            reply.period_end_us,
        )

    async def send_mail_report(
        self, scope: ControlScope, owner: str, kind: str, period: str, draft: MailReport | None
    ) -> SendResult:
        request = convert.mail_request(scope, owner, kind, period, draft)
        reply = await self._notify("SendMailReport", request, RENDER_TIMEOUT_S)
        assert isinstance(reply, notify_pb2.SendReply)
        return SendResult(tuple(reply.delivery_ids), reply.message)

    async def send_test(self, scope: ControlScope, *, email: str = "", webhook: str = "") -> SendResult:
        request = notify_pb2.SendTestRequest(scope=convert.notify_scope(scope), email=email, webhook=webhook)
        reply = await self._notify("SendTest", request, RENDER_TIMEOUT_S)
        assert isinstance(reply, notify_pb2.SendReply)
        return SendResult(tuple(reply.delivery_ids), reply.message)

    async def list_deliveries(self, scope: ControlScope, query: DeliveryQuery) -> DeliveryPage:
        request = notify_pb2.ListDeliveriesRequest(
            scope=convert.notify_scope(scope),
            status=query.status,
            channel=query.channel,
            kind=query.kind,
            before_us=query.before_us,
            limit=query.limit,
        )
        reply = await self._notify("ListDeliveries", request)
        assert isinstance(reply, notify_pb2.ListDeliveriesReply)
        return DeliveryPage(tuple(convert.delivery_from_proto(d) for d in reply.deliveries), reply.next_before_us)
