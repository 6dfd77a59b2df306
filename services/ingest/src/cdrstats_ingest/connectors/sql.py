"""Read-only access to a switch's SQL database (PostgreSQL through psycopg, MySQL/MariaDB through PyMySQL).

The connectors never change a switch's database: every session is opened read-only
(``default_transaction_read_only`` / ``SET SESSION TRANSACTION READ ONLY``), so even a
bug here cannot write, and only SELECTs are ever issued.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

from cdrstats_ingest.connectors.errors import ConnectorError

CONNECT_TIMEOUT_S = 10
STATEMENT_TIMEOUT_S = 60
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class SqlDatabase:
    """One lazily opened, read-only connection; any failure drops it so the next poll reconnects."""

    def __init__(self, dsn: str, password: str = "") -> None:
        parts = urllib.parse.urlsplit(dsn)
        scheme = parts.scheme.split("+", 1)[0].lower()
        if scheme in ("postgres", "postgresql"):
            self.dialect = "postgresql"
        elif scheme in ("mysql", "mariadb"):
            self.dialect = "mysql"
        else:
            raise ConnectorError(f"connector.dsn: expected postgresql://... or mysql://..., got scheme {scheme!r}")
        if not parts.path.strip("/"):
            raise ConnectorError("connector.dsn: no database name (postgresql://user@host/DBNAME)")
        self.dsn = dsn
        self.password = password
        self.parts = parts
        self._conn: Any = None

    @property
    def needs_thread(self) -> bool:
        """libpq blocks in C (run it in an OS thread under eventlet); PyMySQL uses patched, cooperative sockets."""
        return self.dialect == "postgresql"

    @property
    def description(self) -> str:
        """Server and database without credentials, for fingerprints and messages."""
        host = self.parts.hostname or "localhost"
        port = f":{self.parts.port}" if self.parts.port else ""
        return f"{self.dialect}://{host}{port}{self.parts.path}"

    def quote(self, name: str) -> str:
        """A table or column name (optionally ``schema.table``) quoted for this dialect; rejects anything else."""
        pieces = name.split(".")
        if not 1 <= len(pieces) <= 2 or not all(_IDENTIFIER.match(piece) for piece in pieces):
            raise ConnectorError(f"not a plain SQL name: {name!r} (letters, digits, _ and $; optionally schema.table)")
        mark = '"' if self.dialect == "postgresql" else "`"
        return ".".join(f"{mark}{piece}{mark}" for piece in pieces)

    def placeholder(self) -> str:
        return "%s"  # both drivers use the format paramstyle

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one SELECT and return its rows as dicts keyed by column name."""
        if not sql.lstrip().upper().startswith("SELECT"):
            raise ConnectorError("the connectors only read: refusing a statement that is not a SELECT")
        conn = self._connection()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, tuple(params))
                names = [column[0] for column in cursor.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except Exception:
            self.close()
            raise

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> data type of ``table`` (information_schema); empty when the table does not exist."""
        pieces = table.split(".")
        self.quote(table)  # validates the name
        if len(pieces) == 2:
            schema_sql, params = "table_schema = %s", [pieces[0], pieces[1]]
        elif self.dialect == "postgresql":
            schema_sql, params = "table_schema = ANY (current_schemas(false))", [pieces[0]]
        else:
            schema_sql, params = "table_schema = DATABASE()", [pieces[0]]
        rows = self.query(
            "SELECT column_name AS name, data_type AS type FROM information_schema.columns "
            f"WHERE {schema_sql} AND table_name = %s ORDER BY ordinal_position",
            params,
        )
        return {str(_lower_keys(row)["name"]): str(_lower_keys(row)["type"]).lower() for row in rows}

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # closing a broken connection may fail; it is dropped anyway
            with contextlib.suppress(Exception):
                conn.close()

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = self._connect_postgresql() if self.dialect == "postgresql" else self._connect_mysql()
        return self._conn

    def _connect_postgresql(self) -> Any:
        import psycopg

        extra: dict[str, Any] = {"password": self.password} if self.password and not self.parts.password else {}
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="cdrstats-ingest",
            options=f"-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_S * 1000}",
            **extra,
        )

    def _connect_mysql(self) -> Any:
        import pymysql  # type: ignore[import-untyped]  # no stubs in the pinned set

        query = urllib.parse.parse_qs(self.parts.query)
        conn = pymysql.connect(
            host=self.parts.hostname or "localhost",
            port=self.parts.port or 3306,
            user=urllib.parse.unquote(self.parts.username or ""),
            password=urllib.parse.unquote(self.parts.password or "") or self.password,
            database=urllib.parse.unquote(self.parts.path.strip("/")),
            charset=query.get("charset", ["utf8mb4"])[0],
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=STATEMENT_TIMEOUT_S,
            autocommit=True,
            init_command="SET SESSION TRANSACTION READ ONLY",
        )
        return conn


def _lower_keys(row: dict[str, Any]) -> dict[str, Any]:
    # MySQL returns information_schema column labels in upper case unless aliased; be tolerant
    return {key.lower(): value for key, value in row.items()}
