"""Reporting's QueryMetric as a ``MetricSource``: a synchronous grpcio client.

The api calls it from a thread (``asyncio.to_thread``); in the eventlet-patched nameko worker every
call goes through ``cdrstats_common.tpool.call_blocking``, since a sync call there would freeze the
hub (STACK.md pitfall 3). The channel opens on first use and is reused.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_alerting.domain.alarms import MetricUnavailable
from cdrstats_alerting.metric_source import MetricQuery, MetricResult

TIMEOUT_S = 60.0  # a month-long window answered by ingest's search may take a while
R = TypeVar("R")


def run_io(fn: Callable[[], R]) -> R:
    """Blocking I/O: through eventlet's thread pool in an eventlet-patched process, else directly."""
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("socket"):
        from cdrstats_common.tpool import call_blocking

        return call_blocking(fn)
    return fn()


def to_request(query: MetricQuery) -> reporting_pb2.MetricQueryRequest:
    admin = query.allowed_accountcodes is None
    return reporting_pb2.MetricQueryRequest(
        scope=reporting_pb2.Scope(admin=admin, allowed_accountcodes=list(query.allowed_accountcodes or ())),
        switch_id=query.switch_id,
        metric=query.metric,
        start_us=query.start_us,
        end_us=query.end_us,
        accountcodes=list(query.accountcodes),
        countries=list(query.countries),
        destination_prefix="+" + query.destination_prefix if query.destination_prefix else "",
        hangup_cause=query.hangup_cause,
    )


class ReportingMetricSource:
    def __init__(self, address: str, timeout_s: float = TIMEOUT_S) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: Any = None

    def _get_stub(self) -> Any:
        with self._lock:
            if self._stub is None:
                self._channel = grpc.insecure_channel(self.address)
                self._stub = reporting_pb2_grpc.ReportingServiceStub(self._channel)
            return self._stub

    def query(self, query: MetricQuery) -> MetricResult:
        request = to_request(query)
        stub = self._get_stub()
        try:
            reply = run_io(lambda: stub.QueryMetric(request, timeout=self.timeout_s))
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            name = code.name if code is not None else "error"
            raise MetricUnavailable(f"reporting QueryMetric at {self.address}: {name}: {details}") from None
        stats = reply.stats
        return MetricResult(float(reply.value), int(stats.attempts), int(stats.answered), int(stats.pdd_count))

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel, self._stub = None, None
