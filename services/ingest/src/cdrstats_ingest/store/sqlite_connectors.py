"""Pull-connector state in SQLite: one watermark per switch, and how its last poll went (for the admin UI).

The watermark is an opaque JSON object owned by the connector (``{"id": 1234}`` for Kamailio,
``{"end": "...", "uniqueid": "..."}`` for Asterisk). It is written after the CDRs it covers
are stored; a crash in between re-reads those rows and the ``(switch_id, uuid)`` identity
turns them into duplicates, so nothing is imported twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Any

from cdrstats_common.sqlite import transaction
from cdrstats_ingest.store.interface import ConnectorState

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS connector_state (
        switch_id TEXT PRIMARY KEY,
        source TEXT NOT NULL DEFAULT '',
        watermark TEXT NOT NULL DEFAULT '{}',
        last_poll_at REAL NOT NULL DEFAULT 0,
        last_success_at REAL NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        last_accepted INTEGER NOT NULL DEFAULT 0,
        last_duplicates INTEGER NOT NULL DEFAULT 0,
        last_rejected INTEGER NOT NULL DEFAULT 0,
        total_accepted INTEGER NOT NULL DEFAULT 0
    )""",
]


def _state_from_row(row: sqlite3.Row) -> ConnectorState:
    return ConnectorState(
        switch_id=row["switch_id"],
        source=row["source"],
        watermark=json.loads(row["watermark"]),
        last_poll_at=row["last_poll_at"],
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        last_accepted=row["last_accepted"],
        last_duplicates=row["last_duplicates"],
        last_rejected=row["last_rejected"],
        total_accepted=row["total_accepted"],
    )


class SqliteConnectorsMixin:
    """Watermarks and poll status of the pull connectors (mixed into SqliteCdrStore)."""

    conn: sqlite3.Connection
    lock: threading.Lock

    def get_connector_state(self, switch_id: str) -> ConnectorState | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM connector_state WHERE switch_id = ?", (switch_id,)).fetchone()
        return _state_from_row(row) if row else None

    def set_watermark(self, switch_id: str, source: str, watermark: dict[str, Any]) -> None:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT INTO connector_state(switch_id, source, watermark) VALUES (?, ?, ?) "
                "ON CONFLICT(switch_id) DO UPDATE SET source = excluded.source, watermark = excluded.watermark",
                (switch_id, source, json.dumps(watermark, sort_keys=True)),
            )

    def record_poll(
        self, switch_id: str, *, error: str = "", accepted: int = 0, duplicates: int = 0, rejected: int = 0
    ) -> None:
        now = time.time()
        success_at = 0.0 if error else now
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT INTO connector_state(switch_id, last_poll_at, last_success_at, last_error, last_accepted, "
                "last_duplicates, last_rejected, total_accepted) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(switch_id) DO UPDATE SET last_poll_at = excluded.last_poll_at, "
                "last_success_at = CASE WHEN excluded.last_error = '' THEN excluded.last_success_at "
                "ELSE connector_state.last_success_at END, last_error = excluded.last_error, "
                "last_accepted = excluded.last_accepted, last_duplicates = excluded.last_duplicates, "
                "last_rejected = excluded.last_rejected, "
                "total_accepted = connector_state.total_accepted + excluded.total_accepted",
                (switch_id, now, success_at, error, accepted, duplicates, rejected, accepted),
            )

    def list_connector_states(self) -> list[ConnectorState]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM connector_state ORDER BY switch_id").fetchall()
        return [_state_from_row(row) for row in rows]
