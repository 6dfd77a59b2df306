"""The metric definitions of DESIGN.md section 5, at their edges."""

from __future__ import annotations

import random

from cdrstats_common import metrics

MIN = metrics.US_PER_MINUTE


def test_ratios_are_zero_not_errors_on_empty_windows() -> None:
    assert metrics.asr(0, 0) == 0.0
    assert metrics.acd(0, 0) == 0.0
    assert metrics.ner(0, 0, 0) == 0.0
    assert metrics.ach(0, 0) == 0.0


def test_acd_divides_by_answered_not_attempts() -> None:
    totals = metrics.Totals()
    totals.add_cdr({"answer_time_us": 5, "billsec_ms": 60_000, "duration_ms": 70_000})
    totals.add_cdr({"answer_time_us": 0, "billsec_ms": 0, "duration_ms": 30_000, "hangup_cause": 17})
    totals.add_cdr({"answer_time_us": 0, "billsec_ms": 0, "duration_ms": 10_000, "hangup_cause": 34})
    assert totals.attempts == 3
    assert totals.acd == 60.0
    assert round(totals.asr, 6) == round(100 / 3, 6)
    assert round(totals.ner, 6) == round(200 / 3, 6)
    assert totals.minutes == 1.0


def test_answered_by_billsec_alone() -> None:
    assert metrics.is_answered(0, 1)
    assert not metrics.is_answered(0, 0)


def test_cic_counts_the_trailing_unanswered_run() -> None:
    assert metrics.cic([]) == 0
    assert metrics.cic([False, False, True, False, False, False]) == 3
    assert metrics.cic([False, True]) == 0


def test_concurrency_boundaries_are_half_open() -> None:
    # a call ending exactly when the next starts never overlaps it
    peaks = metrics.concurrent_peaks([(0, MIN), (MIN, 2 * MIN)])
    assert peaks == {0: 1, MIN: 1}
    # overlapping for one microsecond counts
    peaks = metrics.concurrent_peaks([(0, MIN + 1), (MIN, 2 * MIN)])
    assert peaks[MIN] == 2


def test_concurrency_matches_brute_force_over_random_calls() -> None:
    rng = random.Random(7)
    step = MIN // 4  # quarter minutes keep the brute force small
    calls = []
    for _ in range(60):
        start = rng.randrange(0, 40) * step
        calls.append((start, start + rng.randrange(1, 12) * step))
    peaks = metrics.concurrent_peaks(calls)
    expected: dict[int, int] = {}
    for t in range(0, 60 * step, step):
        level = sum(1 for s, e in calls if s <= t < e)
        minute = t - t % MIN
        if level:
            expected[minute] = max(expected.get(minute, 0), level)
    assert peaks == expected
