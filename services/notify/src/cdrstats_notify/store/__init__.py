"""Notify's own store (SQLite today; the MongoDB adapter comes with the notify issue)."""

from __future__ import annotations

from cdrstats_common import consumer, outbox
from cdrstats_common.settings import sqlite_path
from cdrstats_common.sqlite import SqliteStore, connect

SCHEMA = [*outbox.SCHEMA, *consumer.SCHEMA]


class NotifyStore(SqliteStore):
    """Only the worker heartbeat so far."""


def open_store(url: str) -> NotifyStore:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"unsupported notify store URL {url!r}: the MongoDB adapter comes with the notify issue")
    return NotifyStore(connect(sqlite_path(url)), SCHEMA)
