"""The gateway on MongoDB (pymongo; the database comes from the URL): settings, admin bootstrap, sessions and
API tokens here; users and customers in ``MongoAccounts`` (which documents the write order that stands in
for transactions).

Sessions (``_id`` = SHA-256 of the session id) and API tokens (unique ``token_hash``) are stored hashed, as in
SQLite. A session or token is written after its user exists and checked against the user afterwards, so one
racing the user's removal is undone; leftovers of a crash while removing a user are invisible to readers
(they check the user) and swept at start-up.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable
from typing import Any

import pymongo
from pymongo.errors import DuplicateKeyError

from cdrstats_gateway import passwords
from cdrstats_gateway.domain.errors import NotFound
from cdrstats_gateway.domain.models import ApiToken, Session, User
from cdrstats_gateway.store.base import UserExists
from cdrstats_gateway.store.mongo_accounts import MongoAccounts
from cdrstats_gateway.store.mongo_throttle import MongoThrottleEvents

DEFAULT_DATABASE = "cdrstats_gateway"
TOKEN_PREFIX = "cdrs_"  # noqa: S105 - a public marker, not a secret
PREFIX_SHOWN = 12
#: collections with int ids from a sequence of the same name (in ``counters``)
SEQUENCES = ("users", "customers", "api_tokens")


def _token(doc: dict[str, Any]) -> ApiToken:
    return ApiToken(
        doc["_id"],
        doc["user_id"],
        doc["name"],
        doc["prefix"],
        doc["created_at"],
        doc.get("last_used_at"),
        bool(doc.get("revoked", False)),
    )


class MongoGatewayStore(MongoThrottleEvents, MongoAccounts):
    """pymongo is thread-safe: the event loop's worker threads share one client, no lock."""

    def __init__(self, db: Any, client: Any = None, *, clock: Callable[[], float] = time.time) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self.db = db
        self.client = client
        self.clock = clock
        self._migrate()

    @classmethod
    def open(cls, url: str, *, clock: Callable[[], float] = time.time) -> MongoGatewayStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client, clock=clock)

    def _migrate(self) -> None:
        """Indexes, id sequences and the sweep of a crashed removal's leftovers; idempotent."""
        self.db["sessions"].create_index("user_id", name="user")
        self.db["sessions"].create_index("expires_at", name="expires")
        self.db["api_tokens"].create_index("token_hash", unique=True, name="token_hash")
        self.db["api_tokens"].create_index("user_id", name="user")
        self.migrate_accounts()
        self.migrate_throttle_events()
        for sequence in SEQUENCES:  # a sequence never falls behind its collection (restored data)
            last = next(iter(self.db[sequence].find({}, {"_id": 1}).sort("_id", -1).limit(1)), None)
            self.db["counters"].update_one(
                {"_id": sequence}, {"$max": {"value": 0 if last is None else int(last["_id"])}}, upsert=True
            )
        self._sweep_orphans()

    def _sweep_orphans(self) -> None:
        """Sessions and tokens of users that are gone. Children are read before parents: a child written
        after its parent is then never taken for an orphan."""
        for collection in ("sessions", "api_tokens"):
            owners = {doc["user_id"] for doc in self.db[collection].find({}, {"user_id": 1})}
            alive = {doc["_id"] for doc in self.db["users"].find({"_id": {"$in": sorted(owners)}}, {"_id": 1})}
            if owners - alive:
                self.db[collection].delete_many({"user_id": {"$in": sorted(owners - alive)}})

    def next_id(self, sequence: str) -> int:
        """The next id of a sequence; never given twice, even across gateways."""
        doc = self.db["counters"].find_one_and_update(
            {"_id": sequence}, {"$inc": {"value": 1}}, upsert=True, return_document=pymongo.ReturnDocument.AFTER
        )
        return int(doc["value"])

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def secret_key(self, configured: str) -> str:
        if configured:
            return configured
        with contextlib.suppress(DuplicateKeyError):  # another gateway inserted it at the same moment
            self.db["settings"].update_one(
                {"_id": "secret_key"}, {"$setOnInsert": {"value": secrets.token_hex(32)}}, upsert=True
            )
        return str(self.db["settings"].find_one({"_id": "secret_key"})["value"])

    def ensure_admin(self, password: str) -> User:
        doc = self.db["users"].find_one({"username": "admin"}, {"password_hash": 1})
        if doc is None:
            try:
                return self.create_user("admin", password, "admin")
            except UserExists:  # another gateway process created it meanwhile
                return self.ensure_admin(password)
        if not passwords.verify_password(doc["password_hash"], password) or passwords.needs_rehash(
            doc["password_hash"]
        ):
            new_hash = passwords.hash_password(password)
            self.db["users"].update_one({"_id": doc["_id"]}, {"$set": {"password_hash": new_hash}})
        return self.require_user(doc["_id"])

    def authenticate(self, username: str, password: str) -> User | None:
        doc = self.db["users"].find_one({"username": username})
        if not passwords.verify_password(None if doc is None else doc["password_hash"], password):
            return None
        assert doc is not None
        return self._users([doc])[0]

    def _user_exists(self, user_id: int) -> bool:
        return self.db["users"].find_one({"_id": user_id}, {"_id": 1}) is not None

    # --- sessions -----------------------------------------------------------------------------

    def create_session(self, user_id: int, ttl_s: float) -> tuple[str, Session]:
        session_id = passwords.new_token()
        now = self.clock()
        session = Session(user_id, secrets.token_urlsafe(32), now, now + ttl_s)
        self.db["sessions"].delete_many({"expires_at": {"$lte": now}})
        key = passwords.token_hash(session_id)
        self.db["sessions"].insert_one(
            {
                "_id": key,
                "user_id": user_id,
                "csrf_token": session.csrf_token,
                "created_at": now,
                "expires_at": session.expires_at,
            }
        )
        if not self._user_exists(user_id):  # removed meanwhile (SQLite's foreign key refuses this)
            self.db["sessions"].delete_one({"_id": key})
            raise NotFound(f"user {user_id}")
        return session_id, session

    def get_session(self, session_id: str) -> Session | None:
        doc = self.db["sessions"].find_one(
            {"_id": passwords.token_hash(session_id), "expires_at": {"$gt": self.clock()}}
        )
        if doc is None or not self._user_exists(doc["user_id"]):
            return None
        return Session(doc["user_id"], doc["csrf_token"], doc["created_at"], doc["expires_at"])

    def delete_session(self, session_id: str) -> None:
        self.db["sessions"].delete_one({"_id": passwords.token_hash(session_id)})

    # --- API tokens ---------------------------------------------------------------------------

    def create_api_token(self, user_id: int, name: str) -> tuple[str, ApiToken]:
        token = passwords.new_token(TOKEN_PREFIX)
        doc = {
            "_id": self.next_id("api_tokens"),
            "user_id": user_id,
            "name": name,
            "token_hash": passwords.token_hash(token),
            "prefix": token[:PREFIX_SHOWN],
            "created_at": self.clock(),
            "last_used_at": None,
            "revoked": False,
        }
        self.db["api_tokens"].insert_one(doc)
        if not self._user_exists(user_id):  # removed meanwhile
            self.db["api_tokens"].delete_one({"_id": doc["_id"]})
            raise NotFound(f"user {user_id}")
        return token, _token(doc)

    def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        return [_token(doc) for doc in self.db["api_tokens"].find({"user_id": user_id}).sort("_id", 1)]

    def get_api_token(self, user_id: int, token_id: int) -> ApiToken | None:
        doc = self.db["api_tokens"].find_one({"_id": token_id, "user_id": user_id})
        return None if doc is None else _token(doc)

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        result = self.db["api_tokens"].update_one({"_id": token_id, "user_id": user_id}, {"$set": {"revoked": True}})
        return bool(result.matched_count == 1)

    def user_for_api_token(self, token: str) -> User | None:
        doc = self.db["api_tokens"].find_one_and_update(
            {"token_hash": passwords.token_hash(token), "revoked": False}, {"$set": {"last_used_at": self.clock()}}
        )
        return None if doc is None else self.get_user(doc["user_id"])
