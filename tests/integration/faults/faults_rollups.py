"""Every roll-up report reporting answers, compared with a brute-force count over the stored CDRs.

The stored CDRs come from ingest's ``ReplayCdrs`` (what the raw store holds, not what the test sent).
Sums are exact integers (attempts, answered, billsec and duration in ms, NER failures, PDD count); buckets
are UTC hours and days (the reporting zone of the run). Definitions are DESIGN.md section 5, written
here again on purpose: the product's own code is what is under test.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 24 * HOUR_US
MINUTE_US = 60 * US
NER_CAUSES = {17, 18, 19, 21}
FIELDS = ("attempts", "answered", "billsec_ms", "duration_ms", "ner_failures", "pdd_count")
ADMIN = reporting_pb2.Scope(admin=True)


@dataclasses.dataclass(frozen=True, slots=True)
class Stored:
    id: str
    switch_id: str
    uuid: str
    accountcode: str
    country: str
    destination: str
    start_us: int
    end_us: int
    answered: bool
    billsec_ms: int
    duration_ms: int
    pdd_ms: int
    cause: int

    def sums(self) -> tuple[int, ...]:
        answered = self.answered
        return (1, int(answered), self.billsec_ms, self.duration_ms, int(not answered and self.cause in NER_CAUSES),
                int(self.pdd_ms >= 0))  # fmt: skip


def replay(address: str) -> list[Stored]:
    """Every CDR ingest holds, in id order."""
    with grpc.insecure_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        batches = stub.ReplayCdrs(ingest_pb2.ReplayCdrsRequest(batch_size=1000), timeout=300)
        return [_stored(cdr) for batch in batches for cdr in batch.cdrs]


def _stored(c: Any) -> Stored:
    answered = c.answer_time_us > 0 or c.billsec_ms > 0
    destination = c.destination_e164 or c.destination_number
    return Stored(
        c.id, c.switch_id, c.uuid, c.accountcode, c.country, destination, c.start_time_us, c.end_time_us,
        answered, c.billsec_ms, c.duration_ms, c.pdd_ms, c.hangup_cause,
    )  # fmt: skip


def brute(cdrs: Iterable[Stored], key: Callable[[Stored], Any]) -> dict[Any, tuple[int, ...]]:
    sums: dict[Any, list[int]] = {}
    for cdr in cdrs:
        row = sums.setdefault(key(cdr), [0] * len(FIELDS))
        for index, value in enumerate(cdr.sums()):
            row[index] += value
    return {k: tuple(v) for k, v in sums.items()}


def _stats(stats: Any) -> tuple[int, ...]:
    return tuple(int(getattr(stats, name)) for name in FIELDS)


class Comparison:
    """Counts every compared value and keeps the first mismatches."""

    def __init__(self) -> None:
        self.compared: collections.Counter[str] = collections.Counter()
        self.mismatches: list[str] = []

    def equal(self, report: str, where: Any, got: Any, want: Any) -> None:
        self.compared[report] += 1
        if got != want and len(self.mismatches) < 50:
            self.mismatches.append(f"{report} {where}: reporting {got}, brute force {want}")

    def summary(self) -> dict[str, Any]:
        return {"values_compared": dict(self.compared), "mismatches": list(self.mismatches)}


def _day(time_us: int) -> dt.date:
    return dt.datetime.fromtimestamp(time_us // US, tz=dt.UTC).date()


def peaks(cdrs: Iterable[Stored], day_start_us: int) -> list[int]:
    """Per minute of the UTC day: the most calls up at any instant t of it (start <= t < end)."""
    points: dict[int, int] = collections.Counter()
    for cdr in cdrs:
        if cdr.end_us > cdr.start_us:
            points[cdr.start_us] += 1
            points[cdr.end_us] -= 1
    level = sum(delta for time_us, delta in points.items() if time_us < day_start_us)
    by_minute: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)
    for time_us, delta in points.items():
        if day_start_us <= time_us < day_start_us + DAY_US:
            by_minute[(time_us - day_start_us) // MINUTE_US].append((time_us, delta))
    result = []
    for minute in range(DAY_US // MINUTE_US):
        moments = sorted(by_minute.get(minute, []))
        best = level if not moments or moments[0][0] > day_start_us + minute * MINUTE_US else None
        for _, delta in moments:
            level += delta
            best = level if best is None else max(best, level)
        result.append(int(best or 0))
    return result


def compare_reports(address: str, cdrs: list[Stored], now_us: int) -> dict[str, Any]:
    """Ask reporting for every roll-up report over the stored CDRs' days; compare each number."""
    check = Comparison()
    first, last = _day(min(c.start_us for c in cdrs)), _day(max(c.start_us for c in cdrs))
    d0, d1 = first.isoformat(), last.isoformat()
    day_key: Callable[[Stored], Any] = lambda c: _day(c.start_us).isoformat()  # noqa: E731
    with grpc.insecure_channel(address) as channel:
        stub = reporting_pb2_grpc.ReportingServiceStub(channel)
        status = stub.GetStatus(reporting_pb2.GetStatusRequest(), timeout=30)
        check.equal("status", "cdrs_applied", status.cdrs_applied, len(cdrs))
        # report by day: everything, each switch, each account code
        narrowings = [("", "")] + [(s, "") for s in sorted({c.switch_id for c in cdrs})]
        narrowings += [("", a) for a in sorted({c.accountcode for c in cdrs})]
        for switch_id, code in narrowings:
            chosen = [c for c in cdrs if switch_id in ("", c.switch_id) and code in ("", c.accountcode)]
            want = brute(chosen, day_key)
            reply = stub.GetDailyReport(
                reporting_pb2.DailyReportRequest(
                    scope=ADMIN, switch_id=switch_id, accountcode=code, start_date=d0, end_date=d1
                ),
                timeout=30,
            )
            for bucket in reply.days:
                check.equal(
                    "daily", (switch_id, code, bucket.label), _stats(bucket.stats), want.get(bucket.label, (0,) * 6)
                )
            check.equal("daily totals", (switch_id, code), _stats(reply.totals), brute(chosen, lambda c: 0).get(0))
        # hourly compare: every hour of every day
        hours = brute(cdrs, lambda c: c.start_us - c.start_us % HOUR_US)
        reply = stub.GetHourlyCompare(
            reporting_pb2.HourlyCompareRequest(scope=ADMIN, date=d1, previous=max(1, (last - first).days)), timeout=30
        )
        for day in [reply.day, *reply.compared]:
            for bucket in day.hours:
                check.equal("hourly", bucket.label, _stats(bucket.stats), hours.get(bucket.start_us, (0,) * 6))
        _dashboard(stub, check, cdrs, now_us)
        _countries_causes_destinations(stub, check, cdrs, d0, d1)
        _concurrency(stub, check, cdrs, first, last)
        months = brute(cdrs, lambda c: _day(c.start_us).isoformat()[:7])
        reply = stub.GetMonthlyCompare(
            reporting_pb2.MonthlyCompareRequest(scope=ADMIN, month=d1[:7], months=3), timeout=30
        )
        for bucket in reply.months:
            check.equal("monthly", bucket.label, _stats(bucket.stats), months.get(bucket.label, (0,) * 6))
    return check.summary()


def _dashboard(stub: Any, check: Comparison, cdrs: list[Stored], now_us: int) -> None:
    reply = stub.GetDashboard(reporting_pb2.DashboardRequest(scope=ADMIN, now_us=now_us), timeout=30)
    inside = [c for c in cdrs if reply.window_start_us <= c.start_us < reply.window_end_us]
    hours = brute(inside, lambda c: c.start_us - c.start_us % HOUR_US)
    for hour in reply.hours:
        check.equal(
            "dashboard hour", hour.start_us, (hour.attempts, hour.answered), hours.get(hour.start_us, (0, 0))[:2]
        )
    total = brute(inside, lambda c: 0).get(0, (0,) * 6)
    check.equal("dashboard totals", "attempts, answered", (reply.attempts, reply.answered), total[:2])
    causes = brute(inside, lambda c: c.cause)
    for cause in reply.hangup_causes:
        check.equal("dashboard cause", cause.hangup_cause, cause.attempts, causes.get(cause.hangup_cause, (0,))[0])
    check.equal("dashboard causes listed", "", len(reply.hangup_causes), len(causes))


def _countries_causes_destinations(stub: Any, check: Comparison, cdrs: list[Stored], d0: str, d1: str) -> None:
    countries = brute(cdrs, lambda c: c.country)
    reply = stub.GetCountryReport(
        reporting_pb2.CountryReportRequest(scope=ADMIN, start_date=d0, end_date=d1), timeout=30
    )
    for row in reply.countries:
        check.equal("country", row.country, _stats(row.stats), countries.get(row.country))
    check.equal("countries listed", "", len(reply.countries), len(countries))
    causes = brute(cdrs, lambda c: c.cause)
    reply = stub.GetHangupCauses(reporting_pb2.HangupCausesRequest(scope=ADMIN, start_date=d0, end_date=d1), timeout=30)
    per_day = brute(cdrs, lambda c: (c.cause, c.start_us - c.start_us % DAY_US))
    for series in reply.causes:
        check.equal("hangup cause", series.hangup_cause, series.attempts, causes.get(series.hangup_cause, (0,))[0])
        for start_us, attempts in zip(reply.bucket_start_us, series.per_bucket, strict=True):
            check.equal("hangup cause per day", (series.hangup_cause, start_us), attempts,
                        per_day.get((series.hangup_cause, start_us), (0,))[0])  # fmt: skip
    destinations = brute(cdrs, lambda c: c.destination)
    reply = stub.GetTopDestinations(
        reporting_pb2.TopDestinationsRequest(scope=ADMIN, start_date=d0, end_date=d1, limit=100), timeout=30
    )
    for row in reply.destinations:  # destination rows keep attempts, answered and billsec only (docs/reporting.md)
        check.equal("top destination", row.value, _stats(row.stats)[:3], destinations.get(row.value, (0,) * 3)[:3])
    top = sorted((v[0] for v in destinations.values()), reverse=True)[: len(reply.destinations)]
    check.equal("top destinations order", "", [row.stats.attempts for row in reply.destinations], top)
    check.equal("top destinations untracked", "", reply.other_attempts, 0)


def _concurrency(stub: Any, check: Comparison, cdrs: list[Stored], first: dt.date, last: dt.date) -> None:
    scopes = [("", ""), (cdrs[0].switch_id, ""), ("", cdrs[0].accountcode)]
    day = first
    while day <= last:
        start_us = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * US
        for switch_id, code in scopes:
            chosen = [c for c in cdrs if switch_id in ("", c.switch_id) and code in ("", c.accountcode)]
            reply = stub.GetConcurrentCalls(
                reporting_pb2.ConcurrentCallsRequest(scope=ADMIN, switch_id=switch_id, accountcode=code,
                                                     date=day.isoformat()), timeout=30)  # fmt: skip
            want = peaks(chosen, start_us)
            got = list(reply.peaks)
            check.equal("concurrent minutes", (day.isoformat(), switch_id, code), len(got), len(want))
            for minute, (a, b) in enumerate(zip(got, want, strict=False)):
                check.equal("concurrent peak", (day.isoformat(), switch_id, code, minute), a, b)
        day += dt.timedelta(days=1)
