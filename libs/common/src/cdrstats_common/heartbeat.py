"""Worker liveness through the service's own store.

The worker writes a heartbeat row every few seconds; the api process (which shares
the store) turns its age into the gRPC health status of the service name ``worker``,
so one health check tells whether both processes of a service are alive.
"""

from __future__ import annotations

import sqlite3
import time

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS heartbeats (
        name TEXT PRIMARY KEY,
        beat_at REAL NOT NULL,
        ready INTEGER NOT NULL DEFAULT 1
    )""",
]

WORKER = "worker"
MAX_AGE_S = 15.0


def beat(conn: sqlite3.Connection, name: str = WORKER, *, ready: bool = True) -> None:
    conn.execute(
        "INSERT INTO heartbeats(name, beat_at, ready) VALUES (?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET beat_at = excluded.beat_at, ready = excluded.ready",
        (name, time.time(), int(ready)),
    )


def is_alive(conn: sqlite3.Connection, name: str = WORKER, *, max_age_s: float = MAX_AGE_S) -> bool:
    row = conn.execute("SELECT beat_at, ready FROM heartbeats WHERE name = ?", (name,)).fetchone()
    return bool(row) and bool(row["ready"]) and time.time() - float(row["beat_at"]) <= max_age_s
