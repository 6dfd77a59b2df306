"""Notify's retention: the delivery log grows with every alert and report; the worker prunes sent and
failed deliveries hourly (``CDRSTATS_DELIVERY_RETENTION_DAYS``, 0 keeps them forever; pending ones are
never pruned), and sent outbox events after a day, in short batches (``cdrstats_common.retention``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cdrstats_common import retention
from cdrstats_notify.store import NotifyStore

log = logging.getLogger(__name__)


class NotifyRetention:
    def __init__(
        self,
        store: NotifyStore,
        *,
        delivery_days: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        batch: int = retention.BATCH,
    ) -> None:
        self.store = store
        self.delivery_days = delivery_days
        self.clock = clock
        self.sleep = sleep
        self.batch = batch

    def _prune(self, delete_batch: Callable[[int], int]) -> int:
        return retention.prune_batches(delete_batch, batch=self.batch, sleep=self.sleep)

    def prune(self) -> dict[str, int]:
        """Delete what is older than its retention; returns how many rows went, by log."""
        now = self.clock()
        pruned: dict[str, int] = {}
        deliveries_before = retention.cutoff_us(int(now * 1_000_000), self.delivery_days)
        if deliveries_before:
            pruned["deliveries"] = self._prune(lambda limit: self.store.prune_deliveries(deliveries_before, limit))
        sent_before = now - retention.SENT_EVENTS_KEPT_S
        pruned["outbox"] = self._prune(lambda limit: self.store.prune_outbox(sent_before, limit))
        if any(pruned.values()):
            log.info("old rows pruned", extra={"fields": pruned})
        return pruned
