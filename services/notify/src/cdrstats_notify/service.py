"""Notify use-cases used by the worker: events to deliveries, delivering, mail-report scheduling.

The rules live in ``alerts_service`` (events -> deliveries), ``deliveries_service`` (sending with
retries) and ``reports_service`` (mail reports); this class wires them to one store and clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_notify.alerts_service import AlertsService
from cdrstats_notify.deliveries_service import DeliveriesService
from cdrstats_notify.reports_service import ReportsService
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore


class NotifyService:
    def __init__(self, store: NotifyStore, settings: NotifySettings, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.alerts = AlertsService(store, settings, clock=clock)
        self.deliveries = DeliveriesService(store, settings, clock=clock)
        self.reports = ReportsService(store, settings, clock=clock)

    def on_event(self, event_type: str, envelope: Mapping[str, Any]) -> bool:
        """Once per event id: queue the deliveries it asks for. False when seen before."""
        return self.alerts.on_event(event_type, envelope)

    def deliver_due(self) -> int:
        return self.deliveries.deliver_due()

    def send_due_reports(self) -> int:
        return self.reports.send_due()
