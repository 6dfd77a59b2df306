"""Idempotent consumers: the event id is recorded in the same transaction as the effect."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from cdrstats_common.sqlite import transaction

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS processed_events (
        event_id TEXT PRIMARY KEY,
        processed_at REAL NOT NULL
    )""",
]


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
