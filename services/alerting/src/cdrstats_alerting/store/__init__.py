"""Alerting's own store: the AlertingStore protocol, its SQLite and MongoDB adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_alerting.store.interface import AlertingStore


def open_store(url: str) -> AlertingStore:
    """``sqlite:///path/alerting.db`` or ``mongodb://host/db``; migrations run here."""
    if url.startswith("sqlite:///"):
        from cdrstats_alerting.store.sqlite import SqliteAlertingStore

        return SqliteAlertingStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_alerting.store.mongo import MongoAlertingStore

        return MongoAlertingStore.open(url)
    raise ValueError(f"unsupported alerting store URL {url!r} (expected sqlite:///path or mongodb://host/db)")


__all__ = ["AlertingStore", "open_store"]
