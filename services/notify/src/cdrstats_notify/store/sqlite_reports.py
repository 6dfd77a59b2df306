"""Mail-report schedules on SQLite: a mixin of SqliteNotifyStore (``self.conn``, ``self.lock``).

A claim moves the owner's "last sent" watermark and inserts the report's deliveries (through the
deliveries mixin's ``_enqueue_one``) in one ``BEGIN IMMEDIATE`` transaction: a second worker or an
overlapping timer run sees the new watermark and queues nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence

from cdrstats_common.sqlite import transaction
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.domain.mail_report import KINDS, Schedule
from cdrstats_notify.store.deliveries_interface import Merge

REPORT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS mail_reports (
        owner TEXT PRIMARY KEY,
        daily INTEGER NOT NULL DEFAULT 0,
        weekly INTEGER NOT NULL DEFAULT 0,
        hour INTEGER NOT NULL,
        weekday INTEGER NOT NULL,
        recipients TEXT NOT NULL,
        switch_id TEXT NOT NULL DEFAULT '',
        last_daily_period TEXT NOT NULL DEFAULT '',
        last_weekly_period TEXT NOT NULL DEFAULT '',
        daily_since_us INTEGER NOT NULL DEFAULT 0,
        weekly_since_us INTEGER NOT NULL DEFAULT 0,
        updated_us INTEGER NOT NULL
    )""",
]

_COLUMNS = (
    "owner, daily, weekly, hour, weekday, recipients, switch_id, last_daily_period, last_weekly_period,"
    " daily_since_us, weekly_since_us"
)


def _from_row(row: sqlite3.Row) -> Schedule:
    return Schedule(
        owner=row["owner"],
        daily=bool(row["daily"]),
        weekly=bool(row["weekly"]),
        hour=row["hour"],
        weekday=row["weekday"],
        recipients=tuple(json.loads(row["recipients"])),
        switch_id=row["switch_id"],
        last_daily_period=row["last_daily_period"],
        last_weekly_period=row["last_weekly_period"],
        daily_since_us=row["daily_since_us"],
        weekly_since_us=row["weekly_since_us"],
    )


class SqliteReports:
    conn: sqlite3.Connection
    lock: threading.Lock
    #: the deliveries mixin's insert of one delivery inside the caller's transaction
    _enqueue_one: Callable[[sqlite3.Connection, Delivery, int, Merge | None, int], str]

    def get_mail_report(self, owner: str) -> Schedule | None:
        with self.lock:
            return self._get_report(owner)

    def _get_report(self, owner: str) -> Schedule | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM mail_reports WHERE owner = ?", (owner,)).fetchone()
        return None if row is None else _from_row(row)

    def save_mail_report(self, schedule: Schedule) -> Schedule:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                """INSERT INTO mail_reports(owner, daily, weekly, hour, weekday, recipients, switch_id,
                       daily_since_us, weekly_since_us, updated_us)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(owner) DO UPDATE SET daily = excluded.daily, weekly = excluded.weekly,
                       hour = excluded.hour, weekday = excluded.weekday, recipients = excluded.recipients,
                       switch_id = excluded.switch_id, daily_since_us = excluded.daily_since_us,
                       weekly_since_us = excluded.weekly_since_us, updated_us = excluded.updated_us""",
                (
                    schedule.owner,
                    int(schedule.daily),
                    int(schedule.weekly),
                    schedule.hour,
                    schedule.weekday,
                    json.dumps(list(schedule.recipients)),
                    schedule.switch_id,
                    schedule.daily_since_us,
                    schedule.weekly_since_us,
                    int(time.time() * 1_000_000),
                ),
            )
            stored = self._get_report(schedule.owner)
        assert stored is not None
        return stored

    def list_mail_reports(self) -> list[Schedule]:
        with self.lock:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM mail_reports WHERE daily = 1 OR weekly = 1 ORDER BY owner"
            ).fetchall()
        return [_from_row(row) for row in rows]

    def claim_report_period(
        self, owner: str, kind: str, period: str, deliveries: Sequence[Delivery], now_us: int
    ) -> list[str] | None:
        if kind not in KINDS:
            raise ValueError(f"kind: expected daily or weekly, got {kind!r}")
        column = f"last_{kind}_period"  # one of two fixed names
        with self.lock, transaction(self.conn):
            moved = self.conn.execute(
                f"UPDATE mail_reports SET {column} = ? WHERE owner = ? AND {column} < ?", (period, owner, period)
            ).rowcount
            if not moved:
                return None
            return [self._enqueue_one(self.conn, delivery, now_us, None, 0) for delivery in deliveries]

    def finish_report_claims(self) -> int:
        return 0  # a claim is one transaction: nothing is ever left half-done
