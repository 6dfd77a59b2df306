"""Alerting's retention: the hit log and the stored evaluations grow with traffic and time; the worker
prunes them hourly (``CDRSTATS_HIT_RETENTION_DAYS``, ``CDRSTATS_EVALUATION_RETENTION_DAYS``; 0 keeps
them forever), and sent outbox events after a day, in short batches (``cdrstats_common.retention``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from cdrstats_alerting.store import AlertingStore
from cdrstats_common import retention

log = logging.getLogger(__name__)


class AlertingRetention:
    def __init__(
        self,
        store: AlertingStore,
        *,
        hit_days: int,
        evaluation_days: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        batch: int = retention.BATCH,
    ) -> None:
        self.store = store
        self.hit_days = hit_days
        self.evaluation_days = evaluation_days
        self.clock = clock
        self.sleep = sleep
        self.batch = batch

    def _prune(self, delete_batch: Callable[[int], int]) -> int:
        return retention.prune_batches(delete_batch, batch=self.batch, sleep=self.sleep)

    def prune(self) -> dict[str, int]:
        """Delete what is older than its retention; returns how many rows went, by log."""
        now = self.clock()
        now_us = int(now * 1_000_000)
        pruned: dict[str, int] = {}
        hits_before = retention.cutoff_us(now_us, self.hit_days)
        if hits_before:
            pruned["hits"] = self._prune(lambda limit: self.store.prune_hits(hits_before, limit))
        evaluations_before = retention.cutoff_us(now_us, self.evaluation_days)
        if evaluations_before:
            pruned["evaluations"] = self._prune(lambda limit: self.store.prune_evaluations(evaluations_before, limit))
        sent_before = now - retention.SENT_EVENTS_KEPT_S
        pruned["outbox"] = self._prune(lambda limit: self.store.prune_outbox(sent_before, limit))
        if any(pruned.values()):
            log.info("old rows pruned", extra={"fields": pruned})
        return pruned
