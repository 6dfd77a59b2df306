"""Conditions, verdicts and the OK → FIRING → OK state machine (docs/alerting.md).

Verdicts:
- ``error``: the value could not be measured (reporting unavailable); the state is kept.
- ``insufficient``: fewer attempts in the window than ``min_attempts``, an undefined value (ACD with
  no answered call, ASR with no attempt, a relative condition whose baseline is undefined) or an
  empty window; never fires and keeps the state (no data is not a recovery).
- ``breach`` / ``ok``: the condition holds / does not.

Every comparison is strict ("more than", "less than"): a value exactly at the threshold is ``ok``.
Floating-point noise does not count as "beyond": differences within 1e-9 (relative) are equal, so
a 40 % ASR computed as 100*2/5 never breaches "ASR < 40".

Cooldown: a breach while OK moves to FIRING and publishes ``alarm_triggered`` unless the last
FIRING transition happened less than ``cooldown_s`` ago; then the state stays OK (the evaluation
is stored with verdict ``breach`` and says until when the alarm is held back). Recovery
(FIRING → OK, ``alarm_cleared``) is never delayed.
"""

from __future__ import annotations

import dataclasses

from cdrstats_alerting.domain.alarms import FIRING, OK, Alarm
from cdrstats_alerting.domain.windows import Span

EPSILON = 1e-9
TRIGGERED, CLEARED = "alarm_triggered", "alarm_cleared"
#: metrics whose value does not exist without a denominator; their value is None then
UNDEFINED_WITHOUT = {
    "asr": "attempts",
    "ner": "attempts",
    "cause_share": "attempts",
    "acd": "answered calls",
    "aloc": "answered calls",
    "pdd_ms": "reported post-dial delays",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    """A metric over one span: ``value`` None when it is undefined there."""

    value: float | None
    attempts: int


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    verdict: str  # ok, breach, insufficient, error
    reason: str = ""  # why it is insufficient or an error


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    state_after: str
    event: str = ""  # alarm_triggered, alarm_cleared or "" (nothing to publish)
    held_until_us: int = 0  # a breach held back by the cooldown until then


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation as stored and shown in the history (the proto's Evaluation)."""

    id: str
    alarm_id: str
    time_us: int
    window: Span
    value: float
    baseline: float | None
    baseline_window: Span | None
    threshold: float
    attempts: int
    verdict: str
    state_before: str
    state_after: str
    published: bool = False
    message: str = ""
    error: str = ""
    link: str = ""


def measurement(metric: str, value: float, attempts: int, answered: int, pdd_count: int) -> Measurement:
    """A metric value with its definedness: a ratio without its denominator has no value."""
    denominator = {"attempts": attempts, "answered calls": answered, "reported post-dial delays": pdd_count}
    needed = UNDEFINED_WITHOUT.get(metric)
    if needed is not None and denominator[needed] <= 0:
        return Measurement(None, attempts)
    return Measurement(value, attempts)


def beyond(lhs: float, rhs: float) -> bool:
    """``lhs > rhs`` by more than floating-point noise."""
    return lhs - rhs > EPSILON * max(1.0, abs(lhs), abs(rhs))


def breached(condition: str, threshold: float, value: float, baseline: float | None = None) -> bool:
    """Whether the condition holds; relative conditions need ``baseline`` (metrics are never negative)."""
    if condition == "lt":
        return beyond(threshold, value)
    if condition == "gt":
        return beyond(value, threshold)
    if baseline is None:
        raise ValueError(f"condition {condition!r} needs a baseline")
    if condition == "falls_by":
        return beyond(baseline - value, threshold)
    if condition == "rises_by":
        return beyond(value - baseline, threshold)
    if condition == "falls_by_pct":
        # (baseline - value) / baseline * 100 > threshold, without the division's rounding
        return baseline > 0 and beyond((baseline - value) * 100.0, threshold * baseline)
    if condition == "rises_by_pct":
        if baseline <= 0:
            return beyond(value, 0.0)  # from nothing to something is an unbounded rise
        return beyond((value - baseline) * 100.0, threshold * baseline)
    raise ValueError(f"unknown condition {condition!r}")


def change(condition: str, value: float, baseline: float) -> float | None:
    """The change a relative condition compares with its threshold (None: unbounded percent)."""
    if condition == "falls_by":
        return baseline - value
    if condition == "rises_by":
        return value - baseline
    if baseline == 0:
        return 0.0 if value == 0 else None
    percent = (baseline - value) if condition == "falls_by_pct" else (value - baseline)
    return percent * 100.0 / baseline


def judge(alarm: Alarm, current: Measurement, base: Measurement | None) -> Verdict:
    """The verdict of one evaluation; ``base`` is the baseline measurement of a relative condition."""
    if current.attempts < alarm.min_attempts:
        return Verdict("insufficient", f"{current.attempts} attempts, fewer than the minimum {alarm.min_attempts}")
    if current.value is None:
        needed = UNDEFINED_WITHOUT.get(alarm.metric, "data")
        return Verdict("insufficient", f"undefined without {needed} in the window")
    baseline = None
    if alarm.relative:
        if base is None or base.value is None:
            needed = UNDEFINED_WITHOUT.get(alarm.metric, "data")
            return Verdict("insufficient", f"the baseline is undefined (no {needed} in the baseline window)")
        baseline = base.value
    if breached(alarm.condition, alarm.threshold, current.value, baseline):
        return Verdict("breach")
    return Verdict("ok")


def transition(state: str, verdict: str, last_triggered_us: int, now_us: int, cooldown_s: int) -> Transition:
    """OK → FIRING on a breach (unless held by the cooldown), FIRING → OK on ok; else no change."""
    if verdict == "breach" and state != FIRING:
        held_until = last_triggered_us + cooldown_s * 1_000_000 if last_triggered_us else 0
        if now_us < held_until:
            return Transition(OK, held_until_us=held_until)
        return Transition(FIRING, TRIGGERED)
    if verdict == "ok" and state == FIRING:
        return Transition(OK, CLEARED)
    return Transition(state if state in (OK, FIRING) else OK)
