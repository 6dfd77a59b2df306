"""The GatewayStore contract: users, roles and password hashes, customers owning account codes (each code at
most once), sessions and API tokens stored hashed, the last admin, the installation's secret key.

Runs on SQLite, on MongoDB through mongomock, and on a real MongoDB when CDRSTATS_TEST_MONGODB_URI is set.
``backend.open()`` opens the same data again: a restart, or a second gateway replica.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database
from cdrstats_gateway.domain.errors import Conflict, InvalidInput, NotFound
from cdrstats_gateway.store import GatewayStore
from cdrstats_gateway.store.base import UserExists
from cdrstats_gateway.store.mongo import MongoGatewayStore
from cdrstats_gateway.store.sqlite import SqliteGatewayStore
from cdrstats_gateway.store.throttle_events import KEEP_S

PW = "long-enough-pw"


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Backend:
    name: str
    open: Callable[[], GatewayStore]
    #: what is stored in a table/collection's field, e.g. ("users", "password_hash"); "id" is Mongo's "_id"
    stored: Callable[[str, str], list[Any]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def backend(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> Iterator[Backend]:
    opened: list[GatewayStore] = []
    stack = contextlib.ExitStack()
    if request.param == "sqlite":
        path = tmp_path / "gateway.db"

        def open_sqlite() -> GatewayStore:
            store = SqliteGatewayStore.open(path, clock=clock)
            opened.append(store)
            return store

        def stored_sqlite(table: str, field: str) -> list[Any]:
            probe = SqliteGatewayStore.open(path)
            try:
                return [row[0] for row in probe.conn.execute(f"SELECT {field} FROM {table}")]
            finally:
                probe.close()

        yield Backend("sqlite", open_sqlite, stored_sqlite)
    else:
        if request.param == "mongomock":
            patch_mongomock_bulk_write(monkeypatch)
            database: Any = mongomock.MongoClient()["cdrstats_gateway_test"]
        else:
            if not os.environ.get(MONGODB_URI_VARIABLE):
                pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
            database = stack.enter_context(real_mongodb_database("cdrstats_gateway_test"))

        def open_mongo() -> GatewayStore:
            store = MongoGatewayStore(database, clock=clock)
            opened.append(store)
            return store

        def stored_mongo(collection: str, field: str) -> list[Any]:
            key = "_id" if field == "id" else field
            return [doc.get(key) for doc in database[collection].find()]

        yield Backend(request.param, open_mongo, stored_mongo)
    for store in opened:
        store.close()
    stack.close()


@pytest.fixture
def store(backend: Backend) -> GatewayStore:
    return backend.open()


# --- admin bootstrap, users, secret key -------------------------------------------------------


def test_ensure_admin_creates_then_follows_a_changed_password(store: GatewayStore, backend: Backend) -> None:
    admin = store.ensure_admin("first-password")
    assert admin.is_admin and admin.username == "admin"
    [stored] = backend.stored("users", "password_hash")
    assert stored.startswith("$argon2id$") and "first-password" not in stored
    assert store.authenticate("admin", "first-password") == admin
    store.ensure_admin("first-password")
    assert backend.stored("users", "password_hash") == [stored], "unchanged"
    store.ensure_admin("second-password")
    assert store.authenticate("admin", "first-password") is None
    assert store.authenticate("admin", "second-password") == admin
    assert len(backend.stored("users", "id")) == 1
    assert backend.open().ensure_admin("second-password") == admin, "a second gateway finds the same admin"


def test_users_are_unique_and_roles_checked(store: GatewayStore) -> None:
    customer = store.create_user("cust", "pw-123456", "customer", ["a1", "a2"])
    assert customer.scope.admin is False and customer.scope.accountcodes == ("a1", "a2")
    assert customer.customer_name == "cust", "codes without a customer make one of the user's name"
    with pytest.raises(UserExists):
        store.create_user("cust", "other", "customer")
    with pytest.raises(ValueError, match="role"):
        store.create_user("root", "pw", "superuser")
    with pytest.raises(NotFound, match="customer 999"):
        store.create_user("lost", PW, "customer", customer_id=999)
    assert store.authenticate("nobody", "pw-123456") is None
    assert store.authenticate("cust", "wrong-password") is None
    assert store.check_password(customer.id, "pw-123456") and not store.check_password(customer.id, "nope")
    assert store.get_user(10_000) is None


def test_secret_key_is_generated_once_and_kept(backend: Backend) -> None:
    first = backend.open()
    key = first.secret_key("")
    assert len(key) == 64 and first.secret_key("") == key
    first.close()
    again = backend.open()
    assert again.secret_key("") == key
    assert again.secret_key("configured-key") == "configured-key"


def test_update_user_changes_only_what_is_given(store: GatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1"])
    user = store.create_user("alice", PW, "customer", customer_id=acme.id, email="a@example.com")
    changed = store.update_user(user.id, time_zone="Europe/Paris")
    assert (changed.email, changed.time_zone, changed.customer_id) == ("a@example.com", "Europe/Paris", acme.id)
    promoted = store.update_user(user.id, role="admin")
    assert promoted.is_admin and promoted.customer_id is None and promoted.scope.admin
    with pytest.raises(InvalidInput, match="customer_id"):
        store.update_user(user.id, customer_id=acme.id)
    with pytest.raises(NotFound):
        store.update_user(10_000, email="")


def test_users_list_pages_by_id_and_filters_by_customer(store: GatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1"])
    made = [store.create_user(f"u{i}", PW, "customer", customer_id=acme.id if i % 2 else None) for i in range(5)]
    first = store.list_users(limit=2)
    rest = store.list_users(after_id=first[-1].id, limit=10)
    assert [u.id for u in first + rest] == [u.id for u in made]
    assert [u.username for u in store.list_users(customer_id=acme.id)] == ["u1", "u3"]
    assert rest[0] == store.require_user(rest[0].id)


def test_the_last_admin_stays(store: GatewayStore) -> None:
    admin = store.ensure_admin(PW)
    with pytest.raises(Conflict, match="last admin"):
        store.delete_user(admin.id)
    with pytest.raises(Conflict, match="last admin"):
        store.update_user(admin.id, role="customer")
    second = store.create_user("root2", PW, "admin")
    store.update_user(admin.id, role="customer")
    with pytest.raises(Conflict):
        store.delete_user(second.id)
    with pytest.raises(InvalidInput, match="customer_id"):
        store.create_user("x", PW, "admin", customer_id=store.create_customer("C").id)


def test_the_last_admin_stays_across_gateways(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    first = one.ensure_admin(PW)
    second = two.create_user("root2", PW, "admin")
    one.delete_user(second.id)
    with pytest.raises(Conflict, match="last admin"):
        two.update_user(first.id, role="customer")
    assert two.require_user(first.id).is_admin


def test_two_admins_demoting_each_other_at_once_leave_one(backend: Backend) -> None:
    if backend.name == "mongomock":
        pytest.skip("mongomock is not safe across threads and proves nothing about a server's atomicity")
    setup = backend.open()
    admins = [setup.ensure_admin(PW), setup.create_user("root2", PW, "admin")]
    stores = [backend.open(), backend.open()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(store: GatewayStore, user_id: int) -> None:
        barrier.wait()
        try:
            store.update_user(user_id, role="customer")
            outcomes.append("demoted")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=demote, args=(s, a.id)) for s, a in zip(stores, admins, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert [u.username for u in setup.list_users() if u.is_admin] != []


# --- customers and account codes --------------------------------------------------------------


def test_reassigning_a_code_changes_both_users_scope_at_once(store: GatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1", "a2"])
    globex = store.create_customer("Globex", ["g1"])
    alice = store.create_user("alice", PW, "customer", customer_id=acme.id)
    bob = store.create_user("bob", PW, "customer", customer_id=globex.id)
    assert alice.scope.accountcodes == ("a1", "a2") and bob.scope.accountcodes == ("g1",)
    with pytest.raises(Conflict, match="'a2' belongs to customer 'Acme'"):
        store.update_customer(globex.id, accountcodes=["g1", "a2"])
    assert store.require_user(bob.id).accountcodes == ("g1",), "a refused change changes nothing"
    assert store.require_user(alice.id).accountcodes == ("a1", "a2")
    store.update_customer(globex.id, accountcodes=["g1", "a2"], reassign=True)
    assert store.require_user(alice.id).scope.accountcodes == ("a1",)
    assert store.require_user(bob.id).scope.accountcodes == ("a2", "g1")
    assert store.authenticate("bob", PW).accountcodes == ("a2", "g1")  # type: ignore[union-attr]
    assert store.accountcode_owners(["a1", "a2", "zz"]) == {"a1": "Acme", "a2": "Globex"}


def test_a_code_belongs_to_one_customer_even_from_another_gateway(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    acme = one.create_customer("Acme", ["a1", "a2"])
    with pytest.raises(Conflict, match="'a2' belongs to customer 'Acme'"):
        two.create_customer("Globex", ["b1", "a2"])
    assert two.list_customers() == [acme], "a refused creation leaves nothing behind"
    moved = two.create_customer("Globex", ["a2", "b1", "b1"], reassign=True)
    assert moved.accountcodes == ("a2", "b1")
    assert one.require_customer(acme.id).accountcodes == ("a1",)


def test_customer_codes_rename_and_listing(store: GatewayStore) -> None:
    acme = store.create_customer("Acme", ["z9", "a1", "a1"])
    assert acme.accountcodes == ("a1", "z9") and acme.users == 0
    renamed = store.update_customer(acme.id, name="Acme Corp", accountcodes=["a1", "b2"])
    assert (renamed.name, renamed.accountcodes) == ("Acme Corp", ("a1", "b2"))
    assert store.accountcode_owners(["z9"]) == {}, "a dropped code is free"
    other = store.create_customer("Other")
    with pytest.raises(Conflict, match="already exists"):
        store.update_customer(other.id, name="Acme Corp")
    store.create_user("alice", PW, "customer", customer_id=acme.id)
    assert [(c.name, c.users) for c in store.list_customers()] == [("Acme Corp", 1), ("Other", 0)]
    assert [c.name for c in store.list_customers(after_id=acme.id, limit=5)] == ["Other"]
    with pytest.raises(NotFound):
        store.update_customer(10_000, name="x")


def test_customer_names_unique_and_removal_needs_no_users(store: GatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1"])
    with pytest.raises(Conflict, match="already exists"):
        store.create_customer("Acme")
    user = store.create_user("alice", PW, "customer", customer_id=acme.id)
    with pytest.raises(Conflict, match="still has 1 user"):
        store.delete_customer(acme.id)
    store.update_user(user.id, customer_id=None)
    assert store.require_user(user.id).scope.accountcodes == (), "a customer user without a customer sees nothing"
    store.delete_customer(acme.id)
    assert store.get_customer(acme.id) is None
    again = store.create_customer("Other", ["a1"])
    assert again.accountcodes == ("a1",), "the code was released"
    assert again.id > acme.id, "a removed customer's id is never given again"
    with pytest.raises(NotFound):
        store.delete_customer(acme.id)


# --- sessions and API tokens ------------------------------------------------------------------


def test_sessions_are_stored_hashed_and_expire(store: GatewayStore, backend: Backend, clock: Clock) -> None:
    user = store.create_user("cust", "pw-123456", "customer")
    session_id, session = store.create_session(user.id, ttl_s=60)
    assert session_id not in backend.stored("sessions", "id") and len(backend.stored("sessions", "id")) == 1
    assert store.get_session(session_id) == session
    assert backend.open().get_session(session_id) == session, "another gateway knows the session"
    clock.now += 61
    assert store.get_session(session_id) is None
    other_id, _ = store.create_session(user.id, ttl_s=60)
    assert len(backend.stored("sessions", "id")) == 1, "expired sessions are cleared"
    store.delete_session(other_id)
    assert store.get_session(other_id) is None


def test_a_new_password_ends_every_other_session(store: GatewayStore) -> None:
    user = store.create_user("alice", PW, "customer")
    keep, _ = store.create_session(user.id, 60)
    other, _ = store.create_session(user.id, 60)
    store.set_password(user.id, "a-new-password", keep_session_id=keep)
    assert store.get_session(keep) is not None and store.get_session(other) is None
    assert store.authenticate("alice", PW) is None
    assert store.check_password(user.id, "a-new-password")
    store.set_password(user.id, "third-password")
    assert store.get_session(keep) is None
    with pytest.raises(NotFound):
        store.set_password(10_000, "whatever-password")


def test_api_tokens_belong_to_their_user(store: GatewayStore, backend: Backend, clock: Clock) -> None:
    alice = store.create_user("alice", "pw-123456", "customer", ["a"])
    bob = store.create_user("bob", "pw-123456", "customer", ["b"])
    token, record = store.create_api_token(alice.id, "ci")
    assert token.startswith("cdrs_") and record.prefix == token[:12] and not record.revoked
    assert token not in backend.stored("api_tokens", "token_hash"), "only the hash is stored"
    assert record.last_used_at is None
    clock.now += 5
    assert store.user_for_api_token(token) == alice
    assert store.get_api_token(alice.id, record.id).last_used_at == clock.now  # type: ignore[union-attr]
    assert store.get_api_token(bob.id, record.id) is None
    assert store.revoke_api_token(bob.id, record.id) is False, "bob cannot revoke alice's token"
    assert store.revoke_api_token(alice.id, record.id) is True
    assert store.user_for_api_token(token) is None
    assert store.user_for_api_token("cdrs_unknown") is None
    assert store.list_api_tokens(alice.id)[0].revoked and store.list_api_tokens(bob.id) == []


def test_deleting_a_user_removes_sessions_and_tokens(store: GatewayStore, backend: Backend) -> None:
    user = store.create_user("alice", PW, "customer")
    session_id, _ = store.create_session(user.id, 60)
    token, _ = store.create_api_token(user.id, "ci")
    store.delete_user(user.id)
    assert store.get_session(session_id) is None and store.user_for_api_token(token) is None
    assert backend.stored("sessions", "id") == [] and backend.stored("api_tokens", "id") == []
    with pytest.raises(NotFound):
        store.delete_user(user.id)


# --- throttle events (the login and send throttles of every replica count here) -----------------


def test_throttle_events_are_counted_per_key_newest_first_and_limited(store: GatewayStore) -> None:
    for at in (100.0, 110.0, 120.0):
        store.record_throttle_event(["user:a", "ip:1"], at)
    store.record_throttle_event(["ip:1"], 130.0)
    recent = store.recent_throttle_events(["user:a", "ip:1", "user:b"], 100.0, 10)
    assert recent == {"user:a": [120.0, 110.0], "ip:1": [130.0, 120.0, 110.0], "user:b": []}, "after since only"
    assert store.recent_throttle_events(["ip:1"], 0.0, 2) == {"ip:1": [130.0, 120.0]}, "the latest `limit`"
    store.clear_throttle_key("user:a")
    assert store.recent_throttle_events(["user:a", "ip:1"], 0.0, 10) == {
        "user:a": [],
        "ip:1": [130.0, 120.0, 110.0, 100.0],
    }


def test_throttle_events_are_shared_by_gateways_and_pruned(backend: Backend) -> None:
    one, two = backend.open(), backend.open()
    one.record_throttle_event(["user:a"], 1_000.0)
    assert two.recent_throttle_events(["user:a"], 0.0, 5) == {"user:a": [1_000.0]}, "another replica sees it"
    assert two.prune_throttle_events(1_000.0) == 0, "only older events go"
    two.record_throttle_event(["user:b"], 1_000.0 + KEEP_S + 1)  # a write prunes what no window needs
    assert one.recent_throttle_events(["user:a", "user:b"], 0.0, 5) == {"user:a": [], "user:b": [1_000.0 + KEEP_S + 1]}
    assert len(backend.stored("throttle_events", "key")) == 1
    assert one.prune_throttle_events(1_000.0 + KEEP_S + 2) == 1 and backend.stored("throttle_events", "key") == []
