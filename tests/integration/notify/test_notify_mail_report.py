"""The daily/weekly mail report end to end: real ingest and reporting gRPC servers (in process, SQLite stores
filled with known CDRs on both sides of local midnights, in Europe/Paris around the 25-hour 2025-10-26),
notify's ReportsService and DeliveriesService, and a real SMTP server (aiosmtpd). Every number in the e-mail
that arrives is checked against a brute-force recomputation from the raw CDRs."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from aiosmtpd.controller import Controller
from notify_mail_report_testkit import (
    DAY_END,
    DAY_START,
    PREV_START,
    PREV_WEEK_START,
    TENANT,
    TENANT_NAME,
    WEEK_END,
    WEEK_START,
    ZONE_NAME,
    expected,
    local_us,
    make_cdrs,
    parse_text,
)

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_common.cdr import from_proto
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port, wait_for
from cdrstats_ingest.api import IngestServicer
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store as open_ingest_store
from cdrstats_notify.api import NotifyServicer
from cdrstats_notify.deliveries_service import DeliveriesService
from cdrstats_notify.domain.deliveries import DeliveryFilter
from cdrstats_notify.domain.mail_report import Schedule
from cdrstats_notify.reports_service import ReportsService
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store.sqlite import SqliteNotifyStore
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd handler: every message that arrives, parsed."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


def parts(message: email.message.EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()  # type: ignore[attr-defined]


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def peers(tmp_path: pathlib.Path) -> AsyncIterator[tuple[str, str, list[dict[str, Any]]]]:
    """(reporting address, ingest address, the raw CDRs as stored) with both servers serving them."""
    ingest_store = open_ingest_store(f"sqlite:///{tmp_path}/ingest.db")
    ingest_store.add_cdrs(make_cdrs())
    rollups = SqliteRollupStore.open(tmp_path / "reporting.db", ZONE_NAME)
    reporting = ReportingService(rollups)
    servers = [grpc.aio.server(), grpc.aio.server()]
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(IngestService(ingest_store)), servers[0])
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(ReportingServicer(reporting), servers[1])
    ports = [server.add_insecure_port("127.0.0.1:0") for server in servers]
    for server in servers:
        await server.start()
    try:
        stored: list[dict[str, Any]] = []
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports[0]}") as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            async for batch in stub.ReplayCdrs(ingest_pb2.ReplayCdrsRequest(batch_size=400)):
                cdrs = [from_proto(cdr) for cdr in batch.cdrs]
                stored += cdrs
                reporting.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs}))
        assert len(stored) == len(make_cdrs())
        yield f"127.0.0.1:{ports[1]}", f"127.0.0.1:{ports[0]}", stored
    finally:
        for server in servers:
            await server.stop(None)
        ingest_store.close()
        rollups.close()


class Clock:
    def __init__(self, now_us: int) -> None:
        self.now_us = now_us

    def __call__(self) -> float:
        return self.now_us / 1_000_000


@pytest.fixture
def notify(
    tmp_path: pathlib.Path, peers: tuple[str, str, list[dict]], inbox: tuple[Inbox, int]
) -> Iterator[tuple[SqliteNotifyStore, NotifySettings, Clock]]:
    settings = NotifySettings.from_env(
        {
            "CDRSTATS_NOTIFY_STORE_URL": f"sqlite:///{tmp_path}/notify.db",
            "CDRSTATS_TIME_ZONE": ZONE_NAME,
            "REPORTING_GRPC_ADDR": peers[0],
            "INGEST_GRPC_ADDR": peers[1],
            "CDRSTATS_SMTP_HOST": "127.0.0.1",
            "CDRSTATS_SMTP_PORT": str(inbox[1]),
            "CDRSTATS_ADMIN_EMAILS": "noc@example.com",
            "CDRSTATS_PUBLIC_URL": "https://cdr.example.com/",
        }
    )
    store = SqliteNotifyStore.open(settings.store_url)
    store.set_tenant(TENANT, ["a", "b"], TENANT_NAME)
    try:
        yield store, settings, Clock(local_us(2025, 10, 26, 12))
    finally:
        store.close()


def check_mail(message: email.message.EmailMessage, want: dict[str, Any]) -> tuple[str, str]:
    text, html = parts(message)
    assert parse_text(text) == want
    for values in want["totals"].values():
        assert f">{values[0]}" in html and values[3] in html  # the same numbers in the HTML part
    for call in want["calls"]:
        assert call[0] in html
    assert "<script" not in html and "<img" not in html and "<link" not in html and "<style" not in html
    assert "&lt;img src=x" in html  # the nasty caller id arrives escaped
    return text, html


# -- tests -------------------------------------------------------------------------------------------


async def test_scheduled_daily_reports_arrive_once_with_exact_numbers(
    notify: tuple[SqliteNotifyStore, NotifySettings, Clock],
    peers: tuple[str, str, list[dict]],
    inbox: tuple[Inbox, int],
) -> None:
    store, settings, clock = notify
    cdrs = peers[2]
    reports = ReportsService(store, settings, clock=clock)
    sender = DeliveriesService(store, settings, clock=clock)
    await asyncio.to_thread(reports.save, Schedule("", daily=True, hour=7))  # admin: CDRSTATS_ADMIN_EMAILS
    tenant = Schedule(TENANT, daily=True, hour=7, switch_id="s1", recipients=("t1@example.com", "t2@example.com"))
    await asyncio.to_thread(reports.save, tenant)
    assert await asyncio.to_thread(reports.send_due) == 0  # saved at noon on the 26th: nothing is due yet

    clock.now_us = local_us(2025, 10, 27, 6, 59)
    assert await asyncio.to_thread(reports.send_due) == 0
    clock.now_us = local_us(2025, 10, 27, 7)
    assert await asyncio.to_thread(reports.send_due) == 3
    assert await asyncio.to_thread(reports.send_due) == 0  # once per period
    restarted = ReportsService(store, settings, clock=clock)
    assert await asyncio.to_thread(restarted.send_due) == 0
    assert store.get_mail_report("").last_daily_period == "2025-10-26"  # type: ignore[union-attr]

    assert await asyncio.to_thread(sender.deliver_due) == 3
    wait_for(lambda: len(inbox[0].messages) == 3, timeout_s=10, what="3 e-mails")
    by_rcpt = {rcpt[0]: message for rcpt, message in inbox[0].messages}
    assert sorted(by_rcpt) == ["noc@example.com", "t1@example.com", "t2@example.com"]

    admin_mail = by_rcpt["noc@example.com"]
    assert admin_mail["Subject"].strip() == "[CDR-Stats] Daily report 2025-10-26 (All switches)"
    text, html = check_mail(admin_mail, expected(cdrs, (DAY_START, DAY_END, PREV_START), None))
    assert "Period: 2025-10-26 00:00 CEST to 2025-10-27 00:00 CET (25 h, times in Europe/Paris)" in text
    assert "https://cdr.example.com/reports/daily?start=2025-10-26&amp;end=2025-10-26" in html

    tenant_mail = by_rcpt["t1@example.com"]
    assert tenant_mail["Subject"].strip() == f"[CDR-Stats] Daily report 2025-10-26 ({TENANT_NAME}, switch s1)"
    tenant_want = expected(cdrs, (DAY_START, DAY_END, PREV_START), {"a", "b"}, "s1")
    assert tenant_want != expected(cdrs, (DAY_START, DAY_END, PREV_START), None)
    text, html = parts(tenant_mail)
    assert parse_text(text) == tenant_want
    assert "Acme &lt;Telecom&gt; &amp; Co" in html and TENANT_NAME not in html
    assert parts(by_rcpt["t2@example.com"])[0] == text

    # the next day goes out the next morning, the day before is not sent again
    clock.now_us = local_us(2025, 10, 28, 7, 30)
    assert await asyncio.to_thread(reports.send_due) == 3
    assert {d.reference for d in store.list_deliveries(_mail_reports())} == {
        ":daily:2025-10-26",
        ":daily:2025-10-27",
        f"{TENANT}:daily:2025-10-26",
        f"{TENANT}:daily:2025-10-27",
    }


def _mail_reports() -> DeliveryFilter:
    return DeliveryFilter(kind="mail_report", limit=1000)


async def test_weekly_report_and_a_report_that_cannot_be_built_yet(
    notify: tuple[SqliteNotifyStore, NotifySettings, Clock],
    peers: tuple[str, str, list[dict]],
    inbox: tuple[Inbox, int],
) -> None:
    store, settings, clock = notify
    down = NotifySettings.from_env({"CDRSTATS_TIME_ZONE": ZONE_NAME, "REPORTING_GRPC_ADDR": f"127.0.0.1:{free_port()}",
                                    "CDRSTATS_NOTIFY_STORE_URL": settings.store_url})  # fmt: skip
    schedule = Schedule("", weekly=True, weekday=1, hour=8, recipients=("boss@example.com",))
    await asyncio.to_thread(ReportsService(store, settings, clock=clock).save, schedule)
    clock.now_us = local_us(2025, 10, 27, 9)  # Monday after week 43
    assert await asyncio.to_thread(ReportsService(store, down, clock=clock).send_due) == 0  # reporting is down
    assert store.get_mail_report("").last_weekly_period == ""  # type: ignore[union-attr]

    assert await asyncio.to_thread(ReportsService(store, settings, clock=clock).send_due) == 1
    assert await asyncio.to_thread(DeliveriesService(store, settings, clock=clock).deliver_due) == 1
    wait_for(lambda: len(inbox[0].messages) == 1, timeout_s=10, what="the weekly e-mail")
    [(rcpt, message)] = inbox[0].messages
    assert rcpt == ["boss@example.com"]
    assert message["Subject"].strip() == "[CDR-Stats] Weekly report 2025-W43 (2025-10-20 to 2025-10-26) (All switches)"
    text, _ = check_mail(message, expected(peers[2], (WEEK_START, WEEK_END, PREV_WEEK_START), None))
    assert "(169 h, times in Europe/Paris)" in text and "Compared with: 2025-W42" in text


async def test_preview_and_send_now_over_grpc(
    notify: tuple[SqliteNotifyStore, NotifySettings, Clock], peers: tuple[str, str, list[dict]]
) -> None:
    store, settings, clock = notify
    clock.now_us = local_us(2025, 10, 27, 10)
    servicer = NotifyServicer(store, settings)
    servicer.reports_service = ReportsService(store, settings, clock=clock)
    server = grpc.aio.server()
    notify_pb2_grpc.add_NotifyServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    admin = notify_pb2.Scope(admin=True)
    customer = notify_pb2.Scope(tenant=TENANT, allowed_accountcodes=["a", "b"])
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = notify_pb2_grpc.NotifyServiceStub(channel)
            saved = await stub.SaveMailReport(notify_pb2.SaveMailReportRequest(
                scope=customer, report=notify_pb2.MailReport(daily=True, hour=6, recipients=["c@example.com"])))  # fmt: skip
            assert (saved.owner, saved.hour, saved.time_zone, list(saved.recipients)) == (
                TENANT, 6, ZONE_NAME, ["c@example.com"])  # fmt: skip

            # preview (empty period: the last complete day) renders exactly that day and queues nothing
            before = store.delivery_counts()
            preview = await stub.PreviewMailReport(notify_pb2.MailReportRequest(scope=customer))
            assert (preview.period, preview.period_start_us, preview.period_end_us) == (
                "2025-10-26",
                DAY_START,
                DAY_END,
            )
            assert list(preview.recipients) == ["c@example.com"]
            assert parse_text(preview.text) == expected(peers[2], (DAY_START, DAY_END, PREV_START), {"a", "b"})
            draft = notify_pb2.MailReport(switch_id="s2", recipients=["d@example.com"])
            drafted = await stub.PreviewMailReport(
                notify_pb2.MailReportRequest(scope=customer, kind="daily", period="2025-10-26", draft=draft)
            )
            assert list(drafted.recipients) == ["d@example.com"]
            assert parse_text(drafted.text) == expected(peers[2], (DAY_START, DAY_END, PREV_START), {"a", "b"}, "s2")
            assert store.delivery_counts() == before

            # send now queues once per call, to the saved recipients
            sent = await stub.SendMailReport(notify_pb2.MailReportRequest(scope=customer, period="2025-10-26"))
            again = await stub.SendMailReport(notify_pb2.MailReportRequest(scope=customer, period="2025-10-26"))
            assert len(sent.delivery_ids) == 1 and len(again.delivery_ids) == 1
            assert sent.delivery_ids != again.delivery_ids and "2025-10-26" in sent.message
            queued = [store.get_delivery(i) for i in [*sent.delivery_ids, *again.delivery_ids]]
            assert [(d.recipient, d.reference, d.text) for d in queued if d] == [
                ("c@example.com", f"{TENANT}:daily:2025-10-26", preview.text)] * 2  # fmt: skip
            assert store.get_mail_report(TENANT).last_daily_period == ""  # type: ignore[union-attr]

            errors = [
                (stub.PreviewMailReport(notify_pb2.MailReportRequest(scope=customer, owner="customer:8")),
                 grpc.StatusCode.NOT_FOUND, "owner"),
                (stub.GetMailReport(notify_pb2.OwnerRequest(scope=admin, owner="customer:99")),
                 grpc.StatusCode.FAILED_PRECONDITION, "owner: tenant 'customer:99' is unknown"),
                (stub.SaveMailReport(notify_pb2.SaveMailReportRequest(scope=admin, report=notify_pb2.MailReport(hour=24))),
                 grpc.StatusCode.INVALID_ARGUMENT, "hour: expected a local hour 0..23, got 24"),
                (stub.PreviewMailReport(notify_pb2.MailReportRequest(scope=admin, period="2025-10-27")),
                 grpc.StatusCode.INVALID_ARGUMENT, "period: 2025-10-27 has not ended yet"),
                (stub.PreviewMailReport(notify_pb2.MailReportRequest(scope=admin, kind="weekly", period="2025-43")),
                 grpc.StatusCode.INVALID_ARGUMENT, "period: expected an ISO week"),
                (stub.SendMailReport(notify_pb2.MailReportRequest(scope=notify_pb2.Scope(tenant="customer:8"))),
                 grpc.StatusCode.FAILED_PRECONDITION, "customer:8"),
                (stub.GetMailReport(notify_pb2.OwnerRequest(scope=notify_pb2.Scope())),
                 grpc.StatusCode.PERMISSION_DENIED, "scope"),
            ]  # fmt: skip
            for call, code, message in errors:
                with pytest.raises(grpc.aio.AioRpcError) as excinfo:
                    await call
                assert excinfo.value.code() == code and message in (excinfo.value.details() or ""), excinfo.value
            weekly = await stub.PreviewMailReport(notify_pb2.MailReportRequest(scope=admin, kind="weekly"))
            assert (weekly.period, weekly.period_start_us, weekly.period_end_us) == ("2025-W43", WEEK_START, WEEK_END)
            assert list(weekly.recipients) == ["noc@example.com"]
    finally:
        await server.stop(None)


WORKER_SCRIPT = """
import json, sys
from cdrstats_common.green import monkey_patch
monkey_patch()
import eventlet
from cdrstats_notify.service import NotifyService
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import open_store

ticks = []
def ticker():
    while True:
        ticks.append(1)
        eventlet.sleep(0.001)

eventlet.spawn(ticker)
eventlet.sleep(0.01)
store = open_store(NotifySettings.from_env().store_url)
service = NotifyService(store, NotifySettings.from_env(), clock=lambda: float(sys.argv[1]))
before = len(ticks)
queued = service.send_due_reports()
print(json.dumps({"queued": queued, "ticks": len(ticks) - before}))
"""


async def test_the_worker_path_under_eventlet(
    notify: tuple[SqliteNotifyStore, NotifySettings, Clock], peers: tuple[str, str, list[dict]]
) -> None:
    """What the nameko worker's timer runs, in an eventlet-patched process: gRPC goes through the thread pool."""
    store, settings, clock = notify
    await asyncio.to_thread(ReportsService(store, settings, clock=clock).save, Schedule("", daily=True, hour=7))
    env = {
        **os.environ,
        "CDRSTATS_NOTIFY_STORE_URL": settings.store_url,
        "CDRSTATS_TIME_ZONE": ZONE_NAME,
        "REPORTING_GRPC_ADDR": settings.reporting_grpc_addr,
        "INGEST_GRPC_ADDR": settings.ingest_grpc_addr,
        "CDRSTATS_ADMIN_EMAILS": "noc@example.com",
    }
    now_s = str(local_us(2025, 10, 27, 8) / 1_000_000)
    run = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", WORKER_SCRIPT, now_s], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["queued"] == 1 and result["ticks"] > 0  # the hub kept running during the gRPC calls
    [delivery] = store.list_deliveries(_mail_reports())
    assert (delivery.recipient, delivery.reference) == ("noc@example.com", ":daily:2025-10-26")
    assert parse_text(delivery.text) == expected(peers[2], (DAY_START, DAY_END, PREV_START), None)
