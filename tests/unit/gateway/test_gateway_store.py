"""Gateway start-up pieces: choosing the store by URL, the login throttle, settings from the environment."""

from __future__ import annotations

import pathlib

import pytest

from cdrstats_common.settings import SettingsError
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_gateway.store import open_store
from cdrstats_gateway.store.sqlite import SqliteGatewayStore
from cdrstats_gateway.throttle import LoginThrottle


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_open_store_picks_the_adapter_by_url(tmp_path: pathlib.Path) -> None:
    """The store contract itself: tests/contract/gateway/test_gateway_store_contract.py."""
    store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    assert isinstance(store, SqliteGatewayStore)
    store.close()
    with pytest.raises(ValueError, match="unsupported store URL"):
        open_store(str(tmp_path / "gateway.db"))


def test_throttle_blocks_after_five_failures_until_the_window_passes(tmp_path: pathlib.Path) -> None:
    clock = Clock()
    store = SqliteGatewayStore.open(tmp_path / "gateway.db")
    throttle = LoginThrottle(store, clock=clock)
    for _ in range(4):
        throttle.failed("user:a", "ip:1")
        clock.now += 10
    assert throttle.retry_after("user:a") == 0
    throttle.failed("user:a", "ip:1")
    assert throttle.retry_after("user:a") == pytest.approx(900 - 40)
    assert throttle.retry_after("user:b", "ip:1") > 0, "the client IP is blocked for every username"
    assert throttle.retry_after("user:b", "ip:2") == 0
    clock.now += 900 - 40
    assert throttle.retry_after("user:a", "ip:1") == 0, "the oldest failure left the window"
    stored = {row["key"] for row in store.conn.execute("SELECT key FROM throttle_events")}
    assert len(stored) == 2 and not any("user:" in key or "ip:" in key for key in stored), "keys kept hashed"
    store.close()


def test_settings_from_env_defaults_and_problems(tmp_path: pathlib.Path) -> None:
    settings = GatewaySettings.from_env({"CDRSTATS_DATA_DIR": str(tmp_path)})
    assert settings.http_port == 8080 and settings.http_host == "127.0.0.1"
    assert settings.store_url == f"sqlite:///{tmp_path / 'gateway.db'}"
    assert settings.reporting_grpc_addr == "127.0.0.1:50052" and settings.notify_grpc_addr == "127.0.0.1:50054"
    assert settings.cookie_secure is True and settings.startup_marker is None and settings.secret_key == ""
    env = {"CDRSTATS_HTTP_PORT": "0", "REPORTING_GRPC_ADDR": "nowhere", "CDRSTATS_COOKIE_SECURE": "maybe"}
    with pytest.raises(SettingsError) as excinfo:
        GatewaySettings.from_env(env)
    assert {p.split(":")[0] for p in excinfo.value.problems} == {
        "CDRSTATS_HTTP_PORT",
        "REPORTING_GRPC_ADDR",
        "CDRSTATS_COOKIE_SECURE",
    }
