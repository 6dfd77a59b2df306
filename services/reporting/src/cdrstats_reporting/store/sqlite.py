"""SQLite roll-up store: one connection guarded by a lock, upserts per roll-up key."""

from __future__ import annotations

import pathlib
import sqlite3
from typing import Any

from cdrstats_common import consumer
from cdrstats_common.metrics import Totals
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect
from cdrstats_reporting.domain.rollup import SUM_FIELDS, aggregate, totals_from, totals_values

_KEY_COLUMNS = ("hour_start_us", "switch_id", "accountcode", "country", "hangup_cause", "direction")

SCHEMA = [
    *consumer.SCHEMA,
    """CREATE TABLE IF NOT EXISTS hourly_rollups (
        hour_start_us INTEGER NOT NULL,
        switch_id TEXT NOT NULL,
        accountcode TEXT NOT NULL,
        country TEXT NOT NULL,
        hangup_cause INTEGER NOT NULL,
        direction TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        answered INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL DEFAULT 0,
        billsec_ms INTEGER NOT NULL DEFAULT 0,
        pdd_sum_ms INTEGER NOT NULL DEFAULT 0,
        pdd_count INTEGER NOT NULL DEFAULT 0,
        ner_failures INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour_start_us, switch_id, accountcode, country, hangup_cause, direction)
    ) WITHOUT ROWID""",
    # the primary key serves time-range queries over all switches; this one serves one switch
    "CREATE INDEX IF NOT EXISTS hourly_rollups_switch_hour ON hourly_rollups(switch_id, hour_start_us)",
    """CREATE TABLE IF NOT EXISTS rollup_counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
]

_UPSERT = (
    f"INSERT INTO hourly_rollups({', '.join(_KEY_COLUMNS + SUM_FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in _KEY_COLUMNS + SUM_FIELDS)}) "
    f"ON CONFLICT({', '.join(_KEY_COLUMNS)}) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUM_FIELDS)
)
_BUMP = (
    "INSERT INTO rollup_counters(name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)


class SqliteRollupStore(SqliteStore):
    """Every method holds ``lock``: the connection is shared by the api's thread pool or the worker's greenthreads."""

    @classmethod
    def open(cls, url_or_path: str | pathlib.Path) -> SqliteRollupStore:
        path = sqlite_path(url_or_path) if isinstance(url_or_path, str) else url_or_path
        return cls(connect(path), SCHEMA)

    def apply_batch(self, event_id: str, cdrs: list[dict[str, Any]]) -> bool:
        rows = aggregate(cdrs)  # in Python first: one upsert per key, no duplicate keys in a statement

        def effect(conn: sqlite3.Connection) -> None:
            conn.executemany(_UPSERT, [tuple(key) + totals_values(totals) for key, totals in rows.items()])
            conn.executemany(_BUMP, [("cdrs_applied", len(cdrs)), ("events_applied", 1)])

        with self.lock:
            return consumer.apply_once(self.conn, event_id, effect)

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        if accountcodes is not None and not accountcodes:
            return []
        where = ["hour_start_us >= ?", "hour_start_us < ?"]
        params: list[Any] = [start_us, end_us]
        if switch_id is not None:
            where.append("switch_id = ?")
            params.append(switch_id)
        if accountcodes is not None:
            where.append(f"accountcode IN ({', '.join('?' for _ in accountcodes)})")
            params.extend(accountcodes)
        sums = ", ".join(f"sum({name}) AS {name}" for name in SUM_FIELDS)
        sql = f"SELECT hour_start_us, {sums} FROM hourly_rollups WHERE {' AND '.join(where)} GROUP BY hour_start_us"
        with self.lock:
            result = self.conn.execute(sql + " ORDER BY hour_start_us", params).fetchall()
        return [(int(row["hour_start_us"]), totals_from(dict(row))) for row in result]

    def status(self) -> tuple[int, int]:
        with self.lock:
            counters = {row["name"]: int(row["value"]) for row in self.conn.execute("SELECT * FROM rollup_counters")}
        return counters.get("cdrs_applied", 0), counters.get("events_applied", 0)
