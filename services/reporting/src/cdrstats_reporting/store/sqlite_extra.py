"""SQLite tables beside the cubes: top destinations, concurrency minutes, live calls.

Functions take the connection inside the caller's lock (and transaction, for writes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from cdrstats_reporting.domain import concurrency as conc
from cdrstats_reporting.domain.destinations import OTHER
from cdrstats_reporting.domain.live import MAX_LISTED, CallState
from cdrstats_reporting.domain.rollup import Filters

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS top_destinations (
        day_us INTEGER NOT NULL, switch_id TEXT NOT NULL, accountcode TEXT NOT NULL, kind TEXT NOT NULL,
        value TEXT NOT NULL, attempts INTEGER NOT NULL, answered INTEGER NOT NULL, billsec_ms INTEGER NOT NULL,
        PRIMARY KEY (day_us, switch_id, accountcode, kind, value)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS top_cardinality (
        day_us INTEGER NOT NULL, switch_id TEXT NOT NULL, accountcode TEXT NOT NULL, kind TEXT NOT NULL,
        tracked INTEGER NOT NULL, PRIMARY KEY (day_us, switch_id, accountcode, kind)) WITHOUT ROWID""",
    f"""CREATE TRIGGER IF NOT EXISTS top_destinations_tracked AFTER INSERT ON top_destinations
        WHEN NEW.value != '{OTHER}' BEGIN
        INSERT INTO top_cardinality VALUES (NEW.day_us, NEW.switch_id, NEW.accountcode, NEW.kind, 1)
        ON CONFLICT(day_us, switch_id, accountcode, kind) DO UPDATE SET tracked = tracked + 1; END""",
    # first_us/last_us: the minute's first and last point; tail_peak: only meaningful in ``excluded``
    """CREATE TABLE IF NOT EXISTS conc_minutes (
        switch_id TEXT NOT NULL, accountcode TEXT NOT NULL, minute_us INTEGER NOT NULL,
        net INTEGER NOT NULL, peak_in INTEGER NOT NULL, first_us INTEGER NOT NULL, last_us INTEGER NOT NULL,
        tail_peak INTEGER NOT NULL, dirty INTEGER NOT NULL, points BLOB NOT NULL,
        PRIMARY KEY (switch_id, accountcode, minute_us)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS conc_minutes_dirty ON conc_minutes(dirty) WHERE dirty = 1",
    """CREATE TABLE IF NOT EXISTS conc_days (
        switch_id TEXT NOT NULL, accountcode TEXT NOT NULL, day_us INTEGER NOT NULL, net INTEGER NOT NULL,
        PRIMARY KEY (switch_id, accountcode, day_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS live_calls (
        switch_id TEXT NOT NULL, uuid TEXT NOT NULL, state TEXT NOT NULL, start_time_us INTEGER NOT NULL,
        answer_time_us INTEGER NOT NULL, caller_id_number TEXT NOT NULL, destination_number TEXT NOT NULL,
        destination_e164 TEXT NOT NULL, country TEXT NOT NULL, accountcode TEXT NOT NULL, direction TEXT NOT NULL,
        last_event_us INTEGER NOT NULL, PRIMARY KEY (switch_id, uuid))""",
    "CREATE INDEX IF NOT EXISTS live_calls_last ON live_calls(last_event_us)",
    """CREATE TABLE IF NOT EXISTS ended_calls (
        switch_id TEXT NOT NULL, uuid TEXT NOT NULL, ended_us INTEGER NOT NULL, PRIMARY KEY (switch_id, uuid))""",
]
TABLES = ["top_destinations", "top_cardinality", "conc_minutes", "conc_days", "live_calls", "ended_calls"]


# -- top destinations ---------------------------------------------------------------------


def _filter_sql(filters: Filters, allowed: tuple[str, ...]) -> tuple[str, list[Any]]:
    where, params = [], []
    for dim, values in filters.items():
        if dim not in allowed:
            raise ValueError(f"filter {dim} is not available here")
        where.append(f"{dim} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
    return "".join(f" AND {w}" for w in where), params


def top_destinations(
    conn: sqlite3.Connection, kind: str, days: list[int], filters: Filters, limit: int
) -> tuple[list[tuple[str, list[int]]], int, int]:
    """(top rows [(value, [attempts, answered, billsec_ms])], total attempts, other attempts)."""
    if filters.matches_nothing():
        return [], 0, 0
    extra_sql, params = _filter_sql(filters, ("switch_id", "accountcode"))
    if not filters.items():  # the whole installation: the (ALL, ALL) groups
        extra_sql, params = " AND switch_id = ? AND accountcode = ?", [conc.ALL, conc.ALL]
    elif filters.switch_ids is None or filters.accountcodes is None:
        extra_sql += " AND switch_id != ? AND accountcode != ?"
        params += [conc.ALL, conc.ALL]
    # day_us IN (...) lets the primary key seek each day's group instead of scanning the range
    base = f"FROM top_destinations WHERE kind = ? AND day_us IN ({', '.join('?' for _ in days)}){extra_sql}"
    args = [kind, *days, *params]
    rows = conn.execute(
        f"SELECT value, sum(attempts) AS a, sum(answered) AS n, sum(billsec_ms) AS b {base} AND value != ? "
        "GROUP BY value ORDER BY a DESC, value LIMIT ?",
        (*args, OTHER, limit),
    ).fetchall()
    total, other = conn.execute(
        f"SELECT coalesce(sum(attempts), 0), coalesce(sum(CASE WHEN value = ? THEN attempts END), 0) {base}",
        (OTHER, *args),
    ).fetchone()
    return [(row["value"], [row["a"], row["n"], row["b"]]) for row in rows], int(total), int(other)


# -- concurrency --------------------------------------------------------------------------


_CONC_UPSERT = (
    "INSERT INTO conc_minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
    "ON CONFLICT(switch_id, accountcode, minute_us) DO UPDATE SET "
    # points after every stored one (the usual, in-order case): the new peak follows from the old net
    "peak_in = CASE WHEN excluded.first_us > last_us THEN max(peak_in, net + excluded.tail_peak) ELSE peak_in END, "
    "dirty = CASE WHEN excluded.first_us > last_us THEN dirty ELSE 1 END, "
    "net = net + excluded.net, first_us = min(first_us, excluded.first_us), "
    "last_us = max(last_us, excluded.last_us), points = CAST(points || excluded.points AS BLOB)"
)


def add_points(
    conn: sqlite3.Connection,
    points: Mapping[tuple[str, str, int], conc.Points],
    day_nets: Mapping[tuple[str, str, int], int],
) -> None:
    """Append a batch's points to their minutes; a minute receiving a point earlier than its last one is
    recomputed from all its points (every other minute moves through L)."""
    rows = []
    for (switch, code, minute), new in points.items():
        rows.append((switch, code, minute, *conc.minute_row(minute, new)))
    conn.executemany(_CONC_UPSERT, rows)
    dirty = conn.execute(
        "SELECT switch_id, accountcode, minute_us, points FROM conc_minutes WHERE dirty = 1"
    ).fetchall()
    fixed = []
    for switch, code, minute, blob in dirty:
        merged = conc.decode(blob)
        net, peak_in = conc.summarize(minute, merged)
        fixed.append((net, peak_in, conc.encode(merged), switch, code, minute))
    conn.executemany(
        "UPDATE conc_minutes SET net = ?, peak_in = ?, points = ?, dirty = 0 "
        "WHERE switch_id = ? AND accountcode = ? AND minute_us = ?",
        fixed,
    )
    conn.executemany(
        "INSERT INTO conc_days VALUES (?, ?, ?, ?) "
        "ON CONFLICT(switch_id, accountcode, day_us) DO UPDATE SET net = net + excluded.net",
        [(*key, net) for key, net in day_nets.items()],
    )


def read_concurrency(
    conn: sqlite3.Connection, scopes: list[tuple[str, str]], start_us: int, end_us: int, *, with_points: bool
) -> tuple[int, dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
    """(level before start, {minute: (net, peak_in)} of one scope, {minute: points} merged over all scopes)."""
    level = 0
    summaries: dict[int, tuple[int, int]] = {}
    merged: dict[int, dict[int, int]] = {}
    for switch, code in scopes:
        level += conn.execute(
            "SELECT coalesce(sum(net), 0) FROM conc_days WHERE switch_id = ? AND accountcode = ? AND day_us < ?",
            (switch, code, start_us),
        ).fetchone()[0]
        column = "points" if with_points else "NULL"
        for minute, net, peak_in, blob in conn.execute(
            f"SELECT minute_us, net, peak_in, {column} FROM conc_minutes WHERE switch_id = ? AND accountcode = ? "
            "AND minute_us >= ? AND minute_us < ?",
            (switch, code, start_us, end_us),
        ):
            if with_points:
                conc.merge(merged.setdefault(minute, {}), conc.decode(blob))
            else:
                summaries[minute] = (net, peak_in)
    return int(level), summaries, merged


def switches(conn: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute("SELECT DISTINCT switch_id FROM conc_days WHERE switch_id != ? ORDER BY 1", (conc.ALL,))
    ]


# -- live calls ---------------------------------------------------------------------------

_BUMP_VERSION = (
    "INSERT INTO meta(name, value) VALUES ('live_version', '1') "
    "ON CONFLICT(name) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)


def apply_call_state(conn: sqlite3.Connection, state: CallState) -> None:
    key = (state.switch_id, state.uuid)
    if state.event == "ended":
        end_calls(conn, [key], state.time_us, [key])
        return
    if conn.execute("SELECT 1 FROM ended_calls WHERE switch_id = ? AND uuid = ?", key).fetchone():
        return  # the end arrived first: a late start must not revive the call
    answer_us = state.time_us if state.event == "answered" else 0
    d = state.details
    conn.execute(
        "INSERT INTO live_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(switch_id, uuid) DO UPDATE SET "
        "state = CASE WHEN excluded.state = 'answered' OR state = 'answered' THEN 'answered' ELSE state END, "
        "start_time_us = min(start_time_us, excluded.start_time_us), "
        "answer_time_us = max(answer_time_us, excluded.answer_time_us), "
        "last_event_us = max(last_event_us, excluded.last_event_us)",
        (
            *key,
            state.event,
            state.time_us,
            answer_us,
            d["caller_id_number"],
            d["destination_number"],
            d["destination_e164"],
            d["country"],
            d["accountcode"],
            d["direction"],
            state.time_us,
        ),
    )
    conn.execute(_BUMP_VERSION)


def end_calls(
    conn: sqlite3.Connection, keys: list[tuple[str, str]], ended_us: int, tombstones: list[tuple[str, str]]
) -> None:
    """Remove live calls; ``tombstones`` (recent ends only, to stay small) stop a late start reviving them."""
    if tombstones:
        conn.executemany(
            "INSERT INTO ended_calls VALUES (?, ?, ?) ON CONFLICT(switch_id, uuid) DO NOTHING",
            [(*key, ended_us) for key in tombstones],
        )
    if not keys or conn.execute("SELECT 1 FROM live_calls LIMIT 1").fetchone() is None:
        return
    removed = sum(conn.execute("DELETE FROM live_calls WHERE switch_id = ? AND uuid = ?", key).rowcount for key in keys)
    if removed:
        conn.execute(_BUMP_VERSION)


def expire_calls(conn: sqlite3.Connection, before_us: int) -> int:
    """Drop calls silent since before ``before_us`` and tombstones older than that."""
    removed = conn.execute("DELETE FROM live_calls WHERE last_event_us < ?", (before_us,)).rowcount
    conn.execute("DELETE FROM ended_calls WHERE ended_us < ?", (before_us,))
    if removed:
        conn.execute(_BUMP_VERSION)
    return int(removed)


def live_calls(conn: sqlite3.Connection, filters: Filters, since_us: int) -> list[dict[str, Any]]:
    if filters.matches_nothing():
        return []
    extra_sql, params = _filter_sql(filters, ("switch_id", "accountcode"))
    rows = conn.execute(
        f"SELECT * FROM live_calls WHERE last_event_us >= ?{extra_sql} ORDER BY start_time_us DESC, uuid",
        (since_us, *params),
    ).fetchall()
    return [dict(row) for row in rows]


def live_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = 'live_version'").fetchone()
    return int(row[0]) if row else 0


__all__ = ["MAX_LISTED"]
