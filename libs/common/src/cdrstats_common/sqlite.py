"""SQLite connections as every service uses them: WAL, synchronous=NORMAL, busy timeout."""

from __future__ import annotations

import contextlib
import os
import pathlib
import sqlite3
import threading
from collections.abc import Iterator

from cdrstats_common import heartbeat

BUSY_TIMEOUT_MS = 30_000
#: page cache per connection (KiB, allocated as used): the CDR tables' indexes don't fit SQLite's 2 MiB default
CACHE_KIB = 65_536
#: WAL pages before a committing writer checkpoints by itself. Workers checkpoint in the background
#: (``SqliteStore.checkpoint``) long before this, so the api's commits rarely pay for it.
WAL_AUTOCHECKPOINT_PAGES = 20_000


def connect(path: str | pathlib.Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open a connection in autocommit mode; use ``transaction`` for atomic work."""
    path = pathlib.Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        owner_only(path)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if not read_only:
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    return conn


def owner_only(path: pathlib.Path) -> None:
    """Create the database file readable by its owner only (0600), or drop group/other bits of an existing one.

    The stores hold callers' numbers, and ingest's holds the pull connectors' database passwords
    (they must be usable to connect, so they are not hashed): not for other local users. SQLite
    gives the -wal and -shm files the database file's mode.
    """
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    mode = path.stat().st_mode
    if mode & 0o077:
        with contextlib.suppress(PermissionError):  # not ours to change: leave it to its owner
            path.chmod(mode & 0o700)


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


class SqliteStore:
    """Base of the services' SQLite adapters: one lock-guarded connection, migrations, the worker heartbeat.

    The api calls its store from a thread pool and the worker from greenthreads; every
    method of a subclass holds ``self.lock`` around its use of ``self.conn``.
    """

    def __init__(self, conn: sqlite3.Connection, schema: list[str]) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        migrate(conn, [*heartbeat.SCHEMA, *schema])

    def beat(self, *, ready: bool = True) -> None:
        with self.lock:
            heartbeat.beat(self.conn, ready=ready)

    def worker_alive(self) -> bool:
        with self.lock:
            return heartbeat.is_alive(self.conn)

    def checkpoint(self) -> None:
        """Copy the WAL back into the database without blocking writers (the worker calls this each second)."""
        with self.lock:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        with self.lock:
            self.conn.close()
