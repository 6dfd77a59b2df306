"""Idempotent consumers: the event id is recorded in the same transaction as the effect.

The ids (``processed_events``) are remembered for ``CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS`` and then
pruned by the worker, so the log stays bounded (a push switch adds one event per CDR). That is only safe
because an older event is never applied: ``check_fresh`` refuses it before its handler runs, since its
id may already be forgotten (docs/events.md, "Duplicates and retention").
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_common import retention
from cdrstats_common.events import envelope_time
from cdrstats_common.settings import PROCESSED_EVENT_RETENTION
from cdrstats_common.sqlite import transaction

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS processed_events (
        event_id TEXT PRIMARY KEY,
        processed_at REAL NOT NULL
    )""",
    # the hourly prune finds the old ids without scanning the whole log
    "CREATE INDEX IF NOT EXISTS processed_events_at ON processed_events(processed_at)",
]

#: an event must be this much younger than the retention to be applied: ids are pruned by the consumer's
#: clock, event times come from the producer's, and hosts' clocks may differ by up to this much
CLOCK_MARGIN_S = 3_600.0


def apply_once(conn: sqlite3.Connection, event_id: str, effect: Callable[[sqlite3.Connection], None]) -> bool:
    """Run ``effect`` unless ``event_id`` was applied before; True if it ran.

    The id insert and the effect commit together, so a crash leaves neither and a
    redelivered event is applied exactly once.
    """
    if not event_id:
        raise ValueError("event has no id")
    with transaction(conn):
        inserted = conn.execute(
            "INSERT OR IGNORE INTO processed_events(event_id, processed_at) VALUES (?, ?)", (event_id, time.time())
        ).rowcount
        if not inserted:
            log.info("duplicate event ignored", extra={"fields": {"event_id": event_id}})
            return False
        effect(conn)
    return True


def processed_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM processed_events").fetchone()[0])


# -- retention: pruning the ids, refusing events older than them ---------------------------------------


class StaleEvent(Exception):
    """The event is older than the consumer remembers ids: it may have been applied already."""

    def __init__(self, event_id: str, event_time: float, retention_days: int) -> None:
        self.event_id, self.event_time, self.retention_days = event_id, event_time, retention_days
        created = dt.datetime.fromtimestamp(event_time, dt.UTC).isoformat(timespec="seconds")
        super().__init__(
            f"event {event_id or '(no id)'} created {created} is older than "
            f"{PROCESSED_EVENT_RETENTION}={retention_days} days allows: its id may be pruned already, "
            "so it is refused rather than risk applying it twice"
        )


def check_fresh(envelope: Any, retention_days: int, now_s: float | None = None) -> None:
    """Raise ``StaleEvent`` if ``envelope`` was created too long ago to know whether it was applied.

    ``retention_days`` 0 keeps ids forever: every event is fresh. An envelope without a readable
    ``time`` is left to its handler (every cdrstats envelope has one: ``events.make_envelope``).
    """
    if retention_days <= 0 or not isinstance(envelope, Mapping):
        return
    created = envelope_time(envelope)
    if created is None:
        return
    now = time.time() if now_s is None else now_s
    if created < now - retention_days * 86_400 + CLOCK_MARGIN_S:
        raise StaleEvent(str(envelope.get("id") or ""), created, retention_days)


def prune_processed(conn: sqlite3.Connection, before_us: int, limit: int) -> int:
    """Forget at most ``limit`` ids applied before ``before_us``, oldest first; the caller holds the
    transaction (one short write)."""
    return retention.sqlite_delete_batch(
        conn, "processed_events", "processed_at < ?", (before_us / 1_000_000,), limit, order_by="processed_at"
    )


def mongo_index_processed(collection: Any) -> None:
    """The MongoDB ``processed_events`` collection's index for ``mongo_prune_processed`` (idempotent)."""
    collection.create_index("processed_at", name="processed_at")


def mongo_prune_processed(collection: Any, before_us: int, limit: int) -> int:
    """``prune_processed`` for a MongoDB ``processed_events`` collection (``{_id, processed_at}`` in seconds)."""
    old = {"processed_at": {"$lt": before_us / 1_000_000}}
    ids = [doc["_id"] for doc in collection.find(old, {"_id": 1}).sort("processed_at", 1).limit(limit)]
    return int(collection.delete_many({"_id": {"$in": ids}, **old}).deleted_count) if ids else 0
