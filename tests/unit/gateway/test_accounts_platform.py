"""Users and customers: the SQLite store's migration from the first schema, input rules, import jobs.

The store contract (scoping by code at query time, the last admin, ...) runs on every adapter in
tests/contract/gateway/test_gateway_store_contract.py.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from cdrstats_common import sqlite
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.store.sqlite import SqliteGatewayStore


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
