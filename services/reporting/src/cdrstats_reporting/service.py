"""Reporting use-cases: apply ingest events to the roll-ups, answer scoped report queries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_common.retention import Pruner
from cdrstats_reporting.domain.dashboard import Dashboard, dashboard, dashboard_window
from cdrstats_reporting.domain.errors import InvalidArgument
from cdrstats_reporting.domain.live import CALL_STATE_SCHEMA, TIMEOUT_US, parse_call_state
from cdrstats_reporting.domain.reports import by_key, ranked
from cdrstats_reporting.group_commit import GroupCommitter
from cdrstats_reporting.queries import scoped_accountcodes, selection
from cdrstats_reporting.store.base import RollupStore

log = logging.getLogger(__name__)

CDRS_INGESTED_SCHEMA = "cdrstats.cdrs_ingested.v1"


def now_us() -> int:
    return time.time_ns() // 1000


class ReportingService:
    def __init__(
        self,
        store: RollupStore,
        clock: Callable[[], int] = now_us,
        committer: GroupCommitter | None = None,
        pruner: Pruner | None = None,
    ) -> None:
        """``committer`` (the worker's): events handled at the same time share one transaction; ``pruner``
        (the worker's) forgets old applied event ids."""
        self.store = store
        self.clock = clock
        self.committer = committer
        self.pruner = pruner

    def apply_cdrs_event(self, envelope: Mapping[str, Any]) -> bool:
        """Add a ``cdrs_ingested`` batch to the roll-ups; False if this event id was applied before."""
        event_id = envelope.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise InvalidArgument("event: 'id' must be a non-empty string")
        if envelope.get("schema") != CDRS_INGESTED_SCHEMA:
            raise InvalidArgument(f"event {event_id}: 'schema' must be {CDRS_INGESTED_SCHEMA!r}")
        data = envelope.get("data")
        cdrs = data.get("cdrs") if isinstance(data, Mapping) else None
        if not isinstance(cdrs, list) or not all(isinstance(cdr, Mapping) for cdr in cdrs):
            raise InvalidArgument(f"event {event_id}: 'data.cdrs' must be a list of CDR objects")
        if self.committer is not None:
            applied = self.committer.submit(event_id, cdrs)
        else:
            applied = self.store.apply_batch(event_id, cdrs)
        if applied:  # a duplicate is logged by the store's consumer helper
            log.info("cdrs_ingested applied", extra={"fields": {"event_id": event_id, "cdrs": len(cdrs)}})
        return applied

    def apply_call_state_event(self, envelope: Mapping[str, Any]) -> bool:
        """Start, answer or end a live call; False if this event id was applied before."""
        event_id = envelope.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise InvalidArgument("event: 'id' must be a non-empty string")
        if envelope.get("schema") != CALL_STATE_SCHEMA:
            raise InvalidArgument(f"event {event_id}: 'schema' must be {CALL_STATE_SCHEMA!r}")
        return self.store.apply_call_state(event_id, parse_call_state(event_id, envelope.get("data")))

    def expire_live_calls(self) -> int:
        """Forget calls whose end never arrived (no event for TIMEOUT_US)."""
        return self.store.expire_live_calls(self.clock() - TIMEOUT_US)

    def prune(self) -> dict[str, int]:
        """Applied event ids past their retention, in short batches (the worker's hourly timer)."""
        return self.pruner.prune() if self.pruner is not None else {}

    def dashboard(
        self,
        scope_admin: bool,
        allowed_accountcodes: list[str],
        switch_id: str | None,
        now_us: int,
        accountcode: str = "",
    ) -> Dashboard:
        """The last 24 hours (hour buckets ending with the current one); now_us 0 means the clock."""
        filters = selection(scope_admin, allowed_accountcodes, switch_id or "", [accountcode])
        if now_us < 0:
            raise InvalidArgument("now_us: expected epoch microseconds >= 0")
        start, end = dashboard_window(now_us or self.clock(), self.store.time_zone())
        rows = [(key[0], totals) for key, totals in self.store.rollup_rows("hour", start, end, ("bucket",), filters)]
        report = dashboard(rows, start, end, self.store.time_zone())
        countries = self.store.rollup_rows("hour", start, end, ("country",), filters)
        causes = self.store.rollup_rows("hour", start, end, ("hangup_cause",), filters)
        report.top_countries.extend(ranked(by_key(countries))[:5])
        report.hangup_causes.extend((int(cause), totals.attempts) for cause, totals in ranked(by_key(causes)))
        return report

    def live_calls_count(self) -> int:
        return len(self.store.live_calls(selection(True, []), self.clock() - TIMEOUT_US))

    def status(self) -> tuple[int, int]:
        """(cdrs_applied, events_applied)."""
        return self.store.status()

    def beat(self, *, ready: bool = True) -> None:
        self.store.beat(ready=ready)


__all__ = ["ReportingService", "scoped_accountcodes"]
