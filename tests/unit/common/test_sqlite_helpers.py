"""SQLite connections: the pragmas every store relies on, and the background WAL checkpoint."""

from __future__ import annotations

import pathlib

from cdrstats_common.sqlite import CACHE_KIB, WAL_AUTOCHECKPOINT_PAGES, SqliteStore, connect, transaction


def test_connections_use_wal_a_large_cache_and_a_late_autocheckpoint(tmp_path: pathlib.Path) -> None:
    conn = connect(tmp_path / "s.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES


def test_checkpoint_folds_the_wal_into_the_database(tmp_path: pathlib.Path) -> None:
    store = SqliteStore(connect(tmp_path / "s.db"), ["CREATE TABLE IF NOT EXISTS t (v TEXT)"])
    with transaction(store.conn):
        store.conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(2000)])
    wal = tmp_path / "s.db-wal"
    assert wal.stat().st_size > 500_000  # far below the autocheckpoint: the commit did not fold it
    reader = connect(tmp_path / "s.db", read_only=True)
    store.checkpoint()
    busy, log_frames, folded = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log_frames == folded  # every frame is in the database file now
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 2000
    store.close()
