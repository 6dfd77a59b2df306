"""SQLite connections as every service uses them: WAL, synchronous=NORMAL, busy timeout."""

from __future__ import annotations

import contextlib
import pathlib
import sqlite3
from collections.abc import Iterator

BUSY_TIMEOUT_MS = 30_000


def connect(path: str | pathlib.Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode; use ``transaction`` for atomic work."""
    path = pathlib.Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, statements: list[str]) -> None:
    """Run idempotent schema statements (CREATE ... IF NOT EXISTS) in one transaction."""
    with transaction(conn):
        for statement in statements:
            conn.execute(statement)
