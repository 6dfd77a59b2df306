"""Report shapes and the pure arithmetic that builds them from roll-up rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from cdrstats_common import metrics
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.errors import InvalidArgument
from cdrstats_reporting.domain.timegrid import HOUR_US

METRICS = ("attempts", "answered", "asr", "acd", "aloc", "ner", "minutes", "ach", "pdd_ms")


@dataclasses.dataclass(frozen=True)
class Bucket:
    label: str
    start_us: int
    end_us: int
    totals: Totals

    @property
    def hours(self) -> float:
        return (self.end_us - self.start_us) / HOUR_US


@dataclasses.dataclass(frozen=True)
class DayHours:
    date: str
    hours: list[Bucket]
    totals: Totals


@dataclasses.dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[int, float]]


@dataclasses.dataclass(frozen=True)
class CauseSeries:
    hangup_cause: int
    attempts: int
    per_bucket: list[int]


@dataclasses.dataclass
class Report:
    """A generic report body; each use-case fills the fields it has (convert.py maps them to its message)."""

    time_zone: str
    buckets: list[Bucket] = dataclasses.field(default_factory=list)
    totals: Totals = dataclasses.field(default_factory=Totals)
    source: str = "rollups"
    series: list[Series] = dataclasses.field(default_factory=list)
    groups: list[tuple[Any, Totals]] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def metric_value(metric: str, totals: Totals, hours: float) -> float:
    """Any metric of DESIGN.md section 5 that is a function of roll-up sums."""
    if metric == "attempts":
        return float(totals.attempts)
    if metric == "answered":
        return float(totals.answered)
    if metric == "asr":
        return totals.asr
    if metric in ("acd", "aloc"):
        return totals.acd
    if metric == "ner":
        return totals.ner
    if metric == "minutes":
        return totals.minutes
    if metric == "ach":
        return metrics.ach(totals.attempts, hours)
    if metric == "pdd_ms":
        return totals.pdd
    raise InvalidArgument(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")


def parse_date(field: str, value: str, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{field}: expected a date YYYY-MM-DD, got {value!r}") from None


def parse_month(field: str, value: str, default: dt.date) -> tuple[int, int]:
    if not value:
        return default.year, default.month
    try:
        parsed = dt.datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise InvalidArgument(f"{field}: expected a month YYYY-MM, got {value!r}") from None
    return parsed.year, parsed.month


def date_range(start: dt.date, end: dt.date, max_days: int, field: str = "end_date") -> None:
    if end < start:
        raise InvalidArgument(f"{field}: must not be before start_date ({end} < {start})")
    if (end - start).days + 1 > max_days:
        raise InvalidArgument(f"{field}: a range of at most {max_days} days, got {(end - start).days + 1}")


def sum_rows(rows: Iterable[tuple[Any, Totals]]) -> Totals:
    total = Totals()
    for _, totals in rows:
        total.merge(totals)
    return total


def by_key(rows: Iterable[tuple[tuple[Any, ...], Totals]]) -> dict[Any, Totals]:
    """Rows keyed by their one group value (or the key tuple when there are several)."""
    out: dict[Any, Totals] = {}
    for key, totals in rows:
        k = key[0] if len(key) == 1 else key
        out.setdefault(k, Totals()).merge(totals)
    return out


def ranked(groups: dict[Any, Totals]) -> list[tuple[Any, Totals]]:
    """Most attempts first, ties by key, so the order is deterministic."""
    return sorted(groups.items(), key=lambda item: (-item[1].attempts, str(item[0])))
