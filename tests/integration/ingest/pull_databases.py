"""Throw-away source databases for the pull-connector tests: one uniquely named database per test.

PostgreSQL (127.0.0.1:5432, user postgres, trust) and MariaDB (127.0.0.1:3306, root, no password)
run on this machine; each test creates its own database and drops it afterwards.
"""

from __future__ import annotations

import contextlib
import csv
import pathlib
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pymysql

SCHEMAS = pathlib.Path(__file__).parent / "pull_schemas"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class SourceDb:
    """An admin connection to a test's database: creates the switch's tables and writes rows as the switch would."""

    def __init__(self, dialect: str, name: str) -> None:
        self.dialect = dialect
        self.name = name
        if dialect == "postgresql":
            self.dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
            self.conn: Any = psycopg.connect(self.dsn, autocommit=True)
        else:
            self.dsn = f"mysql://root@127.0.0.1:3306/{name}"
            self.conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=name, autocommit=True)

    def run_script(self, file_name: str) -> None:
        text = (SCHEMAS / file_name).read_text()
        text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        for statement in (s.strip() for s in text.split(";")):
            if statement:
                self.execute(statement)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall()) if cursor.description else []

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = list(rows[0])
        marks = ", ".join("%s" for _ in names)
        sql = f"INSERT INTO {self.quote(table)} ({', '.join(self.quote(n) for n in names)}) VALUES ({marks})"
        with self.conn.cursor() as cursor:
            cursor.executemany(sql, [tuple(row[n] for n in names) for row in rows])

    def quote(self, name: str) -> str:
        return f'"{name}"' if self.dialect == "postgresql" else f"`{name}`"

    def schema_snapshot(self) -> list[tuple[Any, ...]]:
        """Every table, column, type, default and index of the database: proof the connector changed nothing."""
        schema = "public" if self.dialect == "postgresql" else self.name
        columns = self.execute(
            "SELECT table_name, column_name, data_type, column_default, is_nullable FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, column_name",
            [schema],
        )
        if self.dialect == "postgresql":
            indexes = self.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
            )
        else:
            indexes = self.execute(
                "SELECT table_name, index_name, column_name FROM information_schema.statistics "
                "WHERE table_schema = %s ORDER BY 1, 2, 3",
                [schema],
            )
        return [*columns, ("indexes",), *indexes]

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def source_database(dialect: str) -> Iterator[SourceDb]:
    name = f"cdrstats_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(dialect)
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    db = SourceDb(dialect, name)
    try:
        yield db
    finally:
        db.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE {name}" + (" WITH (FORCE)" if dialect == "postgresql" else ""))
        admin.close()


def _admin(dialect: str) -> Any:
    if dialect == "postgresql":
        return psycopg.connect(PG_ADMIN, autocommit=True)
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)


def read_sample(path: pathlib.Path, *, drop: Sequence[str] = ("id",)) -> list[dict[str, Any]]:
    """Rows of a sample CSV export, in id order, without the serial id (the table assigns it again)."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: int(r["id"]))
    assert [int(r["id"]) for r in rows] == list(range(1, len(rows) + 1)), f"{path.name}: ids must run 1..n"
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]
