"""MongoDB roll-up store: ``$inc`` upserts made idempotent without a multi-document transaction.

Each roll-up document remembers the ids of the events applied to it; an update only
matches a document that does not hold the event id yet, so a redelivered event (or a
retry after a crash half-way through a batch) adds nothing twice. The event marker in
``processed_events`` is written LAST: once it exists, later deliveries stop before
touching any roll-up. The status counters are bumped by the one writer whose marker
insert succeeded, so a crash between those two single-document writes can leave the
status one event short; the roll-ups themselves stay exact. Each document's id list
grows by one entry per event touching that (hour, switch, account, country, cause,
direction) — bounded by that hour's events.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pymongo
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cdrstats_common import heartbeat
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.rollup import SUM_FIELDS, RollupKey, aggregate, totals_from, totals_values

DEFAULT_DATABASE = "cdrstats_reporting"
DUPLICATE_KEY = 11000
_KEY_FIELDS = RollupKey._fields


class MongoRollupStore:
    def __init__(self, db: Any, client: Any = None) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self._db = db
        self._client = client
        self._rollups = db["hourly_rollups"]
        self._events = db["processed_events"]
        self._counters = db["rollup_counters"]
        self._heartbeats = db["heartbeats"]
        self._migrate()

    @classmethod
    def open(cls, url: str) -> MongoRollupStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client)

    def _migrate(self) -> None:
        """Idempotent: create_index is a no-op when the same index exists."""
        self._rollups.create_index([(name, pymongo.ASCENDING) for name in _KEY_FIELDS], unique=True, name="rollup_key")
        self._rollups.create_index(
            [("switch_id", pymongo.ASCENDING), ("hour_start_us", pymongo.ASCENDING)], name="switch_hour"
        )

    def apply_batch(self, event_id: str, cdrs: list[dict[str, Any]]) -> bool:
        if not event_id:
            raise ValueError("event has no id")
        if self._events.find_one({"_id": event_id}, {"_id": 1}) is not None:
            return False
        updates = [self._update(event_id, key, totals) for key, totals in aggregate(cdrs).items()]
        if updates:
            self._write(updates)
        try:
            self._events.insert_one({"_id": event_id, "cdrs": len(cdrs), "processed_at": time.time()})
        except DuplicateKeyError:
            return False  # a concurrent delivery of the same event finished first
        self._counters.update_one(
            {"_id": "totals"}, {"$inc": {"cdrs_applied": len(cdrs), "events_applied": 1}}, upsert=True
        )
        return True

    @staticmethod
    def _update(event_id: str, key: RollupKey, totals: Totals) -> tuple[dict[str, Any], dict[str, Any]]:
        """(filter, update) adding ``totals`` to the key's document unless it holds ``event_id``."""
        return (
            {**key._asdict(), "applied_events": {"$ne": event_id}},
            {"$inc": dict(zip(SUM_FIELDS, totals_values(totals), strict=True)), "$push": {"applied_events": event_id}},
        )

    def _write(self, updates: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """A duplicate-key error means the document holds the event already - or lost an insert race: retry once."""
        try:
            self._rollups.bulk_write([pymongo.UpdateOne(f, u, upsert=True) for f, u in updates], ordered=False)
            return
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            retry = [updates[int(error["index"])] for error in errors]
        for query, update in retry:
            with contextlib.suppress(DuplicateKeyError):  # the document exists and already holds this event id
                self._rollups.update_one(query, update, upsert=True)

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        if accountcodes is not None and not accountcodes:
            return []
        match: dict[str, Any] = {"hour_start_us": {"$gte": start_us, "$lt": end_us}}
        if switch_id is not None:
            match["switch_id"] = switch_id
        if accountcodes is not None:
            match["accountcode"] = {"$in": list(accountcodes)}
        group: dict[str, Any] = {"_id": "$hour_start_us", **{name: {"$sum": f"${name}"} for name in SUM_FIELDS}}
        pipeline = [{"$match": match}, {"$group": group}, {"$sort": {"_id": 1}}]
        return [(int(row["_id"]), totals_from(row)) for row in self._rollups.aggregate(pipeline)]

    def status(self) -> tuple[int, int]:
        counters = self._counters.find_one({"_id": "totals"}) or {}
        return int(counters.get("cdrs_applied", 0)), int(counters.get("events_applied", 0))

    def beat(self, *, ready: bool = True) -> None:
        self._heartbeats.update_one(
            {"_id": heartbeat.WORKER}, {"$set": {"beat_at": time.time(), "ready": ready}}, upsert=True
        )

    def worker_alive(self) -> bool:
        row = self._heartbeats.find_one({"_id": heartbeat.WORKER})
        return bool(row) and bool(row["ready"]) and time.time() - float(row["beat_at"]) <= heartbeat.MAX_AGE_S

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
