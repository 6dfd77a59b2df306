"""Report use-cases: every report of issue 4, scoped, from roll-ups (or ingest's search where they cannot answer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain import concurrency as conc
from cdrstats_reporting.domain.errors import InvalidArgument
from cdrstats_reporting.domain.reports import (
    Bucket,
    CauseSeries,
    DayHours,
    Report,
    Series,
    by_key,
    date_range,
    metric_value,
    parse_date,
    parse_month,
    ranked,
)
from cdrstats_reporting.domain.rollup import Filters
from cdrstats_reporting.domain.timegrid import HOUR_US, MINUTE_US, TimeGrid
from cdrstats_reporting.scope import CdrSearch, scoped_accountcodes, selection
from cdrstats_reporting.store.base import RollupStore

MAX_DAYS = 366
MAX_SEARCH_DAYS = 31
MAX_HOUR_DAYS = 3


class ReportQueries:
    def __init__(self, store: RollupStore, clock: Callable[[], int], search: CdrSearch | None = None) -> None:
        self.store = store
        self.clock = clock
        self.search = search
        self.grid = TimeGrid(store.time_zone())

    def _today(self) -> dt.date:
        return self.grid.today(self.clock())

    def _days(self, start: str, end: str, max_days: int = MAX_DAYS) -> list[tuple[dt.date, int, int]]:
        first = parse_date("start_date", start, self._today())
        last = parse_date("end_date", end, first if start else self._today())
        date_range(first, last, max_days)
        return self.grid.days(first, last)

    def _day_buckets(self, filters: Filters, days: list[tuple[dt.date, int, int]]) -> list[Bucket]:
        rows = by_key(self.store.rollup_rows("day", days[0][1], days[-1][2], ("bucket",), filters))
        return [Bucket(day.isoformat(), s, e, rows.get(s, Totals())) for day, s, e in days]

    def _hour_buckets(self, filters: Filters, start_us: int, end_us: int) -> list[Bucket]:
        rows = by_key(self.store.rollup_rows("hour", start_us, end_us, ("bucket",), filters))
        hours = self.grid.hours(start_us, end_us)
        return [
            Bucket(self.grid.hour_label(h), h, n, rows.get(h, Totals()))
            for h, n in zip(hours, [*hours[1:], end_us], strict=True)
        ]

    # -- 2. report by day -----------------------------------------------------------------

    def daily_report(self, filters: Filters, start: str, end: str, search_query: Any = None) -> Report:
        """Roll-ups unless ``search_query`` (a filter roll-ups lack) is given; then ingest's search, <= 31 days."""
        days = self._days(start, end)
        report = Report(self.grid.zone_name)
        if search_query is None:
            report.buckets = self._day_buckets(filters, days)
        else:
            if self.search is None:
                raise InvalidArgument("query: this filter needs ingest's search, and INGEST_GRPC_ADDR is not set")
            if len(days) > MAX_SEARCH_DAYS:
                raise InvalidArgument(f"end_date: filters without a roll-up allow at most {MAX_SEARCH_DAYS} days")
            sums = {s: Totals() for _, s, _ in days}
            for cdr in self.search.export(filters, search_query, days[0][1], days[-1][2]):
                day_sums = sums.get(self.grid.day_start(int(cdr["start_time_us"])))
                if day_sums is not None:
                    day_sums.add_cdr(cdr)
            report.buckets = [Bucket(day.isoformat(), s, e, sums[s]) for day, s, e in days]
            report.source = "search"
        for bucket in report.buckets:
            report.totals.merge(bucket.totals)
        return report

    # -- 3. overview ----------------------------------------------------------------------

    def overview(self, filters: Filters, metric: str, granularity: str, start: str, end: str) -> Report:
        metric = metric or "attempts"
        metric_value(metric, Totals(), 1.0)  # validates the name
        granularity = granularity or "day"
        if granularity == "hour":
            days = self._days(start, end, MAX_HOUR_DAYS)
            spans = [(b.label, b.start_us, b.end_us) for b in self._hour_buckets(filters, days[0][1], days[-1][2])]
        elif granularity == "day":
            spans = [(d.isoformat(), s, e) for d, s, e in self._days(start, end)]
        elif granularity == "month":
            days = self._days(start, end, 3 * MAX_DAYS)
            spans = self._month_spans(days[0][0], days[-1][0])
        else:
            raise InvalidArgument(f"granularity: expected hour, day or month, got {granularity!r}")
        grain = "hour" if granularity == "hour" else "day"
        rows = self.store.rollup_rows(grain, spans[0][1], spans[-1][2], ("bucket", "switch_id"), filters)
        per_switch: dict[str, dict[int, Totals]] = {}
        total: dict[int, Totals] = {}
        starts = [s for _, s, _ in spans]
        for (bucket_us, switch), totals in rows:
            span = _span_of(starts, bucket_us)
            per_switch.setdefault(switch, {}).setdefault(span, Totals()).merge(totals)
            total.setdefault(span, Totals()).merge(totals)
        report = Report(self.grid.zone_name)
        report.buckets = [Bucket(label, s, e, total.get(s, Totals())) for label, s, e in spans]
        for name, sums in [("", total), *sorted(per_switch.items())]:
            points = [(s, metric_value(metric, sums.get(s, Totals()), (e - s) / 3.6e9)) for _, s, e in spans]
            report.series.append(Series(name, points))
        report.extra = {"metric": metric, "granularity": granularity}
        return report

    def _month_spans(self, first: dt.date, last: dt.date) -> list[tuple[str, int, int]]:
        spans = []
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            spans.append((f"{year:04d}-{month:02d}", *self.grid.month_bounds(year, month)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return spans

    # -- 4. monthly compare ---------------------------------------------------------------

    def monthly_compare(self, filters: Filters, month: str, months: int) -> Report:
        months = months or 6
        if not 1 <= months <= 36:
            raise InvalidArgument(f"months: expected 1..36, got {months}")
        year, mon = parse_month("month", month, self._today())
        index = year * 12 + mon - 1 - (months - 1)
        first = dt.date(index // 12, index % 12 + 1, 1)
        spans = self._month_spans(first, dt.date(year, mon, 1))
        rows = self.store.rollup_rows("day", spans[0][1], spans[-1][2], ("bucket",), filters)
        sums: dict[int, Totals] = {}
        starts = [s for _, s, _ in spans]
        for (bucket_us,), totals in rows:
            sums.setdefault(_span_of(starts, bucket_us), Totals()).merge(totals)
        return Report(self.grid.zone_name, buckets=[Bucket(lb, s, e, sums.get(s, Totals())) for lb, s, e in spans])

    # -- 5. hourly compare ----------------------------------------------------------------

    def hourly_compare(self, filters: Filters, date: str, previous: int, mode: str) -> Report:
        previous = previous or 1
        if not 1 <= previous <= 31:
            raise InvalidArgument(f"previous: expected 1..31, got {previous}")
        mode = mode or "days"
        if mode not in ("days", "weekday"):
            raise InvalidArgument(f"mode: expected days or weekday, got {mode!r}")
        day = parse_date("date", date, self._today())
        step = 7 if mode == "weekday" else 1
        dates = [day - dt.timedelta(days=step * n) for n in range(previous + 1)]
        report = Report(self.grid.zone_name)
        for current in dates:
            start, end = self.grid.day_bounds(current)
            hours = self._hour_buckets(filters, start, end)
            total = Totals()
            for bucket in hours:
                total.merge(bucket.totals)
            report.extra.setdefault("days", []).append(DayHours(current.isoformat(), hours, total))
        return report

    # -- 6. country report ----------------------------------------------------------------

    def country_report(self, filters: Filters, start: str, end: str, top: int) -> Report:
        top = top or 10
        if not 1 <= top <= 300:
            raise InvalidArgument(f"top: expected 1..300, got {top}")
        days = self._days(start, end)
        rows = self.store.rollup_rows("day", days[0][1], days[-1][2], ("country", "bucket"), filters)
        countries: dict[str, Totals] = {}
        per_day: dict[tuple[str, int], Totals] = {}
        for (country, bucket_us), totals in rows:
            countries.setdefault(country, Totals()).merge(totals)
            per_day[(country, bucket_us)] = totals
        report = Report(self.grid.zone_name, groups=ranked(countries))
        for _, totals in report.groups:
            report.totals.merge(totals)
        report.extra["top"] = [
            (country, [Bucket(d.isoformat(), s, e, per_day.get((country, s), Totals())) for d, s, e in days])
            for country, _ in report.groups[:top]
        ]
        return report

    # -- 7. concurrent calls --------------------------------------------------------------

    def concurrent_calls(self, filters: Filters, date: str) -> tuple[int, list[int]]:
        day = parse_date("date", date, self._today())
        start, end = self.grid.day_bounds(day)
        return start, self.peaks(filters, start, end)

    def peaks(self, filters: Filters, start_us: int, end_us: int) -> list[int]:
        """Per-minute peaks over [start_us, end_us) (start_us a local day start)."""
        if filters.matches_nothing():
            return [0] * ((end_us - start_us) // MINUTE_US)
        scopes = conc.scopes_of(filters.switch_ids, filters.accountcodes, self.store.switches)
        if len(scopes) == 1:
            level, rows, _ = self.store.concurrency(scopes, start_us, end_us, with_points=False)
        else:
            level, _, merged = self.store.concurrency(scopes, start_us, end_us, with_points=True)
            rows = {minute: conc.summarize(minute, points) for minute, points in merged.items()}
        return conc.day_peaks(start_us, end_us, level, rows)

    # -- 9. top destinations, hangup causes -----------------------------------------------

    def top_destinations(self, filters: Filters, start: str, end: str, by: str, limit: int) -> Report:
        by = by or "number"
        if by not in ("number", "prefix"):
            raise InvalidArgument(f"by: expected number or prefix, got {by!r}")
        limit = limit or 10
        if not 1 <= limit <= 100:
            raise InvalidArgument(f"limit: expected 1..100, got {limit}")
        days = self._days(start, end)
        rows, total, other = self.store.top_destinations(by[0], [s for _, s, _ in days], filters, limit)
        groups = [(value, Totals(attempts=a, answered=n, billsec_ms=b)) for value, (a, n, b) in rows]
        return Report(self.grid.zone_name, groups=groups, extra={"total": total, "other": other, "by": by})

    def hangup_causes(self, filters: Filters, start: str, end: str, granularity: str) -> Report:
        granularity = granularity or "day"
        if granularity not in ("hour", "day"):
            raise InvalidArgument(f"granularity: expected hour or day, got {granularity!r}")
        days = self._days(start, end, MAX_HOUR_DAYS if granularity == "hour" else MAX_DAYS)
        first, end_us = days[0][1], days[-1][2]
        starts = self.grid.hours(first, end_us) if granularity == "hour" else [s for _, s, _ in days]
        rows = self.store.rollup_rows(granularity, days[0][1], days[-1][2], ("hangup_cause", "bucket"), filters)
        index = {s: i for i, s in enumerate(starts)}
        causes: dict[int, list[int]] = {}
        for (cause, bucket_us), totals in rows:
            causes.setdefault(int(cause), [0] * len(starts))[index[bucket_us]] += totals.attempts
        series = [CauseSeries(cause, sum(counts), counts) for cause, counts in causes.items()]
        series.sort(key=lambda s: (-s.attempts, s.hangup_cause))
        return Report(self.grid.zone_name, extra={"starts": starts, "causes": series})

    # -- 10. metric query -----------------------------------------------------------------

    def metric(
        self,
        filters: Filters,
        metric: str,
        start_us: int,
        end_us: int,
        search_query: Any = None,
        hangup_cause: int = 0,
    ) -> Report:
        if end_us <= start_us:
            raise InvalidArgument("end_us: must be after start_us")
        hours = (end_us - start_us) / 3.6e9
        report = Report(self.grid.zone_name, extra={"metric": metric})
        if metric == "concurrent_peak":
            report.extra["value"] = float(self._peak(filters, start_us, end_us))
            return report
        if metric == "cause_share":
            if hangup_cause <= 0:
                raise InvalidArgument("hangup_cause: cause_share needs a Q.850 cause code (1..127)")
        else:
            metric_value(metric, Totals(), 1.0)  # validates the name
        cause = hangup_cause if metric == "cause_share" else 0
        report.totals, with_cause, report.source = self._window_totals(filters, start_us, end_us, search_query, cause)
        if metric == "cause_share":
            attempts = report.totals.attempts
            report.extra["value"] = 100.0 * with_cause / attempts if attempts else 0.0
        else:
            report.extra["value"] = metric_value(metric, report.totals, hours)
        return report

    def _peak(self, filters: Filters, start_us: int, end_us: int) -> int:
        first, last = self.grid.day_start(start_us), self.grid.day_start(end_us - 1)
        best = 0
        day = first
        while day <= last:
            nxt = self.grid.day_start(day + 26 * 3_600_000_000)
            for offset, peak in enumerate(self.peaks(filters, day, nxt)):
                if start_us < day + (offset + 1) * MINUTE_US and day + offset * MINUTE_US < end_us:
                    best = max(best, peak)
            day = nxt
        return best

    def _window_totals(
        self, filters: Filters, start_us: int, end_us: int, search_query: Any, cause: int
    ) -> tuple[Totals, int, str]:
        """Sums over [start_us, end_us) and the attempts ended by ``cause``: whole local hours from the
        roll-ups, the partial hours at either edge (each under an hour) from ingest's search."""
        inner_start = self.grid.hour_start(start_us)
        if inner_start < start_us:
            inner_start = self.grid.hour_start(start_us + HOUR_US)  # the next local hour start
        inner_end = self.grid.hour_start(end_us)
        rolled = search_query is None and inner_end > inner_start
        totals, with_cause = Totals(), 0
        if rolled:
            group = ("hangup_cause",) if cause else ()
            for key, sums in self.store.rollup_rows("hour", inner_start, inner_end, group, filters):
                totals.merge(sums)
                if cause and int(key[0]) == cause:
                    with_cause += sums.attempts
            edges = [(s, e) for s, e in ((start_us, inner_start), (inner_end, end_us)) if e > s]
        else:
            edges = [(start_us, end_us)]
        if edges:
            if self.search is None:
                raise InvalidArgument("start_us/end_us: this window or filter needs ingest's search (INGEST_GRPC_ADDR)")
            if not rolled and end_us - start_us > MAX_SEARCH_DAYS * 86_400_000_000:
                raise InvalidArgument(f"end_us: windows answered by search allow at most {MAX_SEARCH_DAYS} days")
            for edge_start, edge_end in edges:
                for cdr in self.search.export(filters, search_query, edge_start, edge_end):
                    totals.add_cdr(cdr)
                    if cause and int(cdr.get("hangup_cause") or 0) == cause:
                        with_cause += 1
        source = "search" if not rolled else ("rollups+search" if edges else "rollups")
        return totals, with_cause, source


def _span_of(starts: list[int], bucket_us: int) -> int:
    """The start of the last span starting at or before ``bucket_us``."""
    low, high = 0, len(starts) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if starts[mid] <= bucket_us:
            low = mid
        else:
            high = mid - 1
    return starts[low]


__all__ = ["CdrSearch", "ReportQueries", "scoped_accountcodes", "selection"]
