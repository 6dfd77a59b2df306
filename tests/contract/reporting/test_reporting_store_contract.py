"""One contract suite for every RollupStore adapter: SQLite, MongoDB on mongomock, and a real MongoDB if given.

Set CDRSTATS_TEST_MONGODB_URI (e.g. mongodb://127.0.0.1:27017) to run the suite against a real server too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import mongomock
import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.rollup import HOUR_US, aggregate, floor_hour
from cdrstats_reporting.store import RollupStore
from cdrstats_reporting.store.mongo import MongoRollupStore

StoreFactory = Callable[..., RollupStore]

BASE_US = 1_760_000_400_000_000 - 1_760_000_400_000_000 % HOUR_US
SWITCHES = ("sw1", "sw2", "sw3")
ACCOUNTS = ("", "a1", "a2", "a3")


def random_cdrs(rng: random.Random, count: int, hours: int = 6) -> list[dict[str, Any]]:
    cdrs = []
    for _ in range(count):
        answered = rng.random() < 0.5
        if rng.random() < 0.2:
            start = BASE_US + rng.randrange(0, hours + 1) * HOUR_US  # exactly on a boundary
        else:
            start = BASE_US + rng.randrange(0, hours * HOUR_US)
        billsec = rng.randrange(1, 600_000) if answered else 0
        cdrs.append(
            new_cdr(
                switch_id=rng.choice(SWITCHES),
                accountcode=rng.choice(ACCOUNTS),
                country=rng.choice(["", "FR", "DE"]),
                direction=rng.choice(["inbound", "outbound"]),
                hangup_cause=16 if answered else rng.choice([17, 19, 34]),
                start_time_us=start,
                answer_time_us=start + 2_000_000 if answered else 0,
                end_time_us=start + billsec * 1000 + 5_000_000,
                duration_ms=billsec + 5_000,
                billsec_ms=billsec,
                pdd_ms=rng.choice([-1, rng.randrange(0, 4000)]),
            )
        )
    return cdrs


def brute_force(
    cdrs: list[dict[str, Any]],
    start_us: int,
    end_us: int,
    switch_id: str | None = None,
    accountcodes: list[str] | None = None,
) -> list[tuple[int, Totals]]:
    hours: dict[int, Totals] = {}
    for cdr in cdrs:
        if not start_us <= cdr["start_time_us"] < end_us:
            continue
        if switch_id is not None and cdr["switch_id"] != switch_id:
            continue
        if accountcodes is not None and cdr["accountcode"] not in accountcodes:
            continue
        hours.setdefault(floor_hour(cdr["start_time_us"]), Totals()).add_cdr(cdr)
    return sorted(hours.items())


def rows(store: RollupStore, start_us: int, end_us: int, **filters: Any) -> list[tuple[int, Totals]]:
    return sorted(store.hourly_rows(start_us, end_us, **filters))


def test_same_event_twice_counts_once(store: RollupStore) -> None:
    cdrs = random_cdrs(random.Random(1), 50)
    assert store.apply_batch("event-1", cdrs) is True
    assert store.apply_batch("event-1", cdrs) is False
    assert store.apply_batch("event-1", cdrs[:10]) is False  # same id, different body: still a duplicate
    assert rows(store, BASE_US, BASE_US + 7 * HOUR_US) == brute_force(cdrs, BASE_US, BASE_US + 7 * HOUR_US)
    assert store.status() == (50, 1)


def test_rows_equal_brute_force_over_many_batches(store: RollupStore) -> None:
    rng = random.Random(7)
    batches = [random_cdrs(rng, rng.randrange(0, 120)) for _ in range(8)]
    for index, batch in enumerate(batches):
        assert store.apply_batch(f"event-{index}", batch)
    everything = [cdr for batch in batches for cdr in batch]
    for start, end in [
        (BASE_US, BASE_US + 7 * HOUR_US),
        (BASE_US + HOUR_US, BASE_US + 3 * HOUR_US),  # cuts off hours on both sides
        (BASE_US + 6 * HOUR_US, BASE_US + 7 * HOUR_US),  # only the CDRs exactly on the last boundary
        (BASE_US - HOUR_US, BASE_US),
    ]:
        assert rows(store, start, end) == brute_force(everything, start, end)
    assert store.status() == (len(everything), len(batches))


def test_scope_filters_by_switch_and_account_code(store: RollupStore) -> None:
    cdrs = random_cdrs(random.Random(3), 300)
    store.apply_batch("event-a", cdrs[:150])
    store.apply_batch("event-b", cdrs[150:])
    start, end = BASE_US, BASE_US + 7 * HOUR_US
    for switch_id in (None, "sw2", "nope"):
        for accountcodes in (None, ["a1"], ["a1", "a3"], [""], ["zz"]):
            expected = brute_force(cdrs, start, end, switch_id, accountcodes)
            assert rows(store, start, end, switch_id=switch_id, accountcodes=accountcodes) == expected
    assert rows(store, start, end, accountcodes=[]) == []


def test_empty_batch_is_an_applied_event(store: RollupStore) -> None:
    assert store.status() == (0, 0)
    assert store.apply_batch("empty", []) is True
    assert store.apply_batch("empty", []) is False
    assert store.status() == (0, 1)
    assert rows(store, BASE_US, BASE_US + HOUR_US) == []


def test_data_survives_reopening_and_migrations_are_idempotent(store_factory: StoreFactory) -> None:
    cdrs = random_cdrs(random.Random(5), 40)
    first = store_factory()
    assert first.apply_batch("event-1", cdrs)
    second = store_factory()
    assert second.apply_batch("event-1", cdrs) is False
    assert second.status() == (40, 1)
    assert rows(second, BASE_US, BASE_US + 7 * HOUR_US) == brute_force(cdrs, BASE_US, BASE_US + 7 * HOUR_US)


def test_worker_heartbeat(store: RollupStore) -> None:
    assert store.worker_alive() is False
    store.beat()
    assert store.worker_alive() is True
    store.beat(ready=False)
    assert store.worker_alive() is False


@pytest.mark.usefixtures("mongomock_bulk_write")
def test_mongo_retry_after_a_crash_half_way_counts_each_key_once() -> None:
    """MongoDB has no transaction here: a batch cut off before its event marker is completed, not doubled."""
    store = MongoRollupStore(mongomock.MongoClient()["cdrstats_reporting_crash"])
    cdrs = random_cdrs(random.Random(11), 200)
    updates = [MongoRollupStore._update("event-1", key, totals) for key, totals in aggregate(cdrs).items()]
    store._write(
        store._db["rollup_full_hour"], updates[: len(updates) // 2]
    )  # the worker died here: half the keys written, no marker
    assert store.status() == (0, 0)

    assert store.apply_batch("event-1", cdrs) is True  # the redelivery
    assert store.apply_batch("event-1", cdrs) is False

    start, end = BASE_US, BASE_US + 7 * HOUR_US
    assert rows(store, start, end) == brute_force(cdrs, start, end)
    assert store.status() == (200, 1)
