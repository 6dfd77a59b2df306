"""Destination control on SQLite: list entries, geo rules, the hit log and the rules version.

The rules version is bumped by triggers on every change of ``list_entries``, ``geo_rules`` and
``tenants``: the api process writes rules, the worker process compares one integer per event and
rebuilds its matcher only when it moved, whichever code path made the change.
"""

from __future__ import annotations

import collections
import json
import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from cdrstats_alerting.domain.destinations import (
    ALERTING_VERDICTS,
    VERDICTS,
    GeoRule,
    Hit,
    ListEntry,
    alert_data,
    calling_code_prefix,
    hit_for,
)
from cdrstats_alerting.store.destinations_interface import CHECK_CLOCK, Matcher
from cdrstats_common import outbox, retention
from cdrstats_common.sqlite import transaction

log = logging.getLogger(__name__)

_VERSIONED_TABLES = ("list_entries", "geo_rules", "tenants")
DESTINATION_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS list_entries (
        id TEXT PRIMARY KEY,
        list TEXT NOT NULL,
        owner TEXT NOT NULL,
        prefix TEXT NOT NULL,
        country TEXT NOT NULL,
        note TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        UNIQUE(list, owner, prefix, country)
    )""",
    "CREATE INDEX IF NOT EXISTS list_entries_owner ON list_entries(owner, id)",
    "CREATE INDEX IF NOT EXISTS list_entries_prefix ON list_entries(prefix)",
    """CREATE TABLE IF NOT EXISTS geo_rules (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        switch_id TEXT NOT NULL,
        mode TEXT NOT NULL,
        countries TEXT NOT NULL,
        note TEXT NOT NULL,
        created_us INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS destination_hits (
        cdr_id TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        switch_id TEXT NOT NULL,
        accountcode TEXT NOT NULL,
        destination_e164 TEXT NOT NULL,
        country TEXT NOT NULL,
        verdict TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        rule TEXT NOT NULL,
        owner TEXT NOT NULL,
        start_us INTEGER NOT NULL,
        time_us INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS destination_hits_time ON destination_hits(verdict, time_us)",
    "CREATE INDEX IF NOT EXISTS destination_hits_account ON destination_hits(accountcode, verdict, time_us)",
    "CREATE TABLE IF NOT EXISTS destination_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO destination_meta(key, value) VALUES ('rules_version', 0)",
    *[
        f"""CREATE TRIGGER IF NOT EXISTS {table}_{action.lower()}_bumps_rules AFTER {action} ON {table}
            BEGIN UPDATE destination_meta SET value = value + 1 WHERE key = 'rules_version'; END"""
        for table in _VERSIONED_TABLES
        for action in ("INSERT", "UPDATE", "DELETE")
    ],
]

_ENTRY_COLUMNS = "id, list, owner, prefix, country, note, created_us"
_GEO_COLUMNS = "id, owner, switch_id, mode, countries, note, created_us"
_HIT_COLUMNS = (
    "id, cdr_id, switch_id, accountcode, destination_e164, country, verdict, rule_id, rule, owner, start_us, time_us"
)
_HIT_FIELDS = tuple(_HIT_COLUMNS.split(", "))
_INSERT_HIT = f"INSERT OR IGNORE INTO destination_hits({_HIT_COLUMNS}) VALUES ({', '.join('?' * 12)})"
#: bound parameters per statement stay well below SQLite's limit
_CHUNK = 500


def _entry(row: sqlite3.Row) -> ListEntry:
    return ListEntry(*row)


def _geo(row: sqlite3.Row) -> GeoRule:
    return GeoRule(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), row[5], row[6])


def _hit(row: sqlite3.Row) -> Hit:
    return Hit(*row)


def _in(column: str, values: Sequence[str]) -> tuple[str, list[str]]:
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


class SqliteDestinations:
    """Mixin of SqliteAlertingStore; every method holds ``self.lock`` around ``self.conn``."""

    conn: sqlite3.Connection
    lock: threading.Lock

    # -- list entries ----------------------------------------------------------------------

    def add_list_entries(self, entries: Sequence[ListEntry]) -> list[ListEntry]:
        stored: list[ListEntry] = []
        with self.lock, transaction(self.conn):
            for entry in entries:
                self.conn.execute(
                    f"INSERT OR IGNORE INTO list_entries({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (entry.id, entry.list, entry.owner, entry.prefix, entry.country, entry.note, entry.created_us),
                )
                row = self.conn.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM list_entries WHERE list = ? AND owner = ? AND prefix = ? AND country = ?",
                    (entry.list, entry.owner, entry.prefix, entry.country),
                ).fetchone()
                stored.append(_entry(row))
        return stored

    def get_list_entry(self, entry_id: str) -> ListEntry | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM list_entries WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None

    def list_entries(
        self,
        *,
        owners: Sequence[str] | None,
        list_name: str = "",
        prefix_starts: str = "",
        country: str = "",
        after_id: str = "",
        limit: int = 500,
    ) -> list[ListEntry]:
        where, params = ["id > ?"], [after_id]
        if owners is not None:
            clause, values = _in("owner", owners)
            where.append(clause)
            params += values
        if list_name:
            where.append("list = ?")
            params.append(list_name)
        if prefix_starts:  # a range, so the prefix index serves it (':' sorts right after '9')
            where.append("prefix >= ? AND prefix < ?")
            params += [prefix_starts, prefix_starts + ":"]
        if country:
            code = calling_code_prefix(country)
            where.append("(country = ? OR (prefix >= ? AND prefix < ?))")
            params += [country, code, code + ":"]
        sql = f"SELECT {_ENTRY_COLUMNS} FROM list_entries WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        with self.lock:
            rows = self.conn.execute(sql, [*params, limit]).fetchall()
        return [_entry(row) for row in rows]

    def all_list_entries(self) -> list[ListEntry]:
        with self.lock:
            rows = self.conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM list_entries ORDER BY id").fetchall()
        return [_entry(row) for row in rows]

    def delete_list_entry(self, entry_id: str) -> bool:
        with self.lock, transaction(self.conn):
            return self.conn.execute("DELETE FROM list_entries WHERE id = ?", (entry_id,)).rowcount > 0

    # -- geo rules -------------------------------------------------------------------------

    def geo_rules(self, owners: Sequence[str] | None = None) -> list[GeoRule]:
        sql, params = f"SELECT {_GEO_COLUMNS} FROM geo_rules", list[str]()
        if owners is not None:
            clause, params = _in("owner", owners)
            sql += f" WHERE {clause}"
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY id", params).fetchall()
        return [_geo(row) for row in rows]

    def get_geo_rule(self, rule_id: str) -> GeoRule | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_GEO_COLUMNS} FROM geo_rules WHERE id = ?", (rule_id,)).fetchone()
        return _geo(row) if row else None

    def save_geo_rule(self, rule: GeoRule) -> GeoRule:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                f"""INSERT INTO geo_rules({_GEO_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET owner = excluded.owner, switch_id = excluded.switch_id,
                    mode = excluded.mode, countries = excluded.countries, note = excluded.note""",
                (
                    rule.id,
                    rule.owner,
                    rule.switch_id,
                    rule.mode,
                    json.dumps(rule.countries),
                    rule.note,
                    rule.created_us,
                ),
            )
            row = self.conn.execute(f"SELECT {_GEO_COLUMNS} FROM geo_rules WHERE id = ?", (rule.id,)).fetchone()
        return _geo(row)

    def delete_geo_rule(self, rule_id: str) -> bool:
        with self.lock, transaction(self.conn):
            return self.conn.execute("DELETE FROM geo_rules WHERE id = ?", (rule_id,)).rowcount > 0

    def rules_version(self) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM destination_meta WHERE key = 'rules_version'").fetchone()
        return int(row[0])

    # -- hit log ---------------------------------------------------------------------------

    def _record_hits(
        self, conn: sqlite3.Connection, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher
    ) -> collections.Counter[str]:
        """Inside the event's transaction: log every verdict once per CDR id, queue destination_alert for
        black and geo ones. A CDR already in the log (a re-sent CDR) is neither logged nor alerted again.
        Returns the newly logged verdicts by kind."""
        first_us = CHECK_CLOCK.take(len(cdrs))
        logged: collections.Counter[str] = collections.Counter()
        for index, cdr in enumerate(cdrs):
            verdict = matcher.check(cdr)
            if verdict is None:
                continue
            hit = hit_for(cdr, verdict, first_us + index)
            if not hit.cdr_id:
                log.warning(
                    "CDR without id matched a destination rule; not logged", extra={"fields": {"rule": hit.rule}}
                )
                continue
            if not conn.execute(_INSERT_HIT, [getattr(hit, f) for f in _HIT_FIELDS]).rowcount:
                continue
            logged[hit.verdict] += 1
            if hit.verdict in ALERTING_VERDICTS:
                data = alert_data(hit, cdr, matcher.tenant_of(hit.accountcode), matcher.link(hit.cdr_id))
                outbox.add_event(conn, "alerting", "destination_alert", data)
        return logged

    def hits_by_cdr_ids(self, cdr_ids: Sequence[str], accountcodes: Sequence[str] | None = None) -> list[Hit]:
        if accountcodes is not None and not accountcodes:
            return []
        hits: list[Hit] = []
        ids = list(dict.fromkeys(cdr_ids))
        with self.lock:
            for start in range(0, len(ids), _CHUNK):
                clause, params = _in("cdr_id", ids[start : start + _CHUNK])
                if accountcodes is not None:
                    codes_clause, codes = _in("accountcode", accountcodes)
                    clause, params = f"{clause} AND {codes_clause}", params + codes
                rows = self.conn.execute(f"SELECT {_HIT_COLUMNS} FROM destination_hits WHERE {clause}", params)
                hits += [_hit(row) for row in rows]
        order = {cdr_id: index for index, cdr_id in enumerate(ids)}
        return sorted(hits, key=lambda hit: order[hit.cdr_id])

    def recent_hits(
        self,
        verdicts: Sequence[str],
        *,
        since_us: int = 0,
        before_us: int = 0,
        limit: int = 100,
        accountcodes: Sequence[str] | None = None,
    ) -> list[Hit]:
        """One indexed query per verdict (newest first on ``(verdict, time_us)``), merged here: a single
        ``verdict IN (...) ORDER BY time_us`` would sort every matching hit first."""
        if accountcodes is not None and not accountcodes:
            return []
        hits: list[Hit] = []
        with self.lock:
            for verdict in dict.fromkeys(verdicts):
                where, values = ["verdict = ?", "time_us >= ?", "time_us < ?"], [verdict, since_us, before_us or 2**62]
                if accountcodes is not None:
                    clause, codes = _in("accountcode", accountcodes)
                    where.append(clause)
                    values += codes
                sql = (
                    f"SELECT {_HIT_COLUMNS} FROM destination_hits "
                    f"WHERE {' AND '.join(where)} ORDER BY time_us DESC, id DESC LIMIT ?"
                )
                hits += [_hit(row) for row in self.conn.execute(sql, [*values, limit])]
        hits.sort(key=lambda hit: (hit.time_us, hit.id), reverse=True)
        return hits[:limit]

    def prune_hits(self, before_us: int, limit: int) -> int:
        """Verdict by verdict, so the ``(verdict, time_us)`` index finds the old hits without a scan."""
        deleted = 0
        with self.lock, transaction(self.conn):
            for verdict in VERDICTS:
                if deleted < limit:
                    deleted += retention.sqlite_delete_batch(
                        self.conn,
                        "destination_hits",
                        "verdict = ? AND time_us < ?",
                        (verdict, before_us),
                        limit - deleted,
                    )
        return deleted

    def destination_counts(self) -> dict[str, int]:
        with self.lock:
            entries = self.conn.execute("SELECT count(*) FROM list_entries").fetchone()[0]
            rules = self.conn.execute("SELECT count(*) FROM geo_rules").fetchone()[0]
            hits = self.conn.execute("SELECT count(*) FROM destination_hits").fetchone()[0]
        return {"list_entries": int(entries), "geo_rules": int(rules), "hits": int(hits)}
