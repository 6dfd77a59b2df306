"""Alerting's outbox on MongoDB: events staged before their effect, released after it, relayed under a lease.

MongoDB has no multi-document transaction without a replica set, so an event can't commit "with" its
state change. A writer STAGES the event first (never relayed), applies the effect, then RELEASES it
(pending) - or discards it when the effect did not happen. A writer that dies in between leaves a
staged event; every relay pass asks the store's ``committed(doc)`` about staged events older than
``STAGE_TIMEOUT_S`` (did their effect happen?) and releases or deletes them. So an event is published
exactly when its effect exists (at least once: consumers de-duplicate on the id).

A relay pass claims the oldest pending events with a lease token (two worker replicas never publish
the same event at once), publishes them in order with confirms and marks them sent; sent events
expire through a TTL index.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pymongo
from opentelemetry.trace import SpanKind

from cdrstats_common import prom, telemetry
from cdrstats_common.events import make_envelope
from cdrstats_common.outbox import Publisher

STAGED, PENDING, SENT = "staged", "pending", "sent"
STAGE_TIMEOUT_S = 60.0
LEASE_S = 60.0
LEASE_MARGIN_S = 10.0
SENT_TTL_S = 86_400
_counter = itertools.count()


def _seq() -> str:
    """Sortable within a process and across processes to the microsecond (relay order)."""
    return f"{time.time_ns() // 1000:016x}{next(_counter) % 0xFFFF:04x}{uuid.uuid4().hex[:6]}"


class MongoOutbox:
    def __init__(self, db: Any, source: str) -> None:
        self.coll = db["outbox"]
        self.source = source
        self.stage_timeout_s = STAGE_TIMEOUT_S

    def migrate(self) -> None:
        self.coll.create_index([("state", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)], name="claimable")
        self.coll.create_index("sent_date", expireAfterSeconds=SENT_TTL_S, name="sent_ttl")

    def _document(
        self, event_type: str, data: Mapping[str, Any], state: str, check: Mapping[str, Any]
    ) -> dict[str, Any]:
        envelope = make_envelope(event_type, self.source, dict(data))
        return {
            "_id": _seq(),
            "event_id": envelope["id"],
            "event_type": event_type,
            "body": orjson.dumps(envelope).decode(),
            "headers": telemetry.inject_headers({}),
            "state": state,
            "check": dict(check),  # what recovery needs to tell whether the effect happened
            "created_at": time.time(),
            "lease_until": 0.0,
        }

    def add(self, event_type: str, data: Mapping[str, Any]) -> str:
        """Queue an event ready to relay (for effects that are themselves one atomic write)."""
        doc = self._document(event_type, data, PENDING, {})
        self.coll.insert_one(doc)
        return str(doc["event_id"])

    def stage(self, event_type: str, data: Mapping[str, Any], check: Mapping[str, Any]) -> str:
        doc = self._document(event_type, data, STAGED, check)
        self.coll.insert_one(doc)
        return str(doc["_id"])

    def release(self, seq: str) -> None:
        self.coll.update_one({"_id": seq, "state": STAGED}, {"$set": {"state": PENDING}})

    def discard(self, seq: str) -> None:
        self.coll.delete_one({"_id": seq, "state": STAGED})

    def recover_staged(self, committed: Callable[[Mapping[str, Any]], bool], *, limit: int = 100) -> int:
        """Release (or delete) staged events of writers that died; returns how many were released."""
        released = 0
        cutoff = time.time() - self.stage_timeout_s
        for doc in list(self.coll.find({"state": STAGED, "created_at": {"$lt": cutoff}}).limit(limit)):
            if committed(doc):
                released += self.coll.update_one(
                    {"_id": doc["_id"], "state": STAGED}, {"$set": {"state": PENDING}}
                ).modified_count
            else:
                self.coll.delete_one({"_id": doc["_id"], "state": STAGED})
        return released

    def _claim(self, batch_size: int) -> list[dict[str, Any]]:
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

    def _publish_claimed(self, docs: list[dict[str, Any]], publisher: Publisher) -> int:
        sent: list[str] = []
        token = docs[0]["lease_owner"]
        try:
            for doc in docs:
                if time.time() > float(doc["lease_until"]) - LEASE_MARGIN_S:
                    break  # the lease is ending: another replica may take over
                headers = dict(doc.get("headers") or {})
                with telemetry.span_from_headers(
                    f"{doc['event_type']} publish", headers, SpanKind.PRODUCER, event_type=doc["event_type"]
                ):
                    telemetry.inject_headers(headers)
                    publisher.publish(doc["body"], doc["event_type"], headers)
                sent.append(doc["_id"])
                prom.EVENTS_PUBLISHED.labels(doc["event_type"]).inc()
        finally:
            if sent:
                self.coll.update_many(
                    {"_id": {"$in": sent}, "lease_owner": token},
                    {"$set": {"state": SENT, "sent_at": time.time(), "sent_date": dt.datetime.now(dt.UTC)}},
                )
            rest = [doc["_id"] for doc in docs[len(sent) :]]
            if rest:
                self.coll.update_many({"_id": {"$in": rest}, "lease_owner": token}, {"$set": {"lease_until": 0.0}})
        return len(sent)

    def relay(
        self, publisher: Publisher, committed: Callable[[Mapping[str, Any]], bool], *, batch_size: int = 100
    ) -> int:
        """One relay pass: recover dead writers' staged events, then publish pending ones until none is left."""
        total = 0
        try:
            self.recover_staged(committed)
            while True:
                docs = self._claim(batch_size)
                if not docs:
                    break
                count = self._publish_claimed(docs, publisher)
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
