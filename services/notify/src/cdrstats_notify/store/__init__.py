"""Notify's own store (SQLite today; the MongoDB adapter comes with the notify issue)."""

from __future__ import annotations

import sqlite3
import threading

from cdrstats_common import consumer, heartbeat, outbox
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import connect, migrate

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA, *heartbeat.SCHEMA]


class NotifyStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        migrate(conn, SCHEMA)

    def beat(self) -> None:
        with self.lock:
            heartbeat.beat(self.conn)

    def worker_alive(self) -> bool:
        with self.lock:
            return heartbeat.is_alive(self.conn)

    def close(self) -> None:
        self.conn.close()


def open_store(url: str) -> NotifyStore:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"unsupported notify store URL {url!r}: the MongoDB adapter comes with the notify issue")
    return NotifyStore(connect(sqlite_path(url)))
