"""Asterisk's ``cdr`` table in PostgreSQL or MySQL (``start``/``answer``/``"end"`` or the older ``calldate`` layout).

The table has no serial key, so the watermark is a keyset on (end time, uniqueid, sequence):
- Asterisk inserts a CDR when the call ends, so rows arrive in *end* order; a start-time
  keyset would skip a long call that is written after shorter calls that started later;
- uniqueid (and sequence, which numbers one channel's several CDRs) break ties, so rows that
  end in the same second are neither skipped nor read twice;
- only rows that ended ``SETTLE_S`` before now (the switch's local time) are read: a CDR
  posted late (cdr.conf batch mode, h-extension) still sorts after the watermark then.
In the calldate layout the end is ``calldate + duration``; an index on calldate still
bounds the scan to calls no longer than ``LONGEST_CALL_S``.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from cdrstats_ingest.connectors.base import Fetched, SourceRow
from cdrstats_ingest.connectors.errors import ConnectorError
from cdrstats_ingest.connectors.sql import SqlDatabase
from cdrstats_ingest.domain import asterisk
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "asterisk_db"
SETTLE_S = 120
LONGEST_CALL_S = 7 * 86_400
LAYOUTS = ("calldate", "start_answer_end")
KEY = "cdrstats_end"


class AsteriskCdrSource:
    source = SOURCE

    def __init__(
        self, switch: SwitchConfig, *, db: SqlDatabase | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        settings = switch.connector
        if settings.layout not in ("", *LAYOUTS):
            raise ConnectorError(
                f"connector.layout: expected calldate, start_answer_end or empty, got {settings.layout!r}"
            )
        self.switch = switch
        self.db = db or SqlDatabase(settings.dsn, settings.password)
        self.table = settings.table or "cdr"
        self.db.quote(self.table)
        self.forced_layout = settings.layout
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(switch.time_zone or "UTC")
        self._plan: tuple[str, list[str], bool] | None = None  # key expression, tie-breakers, aware

    @property
    def fingerprint(self) -> str:
        return f"asterisk_db {self.db.description} {self.table}"

    @property
    def needs_thread(self) -> bool:
        return self.db.needs_thread

    def fetch(self, watermark: dict[str, Any], limit: int) -> Fetched:
        key, ties, aware = self._resolve()
        horizon = dt.datetime.fromtimestamp(self.clock() - SETTLE_S, self.zone)
        params: list[Any] = [horizon if aware else horizon.replace(tzinfo=None)]
        where = f"{key} <= %s"
        if watermark:
            last = dt.datetime.fromisoformat(str(watermark["end"]))
            marks = [last, str(watermark.get("uniqueid", "")), int(watermark.get("sequence", 0))][: 1 + len(ties)]
            where += f" AND ({', '.join([key, *ties])}) > ({', '.join('%s' for _ in marks)})"
            params += marks
            if self.layout == "calldate":
                where += " AND " + self._calldate_floor()
                params.append(last - dt.timedelta(seconds=LONGEST_CALL_S))
        table = self.db.quote(self.table)
        rows = self.db.query(
            f"SELECT {table}.*, {key} AS {KEY} FROM {table} WHERE {where} ORDER BY {', '.join([key, *ties])} LIMIT {int(limit)}",
            params,
        )
        source_rows = []
        for row in rows:
            end = row.pop(KEY)
            source_rows.append(
                SourceRow(f"asterisk {self.table} uniqueid {row.get('uniqueid') or ''} end {end}", row, end)
            )
        new_watermark = dict(watermark)
        if rows:
            last_row = source_rows[-1]
            new_watermark = {
                "end": last_row.context.isoformat(sep=" "),
                "uniqueid": str(last_row.raw.get("uniqueid") or ""),
            }
            if len(ties) > 1:
                new_watermark["sequence"] = int(last_row.raw.get("sequence") or 0)
        return Fetched(source_rows, new_watermark, more=len(rows) >= limit)

    def to_cdr(self, row: SourceRow) -> dict[str, Any]:
        values = {str(k): _text(v) for k, v in row.raw.items()}
        cdr = enrich(asterisk.normalise_row(values, self.switch, source=SOURCE), self.switch)
        validate(cdr)
        return cdr

    def close(self) -> None:
        self.db.close()

    @property
    def layout(self) -> str:
        self._resolve()
        return self._layout

    def _resolve(self) -> tuple[str, list[str], bool]:
        if self._plan is not None:
            return self._plan
        columns = self.db.columns(self.table)
        if not columns:
            raise ConnectorError(f"table {self.table!r} not found in {self.db.description}")
        layout = self.forced_layout or ("start_answer_end" if {"start", "end"} <= set(columns) else "calldate")
        needed = {"start", "end", "uniqueid"} if layout == "start_answer_end" else {"calldate", "duration", "uniqueid"}
        missing = sorted(needed - set(columns))
        if missing:
            raise ConnectorError(f"table {self.table!r} ({layout} layout) has no column {', '.join(missing)}")
        q = self.db.quote
        if layout == "start_answer_end":
            key, type_name = q("end"), columns["end"]
        elif self.db.dialect == "postgresql":
            key, type_name = f"({q('calldate')} + {q('duration')} * INTERVAL '1 second')", columns["calldate"]
        else:
            key, type_name = f"({q('calldate')} + INTERVAL {q('duration')} SECOND)", columns["calldate"]
        ties = [f"COALESCE({q('uniqueid')}, '')"]
        if "sequence" in columns:
            ties.append(f"COALESCE({q('sequence')}, 0)")
        self._layout = layout
        self._plan = (key, ties, "with time zone" in type_name)
        return self._plan

    def _calldate_floor(self) -> str:
        return f"{self.db.quote('calldate')} >= %s"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
