"""Load benchmark (issue 8): switches posting FreeSWITCH JSON while UI and API users browse, for a bounded time.

Starts the whole product as `cdrstats run` (demo data on, own data dir, ports and
RabbitMQ vhost), registers N switches through the admin REST API, each with its own
key, then for --duration seconds runs at once, from one asyncio process:
  - N switches posting one mod_json_cdr document per request, back to back;
  - half the users logged in to the web UI cycling the main pages, half with bearer
    tokens cycling /api/v1 (admin and the demo customer in turn), with think time;
  - the baselines: GET /healthz on the gateway and on the ingest receiver every
    --probe-interval seconds, under the same load.
Reports sustained accepted CDR/s, p50/p95/p99 per request kind (with the ratio to its
baseline, and to the same request on the idle product measured just before), the
error count (must be 0), peak RSS per process during the window, CPU per process,
the lag from the last POST until reporting counts every CDR, and checks that ingest
stored, reporting applied and the API finds exactly the accepted CDRs.
Run: .venv/bin/python bench/bench_load.py [--duration 60 --switches 8 --users 20] [--json PATH]
Smoke: .venv/bin/python bench/bench_load.py --duration 5 --switches 2 --users 4
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import pathlib
import resource
import shutil
import sys
import tempfile
from typing import Any

import aiohttp
import load_product
import load_run
import load_traffic
from load_report import print_report, summarise

from cdrstats_common.testing import rabbitmq_vhost, wait_for


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--switches", type=int, default=8, help="switches posting back to back (default 8)")
    parser.add_argument("--users", type=int, default=20, help="UI + API users, half each (default 20)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between a user's requests, s")
    parser.add_argument("--probe-interval", type=float, default=0.2, help="seconds between baseline probes")
    parser.add_argument("--idle-rounds", type=int, default=5, help="idle passes over every request first")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s (a timeout is an error)")
    parser.add_argument("--log-level", default="INFO", help="the product's CDRSTATS_LOG_LEVEL (default INFO)")
    parser.add_argument("--json", type=pathlib.Path, help="write the result as JSON here")
    parser.add_argument("--keep-data", action="store_true", help="keep the data dir (logs) afterwards")
    args = parser.parse_args(argv)
    if args.switches < 1 or args.users < 0 or args.duration <= 0:
        parser.error("--switches must be at least 1, --users at least 0, --duration above 0")
    return args


def _processes_snapshot(product: load_product.Product) -> dict[str, dict[str, Any]]:
    return {
        name: {"pid": pid, "cpu_s": load_product.cpu_seconds(pid), **load_product.memory_kib(pid)}
        for name, pid in product.processes().items()
    }


def _backlog(product: load_product.Product) -> int:
    counters = product.counters()
    return counters["cdrs_stored"] - counters["cdrs_applied"]


def _log_problems(data_dir: pathlib.Path) -> dict[str, int]:
    """ERROR lines and tracebacks per process log (over the whole run, start-up included)."""
    found = {}
    for path in sorted((data_dir / "log").glob("*.log")):
        text = path.read_text(errors="replace")
        count = sum(1 for line in text.splitlines() if '"ERROR"' in line or " ERROR " in line or "Traceback" in line)
        if count:
            found[path.stem] = count
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="cdrstats-bench-load-"))
    result: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/bench_load.py", *sys.argv[1:]]),
        "started_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "loadavg_before_start": os.getloadavg()},
        "config": {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()},
        "data_dir": str(data_dir),
    }
    with rabbitmq_vhost("cdrstats-bench-load") as amqp_url:
        product = load_product.Product(data_dir, amqp_url, args.log_level)
        try:
            result["startup_s"] = product.start()
            measure(product, args, result)
        finally:
            result["exit_code"] = product.stop()
    if not args.keep_data:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def measure(product: load_product.Product, args: argparse.Namespace, result: dict[str, Any]) -> None:
    switches = product.register_switches(args.switches)
    ui_count = args.users // 2
    ui_users = product.users(ui_count, with_tokens=False)
    api_users = product.users(args.users - ui_count, with_tokens=True)
    (idle_admin,) = product.users(1, with_tokens=True)

    def settled() -> bool:
        c = product.counters()
        return c["outbox_pending"] == 0 and c["cdrs_applied"] == c["cdrs_stored"]

    wait_for(settled, timeout_s=300, interval_s=0.2, what="reporting caught up with ingest before the idle pass")
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    idle = load_traffic.Recorder()
    urls = (product.gateway_url, product.ingest_url)
    asyncio.run(load_run.idle_pass(*urls, idle_admin, switches[0], args.idle_rounds, idle, timeout))
    wait_for(settled, timeout_s=300, interval_s=0.2, what="reporting caught up with ingest before the load")

    before = product.counters()
    procs_before = _processes_snapshot(product)  # VmHWM here: the peak of start-up, demo load and idle pass
    result["peak_reset"] = all([load_product.reset_peak(p["pid"]) for p in procs_before.values()])
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    result["machine"]["loadavg_at_load_start"] = os.getloadavg()
    plan = load_run.LoadPlan(
        gateway_url=product.gateway_url,
        ingest_url=product.ingest_url,
        switches=switches,
        ui_users=ui_users,
        api_users=api_users,
        duration_s=args.duration,
        think_s=args.think,
        probe_interval_s=args.probe_interval,
        timeout_s=args.timeout,
        applied=product.applied,
        applied_before=before["cdrs_applied"],
        backlog=lambda: _backlog(product),
        at_window_end=lambda: (_processes_snapshot(product), resource.getrusage(resource.RUSAGE_SELF)),
    )
    rec = asyncio.run(load_run.run_load(plan))
    procs_end, self_end = rec.window_end
    procs_after = _processes_snapshot(product)  # after the drain: VmHWM covers the window and the drain
    result["machine"]["loadavg_at_load_end"] = os.getloadavg()
    after = product.counters()

    accepted = sum(rec.accepted.values())
    api_totals = {s.id: product.api_total(f"/api/v1/cdrs?switch={s.id}&total=true&page_size=1") for s in switches}
    result["verification"] = {
        "accepted_by_posts": accepted,
        "duplicates_answered": rec.duplicates,
        "ingest_stored_delta": after["cdrs_stored"] - before["cdrs_stored"],
        "reporting_applied_delta": after["cdrs_applied"] - before["cdrs_applied"],
        "idle_pass_accepted": sum(idle.accepted.values()),
        "api_total_per_switch_matches": all(
            api_totals[s.id] == rec.accepted[s.id] + idle.accepted[s.id] for s in switches
        ),
        "api_totals": api_totals,
        "restarted_processes": sorted(
            n for n, p in procs_after.items() if procs_before.get(n, {}).get("pid") != p["pid"]
        ),
        "log_error_lines": _log_problems(product.data_dir),
    }
    generator_cpu = (self_end.ru_utime + self_end.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
    result.update(summarise(rec, idle, (procs_before, procs_end, procs_after), generator_cpu))


def main() -> None:
    args = parse_args()
    result = run(args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nJSON written to {args.json}")
    problems = result["errors"]["count"] + result["idle_errors"]
    checks = result["verification"]
    consistent = (
        checks["accepted_by_posts"] == checks["ingest_stored_delta"] == checks["reporting_applied_delta"]
        and checks["api_total_per_switch_matches"]
        and not checks["restarted_processes"]
    )
    sys.exit(0 if problems == 0 and consistent else 1)


if __name__ == "__main__":
    main()
