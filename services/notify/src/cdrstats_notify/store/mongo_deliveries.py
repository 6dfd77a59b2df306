"""Deliveries and contacts on MongoDB: a mixin of MongoNotifyStore (``self.db``).

No multi-document transactions (no replica set required), so every step is one atomic document write:
- A delivery's state change and its ``notification_*`` event are ONE update: the event is pushed into the
  delivery's own ``outbox`` array, and the relay publishes and pulls it (at least once; consumers
  de-duplicate on the event id).
- Enqueueing for an event can be redone after a crash: delivery ids derive from (event id, position),
  a merge records that key in ``merged``, and the event id is recorded last; a redelivery finds what the
  first run did and does nothing twice.
- Claims and merges are conditional updates (a ``version`` counter for merges), so worker replicas never
  send the same delivery at once, and a merge never lands in a delivery that is being sent.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pymongo
from opentelemetry.trace import SpanKind
from pymongo.errors import DuplicateKeyError

from cdrstats_common import prom, telemetry
from cdrstats_common.events import make_envelope
from cdrstats_notify.domain.deliveries import FAILED, PENDING, SENT, Contacts, Delivery, DeliveryFilter, event_data
from cdrstats_notify.store.deliveries_interface import LEASE_US, Merge

DELIVERIES, CONTACTS, PROCESSED = "deliveries", "contacts", "processed_events"
SOURCE = "notify"
RACE_RETRIES = 50
RELAY_BATCH = 500
_IDS = uuid.UUID("6f1c1d5e-4a55-4c41-9a0e-6e6f74696679")  # namespace of event-derived delivery ids
_FIELDS = ("owner", "channel", "recipient", "kind", "reference", "subject", "text", "html", "group", "events",
           "status", "attempts", "last_error", "created_us", "scheduled_us", "next_attempt_us", "sent_us")  # fmt: skip


def _from_doc(doc: dict[str, Any]) -> Delivery:
    payload = doc.get("payload_json")
    return Delivery(
        **{name: doc[name] for name in _FIELDS},
        payload=None if payload is None else json.loads(payload),
        context=json.loads(doc["context_json"]),
        trace=dict(doc.get("trace") or {}),
        id=doc["_id"],
    )


def _content(delivery: Delivery) -> dict[str, Any]:
    """What a merge may change. JSON text: event data may hold keys MongoDB does not take (dots, "$")."""
    return {
        "subject": delivery.subject,
        "text": delivery.text,
        "html": delivery.html,
        "payload_json": None if delivery.payload is None else json.dumps(delivery.payload),
        "context_json": json.dumps(delivery.context),
        "events": delivery.events,
    }


class MongoDeliveries:
    db: Any

    def migrate_deliveries(self) -> None:
        asc, desc = pymongo.ASCENDING, pymongo.DESCENDING
        coll = self.db[DELIVERIES]
        coll.create_index("created_us", unique=True, name="created")  # unique: the log pages by it
        coll.create_index([("owner", asc), ("created_us", desc)], name="owner_created")
        coll.create_index([("status", asc), ("next_attempt_us", asc)], name="due")
        coll.create_index([("group", asc), ("channel", asc), ("recipient", asc), ("scheduled_us", desc)], name="group")
        coll.create_index("merged", name="merged")
        coll.create_index("outbox.seq", name="outbox")

    # -- queueing ---------------------------------------------------------------------------------

    def enqueue(
        self,
        deliveries: Sequence[Delivery],
        *,
        event_id: str | None = None,
        now_us: int | None = None,
        merge: Merge | None = None,
        window_us: int = 0,
    ) -> list[str] | None:
        now = int(time.time() * 1_000_000) if now_us is None else now_us
        if event_id is not None:
            if not event_id:
                raise ValueError("event has no id")
            if self.db[PROCESSED].find_one({"_id": event_id}, {"_id": 1}) is not None:
                return None
        if any(d.group for d in deliveries) and merge is None:
            raise ValueError("group: coalescing deliveries need a merge function")
        ids = [
            self._enqueue_one(d, now, merge, window_us, None if event_id is None else f"{event_id}#{index}")
            for index, d in enumerate(deliveries)
        ]
        if event_id is not None:
            self.db[PROCESSED].update_one(
                {"_id": event_id}, {"$setOnInsert": {"processed_at": time.time()}}, upsert=True
            )
        return ids

    def _enqueue_one(self, delivery: Delivery, now: int, merge: Merge | None, window_us: int, key: str | None) -> str:
        coll = self.db[DELIVERIES]
        delivery_id = str(uuid.uuid5(_IDS, key)) if key else str(uuid.uuid4())
        if key:
            done = coll.find_one({"$or": [{"_id": delivery_id}, {"merged": key}]}, {"_id": 1})
            if done is not None:  # a run that crashed half-way did this one already
                return str(done["_id"])
        for _ in range(RACE_RETRIES):
            due = now
            if delivery.group and merge is not None:
                same = {"group": delivery.group, "channel": delivery.channel, "recipient": delivery.recipient}
                open_ = {"status": PENDING, "attempts": 0, "lease_until_us": {"$lte": now}}
                unsent = coll.find_one({**same, **open_}, sort=[("scheduled_us", pymongo.DESCENDING)])
                if unsent is not None:
                    merged = merge(_from_doc(unsent), delivery)
                    update: dict[str, Any] = {"$set": _content(merged), "$inc": {"version": 1}}
                    if key:
                        update["$push"] = {"merged": key}
                    won = coll.update_one({"_id": unsent["_id"], "version": unsent["version"], **open_}, update)
                    if won.matched_count:
                        return str(unsent["_id"])
                    continue  # claimed or merged meanwhile: decide again
                last = coll.find_one(same, {"scheduled_us": 1}, sort=[("scheduled_us", pymongo.DESCENDING)])
                if last is not None and now < last["scheduled_us"] + window_us:
                    due = last["scheduled_us"] + window_us
            newest = coll.find_one({}, {"created_us": 1}, sort=[("created_us", pymongo.DESCENDING)])
            created = now if newest is None else max(now, newest["created_us"] + 1)
            doc = {
                "_id": delivery_id,
                **{name: getattr(delivery, name) for name in ("owner", "channel", "recipient", "kind", "reference", "group")},
                **_content(delivery),
                "trace": delivery.trace or dict(telemetry.inject_headers({})),
                "status": PENDING, "attempts": 0, "last_error": "", "created_us": created, "scheduled_us": due,
                "next_attempt_us": due, "sent_us": 0, "lease_until_us": 0, "version": 0, "merged": [], "outbox": [],
            }  # fmt: skip
            try:
                coll.insert_one(doc)
                return delivery_id
            except DuplicateKeyError:
                if coll.find_one({"_id": delivery_id}, {"_id": 1}) is not None:
                    return delivery_id
                # another writer took this creation time: try the next one
        raise RuntimeError("enqueue: gave up after too many concurrent writers")

    def _claim(self, query: dict[str, Any], now_us: int, lease_us: int) -> Delivery | None:
        claimable = {"status": PENDING, "lease_until_us": {"$lte": now_us}}
        doc = self.db[DELIVERIES].find_one_and_update(
            {**query, **claimable}, {"$set": {"lease_until_us": now_us + lease_us}}
        )
        return None if doc is None else _from_doc(doc)

    def due(self, now_us: int, limit: int, *, lease_us: int = LEASE_US) -> list[Delivery]:
        ready = {"status": PENDING, "next_attempt_us": {"$lte": now_us}, "lease_until_us": {"$lte": now_us}}
        order = [("next_attempt_us", pymongo.ASCENDING), ("created_us", pymongo.ASCENDING)]
        candidates = [doc["_id"] for doc in self.db[DELIVERIES].find(ready, {"_id": 1}).sort(order).limit(limit)]
        claimed = [
            self._claim({"_id": cid, "next_attempt_us": {"$lte": now_us}}, now_us, lease_us) for cid in candidates
        ]
        return [delivery for delivery in claimed if delivery is not None]

    def claim(self, delivery_id: str, now_us: int, *, lease_us: int = LEASE_US) -> Delivery | None:
        return self._claim({"_id": delivery_id}, now_us, lease_us)

    # -- outcomes ---------------------------------------------------------------------------------

    def mark_sent(self, delivery_id: str, now_us: int) -> Delivery | None:
        return self._finish(delivery_id, SENT, "", now_us, 0, "notification_sent")

    def mark_retry(self, delivery_id: str, now_us: int, next_attempt_us: int, error: str) -> Delivery | None:
        return self._finish(delivery_id, PENDING, error, now_us, next_attempt_us, "notification_failed")

    def mark_failed(self, delivery_id: str, now_us: int, error: str) -> Delivery | None:
        return self._finish(delivery_id, FAILED, error, now_us, 0, "notification_failed")

    def _finish(
        self, delivery_id: str, status: str, error: str, now_us: int, next_attempt_us: int, event_type: str
    ) -> Delivery | None:
        coll = self.db[DELIVERIES]
        doc = coll.find_one({"_id": delivery_id, "status": PENDING})
        if doc is None:
            return None
        before = _from_doc(doc)
        after = dataclasses.replace(
            before,
            status=status,
            attempts=before.attempts + 1,
            last_error=error,
            next_attempt_us=next_attempt_us if status == PENDING else before.next_attempt_us,
            sent_us=now_us if status == SENT else 0,
        )
        envelope = make_envelope(
            event_type,
            SOURCE,
            event_data(after, error=None if status == SENT else error, next_attempt_us=next_attempt_us),
        )
        entry = {
            "seq": f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",
            "event_id": envelope["id"],
            "event_type": event_type,
            "body": json.dumps(envelope),
            "headers": dict(telemetry.inject_headers({})),
        }
        changes = {
            name: getattr(after, name) for name in ("status", "attempts", "last_error", "next_attempt_us", "sent_us")
        }
        result = coll.update_one(
            {"_id": delivery_id, "status": PENDING, "attempts": before.attempts},
            {"$set": {**changes, "lease_until_us": 0}, "$inc": {"version": 1}, "$push": {"outbox": entry}},
        )
        return after if result.matched_count else None

    # -- the outbox inside the deliveries ---------------------------------------------------------

    def relay_outbox(self, publisher: Any) -> int:
        """Publish pending notification_* events, oldest first; each is pulled once the broker confirmed it."""
        coll = self.db[DELIVERIES]
        sent = 0
        try:
            docs = coll.find({"outbox.seq": {"$exists": True}}, {"outbox": 1}).limit(RELAY_BATCH)
            entries = sorted(((e, d["_id"]) for d in docs for e in d["outbox"]), key=lambda pair: pair[0]["seq"])
            for entry, delivery_id in entries:
                headers = dict(entry.get("headers") or {})
                event_type = entry["event_type"]
                with telemetry.span_from_headers(f"{event_type} publish", headers, SpanKind.PRODUCER):
                    telemetry.inject_headers(headers)
                    publisher.publish(entry["body"], event_type, headers)
                coll.update_one({"_id": delivery_id}, {"$pull": {"outbox": {"event_id": entry["event_id"]}}})
                prom.EVENTS_PUBLISHED.labels(event_type).inc()
                sent += 1
        finally:
            prom.OUTBOX_PENDING.set(self.outbox_pending())
        return sent

    def outbox_pending(self) -> int:
        docs = self.db[DELIVERIES].find({"outbox.seq": {"$exists": True}}, {"outbox.seq": 1})
        return sum(len(doc["outbox"]) for doc in docs)

    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        """Nothing to prune: a published event is pulled from its delivery at once."""
        return 0

    # -- reading ----------------------------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        doc = self.db[DELIVERIES].find_one({"_id": delivery_id})
        return None if doc is None else _from_doc(doc)

    def list_deliveries(self, selection: DeliveryFilter) -> list[Delivery]:
        query: dict[str, Any] = {}
        if selection.owner is not None:
            query["owner"] = selection.owner
        for name in ("status", "channel", "kind"):
            if getattr(selection, name):
                query[name] = getattr(selection, name)
        if selection.before_us:
            query["created_us"] = {"$lt": selection.before_us}
        docs = self.db[DELIVERIES].find(query).sort("created_us", pymongo.DESCENDING).limit(selection.limit)
        return [_from_doc(doc) for doc in docs]

    def delivery_counts(self) -> dict[str, int]:
        coll = self.db[DELIVERIES]
        return {
            "deliveries": int(coll.count_documents({})),
            "pending": int(coll.count_documents({"status": PENDING})),
            "failed": int(coll.count_documents({"status": FAILED})),
        }

    def prune_deliveries(self, before_us: int, limit: int) -> int:
        coll = self.db[DELIVERIES]
        # an unpublished notification_* event lives in its delivery's ``outbox``: that delivery stays
        old = {"created_us": {"$lt": before_us}, "status": {"$ne": PENDING}, "outbox.0": {"$exists": False}}
        ids = [doc["_id"] for doc in coll.find(old, {"_id": 1}).sort("created_us", 1).limit(limit)]
        return int(coll.delete_many({"_id": {"$in": ids}, **old}).deleted_count) if ids else 0

    # -- contacts ---------------------------------------------------------------------------------

    def get_contacts(self, owner: str) -> Contacts:
        doc = self.db[CONTACTS].find_one({"_id": owner})
        if doc is None:
            return Contacts(owner)
        return Contacts(owner, tuple(doc.get("emails", ())), tuple(doc.get("webhooks", ())))

    def save_contacts(self, contacts: Contacts) -> Contacts:
        self.db[CONTACTS].replace_one(
            {"_id": contacts.owner},
            {"emails": list(contacts.emails), "webhooks": list(contacts.webhooks), "updated_at": time.time()},
            upsert=True,
        )
        return contacts
