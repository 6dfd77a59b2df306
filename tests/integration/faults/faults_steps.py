"""The steps of the fault run around the load: set-up, each fault, and waiting for the product to settle."""

from __future__ import annotations

import time
from typing import Any

import grpc
from faults_broker import PrivateBroker
from faults_cdrs import BULK_SWITCHES, SWITCHES
from faults_product import Product

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common.testing import wait_for
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver


class Faults:
    """Runs one fault after the other and keeps the timeline (seconds from the start of the load)."""

    def __init__(self, product: Product, broker: PrivateBroker, mailbox: SmtpCapture, hooks: WebhookReceiver) -> None:
        self.product, self.broker, self.mailbox, self.hooks = product, broker, mailbox, hooks
        self.timeline: list[dict[str, Any]] = []
        self.smtp_down = False

    def run(self, fault: str, started: float) -> None:
        at = time.monotonic() - started
        detail: dict[str, Any] = {}
        if fault.startswith("kill "):
            child = fault.split()[1]
            detail["pid"] = self.product.children()[child]
            detail["back_after_s"] = round(self.product.kill(child), 1)
        elif fault == "smtp down":
            self.mailbox.__exit__(None, None, None)
            self.smtp_down = True
        elif fault == "smtp up":
            self.mailbox.__enter__()
            self.smtp_down = False
        elif fault.startswith("webhook"):
            self.hooks.status = int(fault.split()[1])
        elif fault == "restart rabbitmq":
            detail["stop_s"] = round(self.broker.stop(), 1)
            time.sleep(3)  # down for a moment: every client sees the connection refused
            detail["start_s"] = round(self.broker.start(), 1)
            try:
                wait_for(self.broker.consumed, timeout_s=90, interval_s=0.5, what="every worker consuming again")
            except AssertionError as exc:
                queues = self.broker.ctl("list_queues", "name", "consumers", "messages").stdout
                raise AssertionError(f"{exc}\n{queues}\n{self.product.children()}") from None
            detail["back_after_s"] = round(time.monotonic() - started - at, 1)
        elif fault == "restart product":
            code, stop_s = self.product.stop()
            assert code == 0, self.product.output()
            detail.update(stop_s=round(stop_s, 1), start_s=round(self.product.start(ready=False), 1))
            detail["back_after_s"] = round(time.monotonic() - started - at, 1)
        self.timeline.append({"at_s": round(at, 1), "fault": fault, **detail})

    def heal(self) -> None:
        if self.smtp_down:
            self.mailbox.__enter__()
            self.smtp_down = False
        self.hooks.status = 200


def setup_switches(product: Product) -> dict[str, str]:
    keys = {}
    for switch_id, home in [*SWITCHES.values(), *BULK_SWITCHES]:
        body = {"id": switch_id, "name": switch_id, "type": "freeswitch", "home_country": home, "time_zone": "UTC"}
        keys[switch_id] = product.api("POST", "/api/v1/switches", body)["credentials"]["password"]
    return keys


def quiescent(product: Product, expected: int) -> dict[str, Any]:
    """Wait until ingest holds ``expected`` CDRs, its outbox is empty and reporting applied them all."""
    figures: dict[str, Any] = {}

    def settled() -> bool:
        with (
            grpc.insecure_channel(product.grpc_addr("ingest")) as a,
            grpc.insecure_channel(product.grpc_addr("reporting")) as b,
        ):
            ingest = ingest_pb2_grpc.IngestServiceStub(a).GetStatus(ingest_pb2.GetStatusRequest(), timeout=10)
            rolled = reporting_pb2_grpc.ReportingServiceStub(b).GetStatus(reporting_pb2.GetStatusRequest(), timeout=10)
        figures.update(stored=ingest.cdrs_stored, outbox=ingest.outbox_pending, rolled_up=rolled.cdrs_applied)
        return ingest.cdrs_stored >= expected and ingest.outbox_pending == 0 and rolled.cdrs_applied >= expected

    started = time.monotonic()
    try:
        wait_for(settled, timeout_s=180, interval_s=1, what="ingest and reporting to settle")
        time.sleep(2)  # nothing may arrive later: a redelivered event would show as a double count below
        settled()
    except AssertionError as exc:
        figures["problem"] = str(exc)
    figures["waited_s"] = round(time.monotonic() - started, 1)
    return figures


def pending_deliveries(product: Product, timeout_s: float) -> list[dict[str, Any]]:
    """Wait until notify has nothing left to send; what is still pending after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        pending: list[dict[str, Any]] = product.api("GET", "/api/v1/deliveries?status=pending&limit=500")["items"]
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(1)


def all_pages(product: Product, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = product.api(
            "GET", f"{path}{'&' if '?' in path else '?'}limit=500" + (f"&cursor={cursor}" if cursor else "")
        )
        items.extend(page["items"])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return items
