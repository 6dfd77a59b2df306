"""The fast apply path: the one-pass digest equals the reference sums, grouped events apply exactly once."""

from __future__ import annotations

import pathlib
import random
import threading
from typing import Any

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_reporting.domain import live
from cdrstats_reporting.domain.concurrency import batch_points
from cdrstats_reporting.domain.destinations import batch_destinations
from cdrstats_reporting.domain.digest import digest
from cdrstats_reporting.domain.rollup import Filters, aggregate_sums
from cdrstats_reporting.domain.timegrid import TimeGrid
from cdrstats_reporting.group_commit import GroupCommitter
from cdrstats_reporting.store.sqlite import SqliteRollupStore

BASE = 1_761_436_800_000_000  # 2025-10-26 00:00 UTC: Paris leaves summer time that night
HOUR = 3_600_000_000


def random_cdrs(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cdrs = []
    for index in range(count):
        start = BASE + rng.randrange(-6 * HOUR, 30 * HOUR)
        answered = rng.random() < 0.5
        billsec = rng.randrange(1, 900_000) if answered else 0
        cdrs.append(
            new_cdr(
                id=f"{seed}-{index:05d}",
                uuid=f"u{seed}-{index}" if rng.random() < 0.9 else "",
                switch_id=rng.choice(["s1", "s2"]),
                accountcode=rng.choice(["a", "b", ""]),
                country=rng.choice(["FR", "US", ""]),
                direction=rng.choice(["inbound", "outbound", ""]),
                hangup_cause=16 if answered else rng.choice([17, 19, 34, 0]),
                start_time_us=start,
                answer_time_us=start + 5_000_000 if answered else 0,
                end_time_us=start + rng.choice([0, rng.randrange(1, 3 * HOUR)]),
                billsec_ms=billsec,
                duration_ms=billsec + 5_000,
                pdd_ms=rng.choice([None, 0, rng.randrange(1, 9_000)]),
                destination_number=rng.choice(["0140", "0612", "+1415"]),
                destination_e164=rng.choice(["", "+33140"]),
                destination_prefix=rng.choice(["33", "1", ""]),
            )
        )
    return cdrs


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "UTC"])
def test_digest_equals_the_reference_sums(zone: str) -> None:
    grid = TimeGrid(zone)
    cdrs = random_cdrs(7, 600)
    summed = digest(cdrs, grid, BASE + 20 * HOUR)
    assert summed.full == {tuple(key): values for key, values in aggregate_sums(cdrs, TimeGrid(zone)).items()}
    assert all(summed.days[hour] == grid.day_start(hour) for hour in summed.days)
    assert summed.destinations == batch_destinations(cdrs, grid)
    assert (summed.points, summed.day_nets) == batch_points(cdrs, grid)
    assert (summed.ended, summed.recent, summed.ended_us) == live.ended_by(cdrs, BASE + 20 * HOUR)


def snapshot(store: SqliteRollupStore) -> dict[str, Any]:
    """Every table the apply writes (concurrency minutes without their point blobs' byte order)."""
    tables = ["rollup_full_hour", "rollup_country_day", "rollup_cause_hour", "top_destinations", "conc_days"]
    out: dict[str, Any] = {t: sorted(tuple(r) for r in store.conn.execute(f"SELECT * FROM {t}")) for t in tables}
    out["conc"] = sorted(
        tuple(r) for r in store.conn.execute("SELECT switch_id, accountcode, minute_us, net, peak_in FROM conc_minutes")
    )
    out["status"] = store.status()
    return out


def test_grouped_events_equal_one_by_one_and_apply_once(tmp_path: pathlib.Path) -> None:
    events = [(f"e{n}", random_cdrs(n, 150)) for n in range(6)]
    single = SqliteRollupStore.open(tmp_path / "single.db", "Europe/Paris")
    for event_id, cdrs in events:
        assert single.apply_batch(event_id, cdrs, now_us=BASE)
    grouped = SqliteRollupStore.open(tmp_path / "grouped.db", "Europe/Paris")
    assert grouped.apply_batch("e0", events[0][1], now_us=BASE)
    # e0 was applied before, e2 is delivered twice in the same group: both count once
    flags = grouped.apply_batches([events[0], events[1], events[2], events[2], *events[3:]], now_us=BASE)
    assert flags == [False, True, True, False, True, True, True]
    assert snapshot(grouped) == snapshot(single)
    assert grouped.apply_batches(events, now_us=BASE) == [False] * 6
    assert grouped.status() == (900, 6)
    day = grouped.rollup_rows("day", BASE - 2 * 24 * HOUR, BASE + 2 * 24 * HOUR, (), Filters())
    assert day[0][1].attempts == 900


def test_group_committer_shares_transactions_and_isolates_a_bad_event(tmp_path: pathlib.Path) -> None:
    store = SqliteRollupStore.open(tmp_path / "r.db", "UTC")
    calls: list[int] = []

    def apply(events: list[tuple[str, Any]]) -> list[bool]:
        calls.append(len(events))
        return store.apply_batches(events, now_us=BASE)

    committer = GroupCommitter(apply)
    bad = [dict(random_cdrs(99, 1)[0], start_time_us="not a time")]
    results: dict[str, Any] = {}
    start = threading.Barrier(9)

    def handler(event_id: str, cdrs: list[dict[str, Any]]) -> None:
        start.wait()
        try:
            results[event_id] = committer.submit(event_id, cdrs)
        except ValueError as exc:
            results[event_id] = exc

    threads = [threading.Thread(target=handler, args=(f"e{n}", random_cdrs(n, 50))) for n in range(8)]
    threads.append(threading.Thread(target=handler, args=("bad", bad)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert isinstance(results.pop("bad"), ValueError)  # failed alone, for its handler to dead-letter
    assert results == {f"e{n}": True for n in range(8)}
    assert store.status() == (400, 8)
    assert committer.submit("e3", random_cdrs(3, 50)) is False  # redelivered after its commit
    assert sum(calls) >= 9 + 1 and max(calls) > 1  # some events shared a transaction
