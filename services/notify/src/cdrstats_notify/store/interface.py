"""The notify store contract: infrastructure and tenants here, deliveries and mail reports in their protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cdrstats_notify.store.deliveries_interface import DeliveryStore
from cdrstats_notify.store.reports_interface import MailReportStore


class NotifyStore(DeliveryStore, MailReportStore, Protocol):
    def beat(self, *, ready: bool = True) -> None: ...
    def worker_alive(self) -> bool: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...
    def relay_outbox(self, publisher: Any) -> int:
        """Publish pending notification_sent / notification_failed events in order."""
        ...

    def outbox_pending(self) -> int: ...
    def prune_outbox(self, sent_before_s: float, limit: int) -> int:
        """Delete at most ``limit`` outbox events sent before ``sent_before_s`` (epoch seconds); never a pending
        one. MongoDB: 0, its events live in their delivery and are pulled once published."""
        ...

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        """Forget at most ``limit`` applied event ids recorded before ``before_us``, oldest first (one short
        write); the worker prunes them past CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS."""
        ...

    # tenants, pushed by the gateway with SetTenant (a tenant's mail report covers its current codes)
    def set_tenant(self, tenant_id: str, accountcodes: Sequence[str], name: str = "") -> None: ...
    def tenant(self, tenant_id: str) -> tuple[str, tuple[str, ...]] | None:
        """(name, account codes) of a tenant, None when unknown."""
        ...

    def tenants(self) -> dict[str, tuple[str, tuple[str, ...]]]: ...
    def tenant_page(self, after_id: str = "", limit: int = 500) -> list[tuple[str, tuple[str, tuple[str, ...]]]]:
        """(id, (name, account codes)) of the tenants after ``after_id``, by id (ListTenants)."""
        ...
