"""Destination-control and notification tests: the whole back end in process, no fakes.

Real ingest (pages_testkit: SQLite + IngestServicer), reporting (roll-ups of those CDRs),
alerting (AlertingServicer over a tmp SQLite store; the CDRs' verdicts applied the way its
worker applies an event) and notify (NotifyServicer, mailing to an in-process aiosmtpd), each
on a grpc.aio server; the gateway is built by create_app with real ServiceClients, so tenant
sync, scopes and status mapping are the product's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD
from pages_testkit import BASE_US, DAY_US, IngestBackend, make_cdrs, start_ingest
from platform_testkit import Tenants, add_tenants

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.notify.v1 import notify_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.service import AlertingService
from cdrstats_alerting.store import AlertingStore
from cdrstats_alerting.store import open_store as open_alerting_store
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port
from cdrstats_common.testing_receivers import SmtpCapture
from cdrstats_gateway.app import create_app
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_gateway.tenant_sync import TENANT_SYNC
from cdrstats_notify.api import NotifyServicer
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore
from cdrstats_notify.store import open_store as open_notify_store
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.ingest_client import IngestClient
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

NOW_US = BASE_US + 2 * DAY_US - 3_600_000_000
#: the day of the test CDRs (pages_testkit.BASE_US is a UTC midnight)
CDR_DAY = "2025-10-09"
GB_PREFIX = "4420"  # +44 20: London, where some test CDRs go (pages_testkit.DESTINATIONS)


async def _serve(add: Any, servicer: Any) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


@dataclasses.dataclass
class Backends:
    ingest: IngestBackend
    reporting_address: str
    alerting_address: str
    notify_address: str
    alerting_store: AlertingStore
    alerting: AlertingService
    notify_store: NotifyStore
    smtp: SmtpCapture

    def apply_cdrs(self) -> None:
        """What alerting's worker does with a cdrs_ingested event: verdicts into the hit log."""
        self.alerting.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": self.ingest.cdrs}))


@dataclasses.dataclass
class NotifyBackend:
    address: str
    store: NotifyStore
    settings: NotifySettings
    smtp: SmtpCapture


@contextlib.asynccontextmanager
async def notify_backend(
    tmp_path: pathlib.Path, reporting_address: str, ingest_address: str
) -> AsyncIterator[NotifyBackend]:
    """The real NotifyServicer over a tmp SQLite store, rendering from the given reporting and ingest."""
    with SmtpCapture() as smtp:
        settings = NotifySettings.from_env(
            {
                "CDRSTATS_NOTIFY_STORE_URL": f"sqlite:///{tmp_path / 'notify.db'}",
                "REPORTING_GRPC_ADDR": reporting_address,
                "INGEST_GRPC_ADDR": ingest_address,
                "CDRSTATS_SMTP_HOST": "127.0.0.1",
                "CDRSTATS_SMTP_PORT": str(smtp.port),
                "CDRSTATS_MAIL_FROM": "cdr-stats@test.example",
                "CDRSTATS_TIME_ZONE": "UTC",
            }
        )
        store = open_notify_store(settings.store_url)
        server, address = await _serve(
            notify_pb2_grpc.add_NotifyServiceServicer_to_server, NotifyServicer(store, settings)
        )
        try:
            yield NotifyBackend(address, store, settings, smtp)
        finally:
            await server.stop(None)
            store.close()


@contextlib.asynccontextmanager
async def backends(tmp_path: pathlib.Path) -> AsyncIterator[Backends]:
    ingest = await start_ingest(tmp_path, free_port(), make_cdrs())
    rollups = SqliteRollupStore.open(tmp_path / "reporting.db")
    reporting = ReportingService(rollups, clock=lambda: NOW_US)
    reporting.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": ingest.cdrs}))
    reporting_server, reporting_address = await _serve(
        reporting_pb2_grpc.add_ReportingServiceServicer_to_server,
        ReportingServicer(reporting, IngestClient(ingest.address)),
    )
    alerting_store = open_alerting_store(f"sqlite:///{tmp_path / 'alerting.db'}")
    alerting_server, alerting_address = await _serve(
        alerting_pb2_grpc.add_AlertingServiceServicer_to_server, AlertingServicer(alerting_store, None)
    )
    async with notify_backend(tmp_path, reporting_address, ingest.address) as notify:
        try:
            yield Backends(
                ingest,
                reporting_address,
                alerting_address,
                notify.address,
                alerting_store,
                AlertingService(alerting_store),
                notify.store,
                notify.smtp,
            )
        finally:
            for server in (alerting_server, reporting_server, ingest.server):
                await server.stop(None)
            alerting_store.close()
            rollups.close()


def gateway_settings(tmp_path: pathlib.Path, back: Backends, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "store_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "ingest_grpc_addr": back.ingest.address,
        "reporting_grpc_addr": back.reporting_address,
        "alerting_grpc_addr": back.alerting_address,
        "notify_grpc_addr": back.notify_address,
        "admin_password": ADMIN_PASSWORD,
        "cookie_secure": False,
        **overrides,
    }
    return GatewaySettings(**values)


async def synced(client: TestClient[Any, Any], timeout_s: float = 10.0) -> None:
    """Push every customer now and wait until alerting and notify have them (customers made in the store)."""
    sync = client.app[TENANT_SYNC]
    sync.changed_all()
    await asyncio.wait_for(sync.idle.wait(), timeout_s)


@dataclasses.dataclass
class ControlWorld:
    client: TestClient[Any, Any]
    back: Backends
    tenants: Tenants
    alerting: alerting_pb2_grpc.AlertingServiceStub  # alerting's own API, to set the scene

    @property
    def a_tenant(self) -> str:
        return f"customer:{self.tenants.a_customer}"

    async def a_entry(self, prefix: str = "4930", note: str = "acme only") -> alerting_pb2.ListEntry:
        """A black-list entry customer A made through alerting's own API."""
        request = alerting_pb2.CreateListEntriesRequest(
            scope=alerting_pb2.Scope(tenant=self.a_tenant, allowed_accountcodes=["acme"]),
            entries=[alerting_pb2.ListEntry(list="black", prefix=prefix, note=note)],
        )
        return (await self.alerting.CreateListEntries(request)).entries[0]


@contextlib.asynccontextmanager
async def control_world(aiohttp_client: Any, tmp_path: pathlib.Path) -> AsyncIterator[ControlWorld]:
    """Customers A (acme) and B (globex, initech), known to alerting and notify through the gateway's sync."""
    async with backends(tmp_path) as back:
        app = await create_app(gateway_settings(tmp_path, back))
        channel = grpc.aio.insecure_channel(back.alerting_address)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        tenants = await add_tenants(client)
        await synced(client)
        try:
            yield ControlWorld(client, back, tenants, alerting_pb2_grpc.AlertingServiceStub(channel))
        finally:
            await channel.close()


@dataclasses.dataclass
class TenantAData:
    """Customer A's destination-control and notification objects, for the tenant-isolation walk."""

    samples: dict[str, str]  # path parameter samples: A's list entry and geo rule
    markers: tuple[str, ...]  # strings only A's data carries
    api_urls: tuple[str, ...]  # where A (and only A) sees them over the API
    page_urls: tuple[str, ...]  # ... and in the UI
    alerting: alerting_pb2_grpc.AlertingServiceStub
    notify: NotifyBackend
    tenant: str
    entry_id: str
    rule_id: str

    async def assert_untouched(self) -> None:
        """After B's walk over every route: A's entry, rule, report and contacts are as A left them."""
        admin = alerting_pb2.Scope(admin=True)
        entries = (await self.alerting.ListListEntries(alerting_pb2.ListListEntriesRequest(scope=admin))).entries
        assert [(e.id, e.note) for e in entries if e.owner == self.tenant] == [(self.entry_id, "acme-entry-note")]
        rules = (await self.alerting.ListGeoRules(alerting_pb2.ListGeoRulesRequest(scope=admin))).rules
        assert [(r.id, r.note) for r in rules if r.owner == self.tenant] == [(self.rule_id, "acme-geo-note")]
        report = await asyncio.to_thread(self.notify.store.get_mail_report, self.tenant)
        assert report is not None and report.recipients == ("alice-report@acme.example",), "B changed A's report"
        contacts = await asyncio.to_thread(self.notify.store.get_contacts, self.tenant)
        assert contacts.emails == ("alice-contact@acme.example",), "B changed A's contacts"


async def add_tenant_a_data(
    client: TestClient[Any, Any],
    alerting: alerting_pb2_grpc.AlertingServiceStub,
    alerting_store: AlertingStore,
    notify: NotifyBackend,
    tenants: Tenants,
    ingest: IngestBackend,
) -> TenantAData:
    """A's black-list entry and geo rule, hits of A's calls, A's mail report, contacts and a delivery."""
    from cdrstats.notify.v1 import notify_pb2
    from cdrstats_notify.domain.deliveries import Delivery

    await synced(client)  # notify must know both tenants (it renders their reports)
    tenant = f"customer:{tenants.a_customer}"
    scope = alerting_pb2.Scope(tenant=tenant, allowed_accountcodes=["acme"])
    entry = alerting_pb2.ListEntry(list="black", prefix="4930", note="acme-entry-note")
    created = await alerting.CreateListEntries(alerting_pb2.CreateListEntriesRequest(scope=scope, entries=[entry]))
    rule = alerting_pb2.GeoRule(mode="forbid", countries=["KP"], note="acme-geo-note")
    saved = await alerting.SaveGeoRule(alerting_pb2.SaveGeoRuleRequest(scope=scope, rule=rule))
    # A's calls are inbound in the shared test data (never checked): as outbound, some go to Berlin
    outbound = [{**c, "direction": "outbound"} for c in ingest.visible("acme")]
    service = AlertingService(alerting_store)
    await asyncio.to_thread(service.apply_cdrs_event, make_envelope("cdrs_ingested", "ingest", {"cdrs": outbound}))
    assert alerting_store.hits_by_cdr_ids([c["id"] for c in outbound]), "A's calls to +4930 hit A's entry"

    n_scope = notify_pb2.Scope(tenant=tenant, allowed_accountcodes=["acme"])
    report = notify_pb2.MailReport(daily=True, hour=6, recipients=["alice-report@acme.example"])
    contacts = notify_pb2.Contacts(emails=["alice-contact@acme.example"])
    async with grpc.aio.insecure_channel(notify.address) as channel:
        stub = notify_pb2_grpc.NotifyServiceStub(channel)
        await stub.SaveMailReport(notify_pb2.SaveMailReportRequest(scope=n_scope, report=report))
        await stub.SaveContacts(notify_pb2.SaveContactsRequest(scope=n_scope, contacts=contacts))
    delivery = Delivery(
        owner=tenant,
        channel="email",
        recipient="alice-delivery@acme.example",
        kind="destination_alert",
        reference="ev-a",
        subject="acme alert",
    )
    await asyncio.to_thread(notify.store.enqueue, [delivery])
    return TenantAData(
        samples={"lists/{id}": created.entries[0].id, "geo-rules/{id}": saved.id},
        markers=(
            "acme-entry-note",
            "acme-geo-note",
            "alice-report@acme.example",
            "alice-contact@acme.example",
            "alice-delivery@acme.example",
        ),
        api_urls=("/api/v1/lists", "/api/v1/geo-rules", "/api/v1/hits", "/api/v1/mail-report", "/api/v1/deliveries"),
        page_urls=(
            "/destinations",
            "/destinations/geo",
            "/destinations/hits",
            "/mail-report",
            "/contacts",
            "/deliveries",
        ),
        alerting=alerting,
        notify=notify,
        tenant=tenant,
        entry_id=created.entries[0].id,
        rule_id=saved.id,
    )
