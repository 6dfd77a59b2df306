"""Roll-up storage: the RollupStore protocol, its SQLite and MongoDB adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_reporting.store.base import RollupStore, ZoneMismatch


def open_store(url: str, time_zone: str = "UTC", *, wipe: bool = False) -> RollupStore:
    """``sqlite:///path/reporting.db`` or ``mongodb://host/db``; migrations run here.

    Raises ZoneMismatch when the roll-ups were built for another reporting time zone;
    ``wipe`` (a rebuild) forgets every roll-up first and records ``time_zone``.
    """
    if url.startswith("sqlite:///"):
        from cdrstats_reporting.store.sqlite import SqliteRollupStore

        return SqliteRollupStore.open(url, time_zone, wipe=wipe)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_reporting.store.mongo import MongoRollupStore

        return MongoRollupStore.open(url, time_zone, wipe=wipe)
    raise ValueError(f"unsupported store URL: {url!r} (expected sqlite:///path or mongodb://host/db)")


__all__ = ["RollupStore", "ZoneMismatch", "open_store"]
