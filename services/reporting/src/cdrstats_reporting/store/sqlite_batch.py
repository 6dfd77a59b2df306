"""Writing one batch digest to the SQLite roll-ups with as few statements and bound rows as possible.

Cubes: the batch's full hourly sums go into an in-memory temp table (one executemany); every
cube and grain is then one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE``, so
the coarser cubes are summed by SQLite in C and no coarse row crosses the Python boundary.

Top destinations: the admission rule of ``domain.destinations`` is applied in Python. The
day's tracked count of every group in the batch is read in one query per day; a group with
room for all of the batch's values (the common case) is written as is, and only a group
that would cross the cap reads its tracked values and runs ``destinations.admit``. Either
way one plain upsert per value remains; the trigger keeps ``top_cardinality``.

Functions run inside the caller's lock and transaction.
"""

from __future__ import annotations

import sqlite3

from cdrstats_reporting.domain import destinations
from cdrstats_reporting.domain.destinations import OTHER
from cdrstats_reporting.domain.digest import Digest, Group
from cdrstats_reporting.domain.rollup import CUBES, DIMENSIONS, SUM_FIELDS, Cube

SCHEMA = [
    "CREATE TEMP TABLE IF NOT EXISTS batch_full (bucket_us INTEGER NOT NULL, day_us INTEGER NOT NULL, "
    + ", ".join(f"{dim} NOT NULL" for dim in DIMENSIONS)
    + ", "
    + ", ".join(f"{name} INTEGER NOT NULL" for name in SUM_FIELDS)
    + ")",
]

_FILL = f"INSERT INTO temp.batch_full VALUES ({', '.join('?' for _ in range(2 + len(DIMENSIONS) + len(SUM_FIELDS)))})"


def _derive(cube: Cube, grain: str) -> str:
    """Upsert the cube's rows at ``grain``, summed from the batch's full hourly rows."""
    key = ", ".join(("bucket_us", *cube.dims))
    bucket = "bucket_us" if grain == "hour" else "day_us"
    sums = ", ".join(f"sum({name})" for name in SUM_FIELDS)
    dims = "".join(f", {dim}" for dim in cube.dims)
    return (
        f"INSERT INTO {cube.table(grain)}({key}, {', '.join(SUM_FIELDS)}) "
        f"SELECT {bucket}{dims}, {sums} FROM temp.batch_full WHERE true GROUP BY {bucket}{dims} "
        f"ON CONFLICT({key}) DO UPDATE SET " + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUM_FIELDS)
    )


_DERIVE = [_derive(cube, grain) for cube in CUBES for grain in cube.grains]


def add_cubes(conn: sqlite3.Connection, digest: Digest) -> None:
    days = digest.days
    conn.execute("DELETE FROM temp.batch_full")
    conn.executemany(_FILL, [(key[0], days[key[0]], *key[1:], *sums) for key, sums in digest.full.items()])
    for statement in _DERIVE:
        conn.execute(statement)
    conn.execute("DELETE FROM temp.batch_full")


_ADD = (
    "INSERT INTO top_destinations VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(day_us, switch_id, accountcode, kind, value) DO UPDATE SET attempts = attempts + excluded.attempts, "
    "answered = answered + excluded.answered, billsec_ms = billsec_ms + excluded.billsec_ms"
)


def add_destinations(conn: sqlite3.Connection, groups: dict[Group, dict[str, list[int]]]) -> None:
    cap = destinations.CAP
    counts: dict[Group, int] = {}
    for day in {group[0] for group in groups}:
        for switch, code, kind, tracked in conn.execute(
            "SELECT switch_id, accountcode, kind, tracked FROM top_cardinality WHERE day_us = ?", (day,)
        ):
            counts[(day, switch, code, kind)] = tracked
    rows: list[tuple[object, ...]] = []
    for group, values in groups.items():
        count = counts.get(group, 0)
        if count + len(values) > cap:  # the cap may be crossed: admit tracked values, then most attempts first
            tracked = {
                value
                for (value,) in conn.execute(
                    "SELECT value FROM top_destinations WHERE day_us = ? AND switch_id = ? AND accountcode = ? "
                    "AND kind = ? AND value != ?",
                    (*group, OTHER),
                )
            }
            values = destinations.admit(values, tracked, count, cap)
        rows.extend((*group, value, *sums) for value, sums in values.items())
    conn.executemany(_ADD, rows)
