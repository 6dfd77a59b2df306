"""Alarms on SQLite: definitions with their state, stored evaluations, CIC runs.

A state change, its evaluation and its outbox event commit in ONE transaction, guarded by the
alarm's ``updated_us``, ``state`` and ``last_evaluated_us`` (optimistic: an alarm edited or evaluated
by someone else meanwhile is left alone). CIC runs: ``cic_state`` holds the newest answered attempt of each scope
key and the run's length; ``cic_members`` the unanswered attempts after it (``domain.cic``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from cdrstats_alerting.domain import cic
from cdrstats_alerting.domain.alarms import FIRING, Alarm, AlarmScope
from cdrstats_alerting.domain.evaluate import Evaluation
from cdrstats_alerting.domain.windows import Span
from cdrstats_alerting.store.alarms_interface import StateChange
from cdrstats_common import outbox, retention
from cdrstats_common.sqlite import transaction

ALARM_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS alarms (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, metric TEXT NOT NULL,
        hangup_cause INTEGER NOT NULL, scope_kind TEXT NOT NULL, scope_value TEXT NOT NULL,
        window TEXT NOT NULL, condition TEXT NOT NULL, threshold REAL NOT NULL, baseline TEXT NOT NULL,
        min_attempts INTEGER NOT NULL, cooldown_s INTEGER NOT NULL, enabled INTEGER NOT NULL,
        emails TEXT NOT NULL, webhooks TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'OK',
        last_evaluated_us INTEGER NOT NULL DEFAULT 0, last_triggered_us INTEGER NOT NULL DEFAULT 0,
        last_value REAL NOT NULL DEFAULT 0, created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
        next_due_us INTEGER NOT NULL DEFAULT 0, last_verdict TEXT NOT NULL DEFAULT '',
        last_message TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS alarms_owner ON alarms(owner, name)",
    "CREATE INDEX IF NOT EXISTS alarms_due ON alarms(enabled, next_due_us)",
    """CREATE TABLE IF NOT EXISTS alarm_evaluations (
        id TEXT PRIMARY KEY, alarm_id TEXT NOT NULL, time_us INTEGER NOT NULL,
        window_start_us INTEGER NOT NULL, window_end_us INTEGER NOT NULL, value REAL NOT NULL,
        baseline REAL, baseline_start_us INTEGER NOT NULL, baseline_end_us INTEGER NOT NULL,
        threshold REAL NOT NULL, attempts INTEGER NOT NULL, verdict TEXT NOT NULL,
        state_before TEXT NOT NULL, state_after TEXT NOT NULL, published INTEGER NOT NULL,
        message TEXT NOT NULL, error TEXT NOT NULL, link TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS alarm_evaluations_alarm ON alarm_evaluations(alarm_id, time_us)",
    "CREATE INDEX IF NOT EXISTS alarm_evaluations_time ON alarm_evaluations(time_us)",
    """CREATE TABLE IF NOT EXISTS cic_state (
        key TEXT PRIMARY KEY, last_start_us INTEGER, last_id TEXT, length INTEGER NOT NULL DEFAULT 0,
        dropped INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS cic_members (
        key TEXT NOT NULL, start_us INTEGER NOT NULL, cdr_id TEXT NOT NULL, PRIMARY KEY (key, start_us, cdr_id)
    ) WITHOUT ROWID""",
]

_ALARM_COLUMNS = (
    "id, owner, name, metric, hangup_cause, scope_kind, scope_value, window, condition, threshold, baseline, "
    "min_attempts, cooldown_s, enabled, emails, webhooks, state, last_evaluated_us, last_triggered_us, "
    "last_value, created_us, updated_us, last_verdict, last_message"
)
#: columns added after the first release: a data directory made by it gets them at start-up
_ADDED_ALARM_COLUMNS = {
    "last_verdict": "TEXT NOT NULL DEFAULT ''",
    "last_message": "TEXT NOT NULL DEFAULT ''",
}


def migrate_alarm_columns(conn: sqlite3.Connection) -> None:
    """ALTER TABLE ADD COLUMN for every alarm column an older database lacks (idempotent)."""
    with transaction(conn):
        present = {row["name"] for row in conn.execute("PRAGMA table_info(alarms)")}
        for column, declaration in _ADDED_ALARM_COLUMNS.items():
            if column not in present:
                conn.execute(f"ALTER TABLE alarms ADD COLUMN {column} {declaration}")


def _definition(alarm: Alarm) -> tuple[Any, ...]:
    return (
        alarm.name, alarm.metric, alarm.hangup_cause, alarm.scope.kind, alarm.scope.value, alarm.window,
        alarm.condition, alarm.threshold, alarm.baseline, alarm.min_attempts, alarm.cooldown_s,
        int(alarm.enabled), json.dumps(list(alarm.emails)), json.dumps(list(alarm.webhooks)),
    )  # fmt: skip


def alarm_from_row(row: Mapping[str, Any]) -> Alarm:
    return Alarm(
        id=row["id"], owner=row["owner"], name=row["name"], metric=row["metric"], hangup_cause=row["hangup_cause"],
        scope=AlarmScope(row["scope_kind"], row["scope_value"]), window=row["window"], condition=row["condition"],
        threshold=row["threshold"], baseline=row["baseline"], min_attempts=row["min_attempts"],
        cooldown_s=row["cooldown_s"], enabled=bool(row["enabled"]), emails=tuple(json.loads(row["emails"])),
        webhooks=tuple(json.loads(row["webhooks"])), state=row["state"], last_evaluated_us=row["last_evaluated_us"],
        last_triggered_us=row["last_triggered_us"], last_value=row["last_value"], created_us=row["created_us"],
        updated_us=row["updated_us"], last_verdict=row["last_verdict"], last_message=row["last_message"],
    )  # fmt: skip


def evaluation_from_row(row: Mapping[str, Any]) -> Evaluation:
    has_baseline = row["baseline"] is not None
    return Evaluation(
        id=row["id"], alarm_id=row["alarm_id"], time_us=row["time_us"],
        window=Span(row["window_start_us"], row["window_end_us"]), value=row["value"], baseline=row["baseline"],
        baseline_window=Span(row["baseline_start_us"], row["baseline_end_us"]) if has_baseline else None,
        threshold=row["threshold"], attempts=row["attempts"], verdict=row["verdict"],
        state_before=row["state_before"], state_after=row["state_after"], published=bool(row["published"]),
        message=row["message"], error=row["error"], link=row["link"],
    )  # fmt: skip


class SqliteAlarms:
    """Mixin of SqliteAlertingStore: every public method holds ``self.lock`` around ``self.conn``."""

    conn: sqlite3.Connection
    lock: threading.Lock

    def create_alarm(self, alarm: Alarm) -> Alarm:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                f"INSERT INTO alarms({_ALARM_COLUMNS}) VALUES ({', '.join('?' * 24)})",
                (alarm.id, alarm.owner, *_definition(alarm), alarm.state, alarm.last_evaluated_us,
                 alarm.last_triggered_us, alarm.last_value, alarm.created_us, alarm.updated_us, alarm.last_verdict,
                 alarm.last_message),
            )  # fmt: skip
        return alarm

    def update_alarm(self, alarm: Alarm) -> Alarm | None:
        with self.lock, transaction(self.conn):
            updated = self.conn.execute(
                """UPDATE alarms SET name = ?, metric = ?, hangup_cause = ?, scope_kind = ?, scope_value = ?,
                   window = ?, condition = ?, threshold = ?, baseline = ?, min_attempts = ?, cooldown_s = ?,
                   enabled = ?, emails = ?, webhooks = ?, updated_us = ?, next_due_us = 0 WHERE id = ?""",
                (*_definition(alarm), alarm.updated_us, alarm.id),
            ).rowcount
            row = self.conn.execute(f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE id = ?", (alarm.id,)).fetchone()
        return alarm_from_row(row) if updated and row else None

    def get_alarm(self, alarm_id: str) -> Alarm | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        return alarm_from_row(row) if row else None

    def list_alarms(self, owner: str | None = None) -> list[Alarm]:
        where, args = ("", ()) if owner is None else ("WHERE owner = ?", (owner,))
        with self.lock:
            rows = self.conn.execute(f"SELECT {_ALARM_COLUMNS} FROM alarms {where} ORDER BY name, id", args).fetchall()
        return [alarm_from_row(row) for row in rows]

    def delete_alarm(self, alarm_id: str) -> bool:
        with self.lock, transaction(self.conn):
            self.conn.execute("DELETE FROM alarm_evaluations WHERE alarm_id = ?", (alarm_id,))
            return bool(self.conn.execute("DELETE FROM alarms WHERE id = ?", (alarm_id,)).rowcount)

    def due_alarms(self, now_us: int) -> list[Alarm]:
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {_ALARM_COLUMNS} FROM alarms WHERE enabled = 1 AND next_due_us <= ? ORDER BY next_due_us, id",
                (now_us,),
            ).fetchall()
        return [alarm_from_row(row) for row in rows]

    def record_evaluation(self, alarm: Alarm, evaluation: Evaluation, change: StateChange) -> bool:
        e = evaluation
        base = e.baseline_window or Span(0, 0)
        with self.lock, transaction(self.conn):
            updated = self.conn.execute(
                """UPDATE alarms SET state = ?, last_evaluated_us = ?, last_triggered_us = ?,
                   last_value = coalesce(?, last_value), next_due_us = ?, last_verdict = ?, last_message = ?
                   WHERE id = ? AND updated_us = ? AND state = ? AND last_evaluated_us = ?""",
                (change.state_after, e.time_us, change.last_triggered_us, change.last_value, change.next_due_us,
                 e.verdict, e.message, alarm.id, alarm.updated_us, alarm.state, alarm.last_evaluated_us),
            ).rowcount  # fmt: skip
            if not updated:
                return False
            self.conn.execute(
                f"INSERT INTO alarm_evaluations VALUES ({', '.join('?' * 18)})",
                (e.id, e.alarm_id, e.time_us, e.window.start_us, e.window.end_us, e.value, e.baseline,
                 base.start_us, base.end_us, e.threshold, e.attempts, e.verdict, e.state_before, e.state_after,
                 int(e.published), e.message, e.error, e.link),
            )  # fmt: skip
            if change.event_type:
                outbox.add_event(self.conn, "alerting", change.event_type, dict(change.event_data or {}))
        return True

    def list_evaluations(
        self, alarm_id: str, since_us: int = 0, limit: int = 500, before_us: int = 0
    ) -> list[Evaluation]:
        with self.lock:
            rows = self.conn.execute(
                """SELECT * FROM alarm_evaluations WHERE alarm_id = ? AND time_us >= ? AND time_us < ?
                   ORDER BY time_us DESC, id DESC LIMIT ?""",
                (alarm_id, since_us, before_us or 2**62, limit),
            ).fetchall()
        return [evaluation_from_row(row) for row in rows]

    def prune_evaluations(self, before_us: int, limit: int = retention.BATCH) -> int:
        with self.lock, transaction(self.conn):
            return retention.sqlite_delete_batch(self.conn, "alarm_evaluations", "time_us < ?", (before_us,), limit)

    def alarm_counts(self) -> dict[str, int]:
        with self.lock:
            alarms, firing = self.conn.execute(
                "SELECT count(*), coalesce(sum(state = ?), 0) FROM alarms", (FIRING,)
            ).fetchone()
            last = self.conn.execute("SELECT max(time_us) FROM alarm_evaluations").fetchone()[0]
        return {"alarms": int(alarms), "firing": int(firing), "last_evaluation_us": int(last or 0)}

    # -- CIC -------------------------------------------------------------------------------

    def cic_run(self, key: str) -> cic.Run:
        with self.lock:
            row = self.conn.execute("SELECT length FROM cic_state WHERE key = ?", (key,)).fetchone()
            first = self.conn.execute("SELECT min(start_us) FROM cic_members WHERE key = ?", (key,)).fetchone()[0]
        return cic.Run(int(row[0]) if row else 0, int(first or 0))

    def _observe_cic(self, conn: sqlite3.Connection, cdrs: Sequence[Mapping[str, Any]]) -> None:
        """Advance the CIC runs by one batch; runs inside the caller's transaction (the event's)."""
        tenant_of = {
            code: row[0] for row in conn.execute("SELECT id, accountcodes FROM tenants") for code in json.loads(row[1])
        }
        prefixes = conn.execute(
            "SELECT DISTINCT owner, scope_value FROM alarms WHERE metric = 'cic' AND scope_kind = 'prefix'"
        ).fetchall()
        for key, batch in cic.plan(cdrs, tenant_of, [(row[0], row[1]) for row in prefixes]).items():
            _apply_batch(conn, key, batch)


def _apply_batch(conn: sqlite3.Connection, key: str, batch: cic.KeyBatch) -> None:
    row = conn.execute("SELECT last_start_us, last_id, length, dropped FROM cic_state WHERE key = ?", (key,)).fetchone()
    last: cic.OrderKey | None = (row[0], row[1]) if row and row[0] is not None else None
    length, dropped = (row[2], row[3]) if row else (0, 0)
    if batch.last_answered is not None and (last is None or batch.last_answered > last):
        last = batch.last_answered
        removed = conn.execute(
            "DELETE FROM cic_members WHERE key = ? AND (start_us, cdr_id) <= (?, ?)", (key, *last)
        ).rowcount
        # dropped members are older than every kept one: counted as ended too (docs/alerting.md)
        length, dropped = length - removed - dropped, 0
    fresh = [member for member in batch.unanswered if last is None or member > last]
    if fresh:
        cursor = conn.executemany(
            "INSERT OR IGNORE INTO cic_members(key, start_us, cdr_id) VALUES (?, ?, ?)",
            [(key, start, cdr_id) for start, cdr_id in fresh],
        )
        length += cursor.rowcount
    kept = length - dropped
    if kept > cic.MAX_RUN_MEMBERS:  # keep the newest; the oldest are only counted from now on
        cutoff = conn.execute(
            "SELECT start_us, cdr_id FROM cic_members WHERE key = ? ORDER BY start_us, cdr_id LIMIT 1 OFFSET ?",
            (key, kept - cic.MAX_RUN_MEMBERS - 1),
        ).fetchone()
        dropped += conn.execute(
            "DELETE FROM cic_members WHERE key = ? AND (start_us, cdr_id) <= (?, ?)", (key, cutoff[0], cutoff[1])
        ).rowcount
    conn.execute(
        """INSERT INTO cic_state(key, last_start_us, last_id, length, dropped) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(key) DO UPDATE SET last_start_us = excluded.last_start_us, last_id = excluded.last_id,
           length = excluded.length, dropped = excluded.dropped""",
        (key, last[0] if last else None, last[1] if last else None, length, dropped),
    )
