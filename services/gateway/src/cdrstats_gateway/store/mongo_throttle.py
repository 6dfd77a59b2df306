"""Throttle events on MongoDB: one document per (key, at) in ``throttle_events``, indexed like SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymongo

from cdrstats_gateway.store.throttle_events import KEEP_S

COLLECTION = "throttle_events"


class MongoThrottleEvents:
    """Mixin of MongoGatewayStore; every replica on the database shares the collection."""

    db: Any

    def migrate_throttle_events(self) -> None:
        self.db[COLLECTION].create_index([("key", pymongo.ASCENDING), ("at", pymongo.ASCENDING)], name="key_at")
        self.db[COLLECTION].create_index("at", name="at")  # the prune

    def record_throttle_event(self, keys: Sequence[str], at: float) -> None:
        self.db[COLLECTION].delete_many({"at": {"$lt": at - KEEP_S}})
        if keys:
            self.db[COLLECTION].insert_many([{"key": key, "at": at} for key in keys])

    def recent_throttle_events(self, keys: Sequence[str], since: float, limit: int) -> dict[str, list[float]]:
        recent: dict[str, list[float]] = {}
        for key in dict.fromkeys(keys):
            found = self.db[COLLECTION].find({"key": key, "at": {"$gt": since}}, {"at": 1})
            recent[key] = [float(doc["at"]) for doc in found.sort("at", -1).limit(limit)]
        return recent

    def clear_throttle_key(self, key: str) -> None:
        self.db[COLLECTION].delete_many({"key": key})

    def prune_throttle_events(self, before: float) -> int:
        return int(self.db[COLLECTION].delete_many({"at": {"$lt": before}}).deleted_count)
