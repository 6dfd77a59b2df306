"""Tenants (customer -> account codes) as the gateway pushes them with ``SetTenant``: one table or
collection per service store, so a tenant's alarms, rules and mail report follow a re-assignment.

Mixins for a service's store: ``SqliteTenants`` needs ``self.conn``/``self.lock`` (a SqliteStore) and
``TENANT_SCHEMA`` in its schema; ``MongoTenants`` needs ``self.db`` (a pymongo Database).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cdrstats_common.sqlite import transaction

TENANT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        accountcodes TEXT NOT NULL,
        updated_at REAL NOT NULL
    )""",
]

#: (name, account codes) of one tenant
TenantInfo = tuple[str, tuple[str, ...]]
#: ListTenants pages: the default and the most a caller gets at once
TENANT_PAGE = 500
MAX_TENANT_PAGE = 1000


class TenantPages(Protocol):
    def tenant_page(self, after_id: str = "", limit: int = TENANT_PAGE) -> list[tuple[str, TenantInfo]]: ...


def list_tenants(store: TenantPages, after_id: str, requested: int) -> tuple[list[tuple[str, TenantInfo]], str]:
    """One ListTenants page and its ``next_after_id`` ("" after the last page); ``requested`` 0 is the
    default page size, anything above the cap is capped (alerting and notify serve it the same)."""
    limit = TENANT_PAGE if requested <= 0 else min(requested, MAX_TENANT_PAGE)
    rows = store.tenant_page(after_id, limit)
    return rows, rows[-1][0] if len(rows) == limit else ""


def _codes(accountcodes: Sequence[str]) -> list[str]:
    return sorted({code for code in accountcodes if code})


class SqliteTenants:
    conn: sqlite3.Connection
    lock: threading.Lock

    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None:
        """Replace a tenant's account codes; an empty list removes the tenant."""
        codes = _codes(accountcodes)
        with self.lock, transaction(self.conn):
            if not codes:
                self.conn.execute("DELETE FROM tenants WHERE id = ?", (tenant_id,))
                return
            self.conn.execute(
                """INSERT INTO tenants(id, name, accountcodes, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET name = excluded.name, accountcodes = excluded.accountcodes,
                   updated_at = excluded.updated_at""",
                (tenant_id, name, json.dumps(codes), time.time()),
            )

    def tenants(self) -> dict[str, TenantInfo]:
        with self.lock:
            rows = self.conn.execute("SELECT id, name, accountcodes FROM tenants").fetchall()
        return {row[0]: (row[1], tuple(json.loads(row[2]))) for row in rows}

    def tenant_page(self, after_id: str = "", limit: int = TENANT_PAGE) -> list[tuple[str, TenantInfo]]:
        """Tenants by id after ``after_id``: the gateway lists them to remove those it no longer has."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT id, name, accountcodes FROM tenants WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [(row[0], (row[1], tuple(json.loads(row[2])))) for row in rows]

    def tenant(self, tenant_id: str) -> TenantInfo | None:
        with self.lock:
            row = self.conn.execute("SELECT name, accountcodes FROM tenants WHERE id = ?", (tenant_id,)).fetchone()
        return (row[0], tuple(json.loads(row[1]))) if row else None

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]:
        found = self.tenant(tenant_id)
        return found[1] if found else ()

    def accountcode_tenants(self) -> Mapping[str, str]:
        """account code -> owning tenant id, for every tenant."""
        return {code: tenant for tenant, (_, codes) in self.tenants().items() for code in codes}


class MongoTenants:
    db: Any

    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None:
        codes = _codes(accountcodes)
        if not codes:
            self.db["tenants"].delete_one({"_id": tenant_id})
            return
        self.db["tenants"].replace_one(
            {"_id": tenant_id}, {"name": name, "accountcodes": codes, "updated_at": time.time()}, upsert=True
        )

    def tenants(self) -> dict[str, TenantInfo]:
        return {doc["_id"]: (doc.get("name", ""), tuple(doc["accountcodes"])) for doc in self.db["tenants"].find()}

    def tenant_page(self, after_id: str = "", limit: int = TENANT_PAGE) -> list[tuple[str, TenantInfo]]:
        docs = self.db["tenants"].find({"_id": {"$gt": after_id}}).sort("_id", 1).limit(limit)
        return [(doc["_id"], (doc.get("name", ""), tuple(doc["accountcodes"]))) for doc in docs]

    def tenant(self, tenant_id: str) -> TenantInfo | None:
        doc = self.db["tenants"].find_one({"_id": tenant_id})
        return (doc.get("name", ""), tuple(doc["accountcodes"])) if doc else None

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]:
        found = self.tenant(tenant_id)
        return found[1] if found else ()

    def accountcode_tenants(self) -> Mapping[str, str]:
        return {code: doc["_id"] for doc in self.db["tenants"].find() for code in doc["accountcodes"]}
