"""Sending queued deliveries: each due one on its own greenthread, with a hard time limit, its outcome
recorded with backoff (``domain.backoff``), so a slow or dead destination holds one slot, never the queue.

Each pass claims at most as many deliveries as there are free slots, and returns at once: a pass never
waits for a send, so a new e-mail is picked up on the next tick while a webhook receiver hangs.
In processes without eventlet (the api, tests) the sends run inline.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from opentelemetry.trace import SpanKind

from cdrstats_common import prom, telemetry
from cdrstats_notify.domain.backoff import US
from cdrstats_notify.domain.deliveries import EMAIL, Delivery
from cdrstats_notify.senders import Sender, SendResult, SmtpSender, WebhookSender
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store.deliveries_interface import DeliveryStore

log = logging.getLogger(__name__)

POOL_SIZE = 20  # sends in flight per worker process
INLINE_BATCH = 100
DRAIN_S = 10.0  # on stop: how long sends in flight may finish
#: a claim outlasts its send's hard limit by this much (time to record the outcome); a worker that dies
#: mid-send (kill -9, OOM, a stop that cut the drain short) holds its deliveries only that long
LEASE_MARGIN_S = 30.0


class SendTimeout(Exception):
    """A send ran past its hard limit (a receiver that trickles its answer)."""


class Dispatcher(Protocol):
    def free(self) -> int: ...
    def spawn(self, fn: Callable[[], None]) -> None: ...
    def time_limit(self, seconds: float) -> contextlib.AbstractContextManager[None]: ...
    def drain(self, timeout_s: float) -> None: ...


class InlineDispatcher:
    """Runs each send at once, in the caller (no eventlet; socket timeouts still bound it)."""

    def free(self) -> int:
        return INLINE_BATCH

    def spawn(self, fn: Callable[[], None]) -> None:
        fn()

    def time_limit(self, seconds: float) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def drain(self, timeout_s: float) -> None:
        return None


class GreenDispatcher:
    """An eventlet GreenPool: sends run concurrently; ``time_limit`` is a hard eventlet timeout."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        import eventlet

        self.pool = eventlet.GreenPool(size)

    def free(self) -> int:
        return int(self.pool.free())

    def spawn(self, fn: Callable[[], None]) -> None:
        self.pool.spawn(fn)

    @contextlib.contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        import eventlet

        with eventlet.Timeout(seconds, SendTimeout(f"no answer within {seconds:g} s")):
            yield

    def drain(self, timeout_s: float) -> None:
        """Wait for the sends in flight, then stop the rest (their lease runs out and they are sent again)."""
        import eventlet

        with eventlet.Timeout(timeout_s, False):
            self.pool.waitall()
        for thread in list(self.pool.coroutines_running):
            thread.kill()


def default_dispatcher() -> Dispatcher:
    """Green when this process is monkey-patched by eventlet (the worker), inline otherwise."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        return GreenDispatcher()
    return InlineDispatcher()


class DeliveriesService:
    def __init__(
        self,
        store: DeliveryStore,
        settings: NotifySettings,
        *,
        clock: Callable[[], float] = time.time,
        dispatcher: Dispatcher | None = None,
        senders: dict[str, Sender] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.policy = settings.retry
        self.dispatcher = dispatcher or default_dispatcher()
        self.senders = senders or {
            EMAIL: SmtpSender(settings.smtp, clock),
            "webhook": WebhookSender(settings.webhook_secret, settings.webhook_timeout_s, clock),
        }
        self.limits = {EMAIL: settings.smtp.timeout_s * 3, "webhook": settings.webhook_timeout_s * 2}
        # no send lives past its limit, so nobody can still be sending a delivery whose lease ran out
        self.lease_us = int((max(self.limits.values()) + LEASE_MARGIN_S) * US)

    def drain(self, timeout_s: float = DRAIN_S) -> None:
        self.dispatcher.drain(timeout_s)

    def now_us(self) -> int:
        return int(self.clock() * US)

    def deliver_due(self) -> int:
        """Start every due delivery there is a free slot for; returns how many were started."""
        free = self.dispatcher.free()
        if free <= 0:
            return 0
        batch = self.store.due(self.now_us(), free, lease_us=self.lease_us)
        for delivery in batch:
            self.dispatcher.spawn(functools.partial(self._deliver_logged, delivery))
        return len(batch)

    def _deliver_logged(self, delivery: Delivery) -> None:
        try:
            self.deliver(delivery)
        except Exception:  # the lease runs out and the delivery is tried again; the pool must live on
            log.exception("recording a delivery failed", extra={"fields": {"delivery_id": delivery.id}})

    def deliver(self, delivery: Delivery, *, retry: bool = True) -> Delivery | None:
        """Send one claimed delivery and record the outcome; ``retry=False`` gives up on the first failure."""
        with telemetry.span_from_headers(
            "smtp send" if delivery.channel == EMAIL else "webhook send",
            delivery.trace,
            SpanKind.CLIENT,
            delivery_id=delivery.id,
            channel=delivery.channel,
            delivery_kind=delivery.kind,
        ):
            result = self._attempt(delivery)
            return self._record(delivery, result, retry=retry)

    def _attempt(self, delivery: Delivery) -> SendResult:
        sender = self.senders[delivery.channel]
        try:
            with self.dispatcher.time_limit(self.limits[delivery.channel]):
                return sender.send(delivery)
        except SendTimeout as exc:
            return SendResult(False, f"timed out: {exc}")
        except Exception as exc:  # a sender bug must not lose the delivery: retry it, logged
            log.exception("sender failed", extra={"fields": {"delivery_id": delivery.id}})
            return SendResult(False, f"{type(exc).__name__}: {exc}")

    def _record(self, delivery: Delivery, result: SendResult, *, retry: bool) -> Delivery | None:
        now = self.now_us()
        fields = {"delivery_id": delivery.id, "channel": delivery.channel, "kind": delivery.kind}
        if result.ok:
            prom.NOTIFICATIONS.labels(delivery.channel, "sent").inc()
            log.info("delivery sent", extra={"fields": fields})
            return self.store.mark_sent(delivery.id, now)
        attempts = delivery.attempts + 1
        next_at = None
        if retry and not result.permanent:
            next_at = self.policy.next_attempt_us(
                attempts, delivery.created_us, now, retry_after_s=result.retry_after_s
            )
        if next_at is None:
            prom.NOTIFICATIONS.labels(delivery.channel, "failed").inc()
            error = (
                result.error if result.permanent or not retry else f"gave up after {attempts} attempts: {result.error}"
            )
            log.warning("delivery failed", extra={"fields": {**fields, "error": error}})
            return self.store.mark_failed(delivery.id, now, error)
        prom.NOTIFICATIONS.labels(delivery.channel, "retry").inc()
        log.info("delivery will be retried", extra={"fields": {**fields, "error": result.error, "attempts": attempts}})
        return self.store.mark_retry(delivery.id, now, next_at, result.error)
