"""CIC runs: exact under any arrival order (property test against ``metrics.cic`` over the sorted
attempts), late answered CDRs, scope keys for tenants and prefixes."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cdrstats_alerting.domain import cic
from cdrstats_alerting.domain.alarms import Alarm, AlarmScope
from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import cic as brute_cic

T0 = 1_767_000_000_000_000
TENANTS = {"a1": "customer:1", "a2": "customer:1", "b1": "customer:2"}
PREFIXES = [("", "44"), ("", "4420"), ("customer:1", "33")]


def call(n: int, start_s: int, answered: bool, **fields: Any) -> dict[str, Any]:
    start = T0 + start_s * 1_000_000
    return new_cdr(
        id=f"c{n:05d}",
        start_time_us=start,
        answer_time_us=start + 1 if answered else 0,
        billsec_ms=1000 if answered else 0,
        end_time_us=start + 2_000_000,
        **fields,
    )


def expected_runs(cdrs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Brute force: per key, metrics.cic over that key's attempts sorted by (start, id)."""
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for cdr in cdrs:
        for key in cic.cdr_scope_keys(cdr, TENANTS, PREFIXES):
            by_key.setdefault(key, []).append(cdr)
    return {
        key: brute_cic(bool(c["answer_time_us"]) for c in sorted(found, key=cic.order_key))
        for key, found in by_key.items()
    }


def tracked(batches: Sequence[Sequence[Mapping[str, Any]]]) -> cic.CicTracker:
    tracker = cic.CicTracker()
    for batch in batches:
        tracker.apply(cic.plan(batch, TENANTS, PREFIXES))
    return tracker


cdr_strategy = st.builds(
    lambda start, answered, switch, code, country, number: {
        "start_s": start,
        "answered": answered,
        "switch_id": switch,
        "accountcode": code,
        "country": country,
        "destination_e164": number,
    },
    st.integers(0, 30),  # few distinct starts: many ties, broken by id
    st.booleans(),
    st.sampled_from(["sw1", "sw2"]),
    st.sampled_from(["a1", "a2", "b1", "zz", ""]),
    st.sampled_from(["GB", "FR", ""]),
    st.sampled_from(["+442071234567", "+441611234567", "+33123456789", ""]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cdr_strategy, min_size=1, max_size=40), st.randoms(use_true_random=False), st.integers(1, 6))
def test_runs_are_exact_under_any_arrival_order(specs: list[dict[str, Any]], rng: random.Random, parts: int) -> None:
    cdrs = [
        call(n, s["start_s"], s["answered"], **{k: v for k, v in s.items() if k not in ("start_s", "answered")})
        for n, s in enumerate(specs)
    ]
    shuffled = list(cdrs)
    rng.shuffle(shuffled)
    cuts = sorted(rng.randint(0, len(shuffled)) for _ in range(parts - 1))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    tracker = tracked(batches)
    for key, run in expected_runs(cdrs).items():
        assert tracker.run(key).length == run, key


def test_a_late_answered_call_ends_the_run_where_it_started() -> None:
    unanswered = [call(n, n * 10, False) for n in range(1, 6)]  # starts 10..50 s
    tracker = tracked([unanswered])
    assert tracker.run("|all|") == cic.Run(5, T0 + 10_000_000)
    tracker.apply(cic.plan([call(99, 25, True)], TENANTS))  # arrives late, started at 25 s
    assert tracker.run("|all|") == cic.Run(3, T0 + 30_000_000)  # 30, 40, 50 are still in a row
    tracker.apply(cic.plan([call(98, 5, True)], TENANTS))  # an even older answered call: no change
    assert tracker.run("|all|").length == 3
    tracker.apply(cic.plan([call(97, 20, False)], TENANTS))  # a late unanswered call before the answered one
    assert tracker.run("|all|").length == 3
    tracker.apply(cic.plan([call(96, 45, False)], TENANTS))  # a late unanswered call inside the run
    assert tracker.run("|all|").length == 4
    tracker.apply(cic.plan([call(95, 60, True)], TENANTS))
    assert tracker.run("|all|") == cic.Run(0, 0)


def test_equal_start_times_are_ordered_by_cdr_id() -> None:
    tracker = tracked([[call(2, 10, True), call(1, 10, False), call(3, 10, False)]])
    assert tracker.run("|all|").length == 1  # c00001 < c00002 (answered) < c00003


def test_a_redelivered_cdr_counts_once() -> None:
    cdr = call(1, 10, False)
    assert tracked([[cdr], [cdr], [cdr]]).run("|all|").length == 1


def test_scope_keys_for_tenants_and_prefixes() -> None:
    cdr = call(1, 0, False, switch_id="sw1", accountcode="a1", country="FR", destination_e164="+33123456789")
    assert cic.cdr_scope_keys(cdr, TENANTS, PREFIXES) == [
        "|all|",
        "|switch|sw1",
        "|country|FR",
        "customer:1|all|",
        "customer:1|switch|sw1",
        "customer:1|country|FR",
        "|accountcode|a1",
        "customer:1|prefix|33",
    ]
    other = dict(cdr, accountcode="b1")  # customer:2 has no prefix alarm on 33
    assert "customer:1|prefix|33" not in cic.cdr_scope_keys(other, TENANTS, PREFIXES)
    uk = call(2, 0, False, destination_e164="+442071234567")
    assert cic.cdr_scope_keys(uk, TENANTS, PREFIXES) == ["|all|", "|prefix|44", "|prefix|4420"]


def test_an_alarm_reads_the_key_of_its_owner_and_scope() -> None:
    definition = Alarm(name="n", metric="cic", window="", condition="gt", threshold=1)

    def key(owner: str, kind: str, value: str) -> str:
        return cic.alarm_scope_key(dataclasses.replace(definition, owner=owner, scope=AlarmScope(kind, value)))

    assert key("", "all", "") == "|all|"
    assert key("customer:1", "all", "") == "customer:1|all|"
    assert key("customer:1", "accountcode", "a1") == "|accountcode|a1"  # the same CDRs for every owner
    assert key("customer:1", "prefix", "33") == "customer:1|prefix|33"
