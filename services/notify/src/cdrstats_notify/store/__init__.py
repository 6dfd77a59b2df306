"""Notify's own store: the NotifyStore protocol, its SQLite and MongoDB adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_notify.store.interface import NotifyStore


def open_store(url: str) -> NotifyStore:
    """``sqlite:///path/notify.db`` or ``mongodb://host/db``; migrations run here."""
    if url.startswith("sqlite:///"):
        from cdrstats_notify.store.sqlite import SqliteNotifyStore

        return SqliteNotifyStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_notify.store.mongo import MongoNotifyStore

        return MongoNotifyStore.open(url)
    raise ValueError(f"unsupported notify store URL {url!r} (expected sqlite:///path or mongodb://host/db)")


__all__ = ["NotifyStore", "open_store"]
