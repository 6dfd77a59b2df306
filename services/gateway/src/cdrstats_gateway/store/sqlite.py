"""SQLite adapter of GatewayStore (cdrstats_common.sqlite: WAL, autocommit, BEGIN IMMEDIATE)."""

from __future__ import annotations

import pathlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable

from cdrstats_common import sqlite
from cdrstats_common.settings import sqlite_path
from cdrstats_gateway import passwords
from cdrstats_gateway.domain.models import ApiToken, Session, User
from cdrstats_gateway.store.base import UserExists
from cdrstats_gateway.store.sqlite_accounts import USER_SELECT, SqliteAccounts, migrate_accounts, user_from_row
from cdrstats_gateway.store.sqlite_throttle import THROTTLE_SCHEMA, SqliteThrottleEvents

TOKEN_PREFIX = "cdrs_"  # noqa: S105 - a public marker, not a secret
PREFIX_SHOWN = 12

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'customer')),
        created_at REAL NOT NULL,
        customer_id INTEGER REFERENCES customers(id),
        email TEXT NOT NULL DEFAULT '',
        time_zone TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at)",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL,
        revoked INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]

_TOKEN_COLUMNS = "id, user_id, name, prefix, created_at, last_used_at, revoked"  # noqa: S105 - column names


def _token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        row["id"],
        row["user_id"],
        row["name"],
        row["prefix"],
        row["created_at"],
        row["last_used_at"],
        bool(row["revoked"]),
    )


class SqliteGatewayStore(SqliteThrottleEvents, SqliteAccounts):
    """One connection shared by the event loop's worker threads; a lock keeps transactions whole."""

    def __init__(self, conn: sqlite3.Connection, *, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url_or_path: str | pathlib.Path, *, clock: Callable[[], float] = time.time) -> SqliteGatewayStore:
        path = sqlite_path(url_or_path) if isinstance(url_or_path, str) else url_or_path
        conn = sqlite.connect(path)
        sqlite.migrate(conn, [*SCHEMA, *THROTTLE_SCHEMA])
        migrate_accounts(conn, clock)
        return cls(conn, clock=clock)

    def close(self) -> None:
        self.conn.close()

    def secret_key(self, configured: str) -> str:
        if configured:
            return configured
        with self._lock, sqlite.transaction(self.conn):
            self.conn.execute(
                "INSERT INTO settings (key, value) VALUES ('secret_key', ?) ON CONFLICT (key) DO NOTHING",
                (secrets.token_hex(32),),
            )
            row = self.conn.execute("SELECT value FROM settings WHERE key = 'secret_key'").fetchone()
        return str(row["value"])

    def ensure_admin(self, password: str) -> User:
        with self._lock:
            row = self.conn.execute("SELECT id, password_hash FROM users WHERE username = 'admin'").fetchone()
        if row is None:
            try:
                return self.create_user("admin", password, "admin")
            except UserExists:  # another gateway process created it meanwhile
                return self.ensure_admin(password)
        if not passwords.verify_password(row["password_hash"], password) or passwords.needs_rehash(
            row["password_hash"]
        ):
            new_hash = passwords.hash_password(password)
            with self._lock:
                self.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (new_hash, row["id"]))
        user = self.get_user(row["id"])
        assert user is not None
        return user

    def authenticate(self, username: str, password: str) -> User | None:
        with self._lock:
            row = self.conn.execute(
                f"{USER_SELECT.replace('SELECT ', 'SELECT u.password_hash, ', 1)} WHERE u.username = ?", (username,)
            ).fetchone()
        if not passwords.verify_password(None if row is None else row["password_hash"], password):
            return None
        return user_from_row(row)

    def create_session(self, user_id: int, ttl_s: float) -> tuple[str, Session]:
        session_id = passwords.new_token()
        now = self.clock()
        session = Session(user_id, secrets.token_urlsafe(32), now, now + ttl_s)
        with self._lock, sqlite.transaction(self.conn):
            self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            self.conn.execute(
                "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (passwords.token_hash(session_id), user_id, session.csrf_token, now, session.expires_at),
            )
        return session_id, session

    def get_session(self, session_id: str) -> Session | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT user_id, csrf_token, created_at, expires_at FROM sessions WHERE id = ? AND expires_at > ?",
                (passwords.token_hash(session_id), self.clock()),
            ).fetchone()
        return None if row is None else Session(row["user_id"], row["csrf_token"], row["created_at"], row["expires_at"])

    def delete_session(self, session_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM sessions WHERE id = ?", (passwords.token_hash(session_id),))

    def create_api_token(self, user_id: int, name: str) -> tuple[str, ApiToken]:
        token = passwords.new_token(TOKEN_PREFIX)
        with self._lock:
            cursor = self.conn.execute(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
                (user_id, name, passwords.token_hash(token), token[:PREFIX_SHOWN], self.clock()),
            )
            row = self.conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return token, _token(row)

    def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ? ORDER BY id", (user_id,)
            ).fetchall()
        return [_token(row) for row in rows]

    def get_api_token(self, user_id: int, token_id: int) -> ApiToken | None:
        with self._lock:
            row = self.conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, user_id)
            ).fetchone()
        return None if row is None else _token(row)

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        with self._lock:
            cursor = self.conn.execute(
                "UPDATE api_tokens SET revoked = 1 WHERE id = ? AND user_id = ?", (token_id, user_id)
            )
        return cursor.rowcount == 1

    def user_for_api_token(self, token: str) -> User | None:
        with self._lock, sqlite.transaction(self.conn):
            row = self.conn.execute(
                "SELECT id, user_id FROM api_tokens WHERE token_hash = ? AND revoked = 0",
                (passwords.token_hash(token),),
            ).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (self.clock(), row["id"]))
            user_row = self.conn.execute(f"{USER_SELECT} WHERE u.id = ?", (row["user_id"],)).fetchone()
        return None if user_row is None else user_from_row(user_row)
