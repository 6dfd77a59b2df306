"""Pull-connector state in MongoDB: collection ``connector_state``, one document per switch (``_id`` = switch id).

Same contract as store/sqlite_connectors.py; H-store composes this mixin into MongoCdrStore.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pymongo.database import Database

from cdrstats_ingest.store.interface import ConnectorState

COLLECTION = "connector_state"
_COUNTERS = ("last_accepted", "last_duplicates", "last_rejected", "total_accepted")


def _state_from_doc(doc: dict[str, Any]) -> ConnectorState:
    return ConnectorState(
        switch_id=doc["_id"],
        source=doc.get("source", ""),
        watermark=dict(doc.get("watermark") or {}),
        last_poll_at=float(doc.get("last_poll_at", 0.0)),
        last_success_at=float(doc.get("last_success_at", 0.0)),
        last_error=doc.get("last_error", ""),
        **{name: int(doc.get(name, 0)) for name in _COUNTERS},
    )


class MongoConnectorsMixin:
    """Watermarks and poll status of the pull connectors (mixed into MongoCdrStore)."""

    db: Database[dict[str, Any]]
    lock: threading.Lock

    def get_connector_state(self, switch_id: str) -> ConnectorState | None:
        doc = self.db[COLLECTION].find_one({"_id": switch_id})
        return _state_from_doc(doc) if doc else None

    def set_watermark(self, switch_id: str, source: str, watermark: dict[str, Any]) -> None:
        # the watermark is stored as a JSON-like subdocument; values are strings and numbers only
        self.db[COLLECTION].update_one(
            {"_id": switch_id}, {"$set": {"source": source, "watermark": dict(watermark)}}, upsert=True
        )

    def record_poll(
        self, switch_id: str, *, error: str = "", accepted: int = 0, duplicates: int = 0, rejected: int = 0
    ) -> None:
        now = time.time()
        values: dict[str, Any] = {
            "last_poll_at": now,
            "last_error": error,
            "last_accepted": accepted,
            "last_duplicates": duplicates,
            "last_rejected": rejected,
        }
        if not error:
            values["last_success_at"] = now
        self.db[COLLECTION].update_one(
            {"_id": switch_id}, {"$set": values, "$inc": {"total_accepted": accepted}}, upsert=True
        )

    def list_connector_states(self) -> list[ConnectorState]:
        return [_state_from_doc(doc) for doc in self.db[COLLECTION].find().sort("_id", 1)]
