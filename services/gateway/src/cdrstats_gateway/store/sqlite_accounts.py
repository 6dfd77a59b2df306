"""Users and customers (tenants) in SQLite: the part of SqliteGatewayStore that owns who sees what.

A customer owns account codes (``customer_accountcodes``: each code at most once);
a customer user's scope is read from it on every load, so a re-assignment applies at
once to sessions, tokens and history alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence

from cdrstats_common import sqlite
from cdrstats_gateway import passwords
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.errors import Conflict, NotFound
from cdrstats_gateway.domain.models import Customer, User
from cdrstats_gateway.store.base import KEEP, Keep, UserExists

ACCOUNT_SCHEMA = [
    # AUTOINCREMENT: a removed customer's id is never given to a new one (stale links stay dead)
    """CREATE TABLE IF NOT EXISTS customers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS customer_accountcodes (
        accountcode TEXT PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE
    )""",
    "CREATE INDEX IF NOT EXISTS customer_accountcodes_customer ON customer_accountcodes (customer_id)",
]
_USER_COLUMNS = {"customer_id": "INTEGER REFERENCES customers(id)", "email": "TEXT NOT NULL DEFAULT ''"}
_USER_COLUMNS["time_zone"] = "TEXT NOT NULL DEFAULT ''"

USER_SELECT = """SELECT u.id, u.username, u.role, u.created_at, u.customer_id, u.email, u.time_zone,
    COALESCE(c.name, '') AS customer_name,
    (SELECT json_group_array(accountcode) FROM
        (SELECT accountcode FROM customer_accountcodes WHERE customer_id = u.customer_id ORDER BY accountcode)
    ) AS codes
    FROM users u LEFT JOIN customers c ON c.id = u.customer_id"""
CUSTOMER_SELECT = """SELECT c.id, c.name, c.created_at,
    (SELECT json_group_array(accountcode) FROM
        (SELECT accountcode FROM customer_accountcodes WHERE customer_id = c.id ORDER BY accountcode)) AS codes,
    (SELECT COUNT(*) FROM users WHERE customer_id = c.id) AS users
    FROM customers c"""


def user_from_row(row: sqlite3.Row) -> User:
    codes = tuple(json.loads(row["codes"])) if row["customer_id"] is not None else ()
    return User(
        row["id"],
        row["username"],
        row["role"],
        codes,
        row["created_at"],
        row["customer_id"],
        row["customer_name"],
        row["email"],
        row["time_zone"],
    )


def _customer(row: sqlite3.Row) -> Customer:
    return Customer(row["id"], row["name"], tuple(json.loads(row["codes"])), row["created_at"], row["users"])


def migrate_accounts(conn: sqlite3.Connection, clock: Callable[[], float]) -> None:
    """Customers tables, the user columns they need, and customers for users of the first schema.

    The first schema kept account codes on the user; each such customer user gets a
    customer of its own name owning the codes no one else has claimed yet.
    """
    sqlite.migrate(conn, ACCOUNT_SCHEMA)
    with sqlite.transaction(conn):
        present = {row["name"] for row in conn.execute("PRAGMA table_info(users)")}
        for column, declaration in _USER_COLUMNS.items():
            if column not in present:
                conn.execute(f"ALTER TABLE users ADD COLUMN {column} {declaration}")
        if "accountcodes" not in present:
            return
        legacy = conn.execute(
            "SELECT id, username, accountcodes FROM users WHERE role = 'customer' AND customer_id IS NULL"
        ).fetchall()
        for row in legacy:
            cursor = conn.execute(
                "INSERT INTO customers (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (row["username"], clock()),
            )
            customer_id = (
                cursor.lastrowid
                or conn.execute("SELECT id FROM customers WHERE name = ?", (row["username"],)).fetchone()["id"]
            )
            for code in json.loads(row["accountcodes"] or "[]"):
                conn.execute(
                    "INSERT INTO customer_accountcodes (accountcode, customer_id) VALUES (?, ?) "
                    "ON CONFLICT (accountcode) DO NOTHING",
                    (code, customer_id),
                )
            conn.execute("UPDATE users SET customer_id = ? WHERE id = ?", (customer_id, row["id"]))


class SqliteAccounts:
    """Mixin of SqliteGatewayStore: needs ``conn``, ``_lock`` and ``clock``."""

    conn: sqlite3.Connection
    _lock: threading.Lock
    clock: Callable[[], float]

    # --- users ------------------------------------------------------------------------------

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
        with self._lock:
            if self.conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UserExists(username)
        if role == "customer" and customer_id is None and accountcodes:
            customer_id = self.create_customer(username, accountcodes).id
        accounts.check_role_customer(role, customer_id)
        password_hash = passwords.hash_password(password)
        try:
            with self._lock, sqlite.transaction(self.conn):
                if customer_id is not None:
                    self._require_customer(customer_id)
                cursor = self.conn.execute(
                    "INSERT INTO users (username, password_hash, role, customer_id, email, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (username, password_hash, role, customer_id, email, self.clock()),
                )
        except sqlite3.IntegrityError as exc:
            raise UserExists(username) from exc
        return self.require_user(int(cursor.lastrowid or 0))

    def get_user(self, user_id: int) -> User | None:
        with self._lock:
            row = self.conn.execute(f"{USER_SELECT} WHERE u.id = ?", (user_id,)).fetchone()
        return None if row is None else user_from_row(row)

    def require_user(self, user_id: int) -> User:
        user = self.get_user(user_id)
        if user is None:
            raise NotFound(f"user {user_id}")
        return user

    def list_users(self, *, after_id: int = 0, limit: int = 100, customer_id: int | None = None) -> list[User]:
        where, args = "u.id > ?", [after_id]
        if customer_id is not None:
            where, args = where + " AND u.customer_id = ?", [after_id, customer_id]
        with self._lock:
            rows = self.conn.execute(f"{USER_SELECT} WHERE {where} ORDER BY u.id LIMIT ?", (*args, limit)).fetchall()
        return [user_from_row(row) for row in rows]

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
        with self._lock, sqlite.transaction(self.conn):
            if new_customer is not None:
                self._require_customer(new_customer)
            if current.role == "admin" and new_role != "admin":
                self._keep_one_admin(user_id)
            self.conn.execute(
                "UPDATE users SET role = ?, customer_id = ?, email = ?, time_zone = ? WHERE id = ?",
                (
                    new_role,
                    new_customer,
                    current.email if email is None else email,
                    current.time_zone if time_zone is None else time_zone,
                    user_id,
                ),
            )
        return self.require_user(user_id)

    def set_password(self, user_id: int, password: str, *, keep_session_id: str | None = None) -> None:
        """New password; every other session of the user ends (a stolen session dies with the old password)."""
        password_hash = passwords.hash_password(password)
        keep = passwords.token_hash(keep_session_id) if keep_session_id else ""
        with self._lock, sqlite.transaction(self.conn):
            cursor = self.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))
            if cursor.rowcount != 1:
                raise NotFound(f"user {user_id}")
            self.conn.execute("DELETE FROM sessions WHERE user_id = ? AND id != ?", (user_id, keep))

    def check_password(self, user_id: int, password: str) -> bool:
        with self._lock:
            row = self.conn.execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        return passwords.verify_password(None if row is None else row["password_hash"], password)

    def delete_user(self, user_id: int) -> None:
        """Removes the user, their sessions and tokens; the last admin cannot be removed."""
        with self._lock, sqlite.transaction(self.conn):
            row = self.conn.execute("SELECT role FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise NotFound(f"user {user_id}")
            if row["role"] == "admin":
                self._keep_one_admin(user_id)
            self.conn.execute("DELETE FROM users WHERE id = ?", (user_id,))

    def _keep_one_admin(self, leaving_id: int) -> None:
        others = self.conn.execute(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND id != ?", (leaving_id,)
        ).fetchone()[0]
        if not others:
            raise Conflict("the last admin cannot be removed or demoted")

    # --- customers --------------------------------------------------------------------------

    def create_customer(self, name: str, accountcodes: Sequence[str] = (), *, reassign: bool = False) -> Customer:
        try:
            with self._lock, sqlite.transaction(self.conn):
                cursor = self.conn.execute(
                    "INSERT INTO customers (name, created_at) VALUES (?, ?)", (name, self.clock())
                )
                customer_id = int(cursor.lastrowid or 0)
                self._assign(customer_id, accountcodes, reassign=reassign)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"name: a customer named {name!r} already exists") from exc
        return self.require_customer(customer_id)

    def get_customer(self, customer_id: int) -> Customer | None:
        with self._lock:
            row = self.conn.execute(f"{CUSTOMER_SELECT} WHERE c.id = ?", (customer_id,)).fetchone()
        return None if row is None else _customer(row)

    def require_customer(self, customer_id: int) -> Customer:
        customer = self.get_customer(customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id}")
        return customer

    def list_customers(self, *, after_id: int = 0, limit: int = 100) -> list[Customer]:
        with self._lock:
            rows = self.conn.execute(
                f"{CUSTOMER_SELECT} WHERE c.id > ? ORDER BY c.id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [_customer(row) for row in rows]

    def update_customer(
        self,
        customer_id: int,
        *,
        name: str | None = None,
        accountcodes: Sequence[str] | None = None,
        reassign: bool = False,
    ) -> Customer:
        """Rename and/or set the codes; a code another customer owns moves only with ``reassign``."""
        try:
            with self._lock, sqlite.transaction(self.conn):
                self._require_customer(customer_id)
                if name is not None:
                    self.conn.execute("UPDATE customers SET name = ? WHERE id = ?", (name, customer_id))
                if accountcodes is not None:
                    self.conn.execute("DELETE FROM customer_accountcodes WHERE customer_id = ?", (customer_id,))
                    self._assign(customer_id, accountcodes, reassign=reassign)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"name: a customer named {name!r} already exists") from exc
        return self.require_customer(customer_id)

    def delete_customer(self, customer_id: int) -> None:
        """Only a customer without users; its codes become unassigned (their CDRs stay)."""
        with self._lock, sqlite.transaction(self.conn):
            self._require_customer(customer_id)
            users = self.conn.execute("SELECT COUNT(*) FROM users WHERE customer_id = ?", (customer_id,)).fetchone()
            if users[0]:
                raise Conflict(f"customer {customer_id} still has {users[0]} user(s): remove or move them first")
            self.conn.execute("DELETE FROM customers WHERE id = ?", (customer_id,))

    def accountcode_owners(self, codes: Sequence[str]) -> dict[str, str]:
        """Which customer owns each of ``codes`` (code -> customer name); unowned codes are absent."""
        marks = ",".join("?" * len(codes))
        with self._lock:
            rows = self.conn.execute(
                "SELECT a.accountcode, c.name FROM customer_accountcodes a JOIN customers c ON c.id = a.customer_id "
                f"WHERE a.accountcode IN ({marks})",
                tuple(codes),
            ).fetchall()
        return {row["accountcode"]: row["name"] for row in rows}

    def _require_customer(self, customer_id: int) -> None:
        if self.conn.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
            raise NotFound(f"customer {customer_id}")

    def _assign(self, customer_id: int, codes: Sequence[str], *, reassign: bool) -> None:
        for code in codes:
            owner = self.conn.execute(
                "SELECT c.id, c.name FROM customer_accountcodes a JOIN customers c ON c.id = a.customer_id "
                "WHERE a.accountcode = ?",
                (code,),
            ).fetchone()
            if owner is not None and owner["id"] != customer_id and not reassign:
                raise Conflict(
                    f"accountcodes: {code!r} belongs to customer {owner['name']!r} (set reassign to move it)"
                )
            self.conn.execute(
                "INSERT INTO customer_accountcodes (accountcode, customer_id) VALUES (?, ?) "
                "ON CONFLICT (accountcode) DO UPDATE SET customer_id = excluded.customer_id",
                (code, customer_id),
            )
