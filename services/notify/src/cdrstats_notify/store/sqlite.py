"""Notify on SQLite: tenants here; deliveries/contacts and mail reports in their mixins."""

from __future__ import annotations

from typing import Any

from cdrstats_common import consumer, outbox, retention
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction
from cdrstats_common.tenants import TENANT_SCHEMA, SqliteTenants
from cdrstats_notify.store.sqlite_deliveries import DELIVERY_SCHEMA, SqliteDeliveries
from cdrstats_notify.store.sqlite_reports import REPORT_SCHEMA, SqliteReports

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA, *TENANT_SCHEMA, *DELIVERY_SCHEMA, *REPORT_SCHEMA]


class SqliteNotifyStore(SqliteTenants, SqliteDeliveries, SqliteReports, SqliteStore):
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

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return consumer.prune_processed(self.conn, before_us, limit)
