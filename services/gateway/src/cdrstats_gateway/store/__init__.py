"""Gateway storage: the GatewayStore protocol and its adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_gateway.store.base import GatewayStore


def open_store(url: str) -> GatewayStore:
    """``sqlite:///path/gateway.db`` or ``mongodb://host/db``; migrations run here."""
    if url.startswith("sqlite:///"):
        from cdrstats_gateway.store.sqlite import SqliteGatewayStore

        return SqliteGatewayStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from cdrstats_gateway.store.mongo import MongoGatewayStore

        return MongoGatewayStore.open(url)
    raise ValueError(f"unsupported store URL: {url!r} (expected sqlite:///path/gateway.db or mongodb://host/db)")


__all__ = ["GatewayStore", "open_store"]
