"""Gateway storage: the GatewayStore protocol and its adapters, chosen by URL."""

from __future__ import annotations

from cdrstats_gateway.store.base import GatewayStore


def open_store(url: str) -> GatewayStore:
    """``sqlite:///path/gateway.db``; migrations run here.

    The MongoDB adapter is not written yet (the gateway's tables are small; SQLite
    serves one gateway replica). Until it is, a mongodb:// URL is refused clearly.
    """
    if url.startswith("sqlite:///"):
        from cdrstats_gateway.store.sqlite import SqliteGatewayStore

        return SqliteGatewayStore.open(url)
    if url.startswith(("mongodb://", "mongodb+srv://")):
        raise ValueError(
            "the gateway has no MongoDB store adapter yet: set CDRSTATS_GATEWAY_STORE_URL to sqlite:///path/gateway.db"
        )
    raise ValueError(f"unsupported store URL: {url!r} (expected sqlite:///path/gateway.db)")


__all__ = ["GatewayStore", "open_store"]
