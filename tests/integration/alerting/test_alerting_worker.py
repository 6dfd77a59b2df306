"""The real alerting worker process on a RabbitMQ vhost: a black-listed CDR in a cdrs_ingested event becomes a
destination_alert on alerting.events (valid against its schema), is logged once, and a rule written by another
process (the api) applies to the next event."""

from __future__ import annotations

import json
import pathlib
import re
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import kombu
import pytest

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.domain.destinations import ListEntry
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, event_exchange, make_envelope
from cdrstats_common.testing import ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[3]
ADMIN = Caller(admin=True)
PUBLIC_URL = "https://stats.example.com"


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    doc = (ROOT / "docs" / "events.md").read_text()
    schema = json.loads(dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", doc, flags=re.S))[name])
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def call(cdr_id: str, e164: str, country: str, accountcode: str = "acme-1") -> dict[str, Any]:
    start = time.time_ns() // 1000 - 60_000_000
    return new_cdr(
        id=cdr_id, uuid=f"uuid-{cdr_id}", switch_id="sw1", source="api", direction="outbound",
        destination_number=e164, destination_e164=e164, country=country, accountcode=accountcode,
        start_time_us=start, end_time_us=start + 5_000_000, duration_ms=5_000, disposition="NO_ANSWER",
        hangup_cause=19,
    )  # fmt: skip


def entry(list_name: str, prefix: str) -> ListEntry:
    return ListEntry(id="", list=list_name, owner="", prefix=prefix, country="")


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[AlertingStore]:
    """The store file the worker uses; this test writes rules to it as the api process would."""
    opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
    yield opened
    opened.close()


@pytest.fixture
def worker(amqp_url: str, tmp_path: pathlib.Path, store: AlertingStore) -> Iterator[ServiceProcess]:
    env = {
        "AMQP_URL": amqp_url,
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "CDRSTATS_ALERTING_STORE_URL": f"sqlite:///{tmp_path}/alerting.db",
        "CDRSTATS_PUBLIC_URL": PUBLIC_URL,
        "REPORTING_GRPC_ADDR": f"127.0.0.1:{free_port()}",  # no alarms here: reporting is never asked
    }
    process = ServiceProcess("cdrstats_alerting.worker", env, str(tmp_path / "worker.log"))
    try:
        wait_for(store.worker_alive, timeout_s=30, what="the alerting worker's heartbeat")
    except AssertionError as exc:
        process.stop()
        raise AssertionError(f"{exc}\n{process.log_text()[-3000:]}") from None
    yield process
    assert process.stop() == 0, process.log_text()[-3000:]


def receive(queue: Any, timeout_s: float) -> list[dict[str, Any]]:
    """Every message that arrives within ``timeout_s`` (acknowledged)."""
    bodies, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            message = queue.get(block=True, timeout=0.2)
        except queue.Empty:
            continue
        bodies.append(json.loads(message.body))
        message.ack()
    return bodies


def test_a_black_listed_cdr_is_alerted_once_and_logged_once(
    amqp_url: str, store: AlertingStore, worker: ServiceProcess
) -> None:
    service = DestinationsService(store)
    store.set_tenant("customer:acme", ["acme-1"])
    service.create_entries(ADMIN, [entry("black", "447"), entry("white", "4477")])
    first = [
        call("c-black", "+447812345678", "GB"),
        call("c-white", "+447712345678", "GB"),
        call("c-none", "+33123456789", "FR"),
    ]
    envelope = make_envelope("cdrs_ingested", "ingest", {"cdrs": first})
    check = schema_validator("cdrstats.destination_alert.v1")

    with kombu.Connection(amqp_url) as connection:
        queue = connection.SimpleQueue(
            kombu.Queue(
                "test.destination_alert", event_exchange("alerting"), routing_key="destination_alert", auto_delete=True
            )
        )
        publisher = EventPublisher(amqp_url, "ingest")
        try:
            publisher.publish(envelope, "cdrs_ingested")
            [alert] = _wait_one(queue, worker)
            check.validate(alert)
            assert alert["source"] == "alerting" and alert["schema"] == "cdrstats.destination_alert.v1"
            data = alert["data"]
            assert data["cdr"] == first[0] and data["tenant"] == "customer:acme"
            assert data["hit"]["verdict"] == "black" and data["hit"]["rule"] == "black list prefix 447 (global)"
            assert data["link"] == f"{PUBLIC_URL}/cdrs/c-black"
            logged = store.hits_by_cdr_ids(["c-black", "c-white", "c-none"])
            assert [(h.cdr_id, h.verdict, h.id) for h in logged] == [
                ("c-black", "black", data["hit"]["id"]),
                ("c-white", "white", logged[1].id),
            ]

            # a redelivered event changes nothing and publishes nothing
            publisher.publish(envelope, "cdrs_ingested")
            # a rule the api process adds applies to the next event (the worker sees the rules version move)
            service.create_entries(ADMIN, [entry("black", "33")])
            later = make_envelope("cdrs_ingested", "ingest", {"cdrs": [call("c-fr", "+33612345678", "FR"), first[0]]})
            publisher.publish(later, "cdrs_ingested")
            [second] = _wait_one(queue, worker)
            assert (
                second["data"]["cdr"]["id"] == "c-fr"
                and second["data"]["hit"]["rule"] == "black list prefix 33 (global)"
            )
            check.validate(second)
            assert receive(queue, 1.5) == []  # neither the redelivery nor the re-sent c-black alerted again
        finally:
            publisher.close()
            queue.close()
    counts = store.destination_counts()
    assert counts["hits"] == 3, counts  # c-black, c-white, c-fr: each CDR once
    assert store.outbox_pending() == 0


def _wait_one(queue: Any, worker: ServiceProcess, timeout_s: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        bodies = receive(queue, 0.5)
        if bodies:
            return bodies
    raise AssertionError(f"no destination_alert within {timeout_s} s\n{worker.log_text()[-3000:]}")
