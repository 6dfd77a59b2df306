"""Customers (tenants) and their account codes on MongoDB: the part of MongoGatewayStore that says who owns
which code.

``customers`` (int ``_id`` from ``counters``, never reused; unique ``name``) and ``accountcodes`` (``_id`` is
the code, so a code has at most one owner). No transactions; the write order (see ``mongo_accounts``):

- a customer's dropped codes are removed before its new ones are added; a reassigned code moves in one
  write. A crash in between leaves the customer with fewer codes, never more; repeating the call completes it.
- a new customer's document comes before its codes; a code clash found on the way undoes what the call wrote.
- deleting: codes first, then the customer. A code whose customer is gone belongs to no one: readers skip it
  and the next assignment takes it. A user whose customer is gone reads as a user without a customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pymongo
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cdrstats_gateway.domain.errors import Conflict, NotFound
from cdrstats_gateway.domain.models import Customer

DUPLICATE_KEY = 11000


def _name_taken(name: str | None) -> Conflict:
    return Conflict(f"name: a customer named {name!r} already exists")


class MongoCustomers:
    """Mixin of MongoGatewayStore: needs ``db``, ``clock`` and ``next_id``."""

    db: Any
    clock: Callable[[], float]
    next_id: Callable[[str], int]

    def migrate_customers(self) -> None:
        self.db["customers"].create_index("name", unique=True, name="name")
        self.db["accountcodes"].create_index("customer_id", name="customer")

    def _codes(self, customer_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """The codes (sorted) of each of these customers."""
        codes: dict[int, list[str]] = {cid: [] for cid in customer_ids}
        for doc in self.db["accountcodes"].find({"customer_id": {"$in": list(codes)}}).sort("_id", 1):
            codes[doc["customer_id"]].append(doc["_id"])
        return {cid: tuple(found) for cid, found in codes.items()}

    def _customers(self, docs: Sequence[dict[str, Any]]) -> list[Customer]:
        ids = [doc["_id"] for doc in docs]
        codes = self._codes(ids)
        counts = {
            row["_id"]: row["n"]
            for row in self.db["users"].aggregate(
                [{"$match": {"customer_id": {"$in": ids}}}, {"$group": {"_id": "$customer_id", "n": {"$sum": 1}}}]
            )
        }
        return [Customer(d["_id"], d["name"], codes[d["_id"]], d["created_at"], counts.get(d["_id"], 0)) for d in docs]

    def create_customer(self, name: str, accountcodes: Sequence[str] = (), *, reassign: bool = False) -> Customer:
        codes = sorted(set(accountcodes))
        if self.db["customers"].find_one({"name": name}, {"_id": 1}) is not None:
            raise _name_taken(name)
        self._check_free(None, codes, reassign=reassign)
        customer_id = self.next_id("customers")
        try:
            self.db["customers"].insert_one({"_id": customer_id, "name": name, "created_at": self.clock()})
        except DuplicateKeyError as exc:
            raise _name_taken(name) from exc
        try:
            self._assign(customer_id, codes, reassign=reassign)
        except Conflict:  # another admin took a code meanwhile: undo
            self.db["accountcodes"].delete_many({"customer_id": customer_id})
            self.db["customers"].delete_one({"_id": customer_id})
            raise
        return self.require_customer(customer_id)

    def get_customer(self, customer_id: int) -> Customer | None:
        doc = self.db["customers"].find_one({"_id": customer_id})
        return None if doc is None else self._customers([doc])[0]

    def require_customer(self, customer_id: int) -> Customer:
        customer = self.get_customer(customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id}")
        return customer

    def list_customers(self, *, after_id: int = 0, limit: int = 100) -> list[Customer]:
        docs = list(self.db["customers"].find({"_id": {"$gt": after_id}}).sort("_id", 1).limit(limit))
        return self._customers(docs)

    def update_customer(
        self,
        customer_id: int,
        *,
        name: str | None = None,
        accountcodes: Sequence[str] | None = None,
        reassign: bool = False,
    ) -> Customer:
        """Rename and/or set the codes; a code another customer owns moves only with ``reassign``."""
        current = self.require_customer(customer_id)
        codes = None if accountcodes is None else sorted(set(accountcodes))
        if name is not None and self.db["customers"].find_one({"name": name, "_id": {"$ne": customer_id}}):
            raise _name_taken(name)
        if codes is not None:
            self._check_free(customer_id, codes, reassign=reassign)
        if name is not None:
            try:
                self.db["customers"].update_one({"_id": customer_id}, {"$set": {"name": name}})
            except DuplicateKeyError as exc:
                raise _name_taken(name) from exc
        if codes is not None:
            dropped = sorted(set(current.accountcodes) - set(codes))
            self.db["accountcodes"].delete_many({"_id": {"$in": dropped}, "customer_id": customer_id})
            try:
                self._assign(customer_id, codes, reassign=reassign)
            except Conflict:  # another admin took a code meanwhile: put the dropped ones back
                self._assign(customer_id, dropped, reassign=False, restoring=True)
                raise
        return self.require_customer(customer_id)

    def delete_customer(self, customer_id: int) -> None:
        """Only a customer without users; its codes become unassigned (their CDRs stay)."""
        self.require_customer(customer_id)
        users = self.db["users"].count_documents({"customer_id": customer_id})
        if users:
            raise Conflict(f"customer {customer_id} still has {users} user(s): remove or move them first")
        self.db["accountcodes"].delete_many({"customer_id": customer_id})
        self.db["customers"].delete_one({"_id": customer_id})
        # a code or user assigned while this ran: free it (both read as unassigned already)
        self.db["accountcodes"].delete_many({"customer_id": customer_id})
        self.db["users"].update_many({"customer_id": customer_id}, {"$set": {"customer_id": None}})

    def accountcode_owners(self, codes: Sequence[str]) -> dict[str, str]:
        """Which customer owns each of ``codes`` (code -> customer name); unowned codes are absent."""
        return {code: owner[1] for code, owner in self._owners(codes).items()}

    def _owners(self, codes: Sequence[str]) -> dict[str, tuple[int, str]]:
        """code -> (customer id, name) for codes whose customer exists."""
        owned = {doc["_id"]: doc["customer_id"] for doc in self.db["accountcodes"].find({"_id": {"$in": list(codes)}})}
        names = {
            doc["_id"]: doc["name"]
            for doc in self.db["customers"].find({"_id": {"$in": sorted(set(owned.values()))}}, {"name": 1})
        }
        return {code: (cid, names[cid]) for code, cid in owned.items() if cid in names}

    def _check_free(self, customer_id: int | None, codes: Sequence[str], *, reassign: bool) -> None:
        if reassign:
            return
        owners = self._owners(codes)
        for code in codes:
            owner = owners.get(code)
            if owner is not None and owner[0] != customer_id:
                raise Conflict(f"accountcodes: {code!r} belongs to customer {owner[1]!r} (set reassign to move it)")

    def _assign(self, customer_id: int, codes: Sequence[str], *, reassign: bool, restoring: bool = False) -> None:
        """Give ``codes`` to the customer, each in one single-document write (a code never has two owners).

        Without ``reassign`` a code is taken only if it is free, already this customer's, or its customer
        is gone. A clash undoes the codes this call added and raises Conflict (``restoring``: skipped).
        """
        if not codes:
            return
        before = {d["_id"]: d["customer_id"] for d in self.db["accountcodes"].find({"_id": {"$in": list(codes)}})}
        alive = self._owners(codes)
        operations = []
        for code in codes:
            match: dict[str, Any] = {"_id": code, "customer_id": customer_id}
            if reassign:
                match = {"_id": code}
            elif code in before and code not in alive:  # its customer is gone: nobody's
                match = {"_id": code, "customer_id": before[code]}
            operations.append(pymongo.UpdateOne(match, {"$set": {"customer_id": customer_id}}, upsert=True))
        try:
            self.db["accountcodes"].bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            if restoring:
                return
            added = sorted(code for code in codes if code not in before)
            self.db["accountcodes"].delete_many({"_id": {"$in": added}, "customer_id": customer_id})
            clashed = min(codes[error["index"]] for error in errors)
            owner = self._owners([clashed]).get(clashed, (0, "another customer"))[1]
            raise Conflict(
                f"accountcodes: {clashed!r} belongs to customer {owner!r} (set reassign to move it)"
            ) from exc
