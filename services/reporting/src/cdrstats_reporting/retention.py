"""Reporting's retention: the applied event ids (``processed_events``, one per ``cdrs_ingested`` batch or
``call_state`` event, so one per CDR from a push switch) grow with traffic; the worker prunes them
hourly (``CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS``, 0 keeps them forever), in short batches
(``cdrstats_common.retention``). Reporting has no outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cdrstats_common import retention
from cdrstats_reporting.store.base import RollupStore


class ReportingRetention(retention.Pruner):
    def __init__(self, store: RollupStore, *, processed_days: int, **options: Any) -> None:
        super().__init__(None, **options)
        self.store = store
        self.processed_days = processed_days

    def logs(self) -> Iterable[retention.PrunedLog]:
        return (("processed_events", self.processed_days, self.store.prune_processed_events),)
