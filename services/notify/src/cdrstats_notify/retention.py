"""Notify's retention: the delivery log grows with every alert and report, the applied event ids with every
event; the worker prunes sent and failed deliveries hourly (``CDRSTATS_DELIVERY_RETENTION_DAYS``, 0 keeps
them forever; pending ones are never pruned), event ids likewise (``CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS``),
and sent outbox events after a day, in short batches (``cdrstats_common.retention``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cdrstats_common import retention
from cdrstats_notify.store import NotifyStore


class NotifyRetention(retention.Pruner):
    def __init__(self, store: NotifyStore, *, delivery_days: int, processed_days: int = 0, **options: Any) -> None:
        super().__init__(store.prune_outbox, **options)
        self.store = store
        self.delivery_days = delivery_days
        self.processed_days = processed_days

    def logs(self) -> Iterable[retention.PrunedLog]:
        return (
            ("deliveries", self.delivery_days, self.store.prune_deliveries),
            ("processed_events", self.processed_days, self.store.prune_processed_events),
        )
