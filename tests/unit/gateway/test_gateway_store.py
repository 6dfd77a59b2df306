"""The SQLite gateway store: admin bootstrap, secret key, sessions, API tokens; and the login throttle."""

from __future__ import annotations

import pathlib

import pytest

from cdrstats_common.settings import SettingsError
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_gateway.store import open_store
from cdrstats_gateway.store.base import UserExists
from cdrstats_gateway.store.sqlite import SqliteGatewayStore
from cdrstats_gateway.throttle import LoginThrottle


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: pathlib.Path, clock: Clock) -> SqliteGatewayStore:
    return SqliteGatewayStore.open(tmp_path / "gateway.db", clock=clock)


def test_ensure_admin_creates_then_follows_a_changed_password(store: SqliteGatewayStore) -> None:
    admin = store.ensure_admin("first-password")
    assert admin.is_admin and admin.username == "admin"
    stored = store.conn.execute("SELECT password_hash FROM users").fetchone()["password_hash"]
    assert stored.startswith("$argon2id$") and "first-password" not in stored
    assert store.authenticate("admin", "first-password") == admin
    store.ensure_admin("first-password")
    assert store.conn.execute("SELECT password_hash FROM users").fetchone()["password_hash"] == stored, "unchanged"
    store.ensure_admin("second-password")
    assert store.authenticate("admin", "first-password") is None
    assert store.authenticate("admin", "second-password") == admin
    assert store.conn.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_users_are_unique_and_roles_checked(store: SqliteGatewayStore) -> None:
    customer = store.create_user("cust", "pw-123456", "customer", ["a1", "a2"])
    assert customer.scope.admin is False and customer.scope.accountcodes == ("a1", "a2")
    with pytest.raises(UserExists):
        store.create_user("cust", "other", "customer")
    with pytest.raises(ValueError, match="role"):
        store.create_user("root", "pw", "superuser")
    assert store.authenticate("nobody", "pw-123456") is None


def test_secret_key_is_generated_once_and_kept(tmp_path: pathlib.Path) -> None:
    first = SqliteGatewayStore.open(tmp_path / "g.db")
    key = first.secret_key("")
    assert len(key) == 64 and first.secret_key("") == key
    first.close()
    again = SqliteGatewayStore.open(tmp_path / "g.db")
    assert again.secret_key("") == key
    assert again.secret_key("configured-key") == "configured-key"


def test_sessions_are_stored_hashed_and_expire(store: SqliteGatewayStore, clock: Clock) -> None:
    user = store.create_user("cust", "pw-123456", "customer")
    session_id, session = store.create_session(user.id, ttl_s=60)
    assert store.conn.execute("SELECT count(*) FROM sessions WHERE id = ?", (session_id,)).fetchone()[0] == 0
    assert store.get_session(session_id) == session
    clock.now += 61
    assert store.get_session(session_id) is None
    other_id, _ = store.create_session(user.id, ttl_s=60)
    store.delete_session(other_id)
    assert store.get_session(other_id) is None


def test_api_tokens_belong_to_their_user(store: SqliteGatewayStore) -> None:
    alice = store.create_user("alice", "pw-123456", "customer", ["a"])
    bob = store.create_user("bob", "pw-123456", "customer", ["b"])
    token, record = store.create_api_token(alice.id, "ci")
    assert token.startswith("cdrs_") and record.prefix == token[:12] and not record.revoked
    assert store.user_for_api_token(token) == alice
    assert store.revoke_api_token(bob.id, record.id) is False, "bob cannot revoke alice's token"
    assert store.revoke_api_token(alice.id, record.id) is True
    assert store.user_for_api_token(token) is None
    assert store.list_api_tokens(alice.id)[0].revoked and store.list_api_tokens(bob.id) == []


def test_open_store_refuses_mongodb_clearly() -> None:
    with pytest.raises(ValueError, match="no MongoDB store adapter yet"):
        open_store("mongodb://localhost/gateway")


def test_throttle_blocks_after_five_failures_until_the_window_passes() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
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
