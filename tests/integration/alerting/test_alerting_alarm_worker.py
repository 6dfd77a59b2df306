"""The real alerting worker process on a RabbitMQ vhost: unanswered CDRs in cdrs_ingested events make a CIC
alarm fire on the worker's timer; an answered call clears it. Both events arrive on alerting.events, valid
against their schemas, and the evaluations are stored (CIC needs no reporting: none runs here)."""

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

from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.domain.alarms import Alarm, AlarmScope
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, event_exchange, make_envelope
from cdrstats_common.testing import ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[3]


def validator(name: str) -> jsonschema.Draft202012Validator:
    doc = (ROOT / "docs" / "events.md").read_text()
    schema = json.loads(dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", doc, flags=re.S))[name])
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def call(n: int, start_us: int, answered: bool) -> dict[str, Any]:
    return new_cdr(
        id=f"cic-{n:03d}", uuid=f"uuid-{n}", switch_id="sw1", source="api", country="DE", accountcode="acme-1",
        destination_e164="+4930123456", start_time_us=start_us, end_time_us=start_us + 5_000_000,
        answer_time_us=start_us + 1_000_000 if answered else 0, billsec_ms=4_000 if answered else 0,
        hangup_cause=16 if answered else 19,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[AlertingStore]:
    opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
    yield opened
    opened.close()


@pytest.fixture
def worker(amqp_url: str, tmp_path: pathlib.Path, store: AlertingStore) -> Iterator[ServiceProcess]:
    env = {
        "AMQP_URL": amqp_url,
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "CDRSTATS_ALERTING_STORE_URL": f"sqlite:///{tmp_path}/alerting.db",
        "CDRSTATS_ALARM_INTERVAL_S": "1",
        "REPORTING_GRPC_ADDR": f"127.0.0.1:{free_port()}",  # CIC is alerting's own: reporting is never asked
    }
    process = ServiceProcess("cdrstats_alerting.worker", env, str(tmp_path / "worker.log"))
    try:
        wait_for(store.worker_alive, timeout_s=30, what="the alerting worker's heartbeat")
    except AssertionError as exc:
        process.stop()
        raise AssertionError(f"{exc}\n{process.log_text()[-3000:]}") from None
    yield process
    assert process.stop() == 0, process.log_text()[-3000:]


def next_event(queue: Any, worker: ServiceProcess, timeout_s: float = 20) -> dict[str, Any]:
    try:
        message = queue.get(block=True, timeout=timeout_s)
    except queue.Empty:
        raise AssertionError(f"no alarm event within {timeout_s} s\n{worker.log_text()[-3000:]}") from None
    message.ack()
    return dict(json.loads(message.body))


def test_a_cic_alarm_fires_and_clears_on_the_workers_timer(
    amqp_url: str, store: AlertingStore, worker: ServiceProcess
) -> None:
    alarm = AlarmsService(store).create(
        Caller(admin=True),
        Alarm(name="CIC DE", metric="cic", window="", condition="gt", threshold=3, scope=AlarmScope("country", "DE"),
              emails=("noc@example.com",)),
    )  # fmt: skip
    start = time.time_ns() // 1000 - 120_000_000
    with kombu.Connection(amqp_url) as connection:
        queue = connection.SimpleQueue(
            kombu.Queue("test.alarm_events", event_exchange("alerting"), routing_key="#", auto_delete=True)
        )
        publisher = EventPublisher(amqp_url, "ingest")
        try:
            # the answered call arrives last but started first: four unanswered in a row after it
            unanswered = [call(n, start + n * 1_000_000, False) for n in range(1, 5)]
            publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": unanswered}), "cdrs_ingested")
            publisher.publish(
                make_envelope("cdrs_ingested", "ingest", {"cdrs": [call(0, start, True)]}), "cdrs_ingested"
            )
            fired = next_event(queue, worker)
            validator("cdrstats.alarm_triggered.v1").validate(fired)
            assert fired["schema"] == "cdrstats.alarm_triggered.v1"
            assert (fired["data"]["alarm"]["id"], fired["data"]["value"], fired["data"]["state"]) == (
                alarm.id,
                4,
                "FIRING",
            )
            assert fired["data"]["link"].endswith("&country=DE&answered=no")

            publisher.publish(
                make_envelope("cdrs_ingested", "ingest", {"cdrs": [call(9, start + 9_000_000, True)]}), "cdrs_ingested"
            )
            cleared = next_event(queue, worker)
            validator("cdrstats.alarm_cleared.v1").validate(cleared)
            assert (cleared["data"]["value"], cleared["data"]["state"]) == (0, "OK")
        finally:
            publisher.close()
            queue.close()
    evaluations = store.list_evaluations(alarm.id)
    published = [(e.verdict, e.state_after) for e in evaluations if e.published]
    assert published == [("ok", "OK"), ("breach", "FIRING")]
    assert store.outbox_pending() == 0
