"""Proto <-> domain conversion, nothing else."""

from __future__ import annotations

import dataclasses
from typing import Any

from cdrstats.ingest.v1 import ingest_pb2
from cdrstats.reporting.v1 import reporting_pb2
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.dashboard import Dashboard
from cdrstats_reporting.domain.reports import Bucket, DayHours, Report
from cdrstats_reporting.domain.rollup import Filters

#: CdrQuery fields the roll-ups can answer; any other set field goes to ingest's search.
ROLLUP_FIELDS = {
    "switch_ids",
    "accountcode",
    "directions",
    "hangup_causes",
    "countries",
    "start_from_us",
    "start_to_us",
}


def split_query(query: ingest_pb2.CdrQuery, base: Filters) -> tuple[Filters, ingest_pb2.CdrQuery | None]:
    """(roll-up filters, None) when roll-ups can answer ``query``; else (``base``, the query for search)."""
    fields = {field.name for field, _ in query.ListFields()}
    accountcode_ok = not query.HasField("accountcode") or query.accountcode.op in ("", "equals")
    if not fields <= ROLLUP_FIELDS or not accountcode_ok:
        return base, query
    filters = dataclasses.replace(base)
    if query.switch_ids:
        wanted = set(query.switch_ids) if base.switch_ids is None else set(query.switch_ids) & set(base.switch_ids)
        filters = dataclasses.replace(filters, switch_ids=sorted(wanted))
    if query.HasField("accountcode") and query.accountcode.value:
        code = query.accountcode.value
        allowed = base.accountcodes
        filters = dataclasses.replace(filters, accountcodes=[code] if allowed is None or code in allowed else [])
    return (
        dataclasses.replace(
            filters,
            directions=list(query.directions) or None,
            hangup_causes=list(query.hangup_causes) or None,
            countries=list(query.countries) or None,
        ),
        None,
    )


def stats(totals: Totals, hours: float = 0.0) -> reporting_pb2.Stats:
    return reporting_pb2.Stats(
        attempts=totals.attempts,
        answered=totals.answered,
        minutes=totals.minutes,
        asr=totals.asr,
        acd=totals.acd,
        ner=totals.ner,
        pdd_ms=totals.pdd,
        billsec_ms=totals.billsec_ms,
        duration_ms=totals.duration_ms,
        ner_failures=totals.ner_failures,
        pdd_count=totals.pdd_count,
        ach=totals.attempts / hours if hours > 0 else 0.0,
    )


def bucket(item: Bucket) -> reporting_pb2.Bucket:
    return reporting_pb2.Bucket(
        label=item.label, start_us=item.start_us, end_us=item.end_us, stats=stats(item.totals, item.hours)
    )


def _share(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def dashboard_to_proto(report: Dashboard, time_zone: str = "UTC") -> reporting_pb2.Dashboard:
    total = report.totals.attempts
    return reporting_pb2.Dashboard(
        window_start_us=report.window_start_us,
        window_end_us=report.window_end_us,
        attempts=report.totals.attempts,
        answered=report.totals.answered,
        asr=report.asr,
        acd=report.acd,
        minutes=report.minutes,
        ach=report.ach,
        ner=report.totals.ner,
        pdd_ms=report.totals.pdd,
        time_zone=time_zone,
        hours=[
            reporting_pb2.HourBucket(
                start_us=hour.start_us,
                attempts=hour.totals.attempts,
                answered=hour.totals.answered,
                minutes=hour.totals.minutes,
            )
            for hour in report.hours
        ],
        top_countries=[
            reporting_pb2.CountryStats(country=c, stats=stats(t), share=_share(t.attempts, total))
            for c, t in report.top_countries
        ],
        hangup_causes=[
            reporting_pb2.CauseStats(hangup_cause=cause, attempts=n, share=_share(n, total))
            for cause, n in report.hangup_causes
        ],
    )


def status_to_proto(
    cdrs_applied: int, events_applied: int, time_zone: str = "", live_calls: int = 0
) -> reporting_pb2.ReportingStatus:
    return reporting_pb2.ReportingStatus(
        cdrs_applied=cdrs_applied, events_applied=events_applied, time_zone=time_zone, live_calls=live_calls
    )


def daily(report: Report) -> reporting_pb2.DailyReport:
    days = max(len(report.buckets), 1)
    average = Totals(**{f.name: getattr(report.totals, f.name) // days for f in dataclasses.fields(Totals)})
    average_stats = stats(average)
    totals = stats(report.totals, sum(b.hours for b in report.buckets))
    # ratios of the average are the ratios of the totals (an average of ratios would weigh days wrongly)
    for name in ("asr", "acd", "ner", "pdd_ms"):
        setattr(average_stats, name, getattr(totals, name))
    average_stats.minutes = report.totals.minutes / days
    return reporting_pb2.DailyReport(
        days=[bucket(b) for b in report.buckets],
        totals=totals,
        daily_average=average_stats,
        source=report.source,
        time_zone=report.time_zone,
    )


def overview(report: Report) -> reporting_pb2.Overview:
    return reporting_pb2.Overview(
        metric=report.extra["metric"],
        granularity=report.extra["granularity"],
        buckets=[bucket(b) for b in report.buckets],
        series=[
            reporting_pb2.Series(name=s.name, points=[reporting_pb2.Point(start_us=t, value=v) for t, v in s.points])
            for s in report.series
        ],
        time_zone=report.time_zone,
    )


def monthly(report: Report) -> reporting_pb2.MonthlyCompare:
    return reporting_pb2.MonthlyCompare(months=[bucket(b) for b in report.buckets], time_zone=report.time_zone)


def _day_hours(day: DayHours) -> reporting_pb2.DayHours:
    hours = sum(b.hours for b in day.hours)
    return reporting_pb2.DayHours(date=day.date, hours=[bucket(b) for b in day.hours], totals=stats(day.totals, hours))


def hourly(report: Report) -> reporting_pb2.HourlyCompare:
    days: list[DayHours] = report.extra["days"]
    return reporting_pb2.HourlyCompare(
        day=_day_hours(days[0]), compared=[_day_hours(d) for d in days[1:]], time_zone=report.time_zone
    )


def country(report: Report) -> reporting_pb2.CountryReport:
    total = report.totals.attempts
    return reporting_pb2.CountryReport(
        countries=[
            reporting_pb2.CountryStats(country=c, stats=stats(t), share=_share(t.attempts, total))
            for c, t in report.groups
        ],
        top=[reporting_pb2.CountrySeries(country=c, days=[bucket(b) for b in days]) for c, days in report.extra["top"]],
        totals=stats(report.totals),
        time_zone=report.time_zone,
    )


def concurrent(start_us: int, peaks: list[int], time_zone: str) -> reporting_pb2.ConcurrentCalls:
    best = max(peaks, default=0)
    at = start_us + peaks.index(best) * 60_000_000 if peaks else start_us
    return reporting_pb2.ConcurrentCalls(
        start_us=start_us, peaks=peaks, max_peak=best, max_at_us=at, time_zone=time_zone
    )


def live(calls: list[dict[str, Any]], as_of_us: int, limit: int) -> reporting_pb2.LiveCalls:
    by_switch: dict[str, list[int]] = {}
    by_code: dict[str, list[int]] = {}
    for call in calls:
        answered = int(call["state"] == "answered")
        for groups, key in ((by_switch, call["switch_id"]), (by_code, call["accountcode"])):
            counts = groups.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += answered
    return reporting_pb2.LiveCalls(
        calls=[reporting_pb2.LiveCall(**call) for call in calls[:limit]],
        total=len(calls),
        answered=sum(c[1] for c in by_switch.values()),
        by_switch=[reporting_pb2.LiveCount(key=k, calls=v[0], answered=v[1]) for k, v in sorted(by_switch.items())],
        by_accountcode=[reporting_pb2.LiveCount(key=k, calls=v[0], answered=v[1]) for k, v in sorted(by_code.items())],
        as_of_us=as_of_us,
    )


def top_destinations(report: Report) -> reporting_pb2.TopDestinations:
    return reporting_pb2.TopDestinations(
        destinations=[reporting_pb2.Destination(value=v, stats=stats(t)) for v, t in report.groups],
        total_attempts=report.extra["total"],
        other_attempts=report.extra["other"],
        by=report.extra["by"],
    )


def hangup_causes(report: Report) -> reporting_pb2.HangupCauses:
    total = sum(s.attempts for s in report.extra["causes"])
    return reporting_pb2.HangupCauses(
        bucket_start_us=report.extra["starts"],
        causes=[
            reporting_pb2.CauseSeries(
                hangup_cause=s.hangup_cause,
                attempts=s.attempts,
                share=_share(s.attempts, total),
                per_bucket=s.per_bucket,
            )
            for s in report.extra["causes"]
        ],
        total_attempts=total,
        time_zone=report.time_zone,
    )


def metric(report: Report) -> reporting_pb2.MetricValue:
    return reporting_pb2.MetricValue(
        metric=report.extra["metric"], value=report.extra["value"], stats=stats(report.totals), source=report.source
    )
