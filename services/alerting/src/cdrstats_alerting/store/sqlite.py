"""Alerting on SQLite: tenants and the cdrs_ingested effect here; alarms and destinations in their mixins."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cdrstats_alerting.store.destinations_interface import Matcher
from cdrstats_alerting.store.interface import CdrsApplied
from cdrstats_alerting.store.sqlite_alarms import ALARM_SCHEMA, SqliteAlarms, migrate_alarm_columns
from cdrstats_alerting.store.sqlite_destinations import DESTINATION_SCHEMA, SqliteDestinations
from cdrstats_common import consumer, outbox, retention
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction

TENANT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        accountcodes TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
]

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA, *TENANT_SCHEMA, *ALARM_SCHEMA, *DESTINATION_SCHEMA]


class SqliteAlertingStore(SqliteAlarms, SqliteDestinations, SqliteStore):
    """Every method holds ``self.lock`` around ``self.conn`` (the api calls it from a thread pool)."""

    @classmethod
    def open(cls, url: str) -> SqliteAlertingStore:
        store = cls(connect(sqlite_path(url)), SCHEMA)
        migrate_alarm_columns(store.conn)  # a database made by an older release lacks newer columns
        return store

    def relay_outbox(self, publisher: Any) -> int:
        # no lock: the relay runs in the worker process, on the worker's own store
        return outbox.OutboxRelay(self.conn, publisher).relay_all()

    def outbox_pending(self) -> int:
        with self.lock:
            return outbox.pending_count(self.conn)

    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return retention.sqlite_prune_sent_outbox(self.conn, sent_before_s, limit)

    # -- tenants ---------------------------------------------------------------------------

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

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]:
        with self.lock:
            row = self.conn.execute("SELECT accountcodes FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        return tuple(json.loads(row[0])) if row else ()

    def accountcode_tenants(self) -> Mapping[str, str]:
        with self.lock:
            rows = self.conn.execute("SELECT id, accountcodes FROM tenants").fetchall()
        return {code: row[0] for row in rows for code in json.loads(row[1])}

    # -- the cdrs_ingested effect ----------------------------------------------------------

    def apply_cdrs_event(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> CdrsApplied:
        hits: dict[str, int] = {}

        def effect(conn: Any) -> None:
            hits.update(self._record_hits(conn, cdrs, matcher))
            self._observe_cic(conn, cdrs)

        with self.lock:
            applied = consumer.apply_once(self.conn, event_id, effect)
        return CdrsApplied(applied, hits if applied else {})
