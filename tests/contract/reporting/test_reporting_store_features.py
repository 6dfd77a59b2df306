"""Every RollupStore adapter beyond the cubes: top-destination cap, live calls, concurrency, time zone, rebuild."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import concurrent_peaks
from cdrstats_reporting.domain import concurrency as conc
from cdrstats_reporting.domain import destinations
from cdrstats_reporting.domain.live import CallState
from cdrstats_reporting.domain.rollup import Filters
from cdrstats_reporting.store import RollupStore, ZoneMismatch

StoreFactory = Callable[..., RollupStore]
DAY_US = 1_760_054_400_000_000  # 2025-10-10 00:00 UTC
MINUTE_US = 60_000_000


def call(uuid: str, start: int, end: int, **values: Any) -> dict[str, Any]:
    return new_cdr(uuid=uuid, id=uuid, switch_id="s1", accountcode="a", start_time_us=start, end_time_us=end, **values)


def test_top_destinations_cap_keeps_listed_counts_exact_and_sums_the_rest(
    store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values admitted before the cap count every later CDR; values first seen after it go to OTHER."""
    monkeypatch.setattr(destinations, "CAP", 2)
    store = store_factory()
    numbers = ["n0", "n0", "n0", "n1", "n1", "n2"]  # n0 and n1 admitted (most attempts first), n2 -> OTHER
    store.apply_batch(
        "e1", [call(f"a{i}", DAY_US + i, DAY_US + 9, destination_number=n) for i, n in enumerate(numbers)]
    )
    later = ["n2", "n2", "n2", "n2", "n1"]
    store.apply_batch("e2", [call(f"b{i}", DAY_US + i, DAY_US + 9, destination_number=n) for i, n in enumerate(later)])
    store.apply_batch("e2", [call("dup", DAY_US, DAY_US + 9, destination_number="n9")])  # redelivery: ignored
    rows, total, other = store.top_destinations("n", [DAY_US], Filters(), 10)
    assert [(value, sums[0]) for value, sums in rows] == [("n0", 3), ("n1", 3)]
    assert (total, other) == (11, 5)
    assert store.top_destinations("n", [DAY_US], Filters(accountcodes=["zz"]), 10) == ([], 0, 0)


def test_live_calls_follow_call_state_and_cdrs(store_factory: StoreFactory) -> None:
    store = store_factory()
    details = {"caller_id_number": "100", "destination_number": "200", "destination_e164": "", "country": "FR",
               "accountcode": "a", "direction": "outbound"}  # fmt: skip

    def state(uuid: str, event: str, time_us: int) -> CallState:
        return CallState("s1", uuid, event, time_us, details)

    assert store.apply_call_state("e1", state("c1", "started", DAY_US))
    assert not store.apply_call_state("e1", state("c1", "started", DAY_US))  # redelivery
    assert store.apply_call_state("e2", state("c1", "answered", DAY_US + 5))
    assert store.apply_call_state("e3", state("c2", "started", DAY_US + 7))
    assert store.apply_call_state("e4", state("c3", "ended", DAY_US + 9))
    assert store.apply_call_state("e5", state("c3", "started", DAY_US + 8))  # late start of an ended call
    calls = store.live_calls(Filters(), 0)
    assert [(c["uuid"], c["state"], c["answer_time_us"]) for c in calls] == [
        ("c2", "started", 0),
        ("c1", "answered", DAY_US + 5),
    ]
    assert store.live_calls(Filters(accountcodes=["zz"]), 0) == []
    version = store.live_version()
    store.apply_batch("cdrs", [call("c2", DAY_US + 7, DAY_US + 100)], now_us=DAY_US + 200)  # the CDR ends c2
    assert [c["uuid"] for c in store.live_calls(Filters(), 0)] == ["c1"]
    assert store.live_version() != version
    assert store.expire_live_calls(DAY_US + 6) == 1  # c1's last event is older: its end never came
    assert store.live_calls(Filters(), 0) == []


def test_concurrency_rows_equal_the_sweep_in_and_out_of_order(store_factory: StoreFactory) -> None:
    store = store_factory()
    rng = random.Random(3)
    cdrs = []
    for i in range(300):
        start = DAY_US + rng.randrange(-3600, 86_400) * 1_000_000 + rng.choice([0, 1])
        cdrs.append(call(f"u{i}", start, start + rng.randrange(0, 3 * 3600) * 1_000_000))
    ordered = sorted(cdrs, key=lambda c: int(c["start_time_us"]))
    late = ordered[::7]
    for index in range(0, len(ordered), 50):
        store.apply_batch(f"e{index}", [c for c in ordered[index : index + 50] if c not in late])
    store.apply_batch("late", late)
    store.apply_batch("late", late)  # redelivered
    reference = concurrent_peaks((int(c["start_time_us"]), int(c["end_time_us"])) for c in cdrs)
    expected = [reference.get(DAY_US + i * MINUTE_US, 0) for i in range(1440)]
    end = DAY_US + 86_400_000_000
    for scope in ((conc.ALL, conc.ALL), ("s1", conc.ALL), ("s1", "a")):
        level, rows, _ = store.concurrency([scope], DAY_US, end, with_points=False)
        assert conc.day_peaks(DAY_US, end, level, rows) == expected
    level, _, merged = store.concurrency([("s1", "a")], DAY_US, end, with_points=True)
    rows = {minute: conc.summarize(minute, points) for minute, points in merged.items()}
    assert conc.day_peaks(DAY_US, end, level, rows) == expected
    assert store.switches() == ["s1"]


def test_store_refuses_another_time_zone_until_wiped(store_factory: StoreFactory) -> None:
    first = store_factory("Europe/Paris")
    first.apply_batch("e1", [call("u1", DAY_US, DAY_US + MINUTE_US)])
    with pytest.raises(ZoneMismatch, match="Europe/Paris"):
        store_factory("Asia/Kolkata")
    assert store_factory("Europe/Paris").status() == (1, 1)


def test_replay_watermark_skips_cdrs_the_rebuild_counted(store_factory: StoreFactory) -> None:
    store = store_factory()
    cdrs = [call(f"id{i:03d}", DAY_US + i, DAY_US + MINUTE_US) for i in range(20)]
    store.wipe()
    store.apply_replayed(cdrs[:10])
    store.apply_replayed(cdrs[10:15])
    assert store.status() == (15, 2)
    assert store.apply_batch("queued", cdrs[8:20])  # the queued event overlaps the replay: only 5 are new
    assert store.status() == (20, 3)
    assert store.rollup_rows("day", 0, 2 * DAY_US, (), Filters())[0][1].attempts == 20
    store.wipe()
    assert store.status() == (0, 0)
    assert store.rollup_rows("day", 0, 2 * DAY_US, (), Filters()) == []
