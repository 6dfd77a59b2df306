"""Retention: logs that grow with traffic (hits, evaluations, deliveries, applied event ids, sent outbox
events) lose their old rows in short batches, with a pause between, so a large first prune never holds
a store's write lock (SQLite: the whole database) for long. Stores delete one batch per call; this loops.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
#: rows per delete: a few milliseconds of SQLite write lock
BATCH = 5_000
#: between two batches: the api process (and other greenthreads) get the store
PAUSE_S = 0.05
#: sent outbox events are kept a day (to look at what was published), then pruned
SENT_EVENTS_KEPT_S = 86_400.0
#: how often the workers prune
INTERVAL_S = 3_600


def cutoff_us(now_us: int, days: int) -> int:
    """Rows older than this go; 0 (nothing goes) when ``days`` is 0, which means keep forever."""
    return now_us - days * DAY_US if days > 0 else 0


def prune_batches(
    delete_batch: Callable[[int], int],
    *,
    batch: int = BATCH,
    pause_s: float = PAUSE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Call ``delete_batch(batch)`` until it deletes fewer than ``batch`` rows; returns the total deleted.
    ``sleep`` is eventlet-patched in the workers, so the pause also lets other greenthreads run."""
    total = 0
    while True:
        deleted = delete_batch(batch)
        total += deleted
        if deleted < batch:
            return total
        sleep(pause_s)


#: one log a service prunes: (name, days kept (0: forever), delete(before_us, limit) -> rows deleted)
PrunedLog = tuple[str, int, Callable[[int, int], int]]


class Pruner:
    """A service's hourly prune: each of its ``logs()`` past its retention, then sent outbox events
    older than a day (``prune_outbox`` None: the service has no outbox), every one in short batches.
    Subclasses say which logs they keep."""

    def __init__(
        self,
        prune_outbox: Callable[[float, int], int] | None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        batch: int = BATCH,
    ) -> None:
        self.prune_outbox = prune_outbox
        self.clock = clock
        self.sleep = sleep
        self.batch = batch

    def logs(self) -> Iterable[PrunedLog]:
        return ()

    def _prune(self, delete_batch: Callable[[int], int]) -> int:
        return prune_batches(delete_batch, batch=self.batch, sleep=self.sleep)

    def prune(self) -> dict[str, int]:
        """Delete what is older than its retention; returns how many rows went, by log."""
        now = self.clock()
        pruned: dict[str, int] = {}
        for name, days, delete in self.logs():
            before_us = cutoff_us(int(now * 1_000_000), days)
            if before_us:
                pruned[name] = self._prune(functools.partial(_older_than, delete, before_us))
        prune_outbox = self.prune_outbox
        if prune_outbox is not None:
            sent_before = now - SENT_EVENTS_KEPT_S
            pruned["outbox"] = self._prune(lambda limit: prune_outbox(sent_before, limit))
        if any(pruned.values()):
            log.info("old rows pruned", extra={"fields": pruned})
        return pruned


def _older_than(delete: Callable[[int, int], int], before_us: int, limit: int) -> int:
    return delete(before_us, limit)


def sqlite_delete_batch(
    conn: sqlite3.Connection, table: str, where: str, params: Sequence[Any], limit: int, order_by: str = ""
) -> int:
    """Delete at most ``limit`` rows of ``table`` matching ``where`` in one statement (one short write).
    ``table``, ``where`` and ``order_by`` are the caller's SQL, never user input."""
    order = f" ORDER BY {order_by}" if order_by else ""
    cursor = conn.execute(
        f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where}{order} LIMIT ?)",
        (*params, limit),
    )
    return int(cursor.rowcount)


def sqlite_prune_sent_outbox(conn: sqlite3.Connection, sent_before_s: float, limit: int) -> int:
    """At most ``limit`` outbox events confirmed before ``sent_before_s``, oldest first; pending ones stay."""
    return sqlite_delete_batch(conn, "outbox", "sent_at < ?", (sent_before_s,), limit, order_by="seq")
