"""Where alarm values come from: the ``MetricSource`` protocol the evaluator uses.

In production it is reporting's QueryMetric (``metric_client.ReportingMetricSource``). The
``CdrListMetricSource`` here computes the same metrics by brute force over a list of canonical
CDRs with the shared definitions of ``cdrstats_common.metrics``: a real implementation, used
by tests and by anything that holds its CDRs in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from cdrstats_common.metrics import US_PER_MINUTE, Totals, concurrent_peaks


@dataclasses.dataclass(frozen=True, slots=True)
class MetricQuery:
    """One metric over [start_us, end_us) (CDRs by start time) within a scope."""

    metric: str
    start_us: int
    end_us: int
    allowed_accountcodes: tuple[str, ...] | None = None  # None: every account code (admin)
    switch_id: str = ""
    accountcodes: tuple[str, ...] = ()  # narrow within the allowed ones
    countries: tuple[str, ...] = ()
    destination_prefix: str = ""  # E.164 digits without '+'
    hangup_cause: int = 0  # cause_share only


@dataclasses.dataclass(frozen=True, slots=True)
class MetricResult:
    value: float
    attempts: int
    answered: int = 0
    pdd_count: int = 0


class MetricSource(Protocol):
    def query(self, query: MetricQuery) -> MetricResult:
        """Raises ``MetricUnavailable`` when the value cannot be measured now."""
        ...


def matches(query: MetricQuery, cdr: Mapping[str, Any]) -> bool:
    """Whether a CDR is in the query's scope (its start time aside)."""
    code = str(cdr.get("accountcode") or "")
    if query.allowed_accountcodes is not None and code not in query.allowed_accountcodes:
        return False
    if query.accountcodes and code not in query.accountcodes:
        return False
    if query.switch_id and cdr.get("switch_id") != query.switch_id:
        return False
    if query.countries and cdr.get("country") not in query.countries:
        return False
    digits = str(cdr.get("destination_e164") or "").removeprefix("+")
    return not (query.destination_prefix and not digits.startswith(query.destination_prefix))


class CdrListMetricSource:
    """Every metric recomputed from raw CDRs on each query (exact, and as slow as that sounds)."""

    def __init__(self, cdrs: Iterable[Mapping[str, Any]] = ()) -> None:
        self.cdrs: list[Mapping[str, Any]] = list(cdrs)
        self.queries: list[MetricQuery] = []

    def add(self, cdrs: Iterable[Mapping[str, Any]]) -> None:
        self.cdrs.extend(cdrs)

    def query(self, query: MetricQuery) -> MetricResult:
        self.queries.append(query)
        scoped = [cdr for cdr in self.cdrs if matches(query, cdr)]
        inside = [cdr for cdr in scoped if query.start_us <= int(cdr["start_time_us"]) < query.end_us]
        totals = Totals()
        for cdr in inside:
            totals.add_cdr(cdr)
        value = self._value(query, totals, scoped, inside)
        return MetricResult(value, totals.attempts, totals.answered, totals.pdd_count)

    @staticmethod
    def _value(query: MetricQuery, totals: Totals, scoped: list[Any], inside: list[Any]) -> float:
        metric = query.metric
        if metric == "concurrent_peak":
            peaks = concurrent_peaks((int(c["start_time_us"]), int(c["end_time_us"])) for c in scoped)
            touching = [p for m, p in peaks.items() if query.start_us < m + US_PER_MINUTE and m < query.end_us]
            return float(max(touching, default=0))
        if metric == "cause_share":
            hits = sum(1 for cdr in inside if int(cdr.get("hangup_cause") or 0) == query.hangup_cause)
            return 100.0 * hits / totals.attempts if totals.attempts else 0.0
        values = {
            "attempts": float(totals.attempts),
            "answered": float(totals.answered),
            "asr": totals.asr,
            "acd": totals.acd,
            "aloc": totals.acd,
            "ner": totals.ner,
            "minutes": totals.minutes,
            "pdd_ms": totals.pdd,
        }
        if metric not in values:
            raise ValueError(f"metric: unknown metric {metric!r}")
        return values[metric]
