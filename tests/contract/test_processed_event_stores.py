"""Every consumer store's applied-event log (``processed_events``) is pruned by its worker's retention, on
SQLite, mongomock and a real MongoDB (CDRSTATS_TEST_MONGODB_URI): reporting, alerting and notify.

Old ids go in bounded batches, oldest first; young ones stay and still stop a redelivery; 0 days keeps
everything; the prune has an index to read. A pruned id is forgotten - the store alone would apply its
event again - which is why the workers refuse events older than the retention (consumer.check_fresh).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.retention import AlertingRetention
from cdrstats_alerting.store import open_store as open_alerting
from cdrstats_common.cdr import new_cdr
from cdrstats_common.retention import Pruner
from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.retention import NotifyRetention
from cdrstats_notify.store import open_store as open_notify
from cdrstats_reporting.retention import ReportingRetention
from cdrstats_reporting.store import open_store as open_reporting

DAY_S = 86_400.0
SERVICES = ["reporting", "alerting", "notify"]


def cdr(event_id: str) -> dict[str, Any]:
    start = int(time.time() * 1_000_000) - 60_000_000
    return new_cdr(
        id=f"cdr-{event_id}", uuid=f"uuid-{event_id}", switch_id="sw1", source="api", direction="outbound",
        destination_number="+441632960001", destination_e164="+441632960001", country="GB",
        start_time_us=start, end_time_us=start + 1_000_000, disposition="NO_ANSWER",
    )  # fmt: skip


def mail(event_id: str) -> Delivery:
    return Delivery(
        owner="", channel="email", recipient=f"{event_id}@example.com", kind="alarm_triggered",
        reference=event_id, subject="ALARM", text="text", html="<p>html</p>",
    )  # fmt: skip


@dataclasses.dataclass
class Consumer:
    """One service's store, its idempotent apply, and its worker's pruner."""

    store: Any
    apply: Callable[[str], bool]  # True: applied now; False: a duplicate
    pruner: Callable[..., Pruner]  # (days, **Pruner options)

    @property
    def sqlite(self) -> sqlite3.Connection | None:
        return getattr(self.store, "conn", None)

    @property
    def collection(self) -> Any:
        return (getattr(self.store, "db", None) or self.store._db)["processed_events"]

    def age(self, event_id: str, processed_at: float) -> None:
        """Date the id's record back, as if its event had been applied then."""
        if self.sqlite is not None:
            self.sqlite.execute(
                "UPDATE processed_events SET processed_at = ? WHERE event_id = ?", (processed_at, event_id)
            )
        else:
            self.collection.update_one({"_id": event_id}, {"$set": {"processed_at": processed_at}})

    def ids(self) -> list[str]:
        if self.sqlite is not None:
            return [row[0] for row in self.sqlite.execute("SELECT event_id FROM processed_events ORDER BY event_id")]
        return sorted(doc["_id"] for doc in self.collection.find({}, {"_id": 1}))


def consumer_for(service: str, store: Any) -> Consumer:
    if service == "reporting":
        return Consumer(
            store,
            lambda event_id: store.apply_batch(event_id, [cdr(event_id)]),
            lambda days, **options: ReportingRetention(store, processed_days=days, **options),
        )
    if service == "alerting":
        matcher = DestinationsService(store).matcher()
        return Consumer(
            store,
            lambda event_id: bool(store.apply_cdrs_event(event_id, [cdr(event_id)], matcher)),
            lambda days, **options: AlertingRetention(
                store, hit_days=0, evaluation_days=0, processed_days=days, **options
            ),
        )
    return Consumer(
        store,
        lambda event_id: store.enqueue([mail(event_id)], event_id=event_id) is not None,
        lambda days, **options: NotifyRetention(store, delivery_days=0, processed_days=days, **options),
    )


def open_sqlite(service: str, tmp_path: pathlib.Path) -> Any:
    opener = {"reporting": open_reporting, "alerting": open_alerting, "notify": open_notify}[service]
    return opener(f"sqlite:///{tmp_path}/{service}.db")


def open_mongo(service: str, database: Any) -> Any:
    if service == "reporting":
        from cdrstats_reporting.store.mongo import MongoRollupStore

        return MongoRollupStore(database)
    if service == "alerting":
        from cdrstats_alerting.store.mongo import MongoAlertingStore

        return MongoAlertingStore(database)
    from cdrstats_notify.store.mongo import MongoNotifyStore

    return MongoNotifyStore(database)


@pytest.fixture(params=[(s, b) for s in SERVICES for b in ("sqlite", "mongomock", "mongodb")], ids="-".join)
def consumer(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Consumer]:
    service, backend = request.param
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            store = open_sqlite(service, tmp_path)
        elif backend == "mongomock":
            patch_mongomock_bulk_write(monkeypatch)
            store = open_mongo(service, mongomock.MongoClient()[f"cdrstats_{service}_test"])
        else:
            if not os.environ.get(MONGODB_URI_VARIABLE):
                pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
            store = open_mongo(service, stack.enter_context(real_mongodb_database(f"cdrstats_{service}_test")))
        yield consumer_for(service, store)
        store.close()


def test_old_ids_go_oldest_first_in_bounded_batches_and_young_ones_still_stop_a_redelivery(
    consumer: Consumer,
) -> None:
    now = time.time()
    for n in range(5):
        assert consumer.apply(f"old-{n}")
        consumer.age(f"old-{n}", now - (36 + n) * DAY_S)  # applied in the other order than their age
    assert consumer.apply("young")
    consumer.age("young", now - 29 * DAY_S)

    pauses: list[float] = []
    first = consumer.pruner(30, clock=lambda: now, batch=2, sleep=pauses.append)
    days, delete = next((days, delete) for name, days, delete in first.logs() if name == "processed_events")
    assert days == 30
    assert delete(int((now - 30 * DAY_S) * 1_000_000), 3) == 3, "at most the batch"
    assert consumer.ids() == ["old-0", "old-1", "young"], "the oldest first: old-4, old-3, old-2"

    pruned = first.prune()
    assert pruned["processed_events"] == 2 and len(pauses) == 1, "a full batch of 2, a pause, an empty one"
    assert consumer.ids() == ["young"]
    assert not consumer.apply("young"), "a young id still stops its redelivery"
    assert consumer.apply("old-0"), "a pruned id is forgotten: only the freshness rule stops its event"


def test_zero_days_keeps_every_id(consumer: Consumer) -> None:
    assert consumer.apply("ancient")
    consumer.age("ancient", time.time() - 3650 * DAY_S)
    assert "processed_events" not in consumer.pruner(0).prune()
    assert consumer.ids() == ["ancient"] and not consumer.apply("ancient")


def test_the_prune_has_an_index_on_processed_at(consumer: Consumer) -> None:
    if consumer.sqlite is None:
        index = consumer.collection.index_information()["processed_at"]
        assert index["key"] == [("processed_at", 1)]
        return
    indexes = {row[1] for row in consumer.sqlite.execute("PRAGMA index_list(processed_events)")}
    assert "processed_events_at" in indexes
