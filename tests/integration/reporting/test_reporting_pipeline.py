"""Real processes: ingest events over RabbitMQ -> reporting worker -> SQLite roll-ups -> reporting api over gRPC."""

from __future__ import annotations

import contextlib
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, make_envelope
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.dashboard import dashboard_window
from cdrstats_reporting.domain.rollup import HOUR_US, floor_hour

pytestmark = pytest.mark.integration

ROOT = pathlib.Path(__file__).resolve().parents[3]
NOW_US = 1_760_000_000_000_000 + 17 * 60 * 1_000_000
T = TypeVar("T")


def make_cdrs(rng: random.Random, count: int, prefix: str) -> list[dict[str, Any]]:
    start, end = dashboard_window(NOW_US)
    cdrs = []
    for index in range(count):
        answered = rng.random() < 0.6
        begin = rng.choice([start, end - HOUR_US, rng.randrange(start - 2 * HOUR_US, end + HOUR_US)])
        billsec = rng.randrange(1_000, 4_000_000) if answered else 0
        cdrs.append(
            new_cdr(
                id=f"{prefix}-{index}",
                uuid=f"{prefix}-{index}",
                switch_id=rng.choice(["sw1", "sw2"]),
                accountcode=rng.choice(["a1", "a2"]),
                start_time_us=begin,
                answer_time_us=begin + 1_000_000 if answered else 0,
                end_time_us=begin + billsec * 1000 + 3_000_000,
                duration_ms=billsec + 3_000,
                billsec_ms=billsec,
                hangup_cause=16 if answered else 17,
            )
        )
    return cdrs


def brute_force(cdrs: list[dict[str, Any]], accountcodes: set[str] | None = None) -> tuple[Totals, dict[int, Totals]]:
    start, end = dashboard_window(NOW_US)
    total, hours = Totals(), {hour: Totals() for hour in range(start, end, HOUR_US)}
    for cdr in cdrs:
        if start <= cdr["start_time_us"] < end and (accountcodes is None or cdr["accountcode"] in accountcodes):
            total.add_cdr(cdr)
            hours[floor_hour(cdr["start_time_us"])].add_cdr(cdr)
    return total, hours


def wait_for(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(grpc.RpcError):
            value = predicate()
            if value:
                return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@contextlib.contextmanager
def process(module: str, env: dict[str, str], log_path: pathlib.Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python -m module``; on exit send SIGTERM and require a clean stop within 10 s."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT, stdout=log, stderr=log)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{module} did not stop within 10 s of SIGTERM") from None
    assert code == 0, f"{module} exited with {code}:\n{log_path.read_text()[-3000:]}"


def test_events_reach_the_dashboard_once(amqp_url: str, port: int, tmp_path: pathlib.Path) -> None:
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "CDRSTATS_REPORTING_STORE_URL": f"sqlite:///{tmp_path}/reporting.db",
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}",
    }
    rng = random.Random(42)
    first, second = make_cdrs(rng, 300, "a"), make_cdrs(rng, 200, "b")
    everything = first + second

    with (
        process("cdrstats_reporting.worker", env, tmp_path / "worker.log"),
        process("cdrstats_reporting.api", env, tmp_path / "api.log"),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        reporting = reporting_pb2_grpc.ReportingServiceStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING

        def worker_serving() -> bool:
            reply = health.Check(health_pb2.HealthCheckRequest(service="worker"), timeout=1)
            return bool(reply.status == serving)

        wait_for(worker_serving, 15, "health 'worker' SERVING")

        publisher = EventPublisher(amqp_url, "ingest")
        try:
            envelope = make_envelope("cdrs_ingested", "ingest", {"cdrs": first})
            publisher.publish(envelope, "cdrs_ingested")
            publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": second}), "cdrs_ingested")
            publisher.publish(envelope, "cdrs_ingested")  # a redelivery: must not count twice
        finally:
            publisher.close()

        admin = reporting_pb2.Scope(admin=True)

        def both_applied() -> reporting_pb2.ReportingStatus | None:
            status = reporting.GetStatus(reporting_pb2.GetStatusRequest(), timeout=2)
            return status if status.events_applied >= 2 and status.cdrs_applied >= len(everything) else None

        wait_for(both_applied, 15, "both events applied")
        time.sleep(0.5)  # give the duplicate time to be (not) applied
        status = reporting.GetStatus(reporting_pb2.GetStatusRequest(), timeout=2)
        assert (status.cdrs_applied, status.events_applied) == (len(everything), 2)

        report = reporting.GetDashboard(reporting_pb2.DashboardRequest(scope=admin, now_us=NOW_US), timeout=2)
        expected, hours = brute_force(everything)
        assert (report.window_start_us, report.window_end_us) == dashboard_window(NOW_US)
        assert (report.attempts, report.answered) == (expected.attempts, expected.answered)
        assert report.asr == pytest.approx(expected.asr)
        assert report.acd == pytest.approx(expected.acd)
        assert report.minutes == pytest.approx(expected.minutes)
        assert report.ach == pytest.approx(expected.attempts / 24)
        assert [(h.start_us, h.attempts, h.answered) for h in report.hours] == [
            (start, totals.attempts, totals.answered) for start, totals in sorted(hours.items())
        ]

        customer = reporting_pb2.Scope(admin=False, allowed_accountcodes=["a2"])
        scoped = reporting.GetDashboard(reporting_pb2.DashboardRequest(scope=customer, now_us=NOW_US), timeout=2)
        assert scoped.attempts == brute_force(everything, {"a2"})[0].attempts > 0

        with pytest.raises(grpc.RpcError) as denied:
            reporting.GetDashboard(reporting_pb2.DashboardRequest(scope=reporting_pb2.Scope(admin=False)), timeout=2)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_call_state_events_drive_live_calls(amqp_url: str, port: int, tmp_path: pathlib.Path) -> None:
    """call_state started/answered/ended and a cdrs_ingested CDR of the same call, through the real worker."""
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "CDRSTATS_REPORTING_STORE_URL": f"sqlite:///{tmp_path}/reporting.db",
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}",
    }
    now_us = time.time_ns() // 1000

    def state(uuid: str, event: str, offset_s: int, accountcode: str = "a1") -> dict[str, Any]:
        data = {"switch_id": "sw1", "uuid": uuid, "event": event, "time_us": now_us + offset_s * 1_000_000,
                "caller_id_number": "1001", "destination_number": "0612345678", "destination_e164": "+33612345678",
                "country": "FR", "accountcode": accountcode, "direction": "outbound"}  # fmt: skip
        return make_envelope("call_state", "ingest", data)

    with (
        process("cdrstats_reporting.worker", env, tmp_path / "worker.log"),
        process("cdrstats_reporting.api", env, tmp_path / "api.log"),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        reporting = reporting_pb2_grpc.ReportingServiceStub(channel)
        serving = health_pb2.HealthCheckResponse.SERVING
        wait_for(
            lambda: health.Check(health_pb2.HealthCheckRequest(service="worker"), timeout=1).status == serving,
            15,
            "health 'worker' SERVING",
        )
        admin = reporting_pb2.Scope(admin=True)
        watch = reporting.WatchLiveCalls(reporting_pb2.LiveCallsRequest(scope=admin), timeout=30)
        assert next(watch).total == 0  # the first snapshot comes at once

        publisher = EventPublisher(amqp_url, "ingest")
        try:
            for envelope in (state("c1", "started", 0), state("c2", "started", 1, "a2"), state("c1", "answered", 3)):
                publisher.publish(envelope, "call_state")
            update = next(snapshot for snapshot in watch if snapshot.total == 2 and snapshot.answered == 1)
            assert [(c.uuid, c.state) for c in update.calls] == [("c2", "started"), ("c1", "answered")]
            assert [(k.key, k.calls) for k in update.by_accountcode] == [("a1", 1), ("a2", 1)]
            customer = reporting_pb2.Scope(allowed_accountcodes=["a2"])
            scoped = reporting.GetLiveCalls(reporting_pb2.LiveCallsRequest(scope=customer), timeout=2)
            assert [c.uuid for c in scoped.calls] == ["c2"]

            publisher.publish(state("c2", "ended", 20, "a2"), "call_state")
            cdr = new_cdr(id="x1", uuid="c1", switch_id="sw1", accountcode="a1", start_time_us=now_us,
                          answer_time_us=now_us + 3_000_000, end_time_us=now_us + 60_000_000, billsec_ms=57_000)  # fmt: skip
            publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": [cdr]}), "cdrs_ingested")
            assert next(snapshot for snapshot in watch if snapshot.total == 0).total == 0
        finally:
            watch.cancel()
            publisher.close()
