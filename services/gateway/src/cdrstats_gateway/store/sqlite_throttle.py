"""Throttle events on SQLite: one row per (key, at), indexed for "the latest events of a key"."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from cdrstats_common import sqlite
from cdrstats_gateway.store.throttle_events import KEEP_S

THROTTLE_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS throttle_events (key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS throttle_events_key_at ON throttle_events (key, at)",
    "CREATE INDEX IF NOT EXISTS throttle_events_at ON throttle_events (at)",  # the prune
]


class SqliteThrottleEvents:
    """Mixin of SqliteGatewayStore; several gateways on one file share the table (WAL)."""

    conn: sqlite3.Connection
    _lock: threading.Lock

    def record_throttle_event(self, keys: Sequence[str], at: float) -> None:
        with self._lock, sqlite.transaction(self.conn):
            self.conn.execute("DELETE FROM throttle_events WHERE at < ?", (at - KEEP_S,))
            self.conn.executemany("INSERT INTO throttle_events (key, at) VALUES (?, ?)", [(k, at) for k in keys])

    def recent_throttle_events(self, keys: Sequence[str], since: float, limit: int) -> dict[str, list[float]]:
        recent: dict[str, list[float]] = {}
        with self._lock:
            for key in dict.fromkeys(keys):
                rows = self.conn.execute(
                    "SELECT at FROM throttle_events WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
                    (key, since, limit),
                ).fetchall()
                recent[key] = [row["at"] for row in rows]
        return recent

    def clear_throttle_key(self, key: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM throttle_events WHERE key = ?", (key,))

    def prune_throttle_events(self, before: float) -> int:
        with self._lock:
            return self.conn.execute("DELETE FROM throttle_events WHERE at < ?", (before,)).rowcount
