"""Search latency over a large CDR store: first pages, total counts and export, through gRPC.

1. Generates N CDRs (default 10,000,000 over 30 days, 4 switches, 7 account codes, a
   plausible destination mix) straight into the real ingest SQLite schema: rows first,
   then the store opens the file and builds every index (as a restart would).
   The file is kept (``--db``, default /tmp/cdrstats-bench-search/ingest.db) and reused
   when it already holds N CDRs.
2. Starts the real ingest api (``python -m cdrstats_ingest.api``) on that file and asks
   over gRPC: first page p50/p95 for typical filters, total-count times, export rows/s
   with the api process's peak RSS.
3. Baseline in the same run: the raw ``SELECT ... ORDER BY start_time_us DESC LIMIT 25``
   on the same file, in this process.
Targets (issue 3): first page p95 <= 50 ms, total count <= 300 ms, export >= 100,000 rows/s.
Run: .venv/bin/python bench/bench_search.py [--cdrs 10000000] [--repeat 20] [--export 1000000]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.cdr import FIELDS
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, wait_for
from cdrstats_ingest.domain.ids import new_ids
from cdrstats_ingest.store.sqlite import SCHEMA, SqliteCdrStore

US = 1_000_000
DAY_US = 86_400 * US
SWITCHES = [("demo", ("acme", "globex")), ("pbx-london", ("initech",)), ("carrier-paris", ("umbrella", "hooli"))]
SWITCHES += [("asterisk-nyc", ("acme", "stark", "wayne"))]
#: (E.164 prefix, country, subscriber digits, weight)
DESTINATIONS = [
    ("+1212", "US", 7, 14),
    ("+1415", "US", 7, 10),
    ("+4420", "GB", 8, 10),
    ("+447700", "GB", 6, 8),
    ("+331", "FR", 8, 8),
    ("+336", "FR", 8, 6),
    ("+4930", "DE", 8, 5),
    ("+3491", "ES", 7, 4),
    ("+9122", "IN", 8, 4),
    ("+5511", "BR", 8, 3),
    ("+4490", "GB", 7, 1),
]
#: (disposition, cause, sip, answered, weight)
OUTCOMES = [
    ("ANSWERED", 16, 200, 1, 58),
    ("BUSY", 17, 486, 0, 10),
    ("NO_ANSWER", 19, 480, 0, 12),
    ("CANCEL", 16, 487, 0, 8),
    ("CONGESTION", 34, 503, 0, 5),
    ("FAILED", 1, 404, 0, 7),
]
COLUMNS = [f for f in FIELDS if f not in ("id", "extra")]
CHUNK = 100_000


# -- data ---------------------------------------------------------------------------------------
def generate_rows(count: int, end_us: int, days: int, seed: int = 7) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in start-time order (as they arrive), chunk by chunk, in the column order of the schema."""
    rng = random.Random(seed)
    destinations = rng.choices(DESTINATIONS, [d[3] for d in DESTINATIONS], k=4096)
    outcomes = rng.choices(OUTCOMES, [o[4] for o in OUTCOMES], k=4096)
    names = ["Reception", "Sales", "Support", "Billing", ""]
    step = days * DAY_US / count
    start0 = end_us - days * DAY_US
    index = 0
    while index < count:
        size = min(CHUNK, count - index)
        ids = new_ids(size, now_ms=start0 // 1000 + index)
        rows = []
        for offset in range(size):
            i = index + offset
            start = start0 + int(i * step) + rng.randrange(int(step) + 1)
            switch_id, accounts = SWITCHES[i & 3]
            prefix, country, digits, _ = destinations[rng.getrandbits(12)]
            number = prefix + str(rng.randrange(10**digits)).zfill(digits)
            disposition, cause, sip, answered, _ = outcomes[rng.getrandbits(12)]
            ring = 1500 + rng.randrange(7500)
            billsec = int(min(7200.0, rng.lognormvariate(4.3, 1.0)) * 1000) if answered else 0
            duration = ring + billsec
            row = {
                "switch_id": switch_id,
                "source": "api",
                "uuid": f"{rng.getrandbits(128):032x}",
                "call_id": f"{rng.getrandbits(64):016x}@{switch_id}",
                "direction": "outbound" if i % 5 else "inbound",
                "caller_id_number": f"+1{rng.randrange(10**9):09d}",
                "caller_id_name": names[i % 5],
                "destination_number": number[1:],
                "destination_e164": number,
                "country": country,
                "destination_prefix": prefix,
                "number_type": "mobile" if prefix in ("+447700", "+336") else "fixed",
                "accountcode": accounts[(i >> 2) % len(accounts)],
                "start_time_us": start,
                "answer_time_us": start + ring * 1000 if answered else 0,
                "end_time_us": start + duration * 1000,
                "duration_ms": duration,
                "billsec_ms": billsec,
                "pdd_ms": 900 + rng.randrange(3000),
                "answered": answered,
                "disposition": disposition,
                "hangup_cause": cause,
                "sip_code": sip,
                "read_codec": "PCMA",
                "write_codec": "PCMA",
            }
            rows.append(
                (
                    ids[offset],
                    *[row.get(c, 0 if c in ("mos", "jitter_ms", "packet_loss_pct") else "") for c in COLUMNS],
                    "{}",
                    0.0,
                )
            )
        index += size
        yield rows


def build_store(path: pathlib.Path, count: int, days: int) -> None:
    """Rows first into the bare table, then the store's whole schema (every index) on open."""
    if path.exists():
        conn = sqlite3.connect(path)
        stored = conn.execute("SELECT count(*) FROM cdrs").fetchone()[0] if _has_cdrs(conn) else 0
        conn.close()
        if stored == count:
            print(f"reusing {path} with {count:,} CDRs")
            SqliteCdrStore.open(f"sqlite:///{path}").close()  # indexes added since it was built
            return
        for suffix in ("", "-wal", "-shm"):
            pathlib.Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(SCHEMA[0])  # the cdrs table, without its indexes
    marks = ", ".join("?" for _ in range(len(COLUMNS) + 3))
    insert = f"INSERT INTO cdrs(id, {', '.join(COLUMNS)}, extra, ingested_at) VALUES ({marks})"
    started = time.perf_counter()
    for rows in generate_rows(count, int(time.time() * US), days):
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
    conn.close()
    print(f"generated and inserted {count:,} CDRs in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    SqliteCdrStore.open(f"sqlite:///{path}").close()
    print(f"built the store's indexes in {time.perf_counter() - started:.0f} s")


def _has_cdrs(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'cdrs'").fetchone() is not None


# -- measurements -------------------------------------------------------------------------------
def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: the first call of a shape pays for reading its index pages from disk
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(name: str, times: list[float], target_ms: float) -> None:
    p95 = percentile(times, 95)
    verdict = "ok" if p95 <= target_ms else "OVER TARGET"
    print(f"  {name:<44} p50 {statistics.median(times):8.1f} ms  p95 {p95:8.1f} ms  {verdict}")


def cases(end_us: int) -> dict[str, ingest_pb2.SearchCdrsRequest]:
    admin = ingest_pb2.Scope(admin=True)
    customer = ingest_pb2.Scope(allowed_accountcodes=["acme", "globex"])
    day = {"start_from_us": end_us - DAY_US, "start_to_us": end_us}
    week = {"start_from_us": end_us - 7 * DAY_US, "start_to_us": end_us}
    text = ingest_pb2.TextFilter

    def search(scope: ingest_pb2.Scope = admin, sort_by: str = "", **query: Any) -> ingest_pb2.SearchCdrsRequest:
        return ingest_pb2.SearchCdrsRequest(scope=scope, query=ingest_pb2.CdrQuery(**query), sort_by=sort_by)

    return {
        "everything, newest first": search(),
        "last day": search(**day),
        "last week": search(**week),
        "switch, last week": search(switch_ids=["carrier-paris"], **week),
        "customer scope (2 codes), everything": search(customer),
        "customer scope (2 codes), last week": search(customer, **week),
        "destination begins +4420, last week": search(destination_number=text(op="begins", value="+4420"), **week),
        "destination begins +4490 (rare), everything": search(destination_number=text(op="begins", value="+4490")),
        "country DE, last week": search(countries=["DE"], **week),
        "answered, last day": search(answered=True, **day),
        "failed (sip 503), customer, last week": search(customer, sip_codes=[503], **week),
        "sort by duration, last day": search(sort_by="duration_ms", **day),
        "sort by duration, everything": search(sort_by="duration_ms"),
        "destination contains 555, last day (scan)": search(destination_number=text(op="contains", value="555"), **day),
    }


def measure_searches(stub: ingest_pb2_grpc.IngestServiceStub, end_us: int, repeat: int) -> None:
    print(f"first page of 25 through gRPC SearchCdrs ({repeat} calls each; target p95 <= 50 ms):")
    requests = cases(end_us)
    for name, request in requests.items():
        report(name, timed(lambda r=request: stub.SearchCdrs(r), repeat), 50)  # type: ignore[misc]
    second = requests["last week"]
    second.cursor = stub.SearchCdrs(second).next_cursor
    report("last week, second page (cursor)", timed(lambda: stub.SearchCdrs(second), repeat), 50)
    print(f"first page + total count (with_total; {max(3, repeat // 4)} calls each; target <= 300 ms):")
    for name in (
        "everything, newest first",
        "last day",
        "last week",
        "switch, last week",
        "customer scope (2 codes), last week",
        "destination begins +4420, last week",
        "answered, last day",
    ):
        request = requests[name]
        request.cursor, request.with_total = "", True
        total = stub.SearchCdrs(request).total
        report(f"{name} ({total:,})", timed(lambda r=request: stub.SearchCdrs(r), max(3, repeat // 4)), 300)  # type: ignore[misc]


def measure_export(stub: ingest_pb2_grpc.IngestServiceStub, pid: int, end_us: int, rows: int) -> None:
    request = ingest_pb2.ExportCdrsRequest(
        scope=ingest_pb2.Scope(admin=True),
        query=ingest_pb2.CdrQuery(start_to_us=end_us),
        limit=rows,
        batch_size=1000,
    )
    rss_before = _status_kb(pid, "VmRSS")
    peak_rss = rss_before
    started = time.perf_counter()
    received = 0
    for index, batch in enumerate(stub.ExportCdrs(request)):
        received += len(batch.cdrs)
        if index % 50 == 0:
            peak_rss = max(peak_rss, _status_kb(pid, "VmRSS"))
    elapsed = time.perf_counter() - started
    peak_rss = max(peak_rss, _status_kb(pid, "VmRSS"))
    print("ExportCdrs (gRPC stream, batches of 1,000; target >= 100,000 rows/s):")
    print(f"  {received:,} rows in {elapsed:.1f} s = {received / elapsed:,.0f} rows/s")
    print(f"  api RSS before {rss_before / 1024:.0f} MB, highest sampled during export {peak_rss / 1024:.0f} MB")


def _status_kb(pid: int, field: str) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def baseline(path: pathlib.Path, end_us: int, repeat: int, rows: int) -> None:
    conn = sqlite3.connect(path)
    print("baseline, raw sqlite3 on the same file in this process:")
    page = "SELECT * FROM cdrs ORDER BY start_time_us DESC LIMIT 25"
    report("SELECT * ORDER BY start_time_us DESC LIMIT 25", timed(lambda: conn.execute(page).fetchall(), repeat), 50)
    week = "SELECT count(*) FROM cdrs WHERE start_time_us >= ?"
    report("count(*), last week", timed(lambda: conn.execute(week, (end_us - 7 * DAY_US,)).fetchone(), 3), 300)
    started = time.perf_counter()
    cursor = conn.execute("SELECT * FROM cdrs ORDER BY start_time_us DESC LIMIT ?", (rows,))
    read = 0
    while batch := cursor.fetchmany(1000):
        read += len(batch)
    print(f"  raw export read of {read:,} rows: {read / (time.perf_counter() - started):,.0f} rows/s")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cdrs", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--export", type=int, default=1_000_000, help="rows to export")
    parser.add_argument("--db", type=pathlib.Path, default=pathlib.Path("/tmp/cdrstats-bench-search/ingest.db"))
    args = parser.parse_args()
    build_store(args.db, args.cdrs, args.days)
    conn = sqlite3.connect(args.db)
    end_us = int(conn.execute("SELECT max(start_time_us) FROM cdrs").fetchone()[0]) + 1
    conn.close()
    port = free_port()
    env = {
        "CDRSTATS_INGEST_STORE_URL": f"sqlite:///{args.db}",
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}",
        "CDRSTATS_INGEST_HTTP_PORT": str(free_port()),
        "CDRSTATS_DATA_DIR": str(args.db.parent),
        "CDRSTATS_LOG_LEVEL": "WARNING",
    }
    api = ServiceProcess("cdrstats_ingest.api", env, str(args.db.parent / "ingest-api.log"))
    try:
        wait_for(lambda: check_grpc(f"127.0.0.1:{port}"), 120, what="ingest api serving")
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 64 << 20)])
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        print(
            f"{args.cdrs:,} CDRs over {args.days} days; load average {os.getloadavg()[0]:.1f} (a shared 2-core machine)"
        )
        baseline(args.db, end_us, args.repeat, args.export)
        measure_searches(stub, end_us, args.repeat)
        measure_export(stub, api.process.pid, end_us, args.export)
        print(f"load average at the end {os.getloadavg()[0]:.1f}; store file {args.db.stat().st_size / 2**30:.1f} GiB")
        channel.close()
    finally:
        api.stop()


if __name__ == "__main__":
    main()
