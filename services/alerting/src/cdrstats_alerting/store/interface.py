"""The alerting store contract: infrastructure and tenants here, alarms and destinations in their own protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cdrstats_alerting.store.alarms_interface import AlarmStore
from cdrstats_alerting.store.destinations_interface import DestinationStore, Matcher


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

    # -- tenants (pushed by the gateway with SetTenant) -----------------------------------
    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None:
        """Replace a tenant's account codes; an empty list removes the tenant."""
        ...

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]: ...
    def accountcode_tenants(self) -> Mapping[str, str]:
        """account code -> owning tenant id, for every tenant."""
        ...

    # -- the cdrs_ingested effect ---------------------------------------------------------
    def apply_cdrs_event(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> bool:
        """Once per event id: record destination verdicts (and queue destination_alert events) and
        advance the CIC streaks, together. False when the event was applied before."""
        ...
