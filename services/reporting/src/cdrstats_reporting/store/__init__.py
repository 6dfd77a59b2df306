"""Roll-up storage: the RollupStore protocol, its SQLite and MongoDB adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_reporting.store.base import RollupStore


def open_store(url: str) -> RollupStore:
    """``sqlite:///path/reporting.db`` or ``mongodb://host/db``; migrations run here."""
    if url.startswith("sqlite:///"):
        from cdrstats_reporting.store.sqlite import SqliteRollupStore

        return SqliteRollupStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_reporting.store.mongo import MongoRollupStore

        return MongoRollupStore.open(url)
    raise ValueError(f"unsupported store URL: {url!r} (expected sqlite:///path or mongodb://host/db)")


__all__ = ["RollupStore", "open_store"]
