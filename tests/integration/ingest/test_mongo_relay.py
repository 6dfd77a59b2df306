"""The MongoDB store's outbox relayed to a real RabbitMQ (the store on mongomock): bodies as consumers get them."""

from __future__ import annotations

import json

import kombu
import mongomock
import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, event_exchange
from cdrstats_ingest.store.mongo import MongoCdrStore

pytestmark = pytest.mark.integration


def test_two_replicas_relay_every_event_once_to_the_broker(amqp_url: str) -> None:
    database = mongomock.MongoClient()["cdrstats_ingest_relay"]
    api, replica_a, replica_b = MongoCdrStore(database), MongoCdrStore(database), MongoCdrStore(database)
    outcomes = [
        api.add_cdrs([new_cdr(switch_id="sw1", source="api", uuid=f"u-{i}", start_time_us=i + 1)]) for i in range(6)
    ]
    api.add_call_state({"switch_id": "sw1", "uuid": "live", "event": "started", "time_us": 1})
    with kombu.Connection(amqp_url) as connection:
        queue = kombu.Queue("test-ingest-events", exchange=event_exchange("ingest"), routing_key="#")
        queue(connection.channel()).declare()
        publishers = [EventPublisher(amqp_url, "ingest"), EventPublisher(amqp_url, "ingest")]
        try:
            claimed = replica_a.outbox.claim(3)
            assert replica_b.relay_outbox(publishers[1]) == 4
            assert replica_a.outbox.publish_claimed(claimed, publishers[0]) == 3
            assert api.outbox_pending() == 0
        finally:
            for publisher in publishers:
                publisher.close()
        received = []
        with connection.SimpleQueue(queue) as simple:
            for _ in range(7):
                message = simple.get(timeout=10)
                received.append((message.delivery_info["routing_key"], json.loads(message.body)))
                message.ack()
            assert simple.qsize() == 0
    cdr_ids = sorted(c["id"] for key, body in received if key == "cdrs_ingested" for c in body["data"]["cdrs"])
    assert cdr_ids == sorted(outcome.ids[0] for outcome in outcomes)  # each CDR once
    states = [body for key, body in received if key == "call_state"]
    assert len(states) == 1 and states[0]["schema"] == "cdrstats.call_state.v1" and states[0]["source"] == "ingest"
