"""The alerting store contract: infrastructure and tenants here, alarms and destinations in their own protocols."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cdrstats_alerting.store.alarms_interface import AlarmStore
from cdrstats_alerting.store.destinations_interface import DestinationStore, Matcher


@dataclasses.dataclass(frozen=True, slots=True)
class CdrsApplied:
    """What ``apply_cdrs_event`` did: false for an event applied before; ``hits`` counts the verdicts
    newly logged (a CDR already in the hit log counts no more), for the ``cdrstats_destination_hits`` metric."""

    applied: bool
    hits: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.applied


class AlertingStore(AlarmStore, DestinationStore, Protocol):
    # -- infrastructure ------------------------------------------------------------------
    def beat(self, *, ready: bool = True) -> None: ...
    def worker_alive(self) -> bool: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...
    def relay_outbox(self, publisher: Any) -> int:
        """Publish pending outbox events (alarm_triggered, alarm_cleared, destination_alert) in order."""
        ...

    def outbox_pending(self) -> int: ...
    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        """Delete at most ``limit`` outbox events sent before ``sent_before_s`` (epoch seconds); never a
        pending one. MongoDB: 0, its sent events expire through a TTL index."""
        ...

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        """Forget at most ``limit`` applied event ids recorded before ``before_us``, oldest first (one short
        write); the worker prunes them past CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS."""
        ...

    # -- tenants (pushed by the gateway with SetTenant) -----------------------------------
    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None:
        """Replace a tenant's account codes; an empty list removes the tenant."""
        ...

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]: ...
    def tenant_page(self, after_id: str = "", limit: int = 500) -> list[tuple[str, tuple[str, tuple[str, ...]]]]:
        """(id, (name, account codes)) of the tenants after ``after_id``, by id (ListTenants)."""
        ...

    def accountcode_tenants(self) -> Mapping[str, str]:
        """account code -> owning tenant id, for every tenant."""
        ...

    # -- the cdrs_ingested effect ---------------------------------------------------------
    def apply_cdrs_event(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> CdrsApplied:
        """Once per event id: record destination verdicts (and queue destination_alert events) and
        advance the CIC streaks, together. False (``applied``) when the event was applied before."""
        ...
