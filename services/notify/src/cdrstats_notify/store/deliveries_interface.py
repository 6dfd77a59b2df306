"""The delivery store contract: the queue and log of e-mails/webhooks, and the owners' contacts.

Used by alert events (AlertsService), the mail reports (ReportsService: ``enqueue`` only) and the api.
Every state change of a delivery queues its ``notification_sent`` / ``notification_failed`` event in
the same transaction (SQLite) or the same document write order (MongoDB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from cdrstats_notify.domain.deliveries import Contacts, Delivery, DeliveryFilter

#: how long ``due`` hands a delivery to one sender before another pass may take it (a sender that died)
LEASE_US = 600 * 1_000_000

#: ``merge(unsent, new)``: the unsent delivery with ``new`` folded in (subject, bodies, payload, context, events)
Merge = Callable[[Delivery, Delivery], Delivery]


class DeliveryStore(Protocol):
    def enqueue(
        self,
        deliveries: Sequence[Delivery],
        *,
        event_id: str | None = None,
        now_us: int | None = None,
        merge: Merge | None = None,
        window_us: int = 0,
    ) -> list[str] | None:
        """Queue deliveries (due now); returns their ids, in order.

        With ``event_id``: at most once per event id, together with the processed-event record; None when
        that event was handled before (nothing is queued again).

        Coalescing, for deliveries with a non-empty ``group`` (needs ``merge``): if the same group, channel
        and recipient has a delivery not attempted yet (and not being sent), the new one is merged into it
        (its id is returned); else, if the last one was due less than ``window_us`` ago, the new one is due
        ``window_us`` after it (a follow-up digest that later ones merge into); else it is due now.
        """
        ...

    def due(self, now_us: int, limit: int, *, lease_us: int = LEASE_US) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries whose time has come, oldest due first, for ``lease_us``."""
        ...

    def claim(self, delivery_id: str, now_us: int, *, lease_us: int = LEASE_US) -> Delivery | None:
        """Claim one pending delivery that nobody is sending (SendTest sends it at once); None otherwise."""
        ...

    def mark_sent(self, delivery_id: str, now_us: int) -> Delivery | None:
        """Sent (queues ``notification_sent``); None when it is no longer pending."""
        ...

    def mark_retry(self, delivery_id: str, now_us: int, next_attempt_us: int, error: str) -> Delivery | None:
        """An attempt failed, try again at ``next_attempt_us`` (queues ``notification_failed``, final false)."""
        ...

    def mark_failed(self, delivery_id: str, now_us: int, error: str) -> Delivery | None:
        """Given up (queues ``notification_failed``, final true)."""
        ...

    def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    def list_deliveries(self, selection: DeliveryFilter) -> list[Delivery]:
        """Newest first (by creation; creation times are unique within a store, so they page exactly)."""
        ...

    def delivery_counts(self) -> dict[str, int]:
        """``{"deliveries": all logged, "pending": queued or waiting for a retry, "failed": given up}``."""
        ...

    def prune_deliveries(self, before_us: int, limit: int) -> int:
        """Delete at most ``limit`` sent or failed deliveries created before ``before_us``, oldest first (one
        short write); a pending one (queued, retrying) is never pruned, nor one whose event is unpublished."""
        ...

    def get_contacts(self, owner: str) -> Contacts:
        """The owner's contacts (empty when never saved)."""
        ...

    def save_contacts(self, contacts: Contacts) -> Contacts: ...
