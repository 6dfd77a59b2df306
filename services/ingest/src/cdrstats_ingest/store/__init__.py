"""Ingest's raw CDR store: a repository protocol with SQLite and MongoDB adapters."""

from __future__ import annotations

from cdrstats_ingest.store.interface import CdrStore, StoredSwitch, SubmitOutcome


def open_store(url: str) -> CdrStore:
    """Pick the adapter by URL: ``sqlite:///path`` or ``mongodb://host/db``."""
    if url.startswith("sqlite:///"):
        from cdrstats_ingest.store.sqlite import SqliteCdrStore

        return SqliteCdrStore.open(url)
    raise ValueError(f"unsupported ingest store URL {url!r}: the MongoDB adapter lands with the ingest issue")


__all__ = ["CdrStore", "StoredSwitch", "SubmitOutcome", "open_store"]
