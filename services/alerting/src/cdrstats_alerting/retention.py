"""Alerting's retention: the hit log, the stored evaluations and the applied event ids grow with traffic
and time; the worker prunes them hourly (``CDRSTATS_HIT_RETENTION_DAYS``, ``CDRSTATS_EVALUATION_RETENTION_DAYS``,
``CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS``; 0 keeps them forever), and sent outbox events after a day, in
short batches (``cdrstats_common.retention``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cdrstats_alerting.store import AlertingStore
from cdrstats_common import retention


class AlertingRetention(retention.Pruner):
    def __init__(
        self, store: AlertingStore, *, hit_days: int, evaluation_days: int, processed_days: int = 0, **options: Any
    ) -> None:
        super().__init__(store.prune_outbox, **options)
        self.store = store
        self.hit_days = hit_days
        self.evaluation_days = evaluation_days
        self.processed_days = processed_days

    def logs(self) -> Iterable[retention.PrunedLog]:
        return (
            ("hits", self.hit_days, self.store.prune_hits),
            ("evaluations", self.evaluation_days, self.store.prune_evaluations),
            ("processed_events", self.processed_days, self.store.prune_processed_events),
        )
