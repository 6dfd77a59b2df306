"""The relay half of a MongoDB outbox, shared by every service whose store runs on MongoDB.

MongoDB without a replica set has no multi-document transaction, so each service's outbox STAGES an
event before its effect and makes it PENDING after it (its own ``recover_staged`` decides what a dead
writer's staged events become). Relaying is the same everywhere: a pass CLAIMS the oldest pending
events with a lease token (two worker replicas never hold the same event at once; one that dies keeps
them only until the lease ends), publishes them in order with publisher confirms, marks them sent, and
sent events expire through a TTL index.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from cdrstats_common import prom, telemetry
from cdrstats_common.outbox import Publisher

STAGED, PENDING, SENT = "staged", "pending", "sent"
STAGE_TIMEOUT_S = 60.0  # a writer takes well under a second from staging to releasing
LEASE_S = 60.0
LEASE_MARGIN_S = 10.0  # stop publishing a claim this long before its lease ends
SENT_TTL_S = 86_400


class LeasedRelay:
    """Needs ``self.coll`` (the outbox collection); ``_id`` sorts in relay order."""

    coll: Any

    def claim(self, batch_size: int) -> list[dict[str, Any]]:
        """Lease up to ``batch_size`` of the oldest pending events to a new token; returns them in order."""
        now = time.time()
        claimable = {"state": PENDING, "lease_until": {"$lt": now}}
        seqs = [doc["_id"] for doc in self.coll.find(claimable, {"_id": 1}).sort("_id", 1).limit(batch_size)]
        if not seqs:
            return []
        token = uuid.uuid4().hex
        self.coll.update_many(
            {"_id": {"$in": seqs}, **claimable}, {"$set": {"lease_owner": token, "lease_until": now + LEASE_S}}
        )
        return list(self.coll.find({"_id": {"$in": seqs}, "lease_owner": token, "state": PENDING}).sort("_id", 1))

    def publish_claimed(self, docs: list[dict[str, Any]], publisher: Publisher) -> int:
        """Publish in order while the lease lasts; mark what the broker confirmed sent, free the rest."""
        sent: list[str] = []
        try:
            for doc in docs:
                if time.time() > float(doc["lease_until"]) - LEASE_MARGIN_S:
                    break  # another replica may claim it soon: leave it to the next pass
                _publish(doc, publisher)
                sent.append(doc["_id"])
                prom.EVENTS_PUBLISHED.labels(doc["event_type"]).inc()
        finally:
            token = docs[0]["lease_owner"] if docs else ""
            if sent:
                self.coll.update_many(
                    {"_id": {"$in": sent}, "lease_owner": token},
                    {
                        "$set": {"state": SENT, "sent_at": time.time(), "sent_date": dt.datetime.now(dt.UTC)},
                        "$unset": {"lease_owner": ""},
                    },
                )
            rest = [doc["_id"] for doc in docs[len(sent) :]]
            if rest:
                self.coll.update_many(
                    {"_id": {"$in": rest}, "lease_owner": token},
                    {"$set": {"lease_until": 0.0}, "$unset": {"lease_owner": ""}},
                )
        return len(sent)

    def relay_pending(
        self, publisher: Publisher, recover: Callable[[], object], *, batch_size: int = 100, max_batches: int = 1000
    ) -> int:
        """One relay pass: ``recover`` dead writers' staged events, then claim and publish until none is left."""
        total = 0
        try:
            recover()
            for _ in range(max_batches):
                docs = self.claim(batch_size)
                if not docs:
                    break
                count = self.publish_claimed(docs, publisher)
                total += count
                if count < len(docs) or len(docs) < batch_size:
                    break
        finally:
            prom.OUTBOX_PENDING.set(self.pending_count())
            prom.OUTBOX_LAG.set(self.oldest_pending_age())
        return total

    def pending_count(self) -> int:
        return int(self.coll.count_documents({"state": {"$in": [STAGED, PENDING]}}))

    def oldest_pending_age(self) -> float:
        doc = self.coll.find_one({"state": {"$in": [STAGED, PENDING]}}, {"created_at": 1}, sort=[("_id", 1)])
        return 0.0 if doc is None else max(0.0, time.time() - float(doc["created_at"]))


def _publish(doc: dict[str, Any], publisher: Publisher) -> None:
    headers = dict(doc.get("headers") or {})
    event_type = doc["event_type"]
    with telemetry.span_from_headers(f"{event_type} publish", headers, SpanKind.PRODUCER, event_type=event_type):
        telemetry.inject_headers(headers)  # at dispatch: consumers are children of this publish span
        publisher.publish(doc["body"], event_type, headers)
