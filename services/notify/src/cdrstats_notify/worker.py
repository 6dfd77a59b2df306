"""notify worker process (nameko): turns alerting events and worker failures into e-mails and webhooks,
delivers them with retries, sends the daily/weekly mail reports, relays ``notify.events``.

Run as ``python -m cdrstats_notify.worker``; eventlet is patched before any other import.
"""

from __future__ import annotations

from cdrstats_common.green import monkey_patch

monkey_patch()

from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import timer  # noqa: E402

from cdrstats_common import prom, retention  # noqa: E402
from cdrstats_common.events import EventPublisher  # noqa: E402
from cdrstats_common.nameko_support import SETTINGS_KEY, durable_event_handler, run_worker  # noqa: E402
from cdrstats_common.relay import Relay  # noqa: E402
from cdrstats_common.settings import load_or_exit  # noqa: E402
from cdrstats_notify.retention import NotifyRetention  # noqa: E402
from cdrstats_notify.service import NotifyService  # noqa: E402
from cdrstats_notify.settings import NotifySettings  # noqa: E402
from cdrstats_notify.store import open_store  # noqa: E402

RELAY_INTERVAL_S = 0.2
DELIVER_INTERVAL_S = 1
SCHEDULE_INTERVAL_S = 30


class Notify(DependencyProvider):
    """One store, one service and one relay per worker process."""

    def setup(self) -> None:
        settings: NotifySettings = self.container.config[SETTINGS_KEY]
        self.store = open_store(settings.store_url)
        self.service = NotifyService(self.store, settings)
        self.relay = Relay(self.store, EventPublisher(settings.amqp_url, "notify"))
        self.retention = NotifyRetention(
            self.store,
            delivery_days=settings.delivery_retention_days,
            processed_days=settings.processed_event_retention_days,
        )

    def stop(self) -> None:
        self.service.deliveries.drain()  # sends in flight finish (or are retried after their lease)
        self.relay.publisher.close()
        self.store.beat(ready=False)
        self.store.close()

    def get_dependency(self, worker_ctx: Any) -> Notify:
        return self


def _handle(event_type: str, notify: Notify, envelope: dict[str, Any]) -> None:
    prom.consume(event_type, envelope, lambda: notify.service.on_event(event_type, envelope))


class NotifyWorker:
    name = "notify"
    notify: Notify = Notify()

    @durable_event_handler("alerting", "alarm_triggered")
    def on_alarm_triggered(self, envelope: dict[str, Any]) -> None:
        _handle("alarm_triggered", self.notify, envelope)

    @durable_event_handler("alerting", "alarm_cleared")
    def on_alarm_cleared(self, envelope: dict[str, Any]) -> None:
        _handle("alarm_cleared", self.notify, envelope)

    @durable_event_handler("alerting", "destination_alert")
    def on_destination_alert(self, envelope: dict[str, Any]) -> None:
        _handle("destination_alert", self.notify, envelope)

    # repeated failures of any worker task (cdrstats_common.failures) -> e-mails to the admins
    @durable_event_handler("ingest", "worker_task_failed")
    def on_ingest_task_failed(self, envelope: dict[str, Any]) -> None:
        _handle("worker_task_failed", self.notify, envelope)

    @durable_event_handler("reporting", "worker_task_failed")
    def on_reporting_task_failed(self, envelope: dict[str, Any]) -> None:
        _handle("worker_task_failed", self.notify, envelope)

    @durable_event_handler("alerting", "worker_task_failed")
    def on_alerting_task_failed(self, envelope: dict[str, Any]) -> None:
        _handle("worker_task_failed", self.notify, envelope)

    @durable_event_handler("notify", "worker_task_failed")
    def on_notify_task_failed(self, envelope: dict[str, Any]) -> None:
        _handle("worker_task_failed", self.notify, envelope)

    @timer(interval=DELIVER_INTERVAL_S)
    def deliver(self) -> None:
        """Send every queued delivery that is due (new ones and retries), each destination on its own."""
        self.notify.service.deliver_due()

    @timer(interval=SCHEDULE_INTERVAL_S)
    def mail_reports(self) -> None:
        """Queue the daily/weekly mail reports whose local hour has come and that were not sent yet."""
        self.notify.service.send_due_reports()

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self) -> None:
        self.notify.relay.run_once()

    @timer(interval=retention.INTERVAL_S, eager=True)
    def prune(self) -> None:
        """Sent and failed deliveries and applied event ids past their retention, and sent outbox events, in
        short batches."""
        self.notify.retention.prune()

    @timer(interval=2)
    def heartbeat(self) -> None:
        self.notify.store.beat()

    @timer(interval=1)
    def checkpoint(self) -> None:
        self.notify.store.checkpoint()


def main() -> None:
    settings = load_or_exit(NotifySettings.from_env)
    run_worker("notify", NotifyWorker, settings, open_store(settings.store_url).worker_alive)


if __name__ == "__main__":
    main()
