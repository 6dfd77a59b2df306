"""MongoDB-only specifics of the gateway store (on mongomock): the URL, and what a crash between two writes
leaves behind (no transactions) reads as a state the SQLite adapter could also be in.

The crash states are built by doing a half of an operation's writes directly, as a process that died would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_common.testing import patch_mongomock_bulk_write
from cdrstats_gateway.domain.errors import Conflict
from cdrstats_gateway.store import mongo as mongo_module
from cdrstats_gateway.store import open_store
from cdrstats_gateway.store.mongo import MongoGatewayStore

PW = "long-enough-pw"


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Any:
    patch_mongomock_bulk_write(monkeypatch)
    return mongomock.MongoClient()["cdrstats_gateway_test"]


@pytest.fixture
def store(database: Any) -> Iterator[MongoGatewayStore]:
    opened = MongoGatewayStore(database)
    yield opened
    opened.close()


def test_open_store_takes_the_database_from_a_mongodb_url(monkeypatch: pytest.MonkeyPatch) -> None:
    urls: list[str] = []

    def client(url: str) -> Any:  # mongomock parses the URL as pymongo does; an SRV name needs DNS, so not that
        urls.append(url)
        return mongomock.MongoClient(url.replace("mongodb+srv://cluster.example.test", "mongodb://localhost"))

    monkeypatch.setattr(mongo_module.pymongo, "MongoClient", client)
    store = open_store("mongodb://db.example.test:27017/gw_prod")
    assert isinstance(store, MongoGatewayStore) and store.db.name == "gw_prod"
    store.ensure_admin(PW)
    assert store.db["users"].count_documents({}) == 1
    default = open_store("mongodb+srv://cluster.example.test/")
    assert isinstance(default, MongoGatewayStore) and default.db.name == "cdrstats_gateway"
    assert urls == ["mongodb://db.example.test:27017/gw_prod", "mongodb+srv://cluster.example.test/"]
    with pytest.raises(ValueError, match="unsupported store URL"):
        open_store("postgresql://db/gateway")


def test_a_crash_after_removing_a_user_leaves_nothing_usable(store: MongoGatewayStore, database: Any) -> None:
    store.ensure_admin(PW)
    user = store.create_user("alice", PW, "customer")
    session_id, _ = store.create_session(user.id, 60)
    token, _ = store.create_api_token(user.id, "ci")
    database["users"].delete_one({"_id": user.id})  # delete_user's first write, then the crash
    assert store.get_session(session_id) is None and store.user_for_api_token(token) is None
    MongoGatewayStore(database)  # the restarted gateway sweeps the leftovers
    assert database["sessions"].count_documents({}) == 0 and database["api_tokens"].count_documents({}) == 0


def test_a_crash_while_removing_a_customer_frees_its_codes(store: MongoGatewayStore, database: Any) -> None:
    acme = store.create_customer("Acme", ["a1", "a2"])
    user = store.create_user("alice", PW, "customer", customer_id=acme.id)
    database["customers"].delete_one({"_id": acme.id})  # a customer gone while codes and a user still point at it
    assert store.accountcode_owners(["a1", "a2"]) == {}
    assert (store.require_user(user.id).customer_id, store.require_user(user.id).accountcodes) == (None, ())
    taken = store.create_customer("Globex", ["a1"])
    assert taken.accountcodes == ("a1",), "a dead customer's code is free without reassign"
    assert store.accountcode_owners(["a1", "a2"]) == {"a1": "Globex"}


def test_an_admin_left_off_the_guard_by_a_crash_is_put_back_by_saving_it(
    store: MongoGatewayStore, database: Any
) -> None:
    admin = store.ensure_admin(PW)
    second = store.create_user("root2", PW, "admin")
    database["guards"].update_one({"_id": "admins"}, {"$pull": {"ids": second.id}})  # crash before $addToSet
    with pytest.raises(Conflict, match="last admin"):
        store.update_user(admin.id, role="customer")
    store.update_user(second.id, role="admin")
    assert store.update_user(admin.id, role="customer").role == "customer"


def test_a_half_done_reassignment_never_gives_more_codes(store: MongoGatewayStore, database: Any) -> None:
    """update_customer removes dropped codes before it adds new ones: the crash state has fewer codes."""
    acme = store.create_customer("Acme", ["a1", "a2"])
    database["accountcodes"].delete_many({"_id": "a1"})  # the drop of a1 done, the add of b1 not
    assert store.require_customer(acme.id).accountcodes == ("a2",)
    assert store.update_customer(acme.id, accountcodes=["a2", "b1"]).accountcodes == ("a2", "b1"), "a retry ends it"


def test_ids_are_never_reused_and_stay_above_restored_data(store: MongoGatewayStore, database: Any) -> None:
    first = store.create_user("alice", PW, "customer")
    store.delete_user(first.id)
    assert store.create_user("bob", PW, "customer").id > first.id
    database["customers"].insert_one({"_id": 40, "name": "Restored", "created_at": 1.0})
    assert MongoGatewayStore(database).create_customer("New").id == 41
