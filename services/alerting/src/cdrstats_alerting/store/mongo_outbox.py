"""Alerting's outbox on MongoDB: events staged before their effect, released after it, relayed under a lease.

MongoDB has no multi-document transaction without a replica set, so an event can't commit "with" its
state change. A writer STAGES the event first (never relayed), applies the effect, then RELEASES it
(pending) - or discards it when the effect did not happen. A writer that dies in between leaves a
staged event; every relay pass asks the store's ``committed(doc)`` about staged events older than
``STAGE_TIMEOUT_S`` (did their effect happen?) and releases or deletes them. So an event is published
exactly when its effect exists (at least once: consumers de-duplicate on the id).

Relaying under a lease is ``cdrstats_common.mongo_outbox.LeasedRelay``, the same for every service.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import pymongo

from cdrstats_common import telemetry
from cdrstats_common.events import make_envelope
from cdrstats_common.mongo_outbox import PENDING, SENT_TTL_S, STAGE_TIMEOUT_S, STAGED, LeasedRelay
from cdrstats_common.outbox import Publisher

_counter = itertools.count()


def _seq() -> str:
    """Sortable within a process and across processes to the microsecond (relay order)."""
    return f"{time.time_ns() // 1000:016x}{next(_counter) % 0xFFFF:04x}{uuid.uuid4().hex[:6]}"


class MongoOutbox(LeasedRelay):
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

    def relay(
        self, publisher: Publisher, committed: Callable[[Mapping[str, Any]], bool], *, batch_size: int = 100
    ) -> int:
        """One relay pass: recover dead writers' staged events, then publish pending ones until none is left."""
        return self.relay_pending(publisher, lambda: self.recover_staged(committed), batch_size=batch_size)
