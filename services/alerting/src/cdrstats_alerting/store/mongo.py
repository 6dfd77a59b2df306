"""Alerting on MongoDB (pymongo; the database comes from the URL): tenants, the cdrs_ingested effect, the
outbox and heartbeat here; alarms and destination control in their mixins.

The area mixins use ``self.db``, ``self.lock`` and ``self.outbox`` (``MongoOutbox``); a mixin's indexes
go in a method named ``migrate_<area>(self) -> None``, which start-up calls. Hooks of the cdrs_ingested
effect (no ``conn``: MongoDB has no transaction here): ``_record_hits(cdrs, matcher)`` (destinations)
and ``_observe_cic(cdrs)`` (alarms), both idempotent. A staged outbox event is recovered through
``_<area>_event_committed(doc)`` of the mixin owning its event type.

Once per event: the event id is recorded LAST, after both effects. A worker that dies half-way gets the
event again and re-applies effects that are idempotent (hits by CDR id, CIC steps), so nothing is lost
or counted twice; a later delivery finds the id and stops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo.errors import DuplicateKeyError

from cdrstats_alerting.store.destinations_interface import Matcher
from cdrstats_alerting.store.interface import CdrsApplied
from cdrstats_alerting.store.mongo_alarms import MongoAlarms
from cdrstats_alerting.store.mongo_destinations import MongoDestinations
from cdrstats_alerting.store.mongo_outbox import MongoOutbox
from cdrstats_common import consumer, heartbeat
from cdrstats_common.tenants import MongoTenants

DEFAULT_DATABASE = "cdrstats_alerting"
ALARM_EVENTS = frozenset({"alarm_triggered", "alarm_cleared"})


class MongoAlertingStore(MongoTenants, MongoAlarms, MongoDestinations):
    """pymongo is thread-safe; ``lock`` is for mixins that need a critical section."""

    def __init__(self, db: Any, client: Any = None) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self.db = db
        self.client = client
        self.lock = threading.Lock()
        self.outbox = MongoOutbox(db, "alerting")
        self._migrate()

    @classmethod
    def open(cls, url: str) -> MongoAlertingStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client)

    def _migrate(self) -> None:
        self.outbox.migrate()
        consumer.mongo_index_processed(self.db["processed_events"])
        for name in sorted(dir(self)):
            if name.startswith("migrate_"):
                getattr(self, name)()

    # -- outbox ----------------------------------------------------------------------------

    def _event_committed(self, doc: Mapping[str, Any]) -> bool:
        """Whether a staged event's effect happened (recovery after a writer died)."""
        if doc.get("event_type") in ALARM_EVENTS:
            return self._alarm_event_committed(doc)
        check = getattr(self, "_destination_event_committed", None)
        return bool(check(doc)) if check is not None else True

    def relay_outbox(self, publisher: Any) -> int:
        return self.outbox.relay(publisher, self._event_committed)

    def outbox_pending(self) -> int:
        return self.outbox.pending_count()

    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        """Nothing to do: sent events expire through the outbox's TTL index (``mongo_outbox.SENT_TTL_S``)."""
        return 0

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        return consumer.mongo_prune_processed(self.db["processed_events"], before_us, limit)

    # -- the cdrs_ingested effect ----------------------------------------------------------

    def apply_cdrs_event(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> CdrsApplied:
        if not event_id:
            raise ValueError("event has no id")
        processed = self.db["processed_events"]
        if processed.find_one({"_id": event_id}, {"_id": 1}) is not None:
            return CdrsApplied(False)
        hits = self._record_hits(cdrs, matcher)
        self._observe_cic(cdrs)
        try:
            processed.insert_one({"_id": event_id, "processed_at": time.time()})
        except DuplicateKeyError:  # another worker applied it at the same time (idempotently)
            return CdrsApplied(False, dict(hits))  # the hits this call logged are still new ones
        return CdrsApplied(True, dict(hits))

    # -- worker heartbeat (cdrstats_common.heartbeat's semantics) ---------------------------

    def checkpoint(self) -> None:
        """MongoDB manages its own journal."""

    def beat(self, *, ready: bool = True) -> None:
        self.db["heartbeats"].update_one(
            {"_id": heartbeat.WORKER}, {"$set": {"beat_at": time.time(), "ready": ready}}, upsert=True
        )

    def worker_alive(self) -> bool:
        doc = self.db["heartbeats"].find_one({"_id": heartbeat.WORKER})
        return bool(doc) and bool(doc["ready"]) and time.time() - float(doc["beat_at"]) <= heartbeat.MAX_AGE_S

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
