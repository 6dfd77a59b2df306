"""What a mail report says: totals of its period, the change against the previous period, top countries,
hangup causes and the last calls. Plain data filled from reporting and ingest; the templates only format it.

Ratios come from ``cdrstats_common.metrics`` (DESIGN.md section 5), the same functions the reports use,
so an e-mail can never disagree with the dashboard about what ASR or ACD means.
"""

from __future__ import annotations

import dataclasses

from cdrstats_common import metrics
from cdrstats_common.q850 import cause_name
from cdrstats_notify.domain.mail_report import Period

TOP_COUNTRIES = 5
LAST_CALLS = 10


@dataclasses.dataclass(frozen=True)
class PeriodTotals:
    """Additive sums over one period, and the ratios derived from them."""

    attempts: int = 0
    answered: int = 0
    billsec_ms: int = 0
    hours: float = 24.0

    @property
    def asr(self) -> float:
        return metrics.asr(self.answered, self.attempts)

    @property
    def acd(self) -> float:
        return metrics.acd(self.billsec_ms, self.answered)

    @property
    def ach(self) -> float:
        return metrics.ach(self.attempts, self.hours)

    @property
    def minutes(self) -> float:
        return metrics.minutes(self.billsec_ms)


@dataclasses.dataclass(frozen=True)
class Change:
    """One metric now and in the previous period: absolute and percent change (None when it was 0)."""

    key: str  # attempts, answered, asr, acd, ach, minutes
    label: str
    unit: str
    current: float
    previous: float

    @property
    def delta(self) -> float:
        return self.current - self.previous

    @property
    def percent(self) -> float | None:
        return 100.0 * self.delta / self.previous if self.previous else None

    @property
    def direction(self) -> str:
        """up, down or same: the arrow shown next to it."""
        if self.delta > 0:
            return "up"
        return "down" if self.delta < 0 else "same"


#: (key, label, unit) in the order the report shows them
METRICS = (
    ("attempts", "Attempts", ""),
    ("answered", "Answered", ""),
    ("asr", "ASR", "%"),
    ("acd", "ACD", "s"),
    ("ach", "ACH", "/h"),
    ("minutes", "Minutes", "min"),
)


def compare(current: PeriodTotals, previous: PeriodTotals) -> list[Change]:
    return [
        Change(key, label, unit, float(getattr(current, key)), float(getattr(previous, key)))
        for key, label, unit in METRICS
    ]


@dataclasses.dataclass(frozen=True)
class CountryLine:
    country: str  # ISO 3166 alpha-2; "" when unknown
    name: str
    attempts: int
    answered: int
    billsec_ms: int
    share: float  # percent of the period's attempts

    @property
    def asr(self) -> float:
        return metrics.asr(self.answered, self.attempts)

    @property
    def acd(self) -> float:
        return metrics.acd(self.billsec_ms, self.answered)

    @property
    def minutes(self) -> float:
        return metrics.minutes(self.billsec_ms)


@dataclasses.dataclass(frozen=True)
class CauseLine:
    code: int  # Q.850
    attempts: int
    share: float

    @property
    def name(self) -> str:
        return cause_name(self.code)


@dataclasses.dataclass(frozen=True)
class CallLine:
    """One of the last calls; ``start`` is already local to the reporting zone ("2026-11-26 23:59:58")."""

    id: str
    start: str
    switch_id: str
    accountcode: str
    caller: str
    destination: str
    country: str
    answered: bool
    billsec_s: float
    duration_s: float
    disposition: str
    hangup_cause: int

    @property
    def cause_name(self) -> str:
        return cause_name(self.hangup_cause)


@dataclasses.dataclass(frozen=True)
class ReportContent:
    """Everything one rendered report shows."""

    owner: str
    owner_name: str  # "All switches" or the tenant's name
    kind: str
    period: Period
    previous: Period
    time_zone: str
    switch_id: str
    totals: PeriodTotals
    previous_totals: PeriodTotals
    countries: list[CountryLine]
    causes: list[CauseLine]
    calls: list[CallLine]
    link: str = ""  # the gateway's page for the period, "" without CDRSTATS_PUBLIC_URL

    @property
    def changes(self) -> list[Change]:
        return compare(self.totals, self.previous_totals)

    @property
    def title(self) -> str:
        what = "Daily" if self.kind == "daily" else "Weekly"
        scope = self.owner_name + (f", switch {self.switch_id}" if self.switch_id else "")
        return f"{what} report {self.period_name} ({scope})"

    @property
    def period_name(self) -> str:
        """ "2026-11-26" or "2026-W47 (2026-11-16 to 2026-11-22)"."""
        if self.kind == "daily":
            return self.period.label
        return f"{self.period.label} ({self.period.first.isoformat()} to {self.period.last.isoformat()})"
