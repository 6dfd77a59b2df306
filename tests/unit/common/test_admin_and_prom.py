"""The admin port answers probes and Prometheus; consumers' metrics count what they did."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from cdrstats_common import prom
from cdrstats_common.admin import AdminServer
from cdrstats_common.events import make_envelope


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_follows_the_check_and_metrics_are_exposed() -> None:
    state = {"ok": True}
    registry = CollectorRegistry()
    Counter("demo_things", "things", registry=registry).inc(3)

    def check() -> bool:
        if state["ok"] is None:
            raise RuntimeError("store gone")
        return bool(state["ok"])

    server = AdminServer(0, check, host="127.0.0.1", registry=registry).start()
    try:
        assert get(server.port, "/healthz") == (200, "ok\n")
        state["ok"] = False
        assert get(server.port, "/healthz")[0] == 503
        state["ok"] = None  # type: ignore[assignment]
        assert get(server.port, "/healthz")[0] == 503
        status, text = get(server.port, "/metrics")
        assert status == 200 and "demo_things_total 3.0" in text
    finally:
        server.stop()


def sample(name: str, labels: dict[str, str]) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_consume_counts_applied_duplicate_and_failed() -> None:
    labels = {"event_type": "thing_happened"}
    before = {
        r: sample("cdrstats_events_consumed_total", {**labels, "result": r}) for r in ("applied", "duplicate", "failed")
    }
    envelope = make_envelope("thing_happened", "test", {})
    assert prom.consume("thing_happened", envelope, lambda: True) is True
    assert prom.consume("thing_happened", envelope, lambda: False) is False
    with pytest.raises(ValueError):
        prom.consume("thing_happened", envelope, lambda: (_ for _ in ()).throw(ValueError("bad")))
    for result in ("applied", "duplicate", "failed"):
        assert sample("cdrstats_events_consumed_total", {**labels, "result": result}) == before[result] + 1
    lag = sample("cdrstats_consumer_lag_seconds", labels)
    assert 0 <= lag < 5
