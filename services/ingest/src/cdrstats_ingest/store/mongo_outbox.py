"""The outbox on MongoDB: events staged before their CDRs, relayed under a lease by any number of workers.

MongoDB has no multi-document transaction without a replica set, so an event can't be written "in the
same transaction" as its CDRs. Instead an event is written FIRST, in state ``staged`` (never relayed),
then the CDRs are inserted, then the event is flipped to ``pending``. A crash after the insert leaves a
staged event behind: ``recover_staged`` (run by every relay pass) takes staged events older than
``STAGE_TIMEOUT_S``, keeps exactly the CDRs of their body that were stored, and makes them pending (or
deletes them when none were). So every stored CDR gets its event and no event names a CDR that isn't
stored. If a writer stalls longer than the timeout and its flip finds the event already recovered, it
queues its CDRs again in a new event: at-least-once, which consumers absorb (event id, CDR id).

Relaying under a lease is ``cdrstats_common.mongo_outbox.LeasedRelay``, the same for every service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson
import pymongo

from cdrstats_common import telemetry
from cdrstats_common.events import make_envelope
from cdrstats_common.mongo_outbox import PENDING, SENT_TTL_S, STAGE_TIMEOUT_S, STAGED, LeasedRelay
from cdrstats_common.outbox import Publisher
from cdrstats_ingest.domain.ids import new_ids

log = logging.getLogger(__name__)

OUTBOX = "outbox"


class MongoOutbox(LeasedRelay):
    def __init__(self, db: Any, source: str) -> None:
        self.coll = db[OUTBOX]
        self.source = source
        self.stage_timeout_s = STAGE_TIMEOUT_S

    def migrate(self) -> None:
        """Idempotent. ``_id`` is a sortable id (ULID), so it is also the relay order."""
        self.coll.create_index(
            [("state", pymongo.ASCENDING), ("_id", pymongo.ASCENDING), ("lease_until", pymongo.ASCENDING)],
            name="claimable",
        )
        self.coll.create_index("sent_date", expireAfterSeconds=SENT_TTL_S, name="sent_ttl")

    def _documents(self, event_type: str, datas: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
        now = time.time()
        headers = telemetry.inject_headers({})  # the request that caused the events
        docs = []
        for seq, data in zip(new_ids(len(datas)), datas, strict=True):
            envelope = make_envelope(event_type, self.source, data)
            docs.append(
                {
                    "_id": seq,
                    "event_id": envelope["id"],
                    "event_type": event_type,
                    "body": orjson.dumps(envelope).decode(),
                    "headers": dict(headers),
                    "state": state,
                    "created_at": now,
                    "lease_until": 0.0,
                }
            )
        return docs

    def add(self, event_type: str, datas: list[dict[str, Any]]) -> list[str]:
        """Queue events ready to relay (each a single-document write, so atomic); returns their event ids."""
        docs = self._documents(event_type, datas, PENDING)
        if docs:
            self.coll.insert_many(docs, ordered=True)
        return [doc["event_id"] for doc in docs]

    def stage(self, event_type: str, datas: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write events that the relay ignores until ``release`` (or recovery) makes them pending."""
        docs = self._documents(event_type, datas, STAGED)
        if docs:
            self.coll.insert_many(docs, ordered=True)
        return docs

    def restage(self, doc: dict[str, Any], data: dict[str, Any]) -> None:
        """Replace a staged event's data (same event id): some of its CDRs turned out to be duplicates."""
        envelope = orjson.loads(doc["body"])
        envelope["data"] = data
        self.coll.update_one({"_id": doc["_id"], "state": STAGED}, {"$set": {"body": orjson.dumps(envelope).decode()}})

    def discard(self, seqs: Iterable[str]) -> None:
        listed = list(seqs)
        if listed:
            self.coll.delete_many({"_id": {"$in": listed}, "state": STAGED})

    def release(self, seqs: list[str]) -> bool:
        """Staged → pending; False if recovery took any of them first (the caller then re-queues)."""
        if not seqs:
            return True
        result = self.coll.update_many({"_id": {"$in": seqs}, "state": STAGED}, {"$set": {"state": PENDING}})
        return int(result.matched_count) == len(seqs)

    def recover_staged(self, cdrs: Any, *, limit: int = 100) -> int:
        """Staged ``cdrs_ingested`` events of writers that died: keep the CDRs that were stored; returns count."""
        recovered = 0
        cutoff = time.time() - self.stage_timeout_s
        for doc in list(self.coll.find({"state": STAGED, "created_at": {"$lt": cutoff}}).limit(limit)):
            envelope = orjson.loads(doc["body"])
            listed = envelope["data"].get("cdrs", [])
            stored = {row["_id"] for row in cdrs.find({"_id": {"$in": [c["id"] for c in listed]}}, {"_id": 1})}
            kept = [cdr for cdr in listed if cdr["id"] in stored]
            if not kept:
                self.coll.delete_one({"_id": doc["_id"], "state": STAGED})
                continue
            envelope["data"]["cdrs"] = kept
            update = {"$set": {"state": PENDING, "body": orjson.dumps(envelope).decode()}}
            if self.coll.update_one({"_id": doc["_id"], "state": STAGED}, update).matched_count:
                recovered += 1
                log.warning(
                    "recovered a staged outbox event",
                    extra={"fields": {"event_id": doc["event_id"], "cdrs": len(kept)}},
                )
        return recovered

    def relay(self, publisher: Publisher, cdrs: Any, *, batch_size: int = 100, max_batches: int = 1000) -> int:
        """One relay pass: recover dead writers' events, then claim and publish batches until none is left."""
        return self.relay_pending(
            publisher, lambda: self.recover_staged(cdrs), batch_size=batch_size, max_batches=max_batches
        )
