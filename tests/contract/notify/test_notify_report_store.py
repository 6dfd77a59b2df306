"""The MailReportStore contract: schedules per owner, and a claim that records the period as sent and queues
its e-mails atomically, once, across restarts and concurrent workers.

Runs on SQLite, on MongoDB through mongomock, and on a real MongoDB when CDRSTATS_TEST_MONGODB_URI is set.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import mongomock
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database
from cdrstats_notify.domain.deliveries import Delivery, DeliveryFilter
from cdrstats_notify.domain.mail_report import Schedule
from cdrstats_notify.store import NotifyStore
from cdrstats_notify.store.sqlite import SqliteNotifyStore

StoreFactory = Callable[[], NotifyStore]
NOW_US = 1_764_140_400_000_000


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store_factory(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StoreFactory]:
    """Each call opens the same data again: a restart, or a second worker process."""
    opened: list[NotifyStore] = []
    stack = contextlib.ExitStack()
    if request.param == "sqlite":

        def factory() -> NotifyStore:
            store = SqliteNotifyStore.open(f"sqlite:///{tmp_path}/notify.db")
            opened.append(store)
            return store

    else:
        mongo = pytest.importorskip("cdrstats_notify.store.mongo", reason="notify's MongoDB adapter is not there")
        if request.param == "mongomock":
            patch_mongomock_bulk_write(monkeypatch)
            database = mongomock.MongoClient()["cdrstats_notify_test"]
        else:
            if not os.environ.get(MONGODB_URI_VARIABLE):
                pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
            database = stack.enter_context(real_mongodb_database("cdrstats_notify_test"))

        def factory() -> NotifyStore:
            store: NotifyStore = mongo.MongoNotifyStore(database)
            opened.append(store)
            return store

    yield factory
    for store in opened:
        store.close()
    stack.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> NotifyStore:
    return store_factory()


def report_mail(recipient: str, period: str, owner: str = "") -> Delivery:
    return Delivery(
        owner=owner,
        channel="email",
        recipient=recipient,
        kind="mail_report",
        reference=f"{owner}:daily:{period}",
        subject=f"Daily report {period}",
        text=f"text {period}",
        html=f"<p>html {period}</p>",
    )


def queued(store: NotifyStore) -> list[Delivery]:
    return sorted(store.list_deliveries(DeliveryFilter(kind="mail_report", limit=1000)), key=lambda d: d.created_us)


def test_schedules_round_trip_and_list_only_enabled_ones(store: NotifyStore) -> None:
    assert store.get_mail_report("") is None
    admin = Schedule("", daily=True, hour=6, weekday=3, recipients=("a@example.com",), daily_since_us=5)
    saved = store.save_mail_report(admin)
    assert saved == admin and store.get_mail_report("") == admin
    tenant = Schedule("customer:7", weekly=True, weekday=7, switch_id="sw1", recipients=("t@example.com",))
    store.save_mail_report(tenant)
    store.save_mail_report(Schedule("customer:8", recipients=("off@example.com",)))  # nothing switched on
    assert store.list_mail_reports() == [admin, tenant]

    changed = Schedule("", daily=False, weekly=True, hour=23, recipients=("b@example.com", "c@example.com"))
    assert store.save_mail_report(changed) == changed
    assert [s.owner for s in store.list_mail_reports()] == ["", "customer:7"]


def test_a_claim_records_the_period_and_queues_its_mails_once(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.save_mail_report(Schedule("", daily=True, weekly=True, recipients=("a@example.com", "b@example.com")))
    mails = [report_mail("a@example.com", "2025-11-25"), report_mail("b@example.com", "2025-11-25")]
    ids = store.claim_report_period("", "daily", "2025-11-25", mails, NOW_US)
    assert ids is not None and len(ids) == 2 and len(set(ids)) == 2
    assert [(d.id, d.recipient, d.reference, d.subject, d.text, d.html, d.status) for d in queued(store)] == [
        (ids[0], "a@example.com", ":daily:2025-11-25", "Daily report 2025-11-25", "text 2025-11-25",
         "<p>html 2025-11-25</p>", "pending"),
        (ids[1], "b@example.com", ":daily:2025-11-25", "Daily report 2025-11-25", "text 2025-11-25",
         "<p>html 2025-11-25</p>", "pending"),
    ]  # fmt: skip
    schedule = store.get_mail_report("")
    assert schedule is not None and (schedule.last_daily_period, schedule.last_weekly_period) == ("2025-11-25", "")

    assert store.claim_report_period("", "daily", "2025-11-25", mails, NOW_US) is None  # again: nothing
    assert store.claim_report_period("", "daily", "2025-11-24", mails, NOW_US) is None  # older: nothing
    restarted = store_factory()
    assert restarted.claim_report_period("", "daily", "2025-11-25", mails, NOW_US) is None
    assert len(queued(restarted)) == 2

    # saving new settings keeps the watermark
    restarted.save_mail_report(Schedule("", daily=True, hour=9, recipients=("a@example.com",)))
    assert restarted.get_mail_report("").last_daily_period == "2025-11-25"  # type: ignore[union-attr]

    # the weekly watermark is its own; a newer day goes out
    week = restarted.claim_report_period("", "weekly", "2025-W47", [report_mail("a@example.com", "W47")], NOW_US)
    assert week is not None and len(week) == 1
    nxt = restarted.claim_report_period("", "daily", "2025-11-26", [report_mail("a@example.com", "26")], NOW_US)
    assert nxt is not None and len(queued(restarted)) == 4
    final = restarted.get_mail_report("")
    assert final is not None and (final.last_daily_period, final.last_weekly_period) == ("2025-11-26", "2025-W47")


def test_a_claim_without_a_schedule_queues_nothing(store: NotifyStore) -> None:
    assert (
        store.claim_report_period("customer:9", "daily", "2025-11-25", [report_mail("a@example.com", "x")], 1) is None
    )
    assert queued(store) == []


class Interrupted(Sequence[Delivery]):
    """The e-mails of a report whose rendering fails half-way through (after the first one)."""

    def __init__(self, first: Delivery) -> None:
        self.first = first

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: Any) -> Any:
        if index == 0:
            return self.first
        raise RuntimeError("rendering failed")


def test_a_failed_claim_leaves_nothing_half_done(store: NotifyStore) -> None:
    store.save_mail_report(Schedule("", daily=True, recipients=("a@example.com",)))
    good = report_mail("a@example.com", "2025-11-25")
    with pytest.raises(RuntimeError):
        store.claim_report_period("", "daily", "2025-11-25", Interrupted(good), NOW_US)
    assert store.finish_report_claims() == 0
    assert store.get_mail_report("").last_daily_period == ""  # type: ignore[union-attr]
    assert queued(store) == []
    assert store.claim_report_period("", "daily", "2025-11-25", [good], NOW_US) is not None
    assert len(queued(store)) == 1


def test_a_crash_between_claim_and_enqueue_is_finished_once(
    store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB's claim is two steps (no transaction): a process dying between them leaves the mails parked
    with the schedule, and the next scheduling run (any process) queues them, once."""
    store = store_factory()
    store.save_mail_report(Schedule("", daily=True, recipients=("a@example.com",)))
    if isinstance(store, SqliteNotifyStore):
        pytest.skip("one SQLite transaction: nothing can be left half-done (see the test above)")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("process died")

    monkeypatch.setattr(store, "enqueue", crash)
    with pytest.raises(ConnectionError):
        store.claim_report_period("", "daily", "2025-11-25", [report_mail("a@example.com", "25")], NOW_US)
    monkeypatch.undo()
    other, later = store_factory(), store_factory()
    assert other.claim_report_period("", "daily", "2025-11-25", [report_mail("a@example.com", "25")], NOW_US) is None
    assert other.finish_report_claims() == 1
    assert later.finish_report_claims() == 0 and store.finish_report_claims() == 0
    [mail] = queued(later)
    assert (mail.recipient, mail.reference, mail.text) == ("a@example.com", ":daily:25", "text 25")
    assert later.claim_report_period("", "daily", "2025-11-26", [report_mail("a@example.com", "26")], NOW_US)


def test_concurrent_workers_queue_a_period_once(store_factory: StoreFactory) -> None:
    first = store_factory()
    first.save_mail_report(Schedule("", daily=True, recipients=("a@example.com",)))
    stores = [first, *(store_factory() for _ in range(3))]
    results: list[list[str] | None] = []
    barrier = threading.Barrier(len(stores))

    def claim(store: NotifyStore) -> None:
        barrier.wait()
        results.append(store.claim_report_period("", "daily", "2025-11-25", [report_mail("a@x.org", "25")], NOW_US))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) if r is not None else 0 for r in results) == [0, 0, 0, 1]
    assert len(queued(first)) == 1
