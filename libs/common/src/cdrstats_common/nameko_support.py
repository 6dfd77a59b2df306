"""nameko helpers: durable event handlers with a dead-letter queue, and a process runner.

Import this module only in worker processes, after ``eventlet.monkey_patch()``.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

import amqp.exceptions
import eventlet
import kombu
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.runners import ServiceRunner
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from cdrstats_common import consumer, prom, telemetry
from cdrstats_common.admin import start_admin
from cdrstats_common.failures import TaskFailures
from cdrstats_common.logs import setup_logging

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "cdrstats.dead-letter"
#: what an ack or a reject raises when the broker connection died under it (a reset socket is an OSError,
#: which nameko's own ``ack_message`` lets through)
CONNECTION_LOST = (OSError, amqp.exceptions.AMQPError)


def settle(message: Any, *, ack: bool) -> None:
    """Ack ``message``, or reject it without requeue (dead-letter). If the connection is gone the broker gives
    the message back by itself (consumers apply an event id once), so a failure here is logged, never raised:
    raised in a handler's thread it ends the nameko container, and the process would live on consuming nothing.
    """
    if not message.channel.connection:
        return
    try:
        if ack:
            message.ack()
        else:
            message.reject(requeue=False)
    except CONNECTION_LOST as exc:
        log.warning(
            "broker connection lost before the message was settled; the broker delivers it again",
            extra={"fields": {"ack": ack, "error": repr(exc)}},
        )


class DurableEventHandler(EventHandler):
    """A nameko ``@event_handler`` whose failures are parked, never lost or retried forever.

    The queue is durable with a dead-letter exchange; a handler that raises has its
    message rejected without requeue, so the broker moves it to ``<queue>.dead``,
    where it stays visible until an operator replays or drops it.

    An event older than the service's ``processed_event_retention_days`` setting is parked there too,
    before its handler runs: its id may be pruned from ``processed_events`` already, so applying it
    could apply it twice (``consumer.check_fresh``, docs/events.md).
    """

    def setup(self) -> None:
        super().setup()
        name = self.queue.name
        self.queue.queue_arguments = {
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": name,
        }
        with kombu.Connection(self.container.config["AMQP_URI"]) as connection:
            channel = connection.channel()
            exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
            kombu.Queue(f"{name}.dead", exchange=exchange, routing_key=name, durable=True)(channel).declare()

    def handle_message(self, body: Any, message: Any) -> None:
        days = int(getattr(self.container.config.get(SETTINGS_KEY), "processed_event_retention_days", 0))
        try:
            consumer.check_fresh(body, days)
        except consumer.StaleEvent as stale:
            log.error(
                "stale event refused; message parked in dead-letter queue",
                extra={"fields": {"queue": f"{self.queue.name}.dead", "event_id": stale.event_id, "error": str(stale)}},
            )
            prom.EVENTS_CONSUMED.labels(self.event_type, "stale").inc()
            settle(message, ack=False)
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        if exc_info is None:
            settle(message, ack=True)
            return
        log.error(
            "event handler failed; message parked in dead-letter queue",
            extra={"fields": {"queue": f"{self.queue.name}.dead", "error": repr(exc_info[1])}},
        )
        settle(message, ack=False)


durable_event_handler = DurableEventHandler.decorator


class Tracing(DependencyProvider):
    """One span per nameko worker, child of the trace context the message carried.

    nameko has no OpenTelemetry instrumentation: the context arrives in ``worker_ctx.data``
    (the message's ``nameko.``-prefixed headers) and is made current for the worker.
    """

    def __init__(self) -> None:
        self._active: dict[Any, tuple[Any, object]] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        if not telemetry.enabled():
            return
        parent = telemetry.extract_context(worker_ctx.data)
        name = f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}"
        span = telemetry.tracer("cdrstats.nameko").start_span(name, context=parent, kind=SpanKind.CONSUMER)
        self._active[worker_ctx] = (span, telemetry.attach(trace.set_span_in_context(span, parent)))

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        active = self._active.get(worker_ctx)
        if active is not None and exc_info is not None:
            active[0].record_exception(exc_info[1])
            active[0].set_status(trace.Status(trace.StatusCode.ERROR, repr(exc_info[1])))

    def worker_teardown(self, worker_ctx: Any) -> None:
        active = self._active.pop(worker_ctx, None)
        if active is not None:
            span, token = active
            span.end()
            telemetry.detach(token)


SETTINGS_KEY = "CDRSTATS_SETTINGS"


def nameko_config(amqp_url: str, settings: Any) -> dict[str, Any]:
    """nameko's config, carrying the process's settings (read once in ``main``) to dependency providers."""
    return {"AMQP_URI": amqp_url, "SERIALIZER": "json", "max_workers": 10, SETTINGS_KEY: settings}


def run_services(services: list[type], config: dict[str, Any]) -> None:
    """Start the services and block until SIGTERM or SIGINT, then stop them gracefully.

    If a service container dies on its own (an error nameko cannot handle), the process exits with code 1:
    alive without its container it would answer health checks and consume nothing; dead, the supervisor
    (or Kubernetes) starts it again."""
    runner = ServiceRunner(config)
    for service in services:
        runner.add_service(service)
    stop_requested = eventlet.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("stopping on signal", extra={"fields": {"signal": signum}})
        if not stop_requested.ready():
            stop_requested.send(True)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    runner.start()
    log.info("worker started", extra={"fields": {"services": [s.name for s in services]}})  # type: ignore[attr-defined]
    runner_thread = eventlet.spawn(runner.wait)
    runner_thread.link(lambda _thread: None if stop_requested.ready() else stop_requested.send(False))
    if not stop_requested.wait():
        log.critical("service container died; exiting so that the worker is started again")
        with eventlet.Timeout(20, False):
            runner.kill()
        sys.exit(1)
    with eventlet.Timeout(20, False):
        runner.stop()
    runner_thread.kill()


def run_worker(service: str, worker: type, settings: Any, worker_alive: Callable[[], bool]) -> None:
    """A worker process's life: JSON logs, the admin port (healthy while the heartbeat is fresh), the
    nameko service until SIGTERM. ``settings`` needs ``log_level``, ``admin_port`` and ``amqp_url``."""
    setup_logging(service, "worker", settings.log_level)
    if telemetry.enabled() and not hasattr(worker, "tracing"):
        worker.tracing = Tracing()  # type: ignore[attr-defined]  # nameko collects providers from the class
    if not hasattr(worker, "task_failures"):  # repeated failures -> worker_task_failed -> admin e-mails
        worker.task_failures = TaskFailures()  # type: ignore[attr-defined]
    start_admin(settings.admin_port, worker_alive)
    try:
        run_services([worker], nameko_config(settings.amqp_url, settings))
    finally:
        telemetry.shutdown()
