"""Foundation slice benchmark: bulk ingest throughput and POST → dashboard freshness.

Starts ingest and reporting (api + worker each) as real processes on a fresh
RabbitMQ vhost and data directory, then measures in one run:
  1. baseline: raw SQLite executemany of the same rows (no parsing, no events);
  2. gRPC SubmitCdrs of N canonical CDRs (normalised, stored, outbox) until the
     roll-ups hold them all (events relayed and consumed);
  3. freshness: a FreeSWITCH mod_json_cdr POST, then GetDashboard polled every
     5 ms until the CDR is counted; p50/p95/max over M posts.
Run: .venv/bin/python bench/bench_slice.py [--cdrs 20000] [--posts 50]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sqlite3
import statistics
import tempfile
import time
import uuid

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, rabbitmq_vhost, wait_for


def baseline(cdrs: list[dict[str, object]], directory: pathlib.Path) -> float:
    conn = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    columns = [k for k in cdrs[0] if k != "extra"]
    conn.execute(f"CREATE TABLE cdrs ({', '.join(columns)}, extra, UNIQUE(switch_id, uuid))")
    rows = [(*(c[k] for k in columns), json.dumps(c["extra"])) for c in cdrs]
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO cdrs VALUES ({', '.join('?' for _ in range(len(columns) + 1))})", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cdrs", type=int, default=20_000)
    parser.add_argument("--posts", type=int, default=50)
    args = parser.parse_args()
    directory = pathlib.Path(tempfile.mkdtemp(prefix="cdrstats-bench-"))
    ingest_port, reporting_port, http_port = free_port(), free_port(), free_port()
    now_us = int(time.time() * 1_000_000)
    cdrs = demo.generate(now_us, days=1, calls=args.cdrs, seed=7)
    with rabbitmq_vhost("cdrstats-bench") as amqp_url:
        env = {
            "CDRSTATS_DATA_DIR": str(directory),
            "AMQP_URL": amqp_url,
            "CDRSTATS_LOG_LEVEL": "WARNING",
            "CDRSTATS_INGEST_HTTP_PORT": str(http_port),
        }
        processes = [
            ServiceProcess(
                "cdrstats_ingest.api",
                {**env, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{ingest_port}"},
                str(directory / "ingest-api.log"),
            ),
            ServiceProcess("cdrstats_ingest.worker", env, str(directory / "ingest-worker.log")),
            ServiceProcess(
                "cdrstats_reporting.api",
                {**env, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{reporting_port}"},
                str(directory / "reporting-api.log"),
            ),
            ServiceProcess("cdrstats_reporting.worker", env, str(directory / "reporting-worker.log")),
        ]
        try:
            wait_for(
                lambda: check_grpc(f"127.0.0.1:{ingest_port}", "worker")
                and check_grpc(f"127.0.0.1:{reporting_port}", "worker"),
                60,
            )
            ingest_channel = grpc.insecure_channel(f"127.0.0.1:{ingest_port}")
            ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
            reporting = reporting_pb2_grpc.ReportingServiceStub(grpc.insecure_channel(f"127.0.0.1:{reporting_port}"))
            demo.register_switches(ingest_channel, "bench-key")

            base_rate = baseline(cdrs, directory)
            started = time.perf_counter()
            reply = demo.submit(ingest_channel, cdrs)
            stored_s = time.perf_counter() - started
            wait_for(
                lambda: reporting.GetStatus(reporting_pb2.GetStatusRequest()).cdrs_applied == reply.accepted,
                timeout_s=300,
                interval_s=0.05,
            )
            applied_s = time.perf_counter() - started
            print(f"CDRs: {reply.accepted} accepted, {reply.rejected} rejected")
            print(f"baseline raw SQLite executemany:       {base_rate:>10,.0f} CDR/s")
            print(
                f"SubmitCdrs, stored (+outbox):          {reply.accepted / stored_s:>10,.0f} CDR/s  ({reply.accepted / stored_s / base_rate:.3f} of baseline)"
            )
            print(
                f"SubmitCdrs, through roll-ups:          {reply.accepted / applied_s:>10,.0f} CDR/s  ({reply.accepted / applied_s / base_rate:.3f} of baseline)"
            )

            latencies = []
            for i in range(args.posts):
                before = reporting.GetDashboard(
                    reporting_pb2.DashboardRequest(scope=reporting_pb2.Scope(admin=True))
                ).attempts
                start_us = int(time.time() * 1_000_000) - 30_000_000
                cdr = new_cdr(
                    switch_id="demo",
                    uuid=str(uuid.uuid4()),
                    direction="outbound",
                    caller_id_number="+14155550100",
                    destination_number="+442071838750",
                    accountcode="acme",
                    start_time_us=start_us,
                    answer_time_us=start_us + 2_000_000,
                    end_time_us=start_us + 20_000_000,
                    duration_ms=20_000,
                    billsec_ms=18_000,
                    hangup_cause=16,
                    sip_code=200,
                )
                posted = time.perf_counter()
                demo.post_freeswitch_json(
                    f"http://127.0.0.1:{http_port}", "demo", "bench-key", demo.freeswitch_json_document(cdr)
                )
                wait_for(
                    lambda b=before: reporting.GetDashboard(
                        reporting_pb2.DashboardRequest(scope=reporting_pb2.Scope(admin=True))
                    ).attempts
                    == b + 1,
                    timeout_s=10,
                    interval_s=0.005,
                )
                latencies.append((time.perf_counter() - posted) * 1000)
                if i % 10 == 9:
                    time.sleep(0.1)
            print(
                f"freshness POST -> GetDashboard ({args.posts} posts): p50 {statistics.median(latencies):.0f} ms, "
                f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms"
            )
            status = ingest.GetStatus(ingest_pb2.GetStatusRequest())
            print(f"ingest stored {status.cdrs_stored}, outbox pending {status.outbox_pending}")
        finally:
            for process in processes:
                process.stop()


if __name__ == "__main__":
    main()
