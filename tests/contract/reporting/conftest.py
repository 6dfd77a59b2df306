"""The store fixture of the reporting contract suites: SQLite, MongoDB on mongomock, and a real MongoDB if given.

Set CDRSTATS_TEST_MONGODB_URI (e.g. mongodb://127.0.0.1:27017) to run the suites against a real server too.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Callable, Iterator

import mongomock
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database
from cdrstats_reporting.store import RollupStore, open_store
from cdrstats_reporting.store.mongo import MongoRollupStore

StoreFactory = Callable[..., RollupStore]


@pytest.fixture
def mongomock_bulk_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """mongomock with the bulk_write shim, for tests that build a MongoRollupStore themselves."""
    patch_mongomock_bulk_write(monkeypatch)


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
        patch_mongomock_bulk_write(monkeypatch)
        database = mongomock.MongoClient()["cdrstats_reporting_test"]

        def factory(time_zone: str = "UTC") -> RollupStore:
            store = MongoRollupStore(database, time_zone=time_zone)
            opened.append(store)
            return store

    else:
        if not os.environ.get(MONGODB_URI_VARIABLE):
            pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
        real = contextlib.ExitStack()
        cleanup.append(real.close)
        real_database = real.enter_context(real_mongodb_database("cdrstats_reporting_test"))

        def factory(time_zone: str = "UTC") -> RollupStore:
            store = MongoRollupStore(real_database, time_zone=time_zone)
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
