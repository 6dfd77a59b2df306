"""Users, customers and account codes in the SQLite store: scoping by code at query time."""

from __future__ import annotations

import json
import pathlib

import pytest

from cdrstats_common import sqlite
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.errors import Conflict, InvalidInput, NotFound
from cdrstats_gateway.store.sqlite import SqliteGatewayStore

PW = "long-enough-pw"


@pytest.fixture
def store(tmp_path: pathlib.Path) -> SqliteGatewayStore:
    opened = SqliteGatewayStore.open(tmp_path / "g.db")
    yield opened
    opened.close()


def test_reassigning_a_code_changes_both_users_scope_at_once(store: SqliteGatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1", "a2"])
    globex = store.create_customer("Globex", ["g1"])
    alice = store.create_user("alice", PW, "customer", customer_id=acme.id)
    bob = store.create_user("bob", PW, "customer", customer_id=globex.id)
    assert alice.scope.accountcodes == ("a1", "a2") and bob.scope.accountcodes == ("g1",)
    with pytest.raises(Conflict, match="'a2' belongs to customer 'Acme'"):
        store.update_customer(globex.id, accountcodes=["g1", "a2"])
    assert store.require_user(bob.id).accountcodes == ("g1",), "a refused change changes nothing"
    store.update_customer(globex.id, accountcodes=["g1", "a2"], reassign=True)
    assert store.require_user(alice.id).scope.accountcodes == ("a1",)
    assert store.require_user(bob.id).scope.accountcodes == ("a2", "g1")
    assert store.authenticate("bob", PW).accountcodes == ("a2", "g1")  # type: ignore[union-attr]
    assert store.accountcode_owners(["a1", "a2", "zz"]) == {"a1": "Acme", "a2": "Globex"}


def test_customer_names_unique_and_removal_needs_no_users(store: SqliteGatewayStore) -> None:
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
    assert store.create_customer("Other", ["a1"]).accountcodes == ("a1",), "the code was released"
    with pytest.raises(NotFound):
        store.delete_customer(acme.id)


def test_the_last_admin_stays(store: SqliteGatewayStore) -> None:
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


def test_a_new_password_ends_every_other_session(store: SqliteGatewayStore) -> None:
    user = store.create_user("alice", PW, "customer")
    keep, _ = store.create_session(user.id, 60)
    other, _ = store.create_session(user.id, 60)
    store.set_password(user.id, "a-new-password", keep_session_id=keep)
    assert store.get_session(keep) is not None and store.get_session(other) is None
    assert store.authenticate("alice", PW) is None
    assert store.check_password(user.id, "a-new-password")
    store.set_password(user.id, "third-password")
    assert store.get_session(keep) is None


def test_deleting_a_user_removes_sessions_and_tokens(store: SqliteGatewayStore) -> None:
    user = store.create_user("alice", PW, "customer")
    session_id, _ = store.create_session(user.id, 60)
    token, _ = store.create_api_token(user.id, "ci")
    store.delete_user(user.id)
    assert store.get_session(session_id) is None and store.user_for_api_token(token) is None


def test_users_list_pages_by_id_and_filters_by_customer(store: SqliteGatewayStore) -> None:
    acme = store.create_customer("Acme", ["a1"])
    made = [store.create_user(f"u{i}", PW, "customer", customer_id=acme.id if i % 2 else None) for i in range(5)]
    first = store.list_users(limit=2)
    rest = store.list_users(after_id=first[-1].id, limit=10)
    assert [u.id for u in first + rest] == [u.id for u in made]
    assert [u.username for u in store.list_users(customer_id=acme.id)] == ["u1", "u3"]


def test_the_first_schema_is_migrated_to_customers(tmp_path: pathlib.Path) -> None:
    """A store from before customers existed: codes on the user become a customer of its own."""
    conn = sqlite.connect(tmp_path / "old.db")
    conn.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
        " role TEXT NOT NULL, accountcodes TEXT NOT NULL DEFAULT '[]', created_at REAL NOT NULL)"
    )
    conn.execute(
        "INSERT INTO users VALUES (1, 'cust', 'x', 'customer', ?, 1.0), (2, 'admin', 'x', 'admin', '[]', 1.0)",
        (json.dumps(["c1", "c2"]),),
    )
    conn.close()
    store = SqliteGatewayStore.open(tmp_path / "old.db")
    cust = store.require_user(1)
    assert (cust.customer_name, cust.accountcodes) == ("cust", ("c1", "c2"))
    assert store.require_user(2).customer_id is None
    store.close()
    reopened = SqliteGatewayStore.open(tmp_path / "old.db")  # idempotent
    assert [c.name for c in reopened.list_customers()] == ["cust"]
    reopened.close()


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [
        (accounts.username, "has space", "username"),
        (accounts.password, "short", "password"),
        (accounts.role, "root", "role"),
        (accounts.accountcodes, "ok, bad;code", None),
        (accounts.email, "not-an-address", "email"),
        (accounts.time_zone, "Mars/Olympus", "time_zone"),
        (accounts.customer_name, "   ", "name"),
    ],
)
def test_bad_input_names_the_field(check: object, value: str, field: str | None) -> None:
    if field is None:
        assert accounts.accountcodes(value) == ("bad", "code", "ok"), "separators split codes"
        with pytest.raises(InvalidInput, match="accountcodes"):
            accounts.accountcodes(["has space"])
        return
    with pytest.raises(InvalidInput) as caught:
        check(value)  # type: ignore[operator]
    assert caught.value.field == field


def test_import_jobs_belong_to_their_owner_and_old_ones_make_room() -> None:
    from cdrstats_gateway.domain import imports
    from cdrstats_gateway.domain.switches import ImportOutcome

    now = [1000.0]
    tracker = imports.ImportTracker(clock=lambda: now[0])
    first = tracker.create(owner_id=1)
    assert tracker.get(first.id, 1) is first and tracker.get(first.id, 2) is None
    first.size_bytes, first.sent_bytes, first.state = 1000, 999, "uploading"
    assert first.progress == 99, "100 only once ingest has answered"
    tracker.finish(first, ImportOutcome("j", 1, 1, 0, 0))
    assert first.progress == 100
    running = tracker.create(owner_id=1)
    running.state = "uploading"
    now[0] += 2 * imports.WAIT_S
    for _ in range(imports.MAX_JOBS + 5):
        tracker.create(owner_id=3)
    assert tracker.get(running.id, 1) is running, "a running upload is never dropped"
    assert tracker.get(first.id, 1) is None
