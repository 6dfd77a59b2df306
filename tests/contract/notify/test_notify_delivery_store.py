"""The DeliveryStore contract: queueing (once per event, coalescing), claiming with a lease, outcomes with
their notification_* events (valid against docs/events.md), the delivery log with exact paging, contacts.

Runs on SQLite, on MongoDB through mongomock, and on a real MongoDB when CDRSTATS_TEST_MONGODB_URI is set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import mongomock
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, real_mongodb_database
from cdrstats_notify.domain.deliveries import Contacts, Delivery, DeliveryFilter
from cdrstats_notify.store import NotifyStore
from cdrstats_notify.store.sqlite import SqliteNotifyStore

T0 = 1_764_140_400_000_000
MIN = 60_000_000
LEASE = 10 * MIN
WINDOW = 5 * MIN
DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "events.md"
StoreFactory = Callable[[], NotifyStore]


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(store_kind: str, tmp_path: pathlib.Path) -> Iterator[StoreFactory]:
    """Each call opens the same data again (a restart, or the api next to the worker)."""
    opened: list[NotifyStore] = []
    stack = contextlib.ExitStack()
    if store_kind == "sqlite":

        def factory() -> NotifyStore:
            opened.append(SqliteNotifyStore.open(f"sqlite:///{tmp_path}/notify.db"))
            return opened[-1]

    else:
        from cdrstats_notify.store.mongo import MongoNotifyStore

        if store_kind == "mongomock":
            database = mongomock.MongoClient()["cdrstats_notify_test"]
        else:
            if not os.environ.get(MONGODB_URI_VARIABLE):
                pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
            database = stack.enter_context(real_mongodb_database("cdrstats_notify_test"))

        def factory() -> NotifyStore:
            opened.append(MongoNotifyStore(database))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()
    stack.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> NotifyStore:
    return store_factory()


class Capture:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        self.sent.append((routing_key, json.loads(envelope) if isinstance(envelope, str) else envelope))


def relayed(store: NotifyStore) -> list[tuple[str, dict[str, Any]]]:
    capture = Capture()
    store.relay_outbox(capture)
    return capture.sent


def validate(envelope: dict[str, Any]) -> None:
    blocks = dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", DOC.read_text(), flags=re.S))
    schema = json.loads(blocks[envelope["schema"]])
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(envelope)


def mail(recipient: str = "noc@example.com", **overrides: Any) -> Delivery:
    values: dict[str, Any] = {
        "owner": "",
        "channel": "email",
        "recipient": recipient,
        "kind": "alarm_triggered",
        "reference": "ev-1",
        "subject": "ALARM",
        "text": "text body",
        "html": "<p>html body</p>",
    }
    values.update(overrides)
    return Delivery(**values)


def grouped(recipient: str = "noc@example.com", hit: str = "h1", **overrides: Any) -> Delivery:
    values: dict[str, Any] = {"kind": "destination_alert", "group": "destination::r1", "context": {"hits": [hit]}}
    values.update(overrides)
    return mail(recipient, subject=f"1 call ({hit})", **values)


def merge(unsent: Delivery, new: Delivery) -> Delivery:
    hits = [*unsent.context["hits"], *new.context["hits"]]
    return dataclasses.replace(unsent, subject=f"{len(hits)} calls", context={"hits": hits}, events=len(hits))


# -- queueing and claiming --------------------------------------------------------------------------


def test_enqueued_deliveries_round_trip_and_are_due_now(store: NotifyStore) -> None:
    hook = mail("https://hooks.example.com/a?b=1", channel="webhook", text="", html="", payload={"kind": "x", "n": [1]})
    ids = store.enqueue([mail(trace={"traceparent": "00-abc-def-01"}), hook], now_us=T0)
    assert ids is not None and len(set(ids)) == 2
    first = store.get_delivery(ids[0])
    assert first is not None
    assert (first.status, first.attempts, first.created_us, first.scheduled_us, first.next_attempt_us) == (
        "pending", 0, T0, T0, T0,
    )  # fmt: skip
    assert (first.subject, first.text, first.html, first.trace) == (
        "ALARM", "text body", "<p>html body</p>", {"traceparent": "00-abc-def-01"},
    )  # fmt: skip
    second = store.get_delivery(ids[1])
    assert second is not None and second.payload == {"kind": "x", "n": [1]} and second.channel == "webhook"
    assert store.due(T0 - 1, 10) == []
    assert [d.id for d in store.due(T0, 10, lease_us=LEASE)] == ids
    assert store.get_delivery("nope") is None


def test_a_claimed_delivery_is_not_handed_out_again_until_its_lease_ends(store: NotifyStore) -> None:
    (delivery_id,) = store.enqueue([mail()], now_us=T0) or []
    assert len(store.due(T0, 10, lease_us=LEASE)) == 1
    assert store.due(T0 + 1, 10, lease_us=LEASE) == []
    assert store.claim(delivery_id, T0 + 1, lease_us=LEASE) is None
    again = store.due(T0 + LEASE, 10, lease_us=LEASE)  # the sender died: someone else takes it
    assert [d.id for d in again] == [delivery_id]


def test_due_takes_the_oldest_first_up_to_the_limit(store: NotifyStore) -> None:
    ids = [store.enqueue([mail(f"r{i}@example.com")], now_us=T0 + i) or [] for i in range(5)]
    assert [d.id for d in store.due(T0 + 10, 3)] == [ids[0][0], ids[1][0], ids[2][0]]
    assert [d.id for d in store.due(T0 + 10, 3)] == [ids[3][0], ids[4][0]]


def test_claim_one_delivery(store: NotifyStore) -> None:
    (delivery_id,) = store.enqueue([mail()], now_us=T0) or []
    claimed = store.claim(delivery_id, T0, lease_us=LEASE)
    assert claimed is not None and claimed.id == delivery_id
    assert store.due(T0, 10) == []
    assert store.claim("unknown", T0) is None


# -- outcomes and their events -----------------------------------------------------------------------


def test_sent_is_final_and_queues_notification_sent(store: NotifyStore) -> None:
    (delivery_id,) = store.enqueue([mail(owner="customer:7")], now_us=T0) or []
    store.due(T0, 10)
    done = store.mark_sent(delivery_id, T0 + 5)
    assert done is not None and (done.status, done.attempts, done.sent_us) == ("sent", 1, T0 + 5)
    assert store.mark_sent(delivery_id, T0 + 6) is None  # not pending any more
    assert store.mark_failed(delivery_id, T0 + 6, "x") is None
    ((routing_key, envelope),) = relayed(store)
    assert routing_key == "notification_sent"
    validate(envelope)
    assert envelope["source"] == "notify"
    assert envelope["data"] == {
        "delivery_id": delivery_id,
        "owner": "customer:7",
        "channel": "email",
        "recipient": "noc@example.com",
        "kind": "alarm_triggered",
        "reference": "ev-1",
        "subject": "ALARM",
        "attempts": 1,
    }
    assert relayed(store) == []  # relayed once


def test_a_retry_waits_and_a_failure_is_final(store: NotifyStore) -> None:
    (delivery_id,) = store.enqueue([mail()], now_us=T0) or []
    store.due(T0, 10)
    retry = store.mark_retry(delivery_id, T0 + 1, T0 + MIN, "HTTP 503 Service Unavailable")
    assert retry is not None and (retry.status, retry.attempts, retry.next_attempt_us) == ("pending", 1, T0 + MIN)
    assert retry.last_error == "HTTP 503 Service Unavailable"
    assert store.due(T0 + MIN - 1, 10) == []  # its lease was released, but it is not due yet
    assert [d.attempts for d in store.due(T0 + MIN, 10)] == [1]
    failed = store.mark_failed(delivery_id, T0 + MIN + 1, "gave up after 2 attempts: HTTP 503")
    assert failed is not None and (failed.status, failed.attempts) == ("failed", 2)
    assert store.due(T0 + 100 * MIN, 10) == []
    events = relayed(store)
    assert [key for key, _ in events] == ["notification_failed", "notification_failed"]
    for _, envelope in events:
        validate(envelope)
    first, last = (envelope["data"] for _, envelope in events)
    assert (first["final"], first["next_attempt_us"], first["attempts"]) == (False, T0 + MIN, 1)
    assert (last["final"], last["next_attempt_us"], last["attempts"]) == (True, 0, 2)
    assert last["error"] == "gave up after 2 attempts: HTTP 503"


def test_counts(store: NotifyStore) -> None:
    ids = store.enqueue([mail("a@example.com"), mail("b@example.com"), mail("c@example.com")], now_us=T0) or []
    store.due(T0, 10)
    store.mark_sent(ids[0], T0)
    store.mark_failed(ids[1], T0, "550")
    assert store.delivery_counts() == {"deliveries": 3, "pending": 1, "failed": 1}


# -- once per event -----------------------------------------------------------------------------------


def test_an_event_queues_once_even_after_a_restart(store_factory: StoreFactory) -> None:
    store = store_factory()
    first = store.enqueue([mail("a@example.com"), mail("b@example.com")], event_id="ev-1", now_us=T0)
    assert first is not None and len(first) == 2
    assert store.enqueue([mail("a@example.com")], event_id="ev-1", now_us=T0 + 1) is None
    assert store_factory().enqueue([mail("a@example.com")], event_id="ev-1", now_us=T0 + 2) is None
    assert store.enqueue([], event_id="ev-2", now_us=T0) == []  # no recipients: still recorded
    assert store.enqueue([mail()], event_id="ev-2", now_us=T0) is None
    assert store.delivery_counts()["deliveries"] == 2


def test_a_failing_batch_queues_nothing_on_sqlite(store: NotifyStore, store_kind: str) -> None:
    if store_kind != "sqlite":
        pytest.skip("MongoDB has no multi-document transaction here: redelivery repairs it (docs/notify.md)")

    def broken(unsent: Delivery, new: Delivery) -> Delivery:
        raise RuntimeError("render failed")

    store.enqueue([grouped("b@example.com")], now_us=T0, merge=merge, window_us=WINDOW)
    batch = [mail("a@example.com"), grouped("b@example.com")]
    with pytest.raises(RuntimeError):
        store.enqueue(batch, event_id="ev-9", now_us=T0, merge=broken, window_us=WINDOW)
    assert store.delivery_counts()["deliveries"] == 1
    assert store.enqueue(batch, event_id="ev-9", now_us=T0, merge=merge, window_us=WINDOW) is not None


# -- coalescing ---------------------------------------------------------------------------------------


def test_unsent_grouped_deliveries_merge_per_recipient(store: NotifyStore) -> None:
    (a1,) = store.enqueue([grouped("a@example.com", "h1")], now_us=T0, merge=merge, window_us=WINDOW) or []
    ids = store.enqueue(
        [grouped("a@example.com", "h2"), grouped("b@example.com", "h2")], now_us=T0 + 1, merge=merge, window_us=WINDOW
    )
    assert ids is not None and ids[0] == a1 and ids[1] != a1
    merged = store.get_delivery(a1)
    assert merged is not None
    assert (merged.subject, merged.context, merged.events) == ("2 calls", {"hits": ["h1", "h2"]}, 2)
    assert merged.scheduled_us == T0  # still due when it was
    other_group = store.enqueue([grouped("a@example.com", "h3", group="destination::r2")], now_us=T0 + 2, merge=merge)
    assert other_group is not None and other_group[0] not in (a1, ids[1])
    assert store.delivery_counts()["deliveries"] == 3


def test_after_a_send_later_hits_wait_for_the_window_and_gather(store: NotifyStore) -> None:
    (first,) = store.enqueue([grouped(hit="h1")], now_us=T0, merge=merge, window_us=WINDOW) or []
    store.due(T0, 10)
    in_flight = store.enqueue([grouped(hit="h2")], now_us=T0 + 1, merge=merge, window_us=WINDOW) or []
    assert in_flight[0] != first  # being sent: not merged into
    follow_up = store.get_delivery(in_flight[0])
    assert follow_up is not None and follow_up.next_attempt_us == T0 + WINDOW and follow_up.scheduled_us == T0 + WINDOW
    store.mark_sent(first, T0 + 2)
    later = store.enqueue([grouped(hit="h3")], now_us=T0 + 2 * MIN, merge=merge, window_us=WINDOW) or []
    assert later == in_flight  # gathered into the follow-up
    assert store.due(T0 + WINDOW - 1, 10) == []
    (digest,) = store.due(T0 + WINDOW, 10)
    assert digest.context == {"hits": ["h2", "h3"]} and digest.events == 2
    store.mark_sent(digest.id, T0 + WINDOW)
    quiet = store.enqueue([grouped(hit="h4")], now_us=T0 + 2 * WINDOW, merge=merge, window_us=WINDOW) or []
    fresh = store.get_delivery(quiet[0])
    assert fresh is not None and fresh.next_attempt_us == T0 + 2 * WINDOW  # a quiet window: due at once


def test_a_failing_grouped_delivery_is_not_merged_into(store: NotifyStore) -> None:
    (first,) = store.enqueue([grouped(hit="h1")], now_us=T0, merge=merge, window_us=WINDOW) or []
    store.due(T0, 10)
    store.mark_retry(first, T0 + 1, T0 + MIN, "HTTP 500")
    (second,) = store.enqueue([grouped(hit="h2")], now_us=T0 + 2, merge=merge, window_us=WINDOW) or []
    assert second != first
    follow_up = store.get_delivery(second)
    assert follow_up is not None and follow_up.next_attempt_us == T0 + WINDOW


# -- the log ----------------------------------------------------------------------------------------


def test_the_log_pages_exactly_newest_first_with_scoping_and_filters(store: NotifyStore) -> None:
    owners = ["", "customer:1", "customer:2"]
    ids = []
    for index in range(30):  # many in the same microsecond: creation times are still unique
        batch = [
            mail(f"r{index}@example.com", owner=owners[index % 3], kind="test" if index % 5 == 0 else "alarm_triggered")
        ]
        ids.extend(store.enqueue(batch, now_us=T0) or [])
    pages, before = [], 0
    while True:
        page = store.list_deliveries(DeliveryFilter(before_us=before, limit=7))
        pages.append([d.id for d in page])
        if len(page) < 7:
            break
        before = page[-1].created_us
    assert [i for page in pages for i in page] == ids[::-1]
    mine = store.list_deliveries(DeliveryFilter(owner="customer:1", limit=100))
    assert [d.id for d in mine] == [ids[i] for i in range(30) if i % 3 == 1][::-1]
    installation = store.list_deliveries(DeliveryFilter(owner="", limit=100))
    assert {d.owner for d in installation} == {""} and len(installation) == 10
    tests = store.list_deliveries(DeliveryFilter(kind="test", channel="email", status="pending", limit=100))
    assert len(tests) == 6
    assert store.list_deliveries(DeliveryFilter(status="sent", limit=100)) == []


def test_contacts_round_trip(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.get_contacts("customer:1") == Contacts("customer:1")
    saved = Contacts("customer:1", ("a@example.com",), ("https://h.example.com/x",))
    assert store.save_contacts(saved) == saved
    store.save_contacts(Contacts("", ("admin@example.com",)))
    assert store_factory().get_contacts("customer:1") == saved
    store.save_contacts(Contacts("customer:1", (), ()))
    assert store.get_contacts("customer:1") == Contacts("customer:1")
    assert store.get_contacts("").emails == ("admin@example.com",)


def test_a_half_done_event_is_redone_without_doubles_on_mongodb(store: NotifyStore, store_kind: str) -> None:
    """MongoDB records the event id last: a crash before it means the event comes again; the redo finds
    the deliveries and merges of the first run by their keys."""
    if store_kind == "sqlite":
        pytest.skip("SQLite commits the event id with the deliveries (one transaction)")
    store.enqueue([grouped("a@example.com", "h0")], now_us=T0, merge=merge, window_us=WINDOW)
    batch = [mail("b@example.com"), grouped("a@example.com", "h1")]
    first = store.enqueue(batch, event_id="ev-5", now_us=T0, merge=merge, window_us=WINDOW)
    store.db["processed_events"].delete_one({"_id": "ev-5"})  # type: ignore[attr-defined]  # the crash
    assert store.enqueue(batch, event_id="ev-5", now_us=T0 + 1, merge=merge, window_us=WINDOW) == first
    assert store.enqueue(batch, event_id="ev-5", now_us=T0 + 2, merge=merge, window_us=WINDOW) is None
    assert store.delivery_counts()["deliveries"] == 2
    assert first is not None
    merged = store.get_delivery(first[1])
    assert merged is not None and merged.context == {"hits": ["h0", "h1"]}
