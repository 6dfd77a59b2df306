"""Shared fixtures of ingest's store contract suite: every test runs on SQLite, MongoDB on mongomock, and a
real MongoDB when CDRSTATS_TEST_MONGODB_URI is set (e.g. mongodb://127.0.0.1:27017; skipped otherwise).

Fixtures: ``store`` (a fresh store of each kind), ``store_factory`` (each call opens the same data again,
i.e. a restart), ``store_kind`` ("sqlite", "mongomock" or "mongodb"), ``outbox_events`` (a function giving
the queued event envelopes of a store, oldest first), ``capture_publisher`` (records what a relay sends) and
``make_publisher`` (its class, for one that fails after N events).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pymongo
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database
from cdrstats_ingest.store import CdrStore, open_store
from cdrstats_ingest.store.mongo import MongoCdrStore

StoreFactory = Callable[[], CdrStore]
KINDS = ["sqlite", "mongomock", "mongodb"]


def _mongomock_fast_unique_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """mongomock checks a unique index by running a query filter over every document for every insert (a
    2,500-CDR batch took 26 s). Same rule, compared as plain key tuples, for indexes on scalar fields
    without a partial filter; anything else goes to mongomock's own check."""
    original = mongomock.collection.Collection._ensure_uniques
    scalar = (str, int, float, bool, type(None))

    def ensure_uniques(self: Any, new_data: dict[str, Any]) -> None:
        for index in self._store.indexes.values():
            if not index.get("unique"):
                continue
            fields = [key for key, _ in index["key"]]
            if index.get("partialFilterExpression") is not None or any("." in field for field in fields):
                return original(self, new_data)
            values = tuple(new_data.get(field) for field in fields)
            if not all(isinstance(value, scalar) for value in values):
                return original(self, new_data)
            if index.get("sparse") and set(values) == {None}:
                continue
            last, last_value = fields[-1], values[-1]  # the most selective field of a compound key: test it first
            documents = self._store._documents.values()
            matches = sum(
                1 for doc in documents if doc.get(last) == last_value and tuple(map(doc.get, fields)) == values
            )
            if matches > 1:  # new_data is already in the store
                raise pymongo.errors.DuplicateKeyError("E11000 Duplicate Key Error", 11000)
        return None

    monkeypatch.setattr(mongomock.collection.Collection, "_ensure_uniques", ensure_uniques)


@pytest.fixture(params=KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind = str(request.param)
    if kind == "mongodb" and not os.environ.get(MONGODB_URI_VARIABLE):
        pytest.skip("CDRSTATS_TEST_MONGODB_URI not set: no real MongoDB server to test against")
    return kind


@pytest.fixture
def store_factory(store_kind: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreFactory]:
    """Opens a store on the same underlying data each call (a second call is a restart or a second replica)."""
    opened: list[CdrStore] = []
    cleanup: list[Callable[[], Any]] = []
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path}/ingest.db"

        def factory() -> CdrStore:
            store = open_store(url)
            opened.append(store)
            return store

    elif store_kind == "mongomock":
        patch_mongomock_bulk_write(monkeypatch)
        _mongomock_fast_unique_shim(monkeypatch)
        database = mongomock.MongoClient()["cdrstats_ingest_test"]

        def factory() -> CdrStore:
            store = MongoCdrStore(database)
            opened.append(store)
            return store

    else:
        real = contextlib.ExitStack()
        cleanup.append(real.close)
        real_database = real.enter_context(real_mongodb_database("cdrstats_ingest_test"))

        def factory() -> CdrStore:
            store = MongoCdrStore(real_database)
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()
    for fn in cleanup:
        fn()


@pytest.fixture
def store(store_factory: StoreFactory) -> CdrStore:
    return store_factory()


def queued_events(store: CdrStore) -> list[dict[str, Any]]:
    """Every outbox event of ``store`` (sent or not), oldest first, as the envelope the relay publishes."""
    if isinstance(store, MongoCdrStore):
        return [json.loads(doc["body"]) for doc in store.db["outbox"].find({"state": {"$ne": "staged"}}).sort("seq")]
    rows = store.conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()  # type: ignore[attr-defined]
    return [json.loads(row["body"]) for row in rows]


@pytest.fixture
def outbox_events() -> Callable[[CdrStore], list[dict[str, Any]]]:
    return queued_events


class CapturePublisher:
    """Stands in for the AMQP publisher (the broker is tested in integration): records (routing key, envelope)."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail_after = fail_after

    def publish(self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("broker went away")
        body = json.loads(envelope) if isinstance(envelope, str) else envelope
        self.sent.append((routing_key, body))


@pytest.fixture
def capture_publisher() -> CapturePublisher:
    return CapturePublisher()


@pytest.fixture
def make_publisher() -> type[CapturePublisher]:
    """``make_publisher(fail_after=2)``: a publisher whose broker fails after two confirmed events."""
    return CapturePublisher
