"""The real workers bound their applied-event log and refuse events older than it, on a RabbitMQ vhost.

Each consuming worker (reporting, alerting, notify) prunes ids older than
CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS when it starts (then hourly). The reporting worker, given a
``cdrs_ingested`` event created before that window, parks it in the dead-letter queue untouched - with
a log line naming the event and the setting, and ``cdrstats_events_consumed{result="stale"}`` - while a
fresh redelivery is still a duplicate and a new event is applied.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import kombu
import pytest

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.store import open_store as open_alerting
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, make_envelope
from cdrstats_common.testing import ServiceProcess, free_port, queue_exists, wait_for
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.store import open_store as open_notify
from cdrstats_reporting.store import open_store as open_reporting

pytestmark = pytest.mark.integration

DAY_S = 86_400.0
SETTING = "CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS"
DEAD_QUEUE = "evt-ingest-cdrs_ingested--reporting.on_cdrs_ingested.dead"


def cdr(cdr_id: str) -> dict[str, Any]:
    start = int(time.time() * 1_000_000) - 60_000_000
    return new_cdr(
        id=cdr_id, uuid=f"uuid-{cdr_id}", switch_id="sw1", source="api", direction="outbound",
        destination_number="+441632960001", destination_e164="+441632960001", country="GB",
        start_time_us=start, end_time_us=start + 1_000_000, disposition="NO_ANSWER",
    )  # fmt: skip


def envelope(event_id: str, cdr_id: str, created_s: float) -> dict[str, Any]:
    made = make_envelope("cdrs_ingested", "ingest", {"cdrs": [cdr(cdr_id)]}, event_id=event_id)
    made["time"] = dt.datetime.fromtimestamp(created_s, dt.UTC).isoformat(timespec="microseconds")
    return made


def ids(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT event_id FROM processed_events")}


def age(conn: sqlite3.Connection, event_id: str, days: float) -> None:
    conn.execute(
        "UPDATE processed_events SET processed_at = ? WHERE event_id = ?", (time.time() - days * DAY_S, event_id)
    )


def start_worker(module: str, env: dict[str, str], tmp_path: pathlib.Path, alive: Callable[[], bool]) -> ServiceProcess:
    worker = ServiceProcess(module, env, str(tmp_path / "worker.log"))
    try:
        wait_for(alive, timeout_s=30, what=f"{module} heartbeat")
    except AssertionError as exc:
        worker.stop()
        raise AssertionError(f"{exc}\n{worker.log_text()[-3000:]}") from None
    return worker


def test_the_reporting_worker_prunes_old_ids_and_parks_a_stale_event(tmp_path: pathlib.Path, amqp_url: str) -> None:
    store = open_reporting(f"sqlite:///{tmp_path}/reporting.db")
    conn = store.conn  # type: ignore[attr-defined]
    assert store.apply_batch("ev-forgotten", [cdr("c-forgotten")]) and store.apply_batch("ev-kept", [cdr("c-kept")])
    age(conn, "ev-forgotten", 31)
    age(conn, "ev-kept", 29)
    admin_port = free_port()
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": amqp_url,
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{free_port()}",
        "CDRSTATS_ADMIN_PORT": str(admin_port),
        SETTING: "30",
    }
    worker = start_worker("cdrstats_reporting.worker", env, tmp_path, store.worker_alive)
    try:
        wait_for(lambda: ids(conn) == {"ev-kept"}, timeout_s=15, what="the 31-day-old id pruned at start")
        with kombu.Connection(amqp_url) as connection:
            wait_for(lambda: queue_exists(connection, DEAD_QUEUE), what="dead-letter queue declared")
            publisher = EventPublisher(amqp_url, "ingest")
            now = time.time()
            publisher.publish(envelope("ev-stale", "c-stale", now - 30 * DAY_S), "cdrs_ingested")
            publisher.publish(envelope("ev-kept", "c-kept", now - 29 * DAY_S + 3600), "cdrs_ingested")  # redelivery
            publisher.publish(envelope("ev-new", "c-new", now), "cdrs_ingested")
            publisher.close()
            wait_for(lambda: "ev-new" in ids(conn), what="the new event applied")
            dead = connection.SimpleQueue(DEAD_QUEUE)
            parked = dead.get(timeout=10)
            assert parked.payload["id"] == "ev-stale"
            parked.ack()
            dead.close()
        assert ids(conn) == {"ev-kept", "ev-new"}, "the stale event never reached the store"
        assert store.status() == (3, 3), "2 seeded + the new one: the redelivery was a duplicate"
        log = worker.log_text()
        refusal = next(line for line in log.splitlines() if "stale event refused" in line)
        assert "ev-stale" in refusal and f"{SETTING}=30" in refusal and DEAD_QUEUE in refusal
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert 'cdrstats_events_consumed_total{event_type="cdrs_ingested",result="stale"} 1.0' in metrics
        assert 'cdrstats_events_consumed_total{event_type="cdrs_ingested",result="duplicate"} 1.0' in metrics
    finally:
        store.close()
        assert worker.stop() == 0, worker.log_text()[-3000:]


@pytest.mark.parametrize("service", ["alerting", "notify"])
def test_the_alerting_and_notify_workers_prune_old_ids_at_start(
    service: str, tmp_path: pathlib.Path, amqp_url: str
) -> None:
    url = f"sqlite:///{tmp_path}/{service}.db"
    store: Any = open_alerting(url) if service == "alerting" else open_notify(url)
    for event_id in ("ev-forgotten", "ev-kept"):
        if service == "alerting":
            assert store.apply_cdrs_event(event_id, [cdr(f"c-{event_id}")], DestinationsService(store).matcher())
        else:
            mail = Delivery(
                owner="", channel="email", recipient="noc@example.com", kind="alarm_triggered", reference=event_id,
                subject="ALARM", text="text", html="<p>html</p>",
            )  # fmt: skip
            assert store.enqueue([mail], event_id=event_id) is not None
    age(store.conn, "ev-forgotten", 8)
    age(store.conn, "ev-kept", 6)
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": amqp_url,
        "REPORTING_GRPC_ADDR": f"127.0.0.1:{free_port()}",  # no alarms, no mail reports: never asked
        SETTING: "7",
    }
    worker = start_worker(f"cdrstats_{service}.worker", env, tmp_path, store.worker_alive)
    try:
        wait_for(lambda: ids(store.conn) == {"ev-kept"}, timeout_s=15, what="the 8-day-old id pruned at start")
    finally:
        store.close()
        assert worker.stop() == 0, worker.log_text()[-3000:]
