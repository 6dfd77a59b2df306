"""SQLite adapter of the raw CDR store (WAL; the api writes, the worker relays the outbox)."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from cdrstats_common import consumer, outbox
from cdrstats_common.cdr import FIELDS, new_cdr
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction
from cdrstats_ingest.domain.ids import new_ids
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import sqlite_connectors, sqlite_imports, sqlite_search
from cdrstats_ingest.store.interface import StoredSwitch, SubmitOutcome
from cdrstats_ingest.store.sqlite_connectors import SqliteConnectorsMixin
from cdrstats_ingest.store.sqlite_imports import SqliteImportsMixin
from cdrstats_ingest.store.sqlite_search import SqliteSearchMixin

SERVICE = "ingest"
EVENT_BATCH = 1000

_INTEGER_FIELDS = {
    "start_time_us",
    "answer_time_us",
    "end_time_us",
    "duration_ms",
    "billsec_ms",
    "pdd_ms",
    "answered",
    "hangup_cause",
    "sip_code",
}
_REAL_FIELDS = {"mos", "jitter_ms", "packet_loss_pct"}


def _column_type(field: str) -> str:
    if field in _INTEGER_FIELDS:
        return "INTEGER NOT NULL DEFAULT 0"
    if field in _REAL_FIELDS:
        return "REAL NOT NULL DEFAULT 0"
    return "TEXT NOT NULL DEFAULT ''"


_CDR_COLUMNS = [f for f in FIELDS if f not in ("id", "extra")]
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS cdrs (id TEXT PRIMARY KEY, "
    + ", ".join(f"{f} {_column_type(f)}" for f in _CDR_COLUMNS)
    + ", extra TEXT NOT NULL DEFAULT '{}', ingested_at REAL NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS cdrs_identity ON cdrs(switch_id, uuid)",
    "CREATE INDEX IF NOT EXISTS cdrs_start ON cdrs(start_time_us)",
    """CREATE TABLE IF NOT EXISTS switches (
        id TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        username TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS switches_username ON switches(username) WHERE username != ''",
    *outbox.SCHEMA,
    *consumer.SCHEMA,
    *sqlite_connectors.SCHEMA,
    *sqlite_imports.SCHEMA,
    *sqlite_search.SCHEMA,
]

# No conflict clause: duplicates are found first, under the write lock, so a conflict here is a bug and must fail loudly
_INSERT = (
    f"INSERT INTO cdrs(id, {', '.join(_CDR_COLUMNS)}, extra, ingested_at) "
    f"VALUES (?, {', '.join('?' for _ in _CDR_COLUMNS)}, ?, ?)"
)
_LOOKUP_CHUNK = 500


def _switch_from_row(row: sqlite3.Row) -> StoredSwitch:
    return StoredSwitch(SwitchConfig.from_dict(json.loads(row["config"])), row["password_hash"])


class SqliteCdrStore(SqliteImportsMixin, SqliteConnectorsMixin, SqliteSearchMixin, SqliteStore):
    """One connection guarded by a lock: the api calls it from worker threads."""

    @classmethod
    def open(cls, url: str) -> SqliteCdrStore:
        return cls(connect(sqlite_path(url)), SCHEMA)

    def add_cdrs(self, cdrs: list[dict[str, Any]]) -> SubmitOutcome:
        now = time.time()
        statuses: list[str] = []
        ids: list[str] = []
        accepted: list[dict[str, Any]] = []
        rows: list[tuple[Any, ...]] = []
        events = 0
        with self.lock, transaction(self.conn):
            # BEGIN IMMEDIATE holds the write lock: nobody can add an identity between this look-up and the insert
            known = self._stored_ids(cdrs)
            fresh_ids = iter(new_ids(len(cdrs)))
            for cdr in cdrs:
                key = (cdr["switch_id"], cdr["uuid"])
                existing = known.get(key)
                if existing is not None:
                    statuses.append("duplicate")
                    ids.append(existing)
                    continue
                cdr_id = next(fresh_ids)
                known[key] = cdr_id  # the same identity twice in one batch: the second is a duplicate
                statuses.append("accepted")
                ids.append(cdr_id)
                accepted.append({**cdr, "id": cdr_id})
                rows.append((cdr_id, *[cdr[f] for f in _CDR_COLUMNS], json.dumps(cdr["extra"]), now))
            self.conn.executemany(_INSERT, rows)
            for start in range(0, len(accepted), EVENT_BATCH):
                outbox.add_event(self.conn, SERVICE, "cdrs_ingested", {"cdrs": accepted[start : start + EVENT_BATCH]})
                events += 1
        return SubmitOutcome(statuses, ids, events)

    def _stored_ids(self, cdrs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
        """Ids of the identities of ``cdrs`` already stored, by (switch_id, uuid), with the unique index."""
        by_switch: dict[str, set[str]] = {}
        for cdr in cdrs:
            by_switch.setdefault(cdr["switch_id"], set()).add(cdr["uuid"])
        found: dict[tuple[str, str], str] = {}
        for switch_id, uuids in by_switch.items():
            ordered = sorted(uuids)
            for start in range(0, len(ordered), _LOOKUP_CHUNK):
                chunk = ordered[start : start + _LOOKUP_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                for row in self.conn.execute(
                    f"SELECT uuid, id FROM cdrs WHERE switch_id = ? AND uuid IN ({marks})", (switch_id, *chunk)
                ):
                    found[(switch_id, row[0])] = row[1]
        return found

    def get_cdr(self, cdr_id: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM cdrs WHERE id = ?", (cdr_id,)).fetchone()
        if row is None:
            return None
        values = {f: row[f] for f in _CDR_COLUMNS}
        values["answered"] = bool(values["answered"])
        return new_cdr(id=row["id"], extra=json.loads(row["extra"]), **values)

    def upsert_switch(self, config: SwitchConfig, password_hash: str | None) -> SwitchConfig:
        values = json.dumps(config.to_dict())
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT INTO switches(id, config, username, password_hash) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET config = excluded.config, username = excluded.username, "
                "password_hash = CASE WHEN excluded.password_hash = '' THEN switches.password_hash "
                "ELSE excluded.password_hash END",
                (config.id, values, config.username, password_hash or ""),
            )
        return config

    def get_switch(self, switch_id: str) -> StoredSwitch | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM switches WHERE id = ?", (switch_id,)).fetchone()
        return _switch_from_row(row) if row else None

    def find_switch_by_username(self, username: str) -> StoredSwitch | None:
        if not username:
            return None  # pull-only switches have no user: "" must not find one of them
        with self.lock:
            row = self.conn.execute("SELECT * FROM switches WHERE username = ?", (username,)).fetchone()
        return _switch_from_row(row) if row else None

    def list_switches(self) -> list[SwitchConfig]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM switches ORDER BY id").fetchall()
        return [_switch_from_row(row).config for row in rows]

    def delete_switch(self, switch_id: str) -> bool:
        with self.lock, transaction(self.conn):
            return self.conn.execute("DELETE FROM switches WHERE id = ?", (switch_id,)).rowcount > 0

    def cdr_count(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT count(*) FROM cdrs").fetchone()[0])

    def outbox_pending(self) -> int:
        with self.lock:
            return outbox.pending_count(self.conn)

    def add_call_state(self, event: dict[str, Any]) -> None:
        # call state (H-push): nothing is stored but the event; the realtime page rebuilds from the stream
        with self.lock, transaction(self.conn):
            outbox.add_event(self.conn, SERVICE, "call_state", event)

    def relay_outbox(self, publisher: Any) -> int:
        # no lock: the relay runs in the worker process, on its own connection
        return outbox.OutboxRelay(self.conn, publisher).relay_all()
