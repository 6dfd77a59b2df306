"""Worker-failure alarms: a task that keeps failing tells the admins once, not on every failure.

``TaskFailures`` is a nameko DependencyProvider attached to every worker by ``run_worker``. It counts
consecutive failures per entrypoint (an event handler that raised — its message is parked in the
dead-letter queue — or a timer that raised) and after ``threshold`` in a row publishes ONE
``worker_task_failed`` event to ``<service>.events`` directly (no outbox: it must work when the store is
what fails). It publishes again only after a success reset the count, or ``repeat_s`` later if the
failures go on. The notify worker turns the event into e-mails to the admins (docs/notify.md).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider

from cdrstats_common import telemetry
from cdrstats_common.events import EventPublisher, make_envelope

log = logging.getLogger(__name__)

EVENT_TYPE = "worker_task_failed"
THRESHOLD = 3
REPEAT_S = 3600.0
MAX_ERROR_CHARS = 2000


@dataclasses.dataclass
class Streak:
    failures: int = 0
    error: str = ""
    reported_at: float | None = None


def publish_event(amqp_url: str, service: str, data: dict[str, Any]) -> None:
    """One confirmed publish on a connection of its own (rare: a new connection each time is fine)."""
    publisher = EventPublisher(amqp_url, service)
    try:
        publisher.publish(make_envelope(EVENT_TYPE, service, data), EVENT_TYPE, dict(telemetry.inject_headers({})))
    finally:
        publisher.close()


class TaskFailures(DependencyProvider):
    def __init__(
        self,
        threshold: int = THRESHOLD,
        repeat_s: float = REPEAT_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        publish: Callable[[str, str, dict[str, Any]], None] = publish_event,
    ) -> None:
        self.threshold = threshold
        self.repeat_s = repeat_s
        self.clock = clock
        self.publish = publish
        self.streaks: dict[str, Streak] = {}

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        entrypoint = str(worker_ctx.entrypoint.method_name)
        if exc_info is None:
            self.streaks.pop(entrypoint, None)
            return
        streak = self.streaks.setdefault(entrypoint, Streak())
        streak.failures += 1
        streak.error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()[:MAX_ERROR_CHARS]
        now = self.clock()
        if streak.failures < self.threshold:
            return
        if streak.reported_at is not None and now - streak.reported_at < self.repeat_s:
            return
        streak.reported_at = now
        service = str(worker_ctx.service_name)
        data = {
            "service": service,
            "entrypoint": entrypoint,
            "failures": streak.failures,
            "error": streak.error,
            "host": socket.gethostname(),
        }
        log.error("worker task keeps failing; admins are told", extra={"fields": data})
        try:
            self.publish(self.container.config["AMQP_URI"], service, data)
        except Exception as exc:  # noqa: BLE001 - the broker may be what fails: log it, try again next time
            streak.reported_at = None
            log.warning("worker_task_failed not published", extra={"fields": {"error": repr(exc)}})
