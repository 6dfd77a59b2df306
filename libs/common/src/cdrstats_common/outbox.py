"""Transactional outbox: events are written with the state change, relayed later.

``add_event`` must be called inside the caller's transaction, so an event exists
exactly when its effect does. ``OutboxRelay`` publishes pending rows with publisher
confirms, in order, and marks them sent; a crash between publish and mark means the
event is sent again, which idempotent consumers absorb (they de-duplicate on ``id``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Any, Protocol

import orjson
from opentelemetry.trace import SpanKind

from cdrstats_common import prom, telemetry
from cdrstats_common.events import make_envelope

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        event_type TEXT NOT NULL,
        body TEXT NOT NULL,
        headers TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        sent_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(seq) WHERE sent_at IS NULL",
]


class Publisher(Protocol):
    def publish(
        self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None
    ) -> None: ...


def add_event(
    conn: sqlite3.Connection,
    source: str,
    event_type: str,
    data: dict[str, Any],
    *,
    headers: dict[str, Any] | None = None,
) -> str:
    """Queue an event in the current transaction; returns its id.

    The current trace context (the request that caused the event) is kept in the row's headers.
    """
    envelope = make_envelope(event_type, source, data)
    carried = telemetry.inject_headers(dict(headers or {}))
    conn.execute(
        "INSERT INTO outbox(event_id, event_type, body, headers, created_at) VALUES (?, ?, ?, ?, ?)",
        (
            envelope["id"],
            event_type,
            orjson.dumps(envelope).decode(),  # a 1,000-CDR body is ~1 MB: the stdlib encoder was ~15 ms of it
            json.dumps(carried),
            time.time(),
        ),
    )
    return str(envelope["id"])


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])


def oldest_pending_age(conn: sqlite3.Connection, now: float | None = None) -> float:
    row = conn.execute("SELECT min(created_at) FROM outbox WHERE sent_at IS NULL").fetchone()
    if row[0] is None:
        return 0.0
    return max(0.0, (now or time.time()) - float(row[0]))


class OutboxRelay:
    """Moves pending outbox rows to the broker, oldest first."""

    def __init__(self, conn: sqlite3.Connection, publisher: Publisher, *, batch_size: int = 100) -> None:
        self.conn = conn
        self.publisher = publisher
        self.batch_size = batch_size

    def relay_pending(self) -> int:
        """Publish up to one batch; returns how many were confirmed by the broker."""
        rows = self.conn.execute(
            "SELECT seq, event_type, body, headers FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            (self.batch_size,),
        ).fetchall()
        sent: list[int] = []
        try:
            for row in rows:
                self._publish(row)
                sent.append(row["seq"])
                prom.EVENTS_PUBLISHED.labels(row["event_type"]).inc()
        finally:
            if sent:
                now = time.time()
                self.conn.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(now, seq) for seq in sent])
        return len(sent)

    def _publish(self, row: sqlite3.Row) -> None:
        headers = json.loads(row["headers"])
        event_type = row["event_type"]
        with telemetry.span_from_headers(f"{event_type} publish", headers, SpanKind.PRODUCER, event_type=event_type):
            telemetry.inject_headers(headers)  # at dispatch: consumers are children of this publish span
            # the body is published as stored: decoding and re-encoding it was the relay's main cost
            self.publisher.publish(row["body"], event_type, headers)

    def relay_all(self, max_batches: int = 1000) -> int:
        total = 0
        try:
            for _ in range(max_batches):
                count = self.relay_pending()
                total += count
                if count < self.batch_size:
                    break
        finally:
            prom.OUTBOX_PENDING.set(pending_count(self.conn))
            prom.OUTBOX_LAG.set(oldest_pending_age(self.conn))
        return total

    def prune_sent(self, older_than_s: float = 86_400.0) -> int:
        cursor = self.conn.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?", (time.time() - older_than_s,)
        )
        return cursor.rowcount
