"""Alerting use-cases used by the worker: the per-event destination/CIC effect and the alarm timer.

The alarm rules live in ``alarms_service`` and the destination rules in ``destinations_service``;
this class only wires them to one store and one clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.store import AlertingStore
from cdrstats_common import prom


class AlertingService:
    def __init__(
        self,
        store: AlertingStore,
        metrics: Any = None,
        *,
        public_url: str = "",
        clock: Callable[[], float] = time.time,
        time_zone: str = "UTC",
        interval_s: float = 60.0,
    ) -> None:
        self.store = store
        self.alarms = AlarmsService(
            store, metrics, public_url=public_url, clock=clock, time_zone=time_zone, interval_s=interval_s
        )
        self.destinations = DestinationsService(store, clock=clock, public_url=public_url)

    def apply_cdrs_event(self, envelope: Mapping[str, Any]) -> bool:
        """Once per event: destination verdicts (hit log + destination_alert) and CIC streaks. Newly logged
        verdicts count in ``cdrstats_destination_hits`` (a redelivered event or re-sent CDR counts nothing)."""
        cdrs = envelope["data"]["cdrs"]
        result = self.store.apply_cdrs_event(str(envelope["id"]), cdrs, self.destinations.matcher())
        for verdict, count in result.hits.items():
            prom.DESTINATION_HITS.labels(verdict).inc(count)
        return result.applied

    def evaluate_due(self) -> int:
        """Evaluate every enabled alarm that is due; returns how many were evaluated."""
        return self.alarms.evaluate_due()
