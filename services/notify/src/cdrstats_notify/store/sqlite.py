"""Notify on SQLite: tenants here; deliveries/contacts and mail reports in their mixins."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from cdrstats_common import consumer, outbox, retention
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction
from cdrstats_notify.store.sqlite_deliveries import DELIVERY_SCHEMA, SqliteDeliveries
from cdrstats_notify.store.sqlite_reports import REPORT_SCHEMA, SqliteReports

TENANT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        accountcodes TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
]

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA, *TENANT_SCHEMA, *DELIVERY_SCHEMA, *REPORT_SCHEMA]


class SqliteNotifyStore(SqliteDeliveries, SqliteReports, SqliteStore):
    """Every method holds ``self.lock`` around ``self.conn`` (the api calls it from a thread pool)."""

    @classmethod
    def open(cls, url: str) -> SqliteNotifyStore:
        return cls(connect(sqlite_path(url)), SCHEMA)

    def relay_outbox(self, publisher: Any) -> int:
        return outbox.OutboxRelay(self.conn, publisher).relay_all()

    def outbox_pending(self) -> int:
        with self.lock:
            return outbox.pending_count(self.conn)

    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return retention.sqlite_prune_sent_outbox(self.conn, sent_before_s, limit)

    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None:
        codes = sorted({code for code in accountcodes if code})
        with self.lock, transaction(self.conn):
            if not codes:
                self.conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
                return
            self.conn.execute(
                """INSERT INTO tenants(id, name, accountcodes, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET name = excluded.name, accountcodes = excluded.accountcodes,
                   updated_at = excluded.updated_at""",
                (tenant_id, name, json.dumps(codes), time.time()),
            )

    def tenant(self, tenant_id: str) -> tuple[str, tuple[str, ...]] | None:
        with self.lock:
            row = self.conn.execute("SELECT name, accountcodes FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        return (row[0], tuple(json.loads(row[1]))) if row else None

    def tenants(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        with self.lock:
            rows = self.conn.execute("SELECT id, name, accountcodes FROM tenants").fetchall()
        return {row[0]: (row[1], tuple(json.loads(row[2]))) for row in rows}
