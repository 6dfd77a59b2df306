"""SQLite roll-up store: one lock-guarded connection; a batch's every effect commits with its event id."""

from __future__ import annotations

import logging
import pathlib
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cdrstats_common import consumer
from cdrstats_common.metrics import Totals
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect, transaction
from cdrstats_reporting.domain.digest import digest
from cdrstats_reporting.domain.live import CallState
from cdrstats_reporting.domain.rollup import (
    CUBES,
    DIMENSIONS,
    GRAINS,
    SUM_FIELDS,
    Cube,
    Filters,
    cube_for,
    totals_from,
)
from cdrstats_reporting.domain.timegrid import TimeGrid
from cdrstats_reporting.store import sqlite_batch
from cdrstats_reporting.store import sqlite_extra as extra
from cdrstats_reporting.store.base import ZoneMismatch

log = logging.getLogger(__name__)

_TYPES = {"switch_id": "TEXT", "accountcode": "TEXT", "country": "TEXT", "hangup_cause": "INTEGER", "direction": "TEXT"}


def _cube_schema() -> list[str]:
    statements = []
    for cube in CUBES:
        for grain in cube.grains:
            table = cube.table(grain)
            dims = ", ".join(f"{dim} {_TYPES[dim]} NOT NULL" for dim in cube.dims)
            sums = ", ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in SUM_FIELDS)
            key = ", ".join(("bucket_us", *cube.dims))
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table} (bucket_us INTEGER NOT NULL, {dims}, {sums}, "
                f"PRIMARY KEY ({key})) WITHOUT ROWID"
            )
    return statements


SCHEMA = [
    *consumer.SCHEMA,
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rollup_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    *_cube_schema(),
    *extra.SCHEMA,
    *sqlite_batch.SCHEMA,
]


_MARK = "INSERT OR IGNORE INTO processed_events(event_id, processed_at) VALUES (?, ?)"  # as consumer.apply_once
_BUMP = (
    "INSERT INTO rollup_counters(name, value) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)
_WIPE = ["processed_events", "rollup_counters", *[c.table(g) for c in CUBES for g in c.grains], *extra.TABLES]


class SqliteRollupStore(SqliteStore):
    """Every method holds ``lock``: the connection is shared by the api's thread pool or the worker's greenthreads."""

    def __init__(
        self, conn: sqlite3.Connection, schema: list[str], time_zone: str = "UTC", *, wipe: bool = False
    ) -> None:
        super().__init__(conn, schema)
        self.grid = TimeGrid(time_zone)
        if wipe:
            self.wipe()
        self._check_zone(time_zone)

    @classmethod
    def open(cls, url_or_path: str | pathlib.Path, time_zone: str = "UTC", *, wipe: bool = False) -> SqliteRollupStore:
        """``wipe`` (a rebuild) forgets every roll-up first, so another time zone may be recorded."""
        path = sqlite_path(url_or_path) if isinstance(url_or_path, str) else url_or_path
        conn = connect(path)
        # a batch touches many B-trees: keep their pages cached (64 MB) instead of spilling mid-transaction
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("PRAGMA temp_store = MEMORY")  # the batch's staging table (sqlite_batch)
        return cls(conn, SCHEMA, time_zone, wipe=wipe)

    def _check_zone(self, time_zone: str) -> None:
        with self.lock, transaction(self.conn):
            row = self.conn.execute("SELECT value FROM meta WHERE name = 'time_zone'").fetchone()
            if row is None:
                if consumer.processed_count(self.conn):
                    raise ZoneMismatch("the roll-ups predate their time zone record: run `cdrstats reporting rebuild`")
                self.conn.execute("INSERT INTO meta(name, value) VALUES ('time_zone', ?)", (time_zone,))
            elif row["value"] != time_zone:
                raise ZoneMismatch(
                    f"the roll-ups were built for time zone {row['value']!r}, CDRSTATS_TIME_ZONE is {time_zone!r}: "
                    "run `cdrstats reporting rebuild`"
                )

    # -- writes ---------------------------------------------------------------------------

    def apply_batch(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], *, now_us: int = 0) -> bool:
        return self.apply_batches([(event_id, cdrs)], now_us=now_us)[0]

    def apply_batches(
        self, events: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], *, now_us: int = 0
    ) -> list[bool]:
        """Several events in ONE transaction, each id recorded with the effects (exactly once per id): their CDRs
        are summed together, so the coarser rows and the pages they dirty are shared between the events."""
        with self.lock:
            return self._apply(events, now_us, None)

    def apply_replayed(self, cdrs: Sequence[Mapping[str, Any]]) -> None:
        """A ReplayCdrs batch (ingest order): applied with the watermark of its last CDR id, in one transaction."""
        if cdrs:
            last = max(str(cdr.get("id") or "") for cdr in cdrs)
            with self.lock:
                self._apply([(f"replay:{last}", cdrs)], 0, last)

    def _apply(
        self, events: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], now_us: int, watermark: str | None
    ) -> list[bool]:
        if not all(event_id for event_id, _ in events):
            raise ValueError("event has no id")
        conn = self.conn
        with transaction(conn):
            row = conn.execute("SELECT value FROM meta WHERE name = 'replay_watermark'").fetchone()
            applied: list[bool] = []
            cdrs: list[Mapping[str, Any]] = []
            for event_id, batch in events:
                if not conn.execute(_MARK, (event_id, time.time())).rowcount:
                    log.info("duplicate event ignored", extra={"fields": {"event_id": event_id}})
                    applied.append(False)
                    continue
                applied.append(True)
                if row is not None and watermark is None:  # after a rebuild: CDRs the replay counted are skipped
                    cdrs.extend(cdr for cdr in batch if str(cdr.get("id") or "") > row[0])
                else:
                    cdrs.extend(batch)
            if any(applied):
                # everything is summed in Python first (one pass): one upsert per key, no duplicate keys in a statement
                summed = digest(cdrs, self.grid, now_us or time.time_ns() // 1000)
                sqlite_batch.add_cubes(conn, summed)
                sqlite_batch.add_destinations(conn, summed.destinations)
                extra.add_points(conn, summed.points, summed.day_nets)
                extra.end_calls(conn, summed.ended, summed.ended_us, summed.recent)
                conn.executemany(_BUMP, [("cdrs_applied", len(cdrs)), ("events_applied", sum(applied))])
                if watermark is not None:
                    conn.execute(
                        "INSERT INTO meta(name, value) VALUES ('replay_watermark', ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                        (watermark,),
                    )
        return applied

    def apply_call_state(self, event_id: str, state: CallState) -> bool:
        with self.lock:
            return consumer.apply_once(self.conn, event_id, lambda conn: extra.apply_call_state(conn, state))

    def expire_live_calls(self, before_us: int) -> int:
        with self.lock, transaction(self.conn):
            return extra.expire_calls(self.conn, before_us)

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return consumer.prune_processed(self.conn, before_us, limit)

    def wipe(self) -> None:
        """Forget every roll-up and applied event (rebuild); the time zone is recorded again."""
        with self.lock, transaction(self.conn):
            for table in _WIPE:
                self.conn.execute(f"DELETE FROM {table}")
            self.conn.execute("DELETE FROM meta WHERE name = 'replay_watermark'")
            self.conn.execute(
                "INSERT INTO meta(name, value) VALUES ('time_zone', ?) ON CONFLICT(name) DO UPDATE SET value = ?",
                (self.grid.zone_name, self.grid.zone_name),
            )

    # -- reads ----------------------------------------------------------------------------

    def rollup_rows(
        self, grain: str, start_us: int, end_us: int, group_by: tuple[str, ...], filters: Filters
    ) -> list[tuple[tuple[Any, ...], Totals]]:
        """Sums per ``group_by`` ("bucket" and/or dimensions) of buckets starting in [start_us, end_us)."""
        if grain not in GRAINS:
            raise ValueError(f"grain: expected hour or day, got {grain!r}")
        if filters.matches_nothing():
            return []
        cube = cube_for([*(d for d in group_by if d != "bucket"), *filters.dims()])
        if grain not in cube.grains:
            return self._days_from_hours(cube, start_us, end_us, group_by, filters)
        where, params = ["bucket_us >= ?", "bucket_us < ?"], [start_us, end_us]
        for dim, values in filters.items():
            where.append(f"{dim} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        columns = ["bucket_us" if name == "bucket" else name for name in group_by]
        if columns and columns[0] not in DIMENSIONS and columns[0] != "bucket_us":
            raise ValueError(f"group_by: unknown {columns[0]!r}")
        sums = ", ".join(f"sum({name}) AS {name}" for name in SUM_FIELDS)
        select = ", ".join([*columns, sums])
        sql = f"SELECT {select} FROM {cube.table(grain)} WHERE {' AND '.join(where)}"
        if columns:
            sql += f" GROUP BY {', '.join(columns)}"
        with self.lock:
            result = self.conn.execute(sql, params).fetchall()
        out = []
        for row in result:
            if row["attempts"] is None:
                continue
            out.append((tuple(row[c] for c in columns), totals_from(dict(row))))
        return out

    def _days_from_hours(
        self, cube: Cube, start_us: int, end_us: int, group_by: tuple[str, ...], filters: Filters
    ) -> list[tuple[tuple[Any, ...], Totals]]:
        """A day query on an hour-only cube: its hours, summed per local day."""
        with_bucket = group_by if "bucket" in group_by else ("bucket", *group_by)
        position = with_bucket.index("bucket")
        out: dict[tuple[Any, ...], Totals] = {}
        for key, totals in self.rollup_rows("hour", start_us, end_us, with_bucket, filters):
            day = [*key]
            day[position] = self.grid.day_start(key[position])
            if "bucket" not in group_by:
                del day[position]
            out.setdefault(tuple(day), Totals()).merge(totals)
        return list(out.items())

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        filters = Filters(switch_ids=None if switch_id is None else [switch_id], accountcodes=accountcodes)
        rows = self.rollup_rows("hour", start_us, end_us, ("bucket",), filters)
        return sorted((int(key[0]), totals) for key, totals in rows)

    def top_destinations(
        self, kind: str, days: list[int], filters: Filters, limit: int
    ) -> tuple[list[tuple[str, list[int]]], int, int]:
        with self.lock:
            return extra.top_destinations(self.conn, kind, days, filters, limit)

    def concurrency(
        self, scopes: list[tuple[str, str]], start_us: int, end_us: int, *, with_points: bool
    ) -> tuple[int, dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
        with self.lock:
            return extra.read_concurrency(self.conn, scopes, start_us, end_us, with_points=with_points)

    def switches(self) -> list[str]:
        with self.lock:
            return extra.switches(self.conn)

    def live_calls(self, filters: Filters, since_us: int) -> list[dict[str, Any]]:
        with self.lock:
            return extra.live_calls(self.conn, filters, since_us)

    def live_version(self) -> int:
        with self.lock:
            return extra.live_version(self.conn)

    def time_zone(self) -> str:
        return self.grid.zone_name

    def status(self) -> tuple[int, int]:
        with self.lock:
            counters = {row["name"]: int(row["value"]) for row in self.conn.execute("SELECT * FROM rollup_counters")}
        return counters.get("cdrs_applied", 0), counters.get("events_applied", 0)
