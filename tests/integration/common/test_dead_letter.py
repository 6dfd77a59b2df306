"""A poison event is parked in the dead-letter queue, visible, while good events keep flowing."""

from __future__ import annotations

import pathlib

import kombu
import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, make_envelope
from cdrstats_common.testing import ServiceProcess, free_port, queue_exists, wait_for
from cdrstats_reporting.store import open_store

pytestmark = pytest.mark.integration
DEAD_QUEUE = "evt-ingest-cdrs_ingested--reporting.on_cdrs_ingested.dead"


def test_poison_event_is_parked_and_the_next_one_applied(tmp_path: pathlib.Path, amqp_url: str) -> None:
    env = {"CDRSTATS_DATA_DIR": str(tmp_path), "AMQP_URL": amqp_url, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{free_port()}"}
    worker = ServiceProcess("cdrstats_reporting.worker", env, str(tmp_path / "worker.log"))
    store = open_store(f"sqlite:///{tmp_path}/reporting.db")
    try:
        wait_for(store.worker_alive, what="reporting worker heartbeat")
        with kombu.Connection(amqp_url) as connection:
            # the worker declares its queue (with the dead-letter arguments) when it starts consuming
            wait_for(lambda: queue_exists(connection, DEAD_QUEUE), what="dead-letter queue declared")
            publisher = EventPublisher(amqp_url, "ingest")
            publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": "not a list"}), "cdrs_ingested")
            good = new_cdr(id="c1", uuid="u1", switch_id="sw", start_time_us=1_760_000_000_000_000)
            publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": [good]}), "cdrs_ingested")
            publisher.close()
            wait_for(lambda: store.status()[0] == 1, what="the good event applied after the poison one")
            dead = connection.SimpleQueue(DEAD_QUEUE)
            message = dead.get(timeout=10)
            assert message.payload["data"] == {"cdrs": "not a list"}
            message.ack()
            dead.close()
        assert "message parked in dead-letter queue" in worker.log_text()
    finally:
        store.close()
        assert worker.stop() == 0
