"""Numbers and the printed table of bench_load.py, from the recorders and process snapshots."""

from __future__ import annotations

import math
import statistics
from typing import Any

from load_traffic import (
    API_CALLS,
    GATEWAY_BASELINE,
    INGEST_BASELINE,
    INGEST_POST,
    LOGIN_FORM,
    LOGIN_POST,
    READINESS,
    UI_PAGES,
    Recorder,
)

BUCKET_S = 5
#: label order of the table: ingest first, then pages, API calls, baselines
ORDER = (INGEST_POST, *(label for label, _ in UI_PAGES), *(label for label, _ in API_CALLS))


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank: the smallest sample with at least ``pct`` % of the samples at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def _baseline_of(label: str) -> str:
    return INGEST_BASELINE if label == INGEST_POST else GATEWAY_BASELINE


def _latency(rec: Recorder, idle: Recorder) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for label in (*ORDER, GATEWAY_BASELINE, INGEST_BASELINE, READINESS, LOGIN_FORM, LOGIN_POST):
        row: dict[str, Any] = _stats(rec.latencies.get(label, []))
        idle_values = idle.latencies.get(label, [])
        row["idle_p50"] = statistics.median(idle_values) if idle_values else None
        if row["n"] and row["idle_p50"]:
            row["load_over_idle_p50"] = row["p50"] / row["idle_p50"]
        base = rec.latencies.get(_baseline_of(label), [])
        if row["n"] and base and label in ORDER:
            row["baseline"] = _baseline_of(label)
            row["p50_over_baseline_p50"] = row["p50"] / statistics.median(base)
            row["p95_over_baseline_p95"] = row["p95"] / percentile(base, 95)
        row["statuses"] = dict(rec.statuses.get(label, {}))
        if label in rec.slowest:
            row["max_at_s"] = rec.slowest[label][1]  # when the slowest one was sent, from the window start
        table[label] = row
    return table


def _ingest(rec: Recorder) -> dict[str, Any]:
    accepted = sum(rec.accepted.values())
    window_s = rec.last_post_done - rec.started
    full_buckets = int(window_s // BUCKET_S)
    per_bucket = [
        sum(rec.accepted_per_second[s] for s in range(b * BUCKET_S, (b + 1) * BUCKET_S)) / BUCKET_S
        for b in range(full_buckets)
    ]
    return {
        "accepted": accepted,
        "duplicates": rec.duplicates,
        "window_s": window_s,
        "cdr_per_s": accepted / window_s if window_s > 0 else 0.0,
        f"cdr_per_s_{BUCKET_S}s_buckets": {
            "min": min(per_bucket, default=0.0),
            "median": statistics.median(per_bucket) if per_bucket else 0.0,
            "max": max(per_bucket, default=0.0),
        },
        "per_switch": dict(rec.accepted),
    }


Snapshot = dict[str, dict[str, Any]]


def _processes(snapshots: tuple[Snapshot, Snapshot, Snapshot], window_s: float) -> dict[str, Any]:
    """Memory from the start and the end (after the drain), CPU over the window only."""
    before, window_end, after = snapshots
    rows = {}
    for name, now in after.items():
        then, ended = before.get(name, now), window_end.get(name, now)
        rows[name] = {
            "rss_mib_at_load_start": then["VmRSS"] / 1024,
            "peak_rss_mib_before_load": then["VmHWM"] / 1024,
            "peak_rss_mib_during_load": now["VmHWM"] / 1024,
            "rss_mib_at_end": now["VmRSS"] / 1024,
            "cpu_s_during_load": ended["cpu_s"] - then["cpu_s"],
            "cores_used": (ended["cpu_s"] - then["cpu_s"]) / window_s,
        }
    return rows


def summarise(
    rec: Recorder, idle: Recorder, snapshots: tuple[Snapshot, Snapshot, Snapshot], generator_cpu_s: float
) -> dict[str, Any]:
    """The result's numbers; ``snapshots``: processes at the load start, at the window end, after the drain."""
    window_s = rec.last_post_done - rec.started
    requests = sum(len(v) for k, v in rec.latencies.items() if k not in (LOGIN_FORM, LOGIN_POST))
    backlog = [n for _, n in rec.backlog]
    return {
        "ingest": _ingest(rec),
        "latency_ms": _latency(rec, idle),
        "errors": {
            "count": rec.errors(),
            "by_label": {label: dict(rec.statuses[label]) for label in rec.error_counts},
            "samples": rec.error_samples,
        },
        "idle_errors": idle.errors(),
        "idle_error_samples": idle.error_samples,
        "lag_s": rec.lag_s,
        "reporting_backlog": {
            "max": max(backlog, default=0),
            "last": backlog[-1] if backlog else 0,
            "series": rec.backlog,
        },
        "requests_ok_per_s": requests / window_s,
        "processes": _processes(snapshots, window_s),
        "generator": {"cpu_s": generator_cpu_s, "cores_used": generator_cpu_s / window_s},
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def print_report(result: dict[str, Any]) -> None:
    ingest, checks, machine = result["ingest"], result["verification"], result["machine"]
    buckets = ingest[f"cdr_per_s_{BUCKET_S}s_buckets"]
    print(f"\n{result['command']}  ({result['started_utc']}, {machine['cpus']} CPUs)")
    print(
        f"load average: {machine['loadavg_before_start'][0]:.1f} before start-up, "
        f"{machine['loadavg_at_load_start'][0]:.1f} at load start, {machine['loadavg_at_load_end'][0]:.1f} at the end"
    )
    print(f"start-up with demo data: {result['startup_s']:.1f} s")
    print(
        f"ingest: {ingest['accepted']:,} CDRs accepted in {ingest['window_s']:.1f} s = {ingest['cdr_per_s']:,.1f} CDR/s "
        f"({BUCKET_S}-s buckets min {buckets['min']:.0f} / median {buckets['median']:.0f} / max {buckets['max']:.0f})"
    )
    print(f"errors under load: {result['errors']['count']} (idle pass: {result['idle_errors']})")
    for sample in result["errors"]["samples"] + result["idle_error_samples"]:
        print(f"  {sample}")
    readiness = result["latency_ms"][READINESS]["statuses"]
    print(f"gateway /healthz (whole pipeline caught up; probes use /readyz) answers under load: {readiness or 'none'}")
    backlog = result["reporting_backlog"]
    print(
        f"lag last POST -> reporting counts all: {result['lag_s'] * 1000:,.0f} ms "
        f"(CDRs stored but not yet counted, sampled every 2 s: max {backlog['max']:,}, last {backlog['last']:,})"
    )
    print(
        f"stored delta {checks['ingest_stored_delta']:,}, applied delta {checks['reporting_applied_delta']:,}, "
        f"API totals per switch match: {checks['api_total_per_switch_matches']}, "
        f"restarts: {checks['restarted_processes'] or 'none'}, log ERROR lines: {checks['log_error_lines'] or 'none'}"
    )
    print(
        f"\n{'request':<38}{'n':>6}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}{'at s':>6}"
        f"{'p50/base':>9}{'idle p50':>9}{'load/idle':>10}"
    )
    for label, row in result["latency_ms"].items():
        if not row["n"]:
            print(f"{label:<38}{0:>6}")
            continue
        print(
            f"{label:<38}{row['n']:>6}{_ms(row['p50']):>8}{_ms(row['p95']):>8}{_ms(row['p99']):>8}{_ms(row['max']):>8}"
            f"{row.get('max_at_s', 0):>6.0f}{_ratio(row.get('p50_over_baseline_p50')):>9}{_ms(row['idle_p50']):>9}"
            f"{_ratio(row.get('load_over_idle_p50')):>10}"
        )
    print(f"(ms; base = {GATEWAY_BASELINE} for pages and API, {INGEST_BASELINE} for the POSTs, both under the load)")
    print(f"\n{'process':<28}{'RSS start':>10}{'peak before':>12}{'peak load':>10}{'CPU s':>8}{'cores':>7}")
    for name, row in sorted(result["processes"].items()):
        print(
            f"{name:<28}{row['rss_mib_at_load_start']:>10.1f}{row['peak_rss_mib_before_load']:>12.1f}"
            f"{row['peak_rss_mib_during_load']:>10.1f}{row['cpu_s_during_load']:>8.1f}{row['cores_used']:>7.2f}"
        )
    gen = result["generator"]
    print(f"{'load generator (this process)':<28}{'':>32}{gen['cpu_s']:>8.1f}{gen['cores_used']:>7.2f}")
    print(
        f"(MiB; peak = VmHWM, 'peak load' restarted at load start ({result['peak_reset']}) and read after the drain;"
        " CPU over the window)"
    )
