"""Alerting on SQLite: tenants and the cdrs_ingested effect here; alarms and destinations in their mixins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cdrstats_alerting.store.destinations_interface import Matcher
from cdrstats_alerting.store.interface import CdrsApplied
from cdrstats_alerting.store.sqlite_alarms import ALARM_SCHEMA, SqliteAlarms, migrate_alarm_columns
from cdrstats_alerting.store.sqlite_destinations import DESTINATION_SCHEMA, SqliteDestinations
from cdrstats_common import consumer, outbox, retention
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction
from cdrstats_common.tenants import TENANT_SCHEMA, SqliteTenants

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA, *TENANT_SCHEMA, *ALARM_SCHEMA, *DESTINATION_SCHEMA]


class SqliteAlertingStore(SqliteTenants, SqliteAlarms, SqliteDestinations, SqliteStore):
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

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return consumer.prune_processed(self.conn, before_us, limit)

    # -- the cdrs_ingested effect ----------------------------------------------------------

    def apply_cdrs_event(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> CdrsApplied:
        hits: dict[str, int] = {}

        def effect(conn: Any) -> None:
            hits.update(self._record_hits(conn, cdrs, matcher))
            self._observe_cic(conn, cdrs)

        with self.lock:
            applied = consumer.apply_once(self.conn, event_id, effect)
        return CdrsApplied(applied, hits if applied else {})
