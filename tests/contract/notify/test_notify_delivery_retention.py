"""Delivery-log retention, on SQLite, mongomock and a real MongoDB: sent and failed deliveries older than the
retention go in bounded batches, oldest first; pending ones (queued, retrying) and new ones stay; so do
deliveries whose notification_* event is not published yet (MongoDB keeps it inside the delivery). Sent
outbox events go after a day (SQLite; MongoDB pulls them when published)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, real_mongodb_database
from cdrstats_notify.domain.deliveries import Delivery, DeliveryFilter
from cdrstats_notify.retention import NotifyRetention
from cdrstats_notify.store import NotifyStore
from cdrstats_notify.store.sqlite import SqliteNotifyStore

DAY_US = 86_400_000_000
NOW_US = int(time.time() * 1_000_000)
OLD_US = NOW_US - 100 * DAY_US


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[NotifyStore]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            opened: NotifyStore = SqliteNotifyStore.open(f"sqlite:///{tmp_path}/notify.db")
        else:
            from cdrstats_notify.store.mongo import MongoNotifyStore

            database: Any
            if request.param == "mongomock":
                database = mongomock.MongoClient()["cdrstats_notify_test"]
            else:
                if not os.environ.get(MONGODB_URI_VARIABLE):
                    pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
                database = stack.enter_context(real_mongodb_database("cdrstats_notify_test"))
            opened = MongoNotifyStore(database)
        yield opened
        opened.close()


class Sink:
    """Where relayed events go: what is published is not what this tests (the broker tests do)."""

    def __init__(self) -> None:
        self.types: list[str] = []

    def publish(self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        body = json.loads(envelope) if isinstance(envelope, str) else envelope
        self.types.append(body["schema"])


def mail(recipient: str) -> Delivery:
    return Delivery(
        owner="", channel="email", recipient=recipient, kind="alarm_triggered", reference="ev-1", subject="ALARM",
        text="text", html="<p>html</p>",
    )  # fmt: skip


def queued(store: NotifyStore, recipient: str, created_us: int, outcome: str) -> str:
    """A delivery created at ``created_us`` and then sent, failed, retrying or left pending."""
    (delivery_id,) = store.enqueue([mail(recipient)], now_us=created_us) or []
    store.due(created_us, 100)
    if outcome == "sent":
        assert store.mark_sent(delivery_id, created_us + 1)
    elif outcome == "failed":
        assert store.mark_failed(delivery_id, created_us + 1, "550 no such user")
    elif outcome == "retrying":
        assert store.mark_retry(delivery_id, created_us + 1, NOW_US + 60_000_000, "timeout")
    return delivery_id


def recipients(store: NotifyStore) -> list[str]:
    return sorted(d.recipient for d in store.list_deliveries(DeliveryFilter(limit=1000)))


def test_old_sent_and_failed_deliveries_go_pending_and_new_ones_stay(store: NotifyStore) -> None:
    for i in range(4):
        queued(store, f"old-sent-{i}@example.com", OLD_US + i, "sent")
    queued(store, "old-failed@example.com", OLD_US + 10, "failed")
    queued(store, "old-retrying@example.com", OLD_US + 11, "retrying")
    queued(store, "old-queued@example.com", OLD_US + 12, "pending")
    queued(store, "new-sent@example.com", NOW_US, "sent")
    store.relay_outbox(Sink())  # every notification_* event is published

    cutoff = NOW_US - 90 * DAY_US
    assert store.prune_deliveries(cutoff, limit=2) == 2
    assert "old-sent-0@example.com" not in recipients(store), "oldest first"
    assert store.prune_deliveries(cutoff, limit=2) == 2
    assert store.prune_deliveries(cutoff, limit=2) == 1
    assert store.prune_deliveries(cutoff, limit=2) == 0
    assert recipients(store) == [
        "new-sent@example.com", "old-queued@example.com", "old-retrying@example.com",
    ]  # fmt: skip
    assert store.delivery_counts() == {"deliveries": 3, "pending": 2, "failed": 0}


def test_a_delivery_whose_event_is_not_published_yet_is_not_lost(store: NotifyStore) -> None:
    queued(store, "old@example.com", OLD_US, "sent")  # its notification_sent is still waiting for the relay
    store.prune_deliveries(NOW_US, limit=10)
    sink = Sink()
    store.relay_outbox(sink)
    assert sink.types == ["cdrstats.notification_sent.v1"], "the event is published all the same"
    store.prune_deliveries(NOW_US, limit=10)
    assert recipients(store) == []


def test_the_worker_prunes_by_the_retention_setting(store: NotifyStore) -> None:
    for i in range(5):
        queued(store, f"old-{i}@example.com", OLD_US + i, "sent")
    queued(store, "new@example.com", NOW_US - DAY_US, "failed")
    sink = Sink()
    store.relay_outbox(sink)
    assert len(sink.types) == 6
    pauses: list[float] = []

    def at(now_us: int, days: int) -> NotifyRetention:
        return NotifyRetention(store, delivery_days=days, clock=lambda: now_us / 1e6, sleep=pauses.append, batch=2)

    assert "deliveries" not in at(NOW_US, 0).prune() and len(recipients(store)) == 6  # 0: keep forever
    assert at(NOW_US, 90).prune()["deliveries"] == 5
    assert len(pauses) == 2, "batches of 2, 2 and 1: a pause after each full one"
    assert recipients(store) == ["new@example.com"]
    assert at(NOW_US + DAY_US, 1).prune()["deliveries"] == 1


def test_sent_outbox_events_go_after_a_day(store: NotifyStore) -> None:
    queued(store, "a@example.com", NOW_US, "sent")
    store.relay_outbox(Sink())
    queued(store, "b@example.com", NOW_US, "failed")  # its event is pending
    retention = NotifyRetention(store, delivery_days=90)
    conn = getattr(store, "conn", None)
    if conn is None:  # MongoDB: a published event is pulled from its delivery at once
        assert retention.prune()["outbox"] == 0 and store.outbox_pending() == 1
        return
    assert retention.prune()["outbox"] == 0, "sent a moment ago: kept for a day"
    conn.execute("UPDATE outbox SET sent_at = sent_at - 2 * 86400 WHERE sent_at IS NOT NULL")
    assert retention.prune()["outbox"] == 1
    assert store.outbox_pending() == 1 and conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
