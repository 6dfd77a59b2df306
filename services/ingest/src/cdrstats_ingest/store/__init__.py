"""Ingest's raw CDR store: a repository protocol with SQLite and MongoDB adapters."""

from __future__ import annotations

from cdrstats_ingest.store.interface import CdrStore, StoredSwitch, SubmitOutcome


def open_store(url: str) -> CdrStore:
    """Pick the adapter by URL: ``sqlite:///path`` or ``mongodb://host/db``."""
    if url.startswith("sqlite:///"):
        from cdrstats_ingest.store.sqlite import SqliteCdrStore

        return SqliteCdrStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_ingest.store.mongo import MongoCdrStore

        return MongoCdrStore.open(url)
    raise ValueError(f"unsupported ingest store URL {url!r}: expected sqlite:///path or mongodb://host/database")


__all__ = ["CdrStore", "StoredSwitch", "SubmitOutcome", "open_store"]
