"""alerting worker process (nameko): checks every ingested CDR against the destination rules, tracks CIC
streaks, evaluates due alarms every minute, relays its outbox to ``alerting.events``.

Run as ``python -m cdrstats_alerting.worker``; eventlet is patched before any other import.
"""

from __future__ import annotations

from cdrstats_common.green import monkey_patch

monkey_patch()

from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import Timer, timer  # noqa: E402

from cdrstats_alerting.metric_client import ReportingMetricSource  # noqa: E402
from cdrstats_alerting.retention import AlertingRetention  # noqa: E402
from cdrstats_alerting.service import AlertingService  # noqa: E402
from cdrstats_alerting.settings import AlertingSettings  # noqa: E402
from cdrstats_alerting.store import open_store  # noqa: E402
from cdrstats_common import prom, retention  # noqa: E402
from cdrstats_common.events import EventPublisher  # noqa: E402
from cdrstats_common.nameko_support import SETTINGS_KEY, durable_event_handler, run_worker  # noqa: E402
from cdrstats_common.relay import Relay  # noqa: E402
from cdrstats_common.settings import load_or_exit  # noqa: E402

RELAY_INTERVAL_S = 0.2
EVALUATE_INTERVAL_S = 60


class Alerting(DependencyProvider):
    """One store, one service and one relay per worker process."""

    def setup(self) -> None:
        settings: AlertingSettings = self.container.config[SETTINGS_KEY]
        self.store = open_store(settings.store_url)
        metrics = ReportingMetricSource(settings.reporting_grpc_addr) if settings.reporting_grpc_addr else None
        self.service = AlertingService(
            self.store,
            metrics,
            public_url=settings.public_url,
            time_zone=settings.time_zone,
            interval_s=settings.alarm_interval_s,
        )
        self.relay = Relay(self.store, EventPublisher(settings.amqp_url, "alerting"))
        self.retention = AlertingRetention(
            self.store,
            hit_days=settings.hit_retention_days,
            evaluation_days=settings.evaluation_retention_days,
            processed_days=settings.processed_event_retention_days,
        )

    def stop(self) -> None:
        self.relay.publisher.close()
        self.store.beat(ready=False)
        self.store.close()

    def get_dependency(self, worker_ctx: Any) -> Alerting:
        return self


class EvaluationTimer(Timer):
    """The evaluation timer, its interval from the settings (CDRSTATS_ALARM_INTERVAL_S): a decorator's
    argument is fixed at import, before the settings are read."""

    def setup(self) -> None:
        self.interval = self.container.config[SETTINGS_KEY].alarm_interval_s
        super().setup()


class AlertingWorker:
    name = "alerting"
    alerting: Alerting = Alerting()

    @durable_event_handler("ingest", "cdrs_ingested")
    def on_cdrs_ingested(self, envelope: dict[str, Any]) -> None:
        prom.consume("cdrs_ingested", envelope, lambda: self.alerting.service.apply_cdrs_event(envelope))

    @EvaluationTimer.decorator(interval=EVALUATE_INTERVAL_S)
    def evaluate_alarms(self) -> None:
        self.alerting.service.evaluate_due()

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self) -> None:
        self.alerting.relay.run_once()

    @timer(interval=retention.INTERVAL_S, eager=True)
    def prune(self) -> None:
        """Hit log, evaluations, applied event ids and sent outbox events past their retention, in short batches."""
        self.alerting.retention.prune()

    @timer(interval=2)
    def heartbeat(self) -> None:
        self.alerting.store.beat()

    @timer(interval=1)
    def checkpoint(self) -> None:
        self.alerting.store.checkpoint()


def main() -> None:
    settings = load_or_exit(AlertingSettings.from_env)
    run_worker("alerting", AlertingWorker, settings, open_store(settings.store_url).worker_alive)


if __name__ == "__main__":
    main()
