"""Reporting benchmark (issue 4): roll-up consumption and report latency through gRPC.

Generates N CDRs (default 10 million) over 90 days in ingest order (batches of 1,000
by start time, with a share arriving late), applies them to a fresh SQLite roll-up
store through ReportingService.apply_cdrs_event (what the worker does per event,
minus AMQP), then serves the store from a real grpc.aio server and measures p50/p95
of each report against a GetStatus baseline measured in the same run.

    .venv/bin/python bench/bench_reports.py [--cdrs 10000000] [--days 90] [--zone Europe/Paris] [--db PATH]

Prints one line per measurement; numbers go to BENCHMARKS.md.

    .venv/bin/python bench/bench_reports.py --apply-only [--cdrs 100000] [--group 10]

measures only roll-up consumption, in-process: the same CDRs (at the density of 10 million
over 90 days) applied to fresh stores one event per transaction (``apply_batch``) and
``--group`` events per transaction (``apply_batches``, the worker's group commit), against a
baseline measured in the same run: a plain executemany insert of the CDRs into a raw table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import pathlib
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import grpc

from cdrstats.reporting.v1 import reporting_pb2 as pb
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.domain.timegrid import TimeGrid
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

SWITCHES = ["fs-paris", "fs-lyon", "ast-nyc", "kam-edge"]
ACCOUNTS = [f"acct{n:03d}" for n in range(40)]
COUNTRIES = ["FR", "US", "GB", "DE", "ES", "IT", "BE", "CH", "NL", "MA", "SN", "CI", "CA", "BR", "IN", "CN", "JP", "AU"]
CAUSES_FAILED = [17, 18, 19, 21, 31, 34, 41, 1]


def generate(total: int, days: float, end_us: int, seed: int = 4) -> Iterator[list[dict[str, Any]]]:
    """Batches of 1,000 CDRs in start order; 2% of each batch are late CDRs from up to 3 days earlier."""
    rng = random.Random(seed)
    span = days * 86_400_000_000
    start0 = end_us - span
    step = span / total
    numbers = [f"+{rng.choice(['33', '1', '44', '49'])}{rng.randrange(10**8, 10**9)}" for _ in range(20_000)]
    country_weights = [1 / (i + 1) for i in range(len(COUNTRIES))]
    batch: list[dict[str, Any]] = []
    for index in range(total):
        start = int(start0 + index * step)
        if rng.random() < 0.02:
            start = int(max(start0, start - rng.randrange(0, 3 * 86_400_000_000)))
        answered = rng.random() < 0.6
        ring = rng.randrange(2_000, 30_000)
        billsec = int(rng.expovariate(1 / 120_000)) + 1000 if answered else 0
        number = numbers[
            min(int(rng.paretovariate(1.2)) - 1, len(numbers) - 1)
            if rng.random() < 0.7
            else rng.randrange(len(numbers))
        ]
        batch.append(
            {
                "id": f"c{index}",
                "uuid": f"u{index}",
                "switch_id": SWITCHES[index % 4 if rng.random() < 0.9 else rng.randrange(4)],
                "accountcode": ACCOUNTS[min(int(rng.expovariate(1 / 8)), 39)],
                "country": rng.choices(COUNTRIES, country_weights)[0],
                "direction": "outbound" if rng.random() < 0.8 else "inbound",
                "hangup_cause": 16 if answered else rng.choice(CAUSES_FAILED),
                "start_time_us": start,
                "answer_time_us": start + ring * 1000 if answered else 0,
                "end_time_us": start + (ring + billsec) * 1000,
                "duration_ms": ring + billsec,
                "billsec_ms": billsec,
                "pdd_ms": rng.randrange(500, 4000),
                "destination_e164": number,
                "destination_number": number,
                "destination_prefix": number[:5],
            }
        )
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def apply_all(service: ReportingService, total: int, days: int, end_us: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) spent in apply (generation excluded)."""
    spent = cpu = 0.0
    done = 0
    for number, batch in enumerate(generate(total, days, end_us)):
        envelope = {"schema": "cdrstats.cdrs_ingested.v1", "id": f"bench-{number}", "data": {"cdrs": batch}}
        began, began_cpu = time.perf_counter(), time.process_time()
        service.apply_cdrs_event(envelope)
        spent += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        done += len(batch)
        if number % 100 == 99:
            print(
                f"  applied {done:,} CDRs: {done / spent:,.0f} CDR/s wall, {done / cpu:,.0f} CDR per CPU-s", flush=True
            )
    return spent, cpu


async def measure(name: str, call: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float]:
    for _ in range(3):
        await call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    p50, p95 = statistics.median(samples), samples[int(len(samples) * 0.95) - 1]
    print(f"{name:<40} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   ({runs} calls)", flush=True)
    return p50, p95


async def serve_and_measure(service: ReportingService, grid: TimeGrid, end_us: int, runs: int) -> None:
    server = grpc.aio.server()
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(ReportingServicer(service), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    admin = pb.Scope(admin=True)
    customer = pb.Scope(admin=False, allowed_accountcodes=["acct001"])
    last_day = grid.today(end_us - 1)
    first = (last_day - dt.timedelta(days=29)).isoformat()
    day = (last_day - dt.timedelta(days=1)).isoformat()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = reporting_pb2_grpc.ReportingServiceStub(channel)
            cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("baseline GetStatus", lambda: stub.GetStatus(pb.GetStatusRequest())),
                (
                    "dashboard (admin, all switches)",
                    lambda: stub.GetDashboard(pb.DashboardRequest(scope=admin, now_us=end_us - 1)),
                ),
                (
                    "dashboard (customer)",
                    lambda: stub.GetDashboard(pb.DashboardRequest(scope=customer, now_us=end_us - 1)),
                ),
                (
                    "report by day, 30 days (admin)",
                    lambda: stub.GetDailyReport(
                        pb.DailyReportRequest(scope=admin, start_date=first, end_date=last_day.isoformat())
                    ),
                ),
                (
                    "report by day, 30 days, 2 countries",
                    lambda: stub.GetDailyReport(
                        pb.DailyReportRequest(
                            scope=admin,
                            start_date=first,
                            end_date=last_day.isoformat(),
                            query={"countries": ["FR", "US"]},
                        )
                    ),
                ),
                (
                    "country report, 30 days (admin)",
                    lambda: stub.GetCountryReport(
                        pb.CountryReportRequest(scope=admin, start_date=first, end_date=last_day.isoformat())
                    ),
                ),
                (
                    "concurrent calls, 1 day (admin)",
                    lambda: stub.GetConcurrentCalls(pb.ConcurrentCallsRequest(scope=admin, date=day)),
                ),
                (
                    "concurrent calls, 1 day (switch+code)",
                    lambda: stub.GetConcurrentCalls(
                        pb.ConcurrentCallsRequest(scope=admin, date=day, switch_id="fs-paris", accountcode="acct001")
                    ),
                ),
                (
                    "top destinations, 30 days (admin)",
                    lambda: stub.GetTopDestinations(
                        pb.TopDestinationsRequest(scope=admin, start_date=first, end_date=last_day.isoformat())
                    ),
                ),
                (
                    "monthly compare, 3 months",
                    lambda: stub.GetMonthlyCompare(
                        pb.MonthlyCompareRequest(scope=admin, month=last_day.strftime("%Y-%m"), months=3)
                    ),
                ),
            ]
            for name, call in cases:
                await measure(name, call, runs)
    finally:
        await server.stop(None)


def apply_only(total: int, zone: str, group: int) -> None:
    """CDR/s of store.apply_batch / apply_batches over ``total`` CDRs, with a raw-insert baseline."""
    days = 90 * total / 10_000_000  # the density of the 10 million CDRs over 90 days
    end_us = TimeGrid(zone).day_bounds(dt.date(2026, 10, 1))[0]
    batches = list(generate(total, max(days, 1 / 24), end_us))
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-apply-"))
    print(f"{total:,} CDRs in {len(batches)} events over {days * 24:.1f} h ({zone}); the machine is shared", flush=True)

    def report(name: str, run: Callable[[], None]) -> None:
        began, began_cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        print(f"{name:<44} {total / wall:9,.0f} CDR/s wall {total / cpu:9,.0f} CDR per CPU-s", flush=True)

    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = NORMAL")
    columns = list(batches[0][0])
    raw.execute(f"CREATE TABLE raw ({', '.join(columns)})")
    insert = f"INSERT INTO raw VALUES ({', '.join('?' for _ in columns)})"

    def baseline() -> None:
        for batch in batches:
            raw.execute("BEGIN")
            raw.executemany(insert, [tuple(cdr.values()) for cdr in batch])
            raw.execute("COMMIT")

    report("baseline: raw executemany insert", baseline)
    raw.close()
    for size in sorted({1, group}):
        store = SqliteRollupStore.open(folder / f"reporting-{size}.db", zone)

        def apply(store: SqliteRollupStore = store, size: int = size) -> None:
            for first in range(0, len(batches), size):
                events = [(f"bench-{n}", batches[n]) for n in range(first, min(first + size, len(batches)))]
                store.apply_batches(events, now_us=end_us)

        report(f"roll-up apply, {size} event(s) per transaction", apply)
        assert store.status() == (total, len(batches)), store.status()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cdrs", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--zone", default="Europe/Paris")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--db", type=pathlib.Path, default=None, help="reuse/keep this store (skips apply if it has data)"
    )
    parser.add_argument("--apply-only", action="store_true", help="measure roll-up consumption only (in-process)")
    parser.add_argument("--group", type=int, default=10, help="events per transaction in --apply-only (worker: 10)")
    args = parser.parse_args()
    if args.apply_only:
        apply_only(args.cdrs if args.cdrs != 10_000_000 else 100_000, args.zone, args.group)
        return
    path = args.db or pathlib.Path(tempfile.mkdtemp(prefix="bench-reports-")) / "reporting.db"
    store = SqliteRollupStore.open(path, args.zone)
    end_us = TimeGrid(args.zone).day_bounds(dt.date(2026, 10, 1))[0]
    service = ReportingService(store, clock=lambda: end_us - 1)
    if store.status()[0] == 0:
        print(f"applying {args.cdrs:,} CDRs over {args.days} days into {path} ({args.zone})", flush=True)
        spent, cpu = apply_all(service, args.cdrs, args.days, end_us)
        print(
            f"roll-up consumption: {args.cdrs / spent:,.0f} CDR/s wall, {args.cdrs / cpu:,.0f} CDR per CPU-second "
            f"({args.cdrs:,} CDRs in {spent:.1f} s wall / {cpu:.1f} s CPU of apply; the machine is shared)"
        )
        print(f"store size: {path.stat().st_size / 1e6:,.0f} MB")
    asyncio.run(serve_and_measure(service, TimeGrid(args.zone), end_us, args.runs))
    store.close()


if __name__ == "__main__":
    main()
