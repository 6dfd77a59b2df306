"""Kamailio acc in PostgreSQL or MySQL: ``acc_cdrs`` rows after a watermark on the serial ``id``.

Why the watermark also keeps "pending" ids: a serial id is handed out when an INSERT starts,
but a concurrent transaction may commit a higher id first. An id skipped below the highest
one read may still appear, so it is re-asked for ``GAP_TIMEOUT_S``; after that it is taken
as rolled back or deleted. If the table's highest id drops below the watermark (the table
was recreated), reading restarts at 0 and the Call-ID identity drops what was imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cdrstats_ingest.connectors.base import Fetched, SourceRow
from cdrstats_ingest.connectors.errors import ConnectorError
from cdrstats_ingest.connectors.sql import SqlDatabase
from cdrstats_ingest.domain import kamailio
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

log = logging.getLogger(__name__)

GAP_TIMEOUT_S = 120.0
MAX_PENDING = 1000
_LOOKUP_CHUNK = 500
_REQUIRED = ("start_time", "end_time")


class KamailioAccSource:
    source = kamailio.SOURCE

    def __init__(
        self, switch: SwitchConfig, *, db: SqlDatabase | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        settings = switch.connector
        self.switch = switch
        self.db = db or SqlDatabase(settings.dsn, settings.password)
        self.table = settings.table or "acc_cdrs"
        self.db.quote(self.table)
        try:
            self.configured = kamailio.column_map(settings.columns)
        except InvalidCdr as exc:
            raise ConnectorError(str(exc)) from exc
        self.explicit = {field for field, _ in settings.columns}
        self.enrich = settings.enrich_from_acc
        self.clock = clock
        self.columns: dict[str, str] | None = None  # resolved against the table on first fetch
        self.enrich_tables: list[str] = []

    @property
    def fingerprint(self) -> str:
        return f"kamailio_acc {self.db.description} {self.table}"

    @property
    def needs_thread(self) -> bool:
        return self.db.needs_thread

    def fetch(self, watermark: dict[str, Any], limit: int) -> Fetched:
        columns = self._resolve_columns()
        last = int(watermark.get("id", 0))
        now = self.clock()
        pending = {
            int(k): float(v) for k, v in dict(watermark.get("pending", {})).items() if now - float(v) < GAP_TIMEOUT_S
        }
        table, key = self.db.quote(self.table), self.db.quote("id")
        where, params = f"{key} > %s", [last]
        if pending:
            where += f" OR {key} IN ({', '.join('%s' for _ in pending)})"
            params += sorted(pending)
        rows = self.db.query(f"SELECT * FROM {table} WHERE {where} ORDER BY {key} LIMIT {int(limit)}", params)
        if not rows and last > 0 and self._restarted(table, key, last):
            return Fetched([], {"id": 0}, more=True)
        ids = [int(row["id"]) for row in rows]
        seen = set(ids)
        top = max([last, *ids])
        for row_id in ids:
            pending.pop(row_id, None)
        holes = [i for i in range(last + 1, top) if i not in seen] if top - last - len(seen) <= MAX_PENDING else []
        pending.update({i: now for i in holes})
        if len(pending) > MAX_PENDING:
            pending = dict(sorted(pending.items())[-MAX_PENDING:])
        replies = self._final_replies(rows, columns) if self.enrich else {}
        source_rows = [
            SourceRow(
                f"kamailio {self.table} id {row['id']}",
                row,
                replies.get(str(row.get(columns["call_id"]) or "")) if columns["call_id"] else None,
            )
            for row in rows
        ]
        new_watermark: dict[str, Any] = {"id": top}
        if pending:
            new_watermark["pending"] = {str(k): v for k, v in sorted(pending.items())}
        return Fetched(source_rows, new_watermark, more=len(rows) >= limit)

    def to_cdr(self, row: SourceRow) -> dict[str, Any]:
        assert self.columns is not None  # fetched first
        return kamailio.normalise_row(row.raw, self.switch, columns=self.columns, reply=row.context)

    def close(self) -> None:
        self.db.close()

    def _resolve_columns(self) -> dict[str, str]:
        """The column map against the real table: defaults that are absent are dropped, configured ones must exist."""
        if self.columns is not None:
            return self.columns
        present = self.db.columns(self.table)
        if not present:
            raise ConnectorError(f"table {self.table!r} not found in {self.db.description}")
        if "id" not in present:
            raise ConnectorError(f"table {self.table!r} has no id column (Kamailio's acc_cdrs has a serial id)")
        resolved: dict[str, str] = {}
        for field, column in self.configured.items():
            if column and column not in present:
                if field in self.explicit or field in _REQUIRED:
                    raise ConnectorError(
                        f"connector.columns: {field} -> {column!r}, but {self.table!r} has no such column "
                        f"(it has {', '.join(present)})"
                    )
                column = ""
            resolved[field] = column
        if self.enrich:
            if not resolved["call_id"]:
                raise ConnectorError("connector.enrich_from_acc needs the Call-ID column (connector.columns call_id)")
            self.enrich_tables = [name for name in ("acc", "missed_calls") if self.db.columns(name)]
        self.columns = resolved
        return resolved

    def _restarted(self, table: str, key: str, last: int) -> bool:
        top = self.db.query(f"SELECT MAX({key}) AS top FROM {table}")[0]["top"]
        if top is not None and int(top) >= last:
            return False
        log.warning(
            "kamailio acc ids went back below the watermark (table recreated?): reading again from the start",
            extra={"fields": {"switch_id": self.switch.id, "watermark": last, "max_id": top}},
        )
        return True

    def _final_replies(self, rows: list[dict[str, Any]], columns: dict[str, str]) -> dict[str, kamailio.FinalReply]:
        call_ids = sorted({str(row.get(columns["call_id"]) or "") for row in rows} - {""})
        found: dict[str, list[dict[str, Any]]] = {"acc": [], "missed_calls": []}
        for name in self.enrich_tables:
            for start in range(0, len(call_ids), _LOOKUP_CHUNK):
                chunk = call_ids[start : start + _LOOKUP_CHUNK]
                found[name] += self.db.query(
                    f"SELECT id, method, callid, sip_code, sip_reason FROM {self.db.quote(name)} "
                    f"WHERE callid IN ({', '.join('%s' for _ in chunk)})",
                    chunk,
                )
        return kamailio.final_replies(found["acc"], found["missed_calls"])
