"""Rejects, generic-CSV mapping profiles and import jobs in SQLite (mixed into SqliteCdrStore).

A reject keeps the raw input it came from (a CSV line, a JSON document) so an admin can
read why it failed and re-import it, corrected or after fixing the switch's settings.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from typing import Any

from cdrstats_common.sqlite import transaction
from cdrstats_ingest.domain.ids import new_ids
from cdrstats_ingest.store.interface import ImportJob, RejectRecord, StoredReject

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rejects (
        id TEXT PRIMARY KEY,
        switch_id TEXT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw TEXT NOT NULL,
        location TEXT NOT NULL,
        parser TEXT NOT NULL DEFAULT '',
        received_time_us INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        cdr_id TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS rejects_status ON rejects(status, id)",
    "CREATE INDEX IF NOT EXISTS rejects_switch ON rejects(switch_id, status, id)",
    "CREATE TABLE IF NOT EXISTS mapping_profiles (name TEXT PRIMARY KEY, profile TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS import_jobs (
        id TEXT PRIMARY KEY,
        job TEXT NOT NULL
    )""",
]
_INSERT_REJECT = (
    "INSERT INTO rejects(id, switch_id, source, reason, raw, location, parser, received_time_us) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _reject_from_row(row: sqlite3.Row) -> StoredReject:
    record = RejectRecord(
        switch_id=row["switch_id"],
        source=row["source"],
        reason=row["reason"],
        raw=row["raw"],
        location=row["location"],
        parser=row["parser"],
    )
    return StoredReject(row["id"], record, row["received_time_us"], row["status"], row["cdr_id"])


def _reject_filter(switch_id: str, include_reimported: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if switch_id:
        clauses.append("switch_id = ?")
        params.append(switch_id)
    if not include_reimported:
        clauses.append("status = 'open'")
    return " AND ".join(clauses) or "1", params


class SqliteImportsMixin:
    """The rejects store, mapping profiles and import jobs of ingest."""

    conn: sqlite3.Connection
    lock: threading.Lock

    # -- rejects -------------------------------------------------------------------
    def add_rejects(self, rejects: list[RejectRecord]) -> list[str]:
        if not rejects:
            return []
        ids = new_ids(len(rejects))
        now_us = int(time.time() * 1_000_000)
        rows = [
            (reject_id, r.switch_id, r.source, r.reason, r.raw, r.location, r.parser, now_us)
            for reject_id, r in zip(ids, rejects, strict=True)
        ]
        with self.lock, transaction(self.conn):
            self.conn.executemany(_INSERT_REJECT, rows)
        return ids

    def list_rejects(
        self, switch_id: str = "", *, include_reimported: bool = False, before_id: str = "", limit: int = 100
    ) -> list[StoredReject]:
        where, params = _reject_filter(switch_id, include_reimported)
        if before_id:
            where += " AND id < ?"
            params.append(before_id)
        with self.lock:
            rows = self.conn.execute(
                f"SELECT * FROM rejects WHERE {where} ORDER BY id DESC LIMIT ?", (*params, limit)
            ).fetchall()
        return [_reject_from_row(row) for row in rows]

    def count_rejects(self, switch_id: str = "", *, include_reimported: bool = False) -> int:
        where, params = _reject_filter(switch_id, include_reimported)
        with self.lock:
            return int(self.conn.execute(f"SELECT count(*) FROM rejects WHERE {where}", params).fetchone()[0])

    def rejects_open(self) -> int:
        return self.count_rejects()

    def get_reject(self, reject_id: str) -> StoredReject | None:
        with self.lock:
            row = self.conn.execute("SELECT * FROM rejects WHERE id = ?", (reject_id,)).fetchone()
        return _reject_from_row(row) if row else None

    def mark_reject_reimported(self, reject_id: str, cdr_id: str = "") -> bool:
        with self.lock, transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE rejects SET status = 'reimported', cdr_id = ? WHERE id = ?", (cdr_id, reject_id)
            )
        return cursor.rowcount > 0

    # -- mapping profiles --------------------------------------------------------------
    def save_mapping_profile(self, name: str, profile: dict[str, Any]) -> None:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT INTO mapping_profiles(name, profile) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET profile = excluded.profile",
                (name, json.dumps(profile, sort_keys=True)),
            )

    def get_mapping_profile(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.conn.execute("SELECT profile FROM mapping_profiles WHERE name = ?", (name,)).fetchone()
        return dict(json.loads(row["profile"])) if row else None

    def list_mapping_profiles(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.conn.execute("SELECT profile FROM mapping_profiles ORDER BY name").fetchall()
        return [dict(json.loads(row["profile"])) for row in rows]

    def delete_mapping_profile(self, name: str) -> bool:
        with self.lock, transaction(self.conn):
            cursor = self.conn.execute("DELETE FROM mapping_profiles WHERE name = ?", (name,))
        return cursor.rowcount > 0

    # -- import jobs -----------------------------------------------------------------
    def save_import_job(self, job: ImportJob) -> None:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT INTO import_jobs(id, job) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET job = excluded.job",
                (job.id, json.dumps(dataclasses.asdict(job))),
            )

    def get_import_job(self, job_id: str) -> ImportJob | None:
        with self.lock:
            row = self.conn.execute("SELECT job FROM import_jobs WHERE id = ?", (job_id,)).fetchone()
        return ImportJob(**json.loads(row["job"])) if row else None

    def list_import_jobs(self, limit: int = 50) -> list[ImportJob]:
        with self.lock:
            rows = self.conn.execute("SELECT job FROM import_jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [ImportJob(**json.loads(row["job"])) for row in rows]
