"""MongoDB's outbox without transactions: staged events, crash recovery, and claims by two worker replicas.

Runs on mongomock and, when CDRSTATS_TEST_MONGODB_URI is set, on a real server (conftest fixtures).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.store.mongo import MongoCdrStore
from cdrstats_ingest.store.mongo_codec import cdr_to_doc

pytestmark = pytest.mark.parametrize("store_kind", ["mongomock", "mongodb"], indirect=True)
Publisher = Any  # conftest.CapturePublisher


def make_cdr(uuid: str, **overrides: Any) -> dict[str, Any]:
    return new_cdr(switch_id="sw1", source="api", uuid=uuid, start_time_us=1_700_000_000_000_000, **overrides)


def published_uuids(publisher: Publisher) -> list[str]:
    return [cdr["uuid"] for _, body in publisher.sent for cdr in body["data"].get("cdrs", [])]


def add_one_event_each(store: MongoCdrStore, count: int) -> None:
    for index in range(count):
        store.add_cdrs([make_cdr(f"u-{index}")])


def test_two_replicas_never_publish_the_same_event(
    store_factory: Callable[[], MongoCdrStore], make_publisher: Callable[[], Publisher]
) -> None:
    replica_a, replica_b = store_factory(), store_factory()
    add_one_event_each(replica_a, 5)
    claimed = replica_a.outbox.claim(2)  # replica A holds the two oldest while B runs a whole pass
    publisher_a, publisher_b = make_publisher(), make_publisher()
    assert replica_b.relay_outbox(publisher_b) == 3
    assert replica_a.outbox.publish_claimed(claimed, publisher_a) == 2
    assert published_uuids(publisher_a) == ["u-0", "u-1"]
    assert published_uuids(publisher_b) == ["u-2", "u-3", "u-4"]
    assert replica_a.outbox_pending() == 0 and replica_b.relay_outbox(publisher_b) == 0


def test_a_dead_replicas_claim_expires(
    store_factory: Callable[[], MongoCdrStore], make_publisher: Callable[[], Publisher]
) -> None:
    replica_a, replica_b = store_factory(), store_factory()
    add_one_event_each(replica_a, 3)
    claimed = replica_a.outbox.claim(2)
    assert len(claimed) == 2
    publisher = make_publisher()
    assert replica_b.relay_outbox(publisher) == 1  # A's lease still runs
    replica_a.outbox.coll.update_many({"lease_owner": claimed[0]["lease_owner"]}, {"$set": {"lease_until": 0.0}})
    assert replica_b.relay_outbox(publisher) == 2  # A died: its events go, in order
    assert published_uuids(publisher) == ["u-2", "u-0", "u-1"]


def test_a_claim_whose_lease_is_nearly_over_is_left_for_the_next_pass(
    store: MongoCdrStore, capture_publisher: Publisher
) -> None:
    add_one_event_each(store, 2)
    claimed = store.outbox.claim(10)
    for doc in claimed:
        doc["lease_until"] = time.time() + 1  # as if publishing had taken most of the lease
    assert store.outbox.publish_claimed(claimed, capture_publisher) == 0
    assert store.relay_outbox(capture_publisher) == 2  # released at once, not after the lease
    assert published_uuids(capture_publisher) == ["u-0", "u-1"]


def test_a_writer_that_died_after_storing_cdrs_still_gets_their_event_out(
    store: MongoCdrStore, capture_publisher: Publisher
) -> None:
    cdrs = [{**make_cdr(f"u-{i}"), "id": f"01TESTCDR{i}"} for i in range(3)]
    store.outbox.stage("cdrs_ingested", [{"cdrs": cdrs}])
    store.cdrs.insert_many([cdr_to_doc(cdr) for cdr in cdrs[:2]])  # the third never made it; then the crash
    assert store.relay_outbox(capture_publisher) == 0  # a live writer may still be between insert and release
    assert store.outbox_pending() == 1
    store.outbox.stage_timeout_s = 0.0
    assert store.relay_outbox(capture_publisher) == 1
    assert published_uuids(capture_publisher) == ["u-0", "u-1"]  # exactly what was stored
    assert store.outbox_pending() == 0


def test_a_writer_that_died_before_storing_leaves_no_event(store: MongoCdrStore, capture_publisher: Publisher) -> None:
    store.outbox.stage("cdrs_ingested", [{"cdrs": [{**make_cdr("u-0"), "id": "01TESTCDR0"}]}])
    store.outbox.stage_timeout_s = 0.0
    assert store.relay_outbox(capture_publisher) == 0
    assert store.outbox_pending() == 0 and capture_publisher.sent == []


def test_losing_an_insert_race_is_a_duplicate_with_the_winners_id(
    store: MongoCdrStore, capture_publisher: Publisher
) -> None:
    store.cdrs.insert_one(cdr_to_doc({**make_cdr("u-2"), "id": "01WINNER"}))  # another api replica got there first
    outcome = store.add_cdrs([make_cdr("u-1"), make_cdr("u-2"), make_cdr("u-3"), make_cdr("u-2")])
    assert outcome.statuses == ["accepted", "duplicate", "accepted", "duplicate"]
    assert outcome.ids[1] == outcome.ids[3] == "01WINNER"
    assert outcome.events == 1
    store.relay_outbox(capture_publisher)
    assert published_uuids(capture_publisher) == ["u-1", "u-3"]


def test_a_whole_batch_of_duplicates_queues_no_event(store: MongoCdrStore) -> None:
    store.add_cdrs([make_cdr(f"u-{i}") for i in range(1001)])
    again = store.add_cdrs([make_cdr(f"u-{i}") for i in range(1001)])
    assert again.duplicates == 1001 and again.events == 0
    assert store.outbox_pending() == 2 and store.outbox.coll.count_documents({"state": "staged"}) == 0


def test_a_writer_stalled_past_recovery_queues_its_cdrs_again(
    store: MongoCdrStore, capture_publisher: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = store.outbox.release

    def recovery_runs_first(seqs: list[str]) -> bool:
        store.outbox.stage_timeout_s = 0.0
        store.outbox.recover_staged(store.cdrs)
        store.outbox.coll.delete_many({"state": "pending"})  # the worst case: recovery saw none of the CDRs
        return release(seqs)

    monkeypatch.setattr(store.outbox, "release", recovery_runs_first)
    outcome = store.add_cdrs([make_cdr("u-1"), make_cdr("u-2")])
    store.relay_outbox(capture_publisher)
    assert published_uuids(capture_publisher) == ["u-1", "u-2"]
    assert [cdr["id"] for _, body in capture_publisher.sent for cdr in body["data"]["cdrs"]] == outcome.ids


class _FailHalfWay:
    """The cdrs collection, except that an insert stores the first half of a batch and then loses the server."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    def insert_many(self, docs: list[dict[str, Any]], ordered: bool = True) -> None:
        self._collection.insert_many(docs[: len(docs) // 2], ordered=ordered)
        raise AutoReconnect("connection closed")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


def test_a_batch_that_fails_half_way_is_undone(store: MongoCdrStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "cdrs", _FailHalfWay(store.cdrs))
    with pytest.raises(AutoReconnect):
        store.add_cdrs([make_cdr(f"u-{i}") for i in range(10)])
    assert store.cdr_count() == 0 and store.outbox_pending() == 0
