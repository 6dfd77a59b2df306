"""Reporting use-cases: apply ingest events to the roll-ups, answer scoped report queries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_reporting.domain.dashboard import Dashboard, dashboard, dashboard_window
from cdrstats_reporting.domain.errors import InvalidArgument, PermissionDenied
from cdrstats_reporting.store.base import RollupStore

log = logging.getLogger(__name__)

CDRS_INGESTED_SCHEMA = "cdrstats.cdrs_ingested.v1"


def now_us() -> int:
    return time.time_ns() // 1000


def scoped_accountcodes(scope_admin: bool, allowed_accountcodes: list[str]) -> list[str] | None:
    """None (no filter) for admins; a customer must name the account codes it may see."""
    if scope_admin:
        return None
    codes = sorted({code for code in allowed_accountcodes if code})
    if not codes:
        raise PermissionDenied("scope: a non-admin query needs allowed_accountcodes")
    return codes


class ReportingService:
    def __init__(self, store: RollupStore, clock: Callable[[], int] = now_us) -> None:
        self.store = store
        self.clock = clock

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
        applied = self.store.apply_batch(event_id, [dict(cdr) for cdr in cdrs])
        if applied:  # a duplicate is logged by the store's consumer helper
            log.info("cdrs_ingested applied", extra={"fields": {"event_id": event_id, "cdrs": len(cdrs)}})
        return applied

    def dashboard(
        self, scope_admin: bool, allowed_accountcodes: list[str], switch_id: str | None, now_us: int
    ) -> Dashboard:
        """The last 24 hours (hour buckets ending with the current one); now_us 0 means the clock."""
        accountcodes = scoped_accountcodes(scope_admin, allowed_accountcodes)
        if now_us < 0:
            raise InvalidArgument("now_us: expected epoch microseconds >= 0")
        start, end = dashboard_window(now_us or self.clock())
        rows = self.store.hourly_rows(start, end, switch_id=switch_id or None, accountcodes=accountcodes)
        return dashboard(rows, start, end)

    def status(self) -> tuple[int, int]:
        """(cdrs_applied, events_applied)."""
        return self.store.status()

    def beat(self, *, ready: bool = True) -> None:
        self.store.beat(ready=ready)
