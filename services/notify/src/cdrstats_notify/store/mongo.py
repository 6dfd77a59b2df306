"""Notify on MongoDB (pymongo; the database comes from the URL): tenants and the worker heartbeat here;
deliveries/contacts (``MongoDeliveries``, with the outbox of notification_* events inside the delivery
documents) and mail reports (``MongoReports``) in their mixins. A mixin's indexes go in a method named
``migrate_<area>(self) -> None``, which start-up calls (idempotent, like create_index).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pymongo

from cdrstats_common import consumer, heartbeat
from cdrstats_common.tenants import MongoTenants
from cdrstats_notify.store.mongo_deliveries import MongoDeliveries
from cdrstats_notify.store.mongo_reports import MongoReports

DEFAULT_DATABASE = "cdrstats_notify"


class MongoNotifyStore(MongoTenants, MongoDeliveries, MongoReports):
    """pymongo is thread-safe; every write is a single-document atomic operation (see the mixins)."""

    def __init__(self, db: Any, client: Any = None) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self.db = db
        self.client = client
        self.lock = threading.Lock()
        for name in sorted(dir(self)):
            if name.startswith("migrate_"):
                getattr(self, name)()

    @classmethod
    def open(cls, url: str) -> MongoNotifyStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client)

    def migrate_processed_events(self) -> None:
        consumer.mongo_index_processed(self.db["processed_events"])

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        return consumer.mongo_prune_processed(self.db["processed_events"], before_us, limit)

    # -- worker heartbeat (cdrstats_common.heartbeat's semantics) ---------------------------------

    def beat(self, *, ready: bool = True) -> None:
        self.db["heartbeats"].update_one(
            {"_id": heartbeat.WORKER}, {"$set": {"beat_at": time.time(), "ready": ready}}, upsert=True
        )

    def worker_alive(self) -> bool:
        doc = self.db["heartbeats"].find_one({"_id": heartbeat.WORKER})
        return bool(doc) and bool(doc["ready"]) and time.time() - float(doc["beat_at"]) <= heartbeat.MAX_AGE_S

    def checkpoint(self) -> None:
        """Nothing to do: the server persists its own journal."""

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
