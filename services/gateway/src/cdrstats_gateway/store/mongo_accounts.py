"""Users on MongoDB: the part of MongoGatewayStore that owns logins, roles and password hashes (argon2id).

``users`` has an int ``_id`` from ``counters`` (never reused, like SQLite's AUTOINCREMENT, so a stale link
never points at someone new) and a unique ``username``; ``guards`` holds document ``admins``, the ids of
admin users. A user's customer and codes are read at load time (``MongoCustomers``).

No multi-document transactions (no replica set assumed): every step is one atomic single-document write
(or an idempotent many-document one), ordered so that a crash between two steps leaves a state the SQLite
adapter could also be in, erring towards less access, never more:

- the last admin: ``guards.admins`` gets a user's id after the user is saved as admin, and loses it
  (atomically, only if another id remains) before the user stops being one. The list is never larger
  than the set of admins, so a removal it allows leaves an admin, even with concurrent gateways. A crash
  can leave an admin off the list (a later removal is refused too cautiously); saving that user with
  role admin again puts it back.
- a user document is deleted before its sessions and tokens; readers ignore those of a missing user.
- a new password: other sessions are deleted before and after the change (``set_password``).
- a user added to a customer that is removed at the same moment is undone (NotFound).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.errors import DuplicateKeyError

from cdrstats_gateway import passwords
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.errors import Conflict, NotFound
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.store.base import KEEP, Keep, UserExists
from cdrstats_gateway.store.mongo_customers import MongoCustomers

ADMINS = "admins"


class MongoAccounts(MongoCustomers):
    """Mixin of MongoGatewayStore (users; customers from ``MongoCustomers``): needs ``db``, ``clock``, ``next_id``."""

    def migrate_accounts(self) -> None:
        self.migrate_customers()
        self.db["users"].create_index("username", unique=True, name="username")
        self.db["users"].create_index("customer_id", name="customer")
        admins = [doc["_id"] for doc in self.db["users"].find({"role": "admin"}, {"_id": 1})]
        self.db["guards"].update_one({"_id": ADMINS}, {"$setOnInsert": {"ids": admins}}, upsert=True)

    def _users(self, docs: Sequence[dict[str, Any]]) -> list[User]:
        """Users with their customer's name and codes; a customer that is gone reads as none."""
        wanted = sorted({d["customer_id"] for d in docs if d.get("customer_id") is not None})
        names = {d["_id"]: d["name"] for d in self.db["customers"].find({"_id": {"$in": wanted}}, {"name": 1})}
        codes = self._codes(names)
        users = []
        for doc in docs:
            customer_id = doc.get("customer_id") if doc.get("customer_id") in names else None
            users.append(
                User(
                    doc["_id"],
                    doc["username"],
                    doc["role"],
                    () if customer_id is None else codes[customer_id],
                    doc["created_at"],
                    customer_id,
                    "" if customer_id is None else names[customer_id],
                    doc.get("email", ""),
                    doc.get("time_zone", ""),
                )
            )
        return users

    # --- users --------------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        role: str,
        accountcodes: Sequence[str] = (),
        *,
        customer_id: int | None = None,
        email: str = "",
    ) -> User:
        """A new user. ``accountcodes`` without ``customer_id`` gives a customer user a customer of its own."""
        role = accounts.role(role)
        if self.db["users"].find_one({"username": username}, {"_id": 1}) is not None:
            raise UserExists(username)
        if role == "customer" and customer_id is None and accountcodes:
            customer_id = self.create_customer(username, accountcodes).id
        accounts.check_role_customer(role, customer_id)
        password_hash = passwords.hash_password(password)
        if customer_id is not None:
            self.require_customer(customer_id)
        user_id = self.next_id("users")
        doc = {
            "_id": user_id,
            "username": username,
            "password_hash": password_hash,
            "role": role,
            "customer_id": customer_id,
            "email": email,
            "time_zone": "",
            "created_at": self.clock(),
        }
        try:
            self.db["users"].insert_one(doc)
        except DuplicateKeyError as exc:
            raise UserExists(username) from exc
        if role == "admin":
            self.db["guards"].update_one({"_id": ADMINS}, {"$addToSet": {"ids": user_id}}, upsert=True)
        if customer_id is not None and self.get_customer(customer_id) is None:  # removed meanwhile
            self.db["users"].delete_one({"_id": user_id})
            raise NotFound(f"customer {customer_id}")
        return self.require_user(user_id)

    def get_user(self, user_id: int) -> User | None:
        doc = self.db["users"].find_one({"_id": user_id}, {"password_hash": 0})
        return None if doc is None else self._users([doc])[0]

    def require_user(self, user_id: int) -> User:
        user = self.get_user(user_id)
        if user is None:
            raise NotFound(f"user {user_id}")
        return user

    def list_users(self, *, after_id: int = 0, limit: int = 100, customer_id: int | None = None) -> list[User]:
        query: dict[str, Any] = {"_id": {"$gt": after_id}}
        if customer_id is not None:
            query["customer_id"] = customer_id
        docs = list(self.db["users"].find(query, {"password_hash": 0}).sort("_id", 1).limit(limit))
        return self._users(docs)

    def update_user(
        self,
        user_id: int,
        *,
        role: str | None = None,
        customer_id: int | None | Keep = KEEP,
        email: str | None = None,
        time_zone: str | None = None,
    ) -> User:
        """Change what is given; the role/customer pair must stay valid and one admin must remain."""
        current = self.require_user(user_id)
        new_role = current.role if role is None else accounts.role(role)
        new_customer = current.customer_id if isinstance(customer_id, Keep) else customer_id
        if new_role == "admin" and role is not None and isinstance(customer_id, Keep):
            new_customer = None
        accounts.check_role_customer(new_role, new_customer)
        if new_customer is not None:
            self.require_customer(new_customer)
        if current.role == "admin" and new_role != "admin":
            self._leave_admins(user_id)
        changes = {
            "role": new_role,
            "customer_id": new_customer,
            "email": current.email if email is None else email,
            "time_zone": current.time_zone if time_zone is None else time_zone,
        }
        if self.db["users"].update_one({"_id": user_id}, {"$set": changes}).matched_count != 1:
            raise NotFound(f"user {user_id}")
        if new_role == "admin":
            self.db["guards"].update_one({"_id": ADMINS}, {"$addToSet": {"ids": user_id}}, upsert=True)
        if new_customer is not None and self.get_customer(new_customer) is None:  # removed meanwhile
            self.db["users"].update_one({"_id": user_id, "customer_id": new_customer}, {"$set": {"customer_id": None}})
            raise NotFound(f"customer {new_customer}")
        return self.require_user(user_id)

    def set_password(self, user_id: int, password: str, *, keep_session_id: str | None = None) -> None:
        """New password; every other session ends. Sessions go before and after the change: one started
        with the old password in between does not survive, and a crash after the change leaves none older."""
        password_hash = passwords.hash_password(password)
        others = {"user_id": user_id, "_id": {"$ne": passwords.token_hash(keep_session_id) if keep_session_id else ""}}
        self.db["sessions"].delete_many(others)
        if self.db["users"].update_one({"_id": user_id}, {"$set": {"password_hash": password_hash}}).matched_count != 1:
            raise NotFound(f"user {user_id}")
        self.db["sessions"].delete_many(others)

    def check_password(self, user_id: int, password: str) -> bool:
        doc = self.db["users"].find_one({"_id": user_id}, {"password_hash": 1})
        return passwords.verify_password(None if doc is None else doc["password_hash"], password)

    def delete_user(self, user_id: int) -> None:
        """Removes the user, then their sessions and tokens; the last admin cannot be removed."""
        doc = self.db["users"].find_one({"_id": user_id}, {"role": 1})
        if doc is None:
            raise NotFound(f"user {user_id}")
        if doc["role"] == "admin":
            self._leave_admins(user_id)
        self.db["users"].delete_one({"_id": user_id})
        self.db["sessions"].delete_many({"user_id": user_id})
        self.db["api_tokens"].delete_many({"user_id": user_id})

    def _leave_admins(self, user_id: int) -> None:
        """Take ``user_id`` off the admin list in one write, only if another admin stays on it."""
        left = self.db["guards"].find_one_and_update(
            {"_id": ADMINS, "ids": {"$elemMatch": {"$ne": user_id}}}, {"$pull": {"ids": user_id}}
        )
        if left is None:
            raise Conflict("the last admin cannot be removed or demoted")
