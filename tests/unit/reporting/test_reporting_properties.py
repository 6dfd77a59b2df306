"""Property test: every report equals a brute force over the raw CDRs (cdrstats_common.metrics definitions).

Random CDR sets cross hour, day and month boundaries in a DST zone (Europe/Paris,
around the October 2025 change) and a half-hour zone (Asia/Kolkata), include calls
spanning midnight, redelivered events and batches applied out of order. The brute
force buckets with ``zoneinfo`` directly, not with the service's TimeGrid.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import random
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import Totals, concurrent_peaks
from cdrstats_reporting.domain.rollup import Filters
from cdrstats_reporting.queries import ReportQueries
from cdrstats_reporting.store.sqlite import SqliteRollupStore

UTC_BASE = int(dt.datetime(2025, 10, 25, tzinfo=dt.UTC).timestamp()) * 1_000_000
ANCHORS = [
    int(dt.datetime(2025, 10, 26, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000,  # Paris: CEST -> CET
    int(dt.datetime(2025, 10, 31, 23, tzinfo=dt.UTC).timestamp()) * 1_000_000,  # Paris: 1 November 00:00
    int(dt.datetime(2025, 10, 27, 18, 30, tzinfo=dt.UTC).timestamp()) * 1_000_000,  # Kolkata midnight
    int(dt.datetime(2025, 10, 28, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000,  # UTC midnight
]
FIRST_DAY, LAST_DAY = dt.date(2025, 10, 24), dt.date(2025, 11, 3)
MINUTE_US, HOUR_US = 60_000_000, 3_600_000_000


def cdr_from(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(seed * 100_003 + index)
    if rng.random() < 0.6:
        start = rng.choice(ANCHORS) + rng.randrange(-2 * HOUR_US, 2 * HOUR_US) // 1_000_000 * 1_000_000
        start += rng.choice([0, 0, 1])  # sometimes a microsecond after a boundary
    else:
        start = UTC_BASE + rng.randrange(0, 8 * 24 * HOUR_US)
    answered = rng.random() < 0.55
    ring = rng.randrange(0, 20_000)
    billsec = rng.choice([rng.randrange(1, 600_000), 26 * 3_600_000]) if answered and rng.random() < 0.05 else 0
    if answered and not billsec:
        billsec = rng.randrange(1, 600_000)
    number = rng.choice(["+33140000000", "+33612345678", "+14155550100", "0800123"])
    return new_cdr(
        uuid=f"u{seed}-{index}",
        switch_id=rng.choice(["s1", "s2"]),
        accountcode=rng.choice(["a", "b", ""]),
        country=rng.choice(["FR", "US", ""]),
        direction=rng.choice(["inbound", "outbound"]),
        hangup_cause=16 if answered else rng.choice([17, 19, 34]),
        start_time_us=start,
        answer_time_us=start + ring * 1000 if answered else 0,
        end_time_us=start + (ring + billsec) * 1000 if rng.random() > 0.03 else start,  # some zero-length
        duration_ms=ring + billsec,
        billsec_ms=billsec,
        pdd_ms=rng.choice([-1, ring]),
        destination_e164=number if number.startswith("+") else "",
        destination_number=number,
        destination_prefix=number[:4],
    )


@pytest.fixture(scope="module")
def tmp_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("props")


def build(zone: str, cdrs: list[dict[str, Any]], batch_order: list[int], path: pathlib.Path) -> ReportQueries:
    path.unlink(missing_ok=True)
    store = SqliteRollupStore.open(path, zone)
    batches = [cdrs[i : i + 7] for i in range(0, len(cdrs), 7)]
    for position in batch_order:
        if position < len(batches):
            store.apply_batch(f"event-{position}", batches[position])
            store.apply_batch(f"event-{position}", batches[position])  # a redelivery counts once
    for position in range(len(batches)):  # batches the order skipped arrive last (late)
        store.apply_batch(f"event-{position}", batches[position])
    return ReportQueries(store, clock=lambda: ANCHORS[0], search=ListSearch(cdrs))


class ListSearch:
    """Ingest's search as a brute-force scan of the raw CDRs (reporting asks it for partial hours)."""

    def __init__(self, cdrs: list[dict[str, Any]]) -> None:
        self.cdrs = cdrs

    def export(self, filters: Filters, query: Any, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        for cdr in self.cdrs:
            if not start_us <= cdr["start_time_us"] < end_us:
                continue
            if filters.switch_ids is not None and cdr["switch_id"] not in filters.switch_ids:
                continue
            if filters.accountcodes is not None and cdr["accountcode"] not in filters.accountcodes:
                continue
            yield cdr


def local(zone: zoneinfo.ZoneInfo, time_us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(time_us / 1_000_000, tz=dt.UTC).astimezone(zone)


def brute(cdrs: list[dict[str, Any]], key: Any) -> dict[Any, Totals]:
    out: dict[Any, Totals] = {}
    for cdr in cdrs:
        k = key(cdr)
        if k is not None:
            out.setdefault(k, Totals()).add_cdr(cdr)
    return out


def day_instants(zone: zoneinfo.ZoneInfo, day: dt.date) -> tuple[int, int]:
    def at(d: dt.date) -> int:
        return int(dt.datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1_000_000)

    return at(day), at(day + dt.timedelta(days=1))


def scopes(cdrs: list[dict[str, Any]]) -> Iterator[tuple[Filters, list[dict[str, Any]]]]:
    yield Filters(), cdrs
    yield Filters(switch_ids=["s1"]), [c for c in cdrs if c["switch_id"] == "s1"]
    yield Filters(accountcodes=["a"]), [c for c in cdrs if c["accountcode"] == "a"]
    yield Filters(accountcodes=["a", "b"]), [c for c in cdrs if c["accountcode"] in ("a", "b")]
    yield Filters(["s2"], ["b"]), [c for c in cdrs if c["switch_id"] == "s2" and c["accountcode"] == "b"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zone_name=st.sampled_from(["Europe/Paris", "Asia/Kolkata"]),
    seed=st.integers(0, 10_000),
    count=st.integers(1, 120),
    order_seed=st.integers(0, 1000),
)
def test_every_report_equals_brute_force(
    tmp_dir: pathlib.Path, zone_name: str, seed: int, count: int, order_seed: int
) -> None:
    zone = zoneinfo.ZoneInfo(zone_name)
    cdrs = [cdr_from(seed, index) for index in range(count)]
    order = list(range((count + 6) // 7))
    random.Random(order_seed).shuffle(order)
    queries = build(zone_name, cdrs, order[: max(1, len(order) - 2)], tmp_dir / "props.db")
    first, last = FIRST_DAY.isoformat(), LAST_DAY.isoformat()

    for filters, selected in scopes(cdrs):
        # report by day: local dates, half-open local midnights
        report = queries.daily_report(filters, first, last)
        expected = brute(selected, lambda c: local(zone, c["start_time_us"]).date().isoformat())
        assert {b.label: b.totals for b in report.buckets if b.totals.attempts} == expected
        for bucket in report.buckets:
            assert (bucket.start_us, bucket.end_us) == day_instants(zone, dt.date.fromisoformat(bucket.label))

        # country report and hangup causes
        countries = queries.country_report(filters, first, last, 5)
        assert dict(countries.groups) == brute(selected, lambda c: c["country"])
        causes = queries.hangup_causes(filters, first, last, "day")
        assert {s.hangup_cause: s.attempts for s in causes.extra["causes"]} == {
            cause: t.attempts for cause, t in brute(selected, lambda c: c["hangup_cause"]).items()
        }

        # monthly compare: local months
        months = queries.monthly_compare(filters, "2025-11", 2)
        expected_months = brute(selected, lambda c: local(zone, c["start_time_us"]).strftime("%Y-%m"))
        assert {b.label: b.totals for b in months.buckets if b.totals.attempts} == expected_months

        # hourly compare around the DST change: local hour buckets, contiguous, covering the day
        hourly = queries.hourly_compare(filters, "2025-10-26", 1, "days")
        for day in hourly.extra["days"]:
            start, end = day_instants(zone, dt.date.fromisoformat(day.date))
            assert day.hours[0].start_us == start and day.hours[-1].end_us == end
            for bucket in day.hours:
                assert local(zone, bucket.start_us).minute == 0 or zone_name == "Asia/Kolkata"
                assert bucket.totals == brute(
                    [c for c in selected if bucket.start_us <= c["start_time_us"] < bucket.end_us], lambda c: 1
                ).get(1, Totals())

        # top destinations (far below the cap: exact)
        top = queries.top_destinations(filters, first, last, "number", 10)
        numbers = brute(selected, lambda c: c["destination_e164"] or c["destination_number"])
        assert {v: t.attempts for v, t in top.groups} == {v: t.attempts for v, t in numbers.items()}
        assert top.extra["other"] == 0

        # concurrent calls: every minute of every day equals the sweep of metrics.concurrent_peaks
        reference = concurrent_peaks((c["start_time_us"], c["end_time_us"]) for c in selected)
        for day in (dt.date(2025, 10, 26), dt.date(2025, 10, 27), dt.date(2025, 11, 1)):
            start, peaks = queries.concurrent_calls(filters, day.isoformat())
            assert peaks == [reference.get(start + i * MINUTE_US, 0) for i in range(len(peaks))]

        # metric query over an hour-aligned window
        window = day_instants(zone, dt.date(2025, 10, 26))
        value = queries.metric(filters, "asr", *window)
        in_window = [c for c in selected if window[0] <= c["start_time_us"] < window[1]]
        assert value.extra["value"] == brute(in_window, lambda c: 1).get(1, Totals()).asr

        # metric query over a window with partial hours at both edges: whole hours from roll-ups, edges searched
        window = (window[0] + 17 * 60_000_000 + 3, window[0] + 5 * HOUR_US + 3 * 60_000_000)
        in_window = [c for c in selected if window[0] <= c["start_time_us"] < window[1]]
        expected = brute(in_window, lambda c: 1).get(1, Totals())
        value = queries.metric(filters, "attempts", *window)
        assert (value.extra["value"], value.source) == (expected.attempts, "rollups+search")
        assert queries.metric(filters, "minutes", *window).extra["value"] == pytest.approx(expected.minutes)
        for cause in {c["hangup_cause"] for c in in_window} | {17}:
            share = queries.metric(filters, "cause_share", *window, hangup_cause=cause).extra["value"]
            ended = sum(1 for c in in_window if c["hangup_cause"] == cause)
            assert share == pytest.approx(100.0 * ended / len(in_window) if in_window else 0.0)
