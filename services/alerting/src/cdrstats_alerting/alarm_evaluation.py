"""One alarm evaluation: measure the window (and the baseline) through a MetricSource, or read the CIC
run from the store; judge; work out the transition, the message and the CDR search link.

Nothing is stored here: ``AlarmsService`` stores scheduled evaluations and only shows test ones.
"""

from __future__ import annotations

import dataclasses
import secrets
import zoneinfo

from cdrstats_alerting.domain import cic, messages
from cdrstats_alerting.domain.alarms import Alarm, MetricUnavailable
from cdrstats_alerting.domain.evaluate import (
    Evaluation,
    Measurement,
    Transition,
    Verdict,
    judge,
    measurement,
    transition,
)
from cdrstats_alerting.domain.windows import Span, baseline_span, window_span
from cdrstats_alerting.metric_source import MetricQuery, MetricSource
from cdrstats_alerting.store import AlertingStore


def new_evaluation_id(now_us: int) -> str:
    """Sortable by time, unique by its random suffix."""
    return f"ev_{now_us:016x}{secrets.token_hex(6)}"


def scope_query(alarm: Alarm, metric: str, span: Span, allowed: tuple[str, ...] | None) -> MetricQuery:
    kind, value = alarm.scope.kind, alarm.scope.value
    return MetricQuery(
        metric=metric,
        start_us=span.start_us,
        end_us=span.end_us,
        allowed_accountcodes=allowed,
        switch_id=value if kind == "switch" else "",
        accountcodes=(value,) if kind == "accountcode" else (),
        countries=(value,) if kind == "country" else (),
        destination_prefix=value if kind == "prefix" else "",
        hangup_cause=alarm.hangup_cause if metric == "cause_share" else 0,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Measured:
    window: Span
    current: Measurement
    baseline_window: Span | None = None
    baseline: Measurement | None = None
    refusal: Verdict | None = None  # insufficient / error before or instead of judging


class AlarmEvaluator:
    def __init__(
        self, store: AlertingStore, metrics: MetricSource | None, *, time_zone: str = "UTC", public_url: str = ""
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.public_url = public_url

    def _tenant_refusal(self, alarm: Alarm) -> tuple[tuple[str, ...] | None, Verdict | None]:
        """The account codes a tenant's alarm is measured within (None: an admin alarm sees all)."""
        if not alarm.owner:
            return None, None
        codes = tuple(self.store.tenant_accountcodes(alarm.owner))
        if not codes:
            return (), Verdict("insufficient", f"tenant {alarm.owner} has no account codes")
        if alarm.scope.kind == "accountcode" and alarm.scope.value not in codes:
            return codes, Verdict("insufficient", f"account code {alarm.scope.value} is not one of {alarm.owner}'s")
        return codes, None

    def _measure(self, alarm: Alarm, query: MetricQuery) -> Measurement:
        if self.metrics is None:
            raise MetricUnavailable("no reporting service configured (REPORTING_GRPC_ADDR)")
        result = self.metrics.query(query)
        attempts = result.attempts
        if query.metric == "concurrent_peak":  # its reply carries no attempts: min_attempts needs them
            attempts = self.metrics.query(dataclasses.replace(query, metric="attempts")).attempts
        return measurement(alarm.metric, result.value, attempts, result.answered, result.pdd_count)

    def measure(self, alarm: Alarm, now_us: int) -> Measured:
        allowed, refusal = self._tenant_refusal(alarm)
        if alarm.metric == "cic":
            run = self.store.cic_run(cic.alarm_scope_key(alarm))
            span = Span(run.first_start_us or now_us, max(now_us, run.first_start_us))
            return Measured(span, Measurement(float(run.length), run.length), refusal=refusal)
        span = window_span(alarm.window, now_us, self.zone)
        nothing = Measurement(None, 0)
        if refusal is not None:
            return Measured(span, nothing, refusal=refusal)
        if span.empty:
            return Measured(
                span, nothing, refusal=Verdict("insufficient", "the window is empty (its period just began)")
            )
        try:
            current = self._measure(alarm, scope_query(alarm, alarm.metric, span, allowed))
            if not alarm.relative or current.attempts < alarm.min_attempts or current.value is None:
                return Measured(span, current)
            base_span = baseline_span(alarm.window, alarm.baseline, now_us, self.zone)
            base = (
                nothing
                if base_span.empty
                else self._measure(alarm, scope_query(alarm, alarm.metric, base_span, allowed))
            )
            return Measured(span, current, base_span, base)
        except MetricUnavailable as exc:
            return Measured(span, nothing, refusal=Verdict("error", str(exc)))

    def evaluate(self, alarm: Alarm, now_us: int) -> tuple[Evaluation, Transition]:
        """The evaluation as it would be stored (``published`` False) and the state transition it implies."""
        measured = self.measure(alarm, now_us)
        verdict = measured.refusal or judge(alarm, measured.current, measured.baseline)
        step = transition(alarm.state, verdict.verdict, alarm.last_triggered_us, now_us, alarm.cooldown_s)
        value = measured.current.value if measured.current.value is not None else 0.0
        base = measured.baseline.value if measured.baseline is not None else None
        evaluation = Evaluation(
            id=new_evaluation_id(now_us),
            alarm_id=alarm.id,
            time_us=now_us,
            window=measured.window,
            value=value,
            baseline=base,
            baseline_window=measured.baseline_window if base is not None else None,
            threshold=alarm.threshold,
            attempts=measured.current.attempts,
            verdict=verdict.verdict,
            state_before=alarm.state,
            state_after=step.state_after,
            message=messages.message(alarm, value, base, verdict, step.held_until_us),
            error=verdict.reason if verdict.verdict == "error" else "",
            link=messages.link(self.public_url, alarm, measured.window),
        )
        return evaluation, step
