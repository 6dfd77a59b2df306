"""The store fixture of the reporting contract suites: SQLite, MongoDB on mongomock, and a real MongoDB if given.

Set CDRSTATS_TEST_MONGODB_URI (e.g. mongodb://127.0.0.1:27017) to run the suites against a real server too.
"""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pymongo
import pytest

from cdrstats_reporting.store import RollupStore, open_store
from cdrstats_reporting.store.mongo import MongoRollupStore

StoreFactory = Callable[..., RollupStore]


def mongomock_bulk_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """STACK.md pitfall 8: pymongo >= 4.11 passes ``sort`` to mongomock's bulk builder, which does not take it."""
    original = mongomock.collection.BulkOperationBuilder.add_update

    def add_update(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.BulkOperationBuilder, "add_update", add_update)


@pytest.fixture
def mongomock_bulk_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """mongomock with the bulk_write shim, for tests that build a MongoRollupStore themselves."""
    mongomock_bulk_shim(monkeypatch)


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreFactory]:
    """Opens a store on the same underlying data each call (a second call is a restart)."""
    opened: list[RollupStore] = []
    cleanup: list[Callable[[], None]] = []
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/reporting.db"

        def factory(time_zone: str = "UTC") -> RollupStore:
            store = open_store(url, time_zone)
            opened.append(store)
            return store

    elif request.param == "mongomock":
        mongomock_bulk_shim(monkeypatch)
        database = mongomock.MongoClient()["cdrstats_reporting_test"]

        def factory(time_zone: str = "UTC") -> RollupStore:
            store = MongoRollupStore(database, time_zone=time_zone)
            opened.append(store)
            return store

    else:
        uri = os.environ.get("CDRSTATS_TEST_MONGODB_URI")
        if not uri:
            pytest.skip("CDRSTATS_TEST_MONGODB_URI not set: no real MongoDB server to test against")
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        name = f"cdrstats_reporting_test_{uuid.uuid4().hex[:8]}"
        cleanup.append(lambda: (client.drop_database(name), client.close()))

        def factory(time_zone: str = "UTC") -> RollupStore:
            store = MongoRollupStore(client[name], time_zone=time_zone)
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()
    for fn in cleanup:
        fn()


@pytest.fixture
def store(store_factory: StoreFactory) -> RollupStore:
    return store_factory()
