"""CDR search, export and replay on SQLite: parametrised SQL, keyset pages, indexes for 10M rows.

Order is the sort column then ``rowid`` (ingest order): every index ends with the rowid,
so ``ORDER BY col, rowid`` is read straight from an index on ``col`` with no sort step even
when millions of rows tie (billsec 0, one direction). Cursors carry the CDR id; its rowid
is looked up per page (VACUUM may renumber rowids but keeps their order).

Column names in SQL come only from ``domain.query.SORT_KEYS`` and the literals below;
every value is a bound parameter.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from cdrstats_common.cdr import FIELDS
from cdrstats_ingest.domain.query import SORT_KEYS, CdrQuery, CdrSearch, Position, SearchPage
from cdrstats_ingest.store.sqlite_search_sql import NUMBER_COLUMNS, fan_out, filters, indexed_numbers, keyset

#: CREATE INDEX statements of search; appended to the store's SCHEMA (idempotent, run at start-up)
SCHEMA = [
    # every filter column of the usual time-bounded searches: counts and filtered scans read no table rows
    "CREATE INDEX IF NOT EXISTS cdrs_scan ON cdrs(start_time_us, switch_id, accountcode, direction, answered, "
    "hangup_cause, sip_code, country, source, duration_ms, billsec_ms, destination_e164, destination_number)",
    "CREATE INDEX IF NOT EXISTS cdrs_switch_start ON cdrs(switch_id, start_time_us)",
    "CREATE INDEX IF NOT EXISTS cdrs_account_start ON cdrs(accountcode, start_time_us)",
    "CREATE INDEX IF NOT EXISTS cdrs_country_start ON cdrs(country, start_time_us)",
    "CREATE INDEX IF NOT EXISTS cdrs_e164 ON cdrs(destination_e164)",
    "CREATE INDEX IF NOT EXISTS cdrs_dialled ON cdrs(destination_number)",
    "CREATE INDEX IF NOT EXISTS cdrs_caller ON cdrs(caller_id_number)",
    "CREATE INDEX IF NOT EXISTS cdrs_duration ON cdrs(duration_ms)",
    "CREATE INDEX IF NOT EXISTS cdrs_billsec ON cdrs(billsec_ms)",
    "CREATE INDEX IF NOT EXISTS cdrs_call_id ON cdrs(call_id) WHERE call_id != ''",
]
#: beyond this many account codes (or switches) one IN scan is cheaper than a merge of per-value scans
MAX_FAN_OUT = 64
#: a number filter matching fewer rows than this is read from its own index (then sorted); more, in time order
SELECTIVE = 5000
#: the same for counts: counting up to this many matches through a number index beats a time-range scan
COUNT_SELECTIVE = 100_000
#: a time range holding more CDRs than this is read in duration (billsec) order when sorted by it
WALK_SORT_INDEX = 20_000
#: columns whose indexes are switched off (unary +) when a selective number filter drives the search
_TIME_COLUMNS = frozenset({"start_time_us", "switch_id", "accountcode", "country", "duration_ms", "billsec_ms"})
#: rows are plain tuples in FIELDS order plus the rowid: dict(zip()) is several times faster than sqlite3.Row
_SELECT = f"SELECT {', '.join(FIELDS)}, rowid AS _rowid FROM cdrs"
_ANSWERED, _EXTRA = FIELDS.index("answered"), FIELDS.index("extra")
_SORT_COLUMNS = frozenset(SORT_KEYS.values())


class SqliteSearchMixin:
    """Search part of SqliteCdrStore (uses ``self.conn`` under ``self.lock``)."""

    conn: sqlite3.Connection
    lock: threading.Lock

    def search_cdrs(self, search: CdrSearch, limit: int, *, with_total: bool = False) -> SearchPage:
        with self.lock:
            after_rowid = self._rowid_of(search.after)
            rows = self._page(search, limit + 1, search.after, after_rowid)
            total = self._count(search) if with_total else None
        return SearchPage([_cdr(row) for row in rows[:limit]], len(rows) > limit, total)

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, params).fetchall()

    def export_cdrs(
        self, search: CdrSearch, *, batch_size: int = 1000, limit: int = 0
    ) -> Iterator[list[dict[str, Any]]]:
        """Keyset pages, the lock held per page only: other requests run between batches."""
        position, sent = search.after, 0
        with self.lock:
            rowid = self._rowid_of(position)
            plain = self._plain_columns(search)  # the plan is chosen once for the whole export
        while True:
            size = batch_size if not limit else min(batch_size, limit - sent)
            if size <= 0:
                return
            with self.lock:
                rows = self._page(search, size, position, rowid, plain)
            if not rows:
                return
            batch = [_cdr(row) for row in rows]
            position, rowid = Position(batch[-1][search.sort], batch[-1]["id"]), rows[-1][-1]
            sent += len(batch)
            yield batch
            if len(rows) < size:
                return

    def replay_cdrs(self, after_id: str = "", batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        while True:
            with self.lock:
                rows = self._fetch(f"{_SELECT} WHERE id > ? ORDER BY id LIMIT ?", (after_id, batch_size))
            if not rows:
                return
            after_id = rows[-1][0]
            yield [_cdr(row) for row in rows]
            if len(rows) < batch_size:
                return

    # -- SQL ------------------------------------------------------------------
    def _rowid_of(self, position: Position | None) -> int | None:
        if position is None:
            return None
        row = self.conn.execute("SELECT rowid FROM cdrs WHERE id = ?", (position.id,)).fetchone()
        return None if row is None else int(row[0])

    def _page(
        self,
        search: CdrSearch,
        limit: int,
        after: Position | None,
        after_rowid: int | None,
        plain: frozenset[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        sort = search.sort
        if sort not in _SORT_COLUMNS:  # validated upstream; never let a name reach SQL unchecked
            raise ValueError(f"unknown sort column {sort!r}")
        direction = "ASC" if search.ascending else "DESC"
        order = f" ORDER BY {sort} {direction}, _rowid {direction} LIMIT ?"
        plain = self._plain_columns(search) if plain is None else plain
        where, params = filters(search, plain)
        if after is not None:
            after_sql, after_params = keyset(search, after, after_rowid, plain)
            where.append(after_sql)
            params.extend(after_params)
        fan_column, fan_values = fan_out(search, MAX_FAN_OUT) if not plain & _TIME_COLUMNS else (None, ())
        if fan_column is None:
            where_sql = " WHERE " + " AND ".join(where) if where else ""
            return self._fetch(_SELECT + where_sql + order, (*params, limit))
        # one in-order index scan per account code (or switch), merged: no sort of every match
        parts, all_params = [], []
        for value in fan_values:
            parts.append(f"SELECT * FROM ({_SELECT} WHERE {' AND '.join([f'{fan_column} = ?', *where])}{order})")
            all_params.extend([value, *params, limit])
        sql = " UNION ALL ".join(parts) + order
        return self._fetch(sql, (*all_params, limit))

    def _plain_columns(self, search: CdrSearch, selective: int = SELECTIVE, *, count: bool = False) -> frozenset[str]:
        """Which indexes the planner may not use: without statistics it can't tell a rare number prefix
        from a common one, nor a day from a year.

        A number filter (equals/begins on destination or caller, prefixes) matching few CDRs is
        read from its index and sorted; one matching many is checked while reading in time order.
        A duration/billsec order over a large time range walks that column's index instead.
        """
        query = search.query
        numbers = indexed_numbers(query)
        if numbers is not None:
            probe, params = filters(dataclasses.replace(search, query=numbers, accountcodes=None), _TIME_COLUMNS)
            if self._count_upto(probe, params, selective) < selective:
                return _TIME_COLUMNS
        has_numbers = query.destination_number or query.caller_id_number or query.destination_prefixes
        plain = frozenset(NUMBER_COLUMNS) if has_numbers else frozenset()
        if not count and search.sort in ("duration_ms", "billsec_ms") and (query.start_from_us or query.start_to_us):
            window = CdrQuery(start_from_us=query.start_from_us, start_to_us=query.start_to_us)
            probe, params = filters(dataclasses.replace(search, query=window, accountcodes=None))
            if self._count_upto(probe, params, WALK_SORT_INDEX) >= WALK_SORT_INDEX:
                plain |= _TIME_COLUMNS - {search.sort}  # else it reads a whole account (switch) and sorts it
        return plain

    def _count_upto(self, where: list[str], params: list[Any], cap: int) -> int:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM cdrs WHERE {' AND '.join(where)} LIMIT ?)"
        return int(self.conn.execute(sql, (*params, cap)).fetchone()[0])

    def _count(self, search: CdrSearch) -> int:
        where, params = filters(search, self._plain_columns(search, COUNT_SELECTIVE, count=True))
        where_sql = " WHERE " + " AND ".join(where) if where else ""
        return int(self.conn.execute("SELECT count(*) FROM cdrs" + where_sql, params).fetchone()[0])


def _cdr(row: tuple[Any, ...]) -> dict[str, Any]:
    cdr = dict(zip(FIELDS, row, strict=False))  # the trailing rowid has no name: left out
    cdr["answered"] = bool(row[_ANSWERED])
    extra = row[_EXTRA]
    cdr["extra"] = {} if extra == "{}" else json.loads(extra)
    return cdr
