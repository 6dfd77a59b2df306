"""Metric definitions (DESIGN.md section 5): the one source of truth for every report and alarm.

Reports compute from roll-up sums with these functions; tests recompute from raw
CDRs with the same functions, so a definition can only change in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

#: Q.850 causes that count as "the network did its job" for NER:
#: user busy, no user responding, no answer, call rejected.
NER_CAUSES = frozenset({17, 18, 19, 21})

MS_PER_MINUTE = 60_000
US_PER_MINUTE = 60_000_000


def is_answered(answer_time_us: int, billsec_ms: int) -> bool:
    """answered = the CDR has an answer time (or billsec > 0)."""
    return answer_time_us > 0 or billsec_ms > 0


def asr(answered: int, attempts: int) -> float:
    """Answer-seizure ratio in percent."""
    return 100.0 * answered / attempts if attempts else 0.0


def acd(billsec_ms: int, answered: int) -> float:
    """Average call duration (= ALOC) in seconds: total billsec / answered, not over attempts."""
    return billsec_ms / 1000.0 / answered if answered else 0.0


def ner(answered: int, ner_failures: int, attempts: int) -> float:
    """Network effectiveness ratio in percent; ``ner_failures`` = attempts ended by NER_CAUSES."""
    return 100.0 * (answered + ner_failures) / attempts if attempts else 0.0


def minutes(billsec_ms: int) -> float:
    return billsec_ms / MS_PER_MINUTE


def ach(attempts: int, hours: float) -> float:
    """Attempts per hour over the window."""
    return attempts / hours if hours > 0 else 0.0


def pdd(pdd_sum_ms: int, pdd_count: int) -> float:
    """Mean post-dial delay in milliseconds over CDRs that report it."""
    return pdd_sum_ms / pdd_count if pdd_count else 0.0


def cic(answered_in_start_order: Iterable[bool]) -> int:
    """Length of the current run of consecutive unanswered attempts (the last ones)."""
    run = 0
    for answered in answered_in_start_order:
        run = 0 if answered else run + 1
    return run


@dataclasses.dataclass
class Totals:
    """Additive sums a roll-up row holds; every ratio derives from them."""

    attempts: int = 0
    answered: int = 0
    duration_ms: int = 0
    billsec_ms: int = 0
    pdd_sum_ms: int = 0
    pdd_count: int = 0
    ner_failures: int = 0

    def add_cdr(self, cdr: Mapping[str, Any]) -> None:
        """Count one canonical CDR (dict with the proto's field names)."""
        answered = is_answered(int(cdr.get("answer_time_us") or 0), int(cdr.get("billsec_ms") or 0))
        self.attempts += 1
        self.answered += int(answered)
        self.duration_ms += int(cdr.get("duration_ms") or 0)
        self.billsec_ms += int(cdr.get("billsec_ms") or 0)
        pdd_ms = int(cdr.get("pdd_ms", -1) if cdr.get("pdd_ms") is not None else -1)
        if pdd_ms >= 0:
            self.pdd_sum_ms += pdd_ms
            self.pdd_count += 1
        if not answered and int(cdr.get("hangup_cause") or 0) in NER_CAUSES:
            self.ner_failures += 1

    def merge(self, other: Totals) -> None:
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def asr(self) -> float:
        return asr(self.answered, self.attempts)

    @property
    def acd(self) -> float:
        return acd(self.billsec_ms, self.answered)

    @property
    def ner(self) -> float:
        return ner(self.answered, self.ner_failures, self.attempts)

    @property
    def minutes(self) -> float:
        return minutes(self.billsec_ms)

    @property
    def pdd(self) -> float:
        return pdd(self.pdd_sum_ms, self.pdd_count)


def concurrent_peaks(intervals: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Exact per-minute peak of simultaneous calls.

    ``intervals`` are (start_us, end_us); a call is up for start <= t < end. Returns
    {minute_start_us: peak} for every minute in which at least one call was up. A
    sweep over sorted start/end points: an end at t is processed before a start at t.
    """
    points: list[tuple[int, int]] = []
    for start, end in intervals:
        if end > start:
            points.append((start, 1))
            points.append((end, -1))
    points.sort(key=lambda p: (p[0], p[1]))
    peaks: dict[int, int] = {}
    level = 0
    previous_t: int | None = None
    for t, delta in points:
        if previous_t is not None and level > 0 and t > previous_t:
            # level held on [previous_t, t): every minute it touches sees at least `level`
            first = previous_t - previous_t % US_PER_MINUTE
            last = (t - 1) - (t - 1) % US_PER_MINUTE
            minute = first
            while minute <= last:
                if peaks.get(minute, 0) < level:
                    peaks[minute] = level
                minute += US_PER_MINUTE
        level += delta
        previous_t = t
    return peaks
