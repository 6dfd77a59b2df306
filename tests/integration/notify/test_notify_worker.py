"""The real notify worker process on a RabbitMQ vhost with a real SMTP server and real webhook receivers:
alarm events become e-mails and signed webhooks; a failing receiver is retried with backoff while other
deliveries go on; redelivered events send nothing twice; notification_* events are published and valid;
a worker task that keeps failing ends in ONE e-mail to the admins."""

from __future__ import annotations

import contextlib
import itertools
import json
import pathlib
import re
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import kombu
import pytest

from cdrstats_common.events import EventPublisher, event_exchange, make_envelope
from cdrstats_common.testing import ServiceProcess, queue_exists, wait_for
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver
from cdrstats_notify.domain import webhook
from cdrstats_notify.domain.deliveries import DeliveryFilter
from cdrstats_notify.store import open_store

pytestmark = pytest.mark.integration

SECRET = "integration-secret"
DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "events.md"
ALARM_QUEUE = "evt-alerting-alarm_triggered--notify.on_alarm_triggered"
FAILED_QUEUE = "evt-notify-worker_task_failed--notify.on_notify_task_failed"


def validate(envelope: dict[str, Any]) -> None:
    blocks = dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", DOC.read_text(), flags=re.S))
    schema = json.loads(blocks[envelope["schema"]])
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(envelope)


def alarm_data(name: str, emails: list[str], webhooks: list[str]) -> dict[str, Any]:
    return {
        "alarm": {"id": f"al-{name}", "name": name, "owner": "", "metric": "asr", "hangup_cause": 0, "condition": "lt",
                  "threshold": 40.0, "baseline": "", "window": "last_hour"},
        "scope": {"kind": "all", "value": ""},
        "window": {"start": "2026-07-01T09:00:00Z", "end": "2026-07-01T10:00:00Z"},
        "value": 12.5, "baseline": None, "threshold": 40.0, "attempts": 80, "evaluation_id": "ev", "state": "FIRING",
        "message": "ASR fell", "link": "/cdrs?from=2026-07-01T09%3A00%3A00Z",
        "recipients": {"emails": emails, "webhooks": webhooks},
    }  # fmt: skip


class Events:
    """A queue of our own bound to notify.events: what the worker publishes."""

    def __init__(self, connection: kombu.Connection) -> None:
        exchange = event_exchange("notify")
        self.queue = kombu.Queue(
            "test-notify-events",
            exchange=exchange,
            bindings=[kombu.binding(exchange, routing_key=key) for key in ("notification_sent", "notification_failed", "worker_task_failed")],
            durable=False,
            auto_delete=False,
        )  # fmt: skip
        self.simple = connection.SimpleQueue(self.queue)
        self.seen: list[dict[str, Any]] = []

    def collect(self, until: Any, timeout_s: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while not until(self.seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for events; got {[e['schema'] for e in self.seen]}")
            with contextlib.suppress(self.simple.Empty):
                message = self.simple.get(timeout=0.5)
                self.seen.append(json.loads(message.body) if isinstance(message.body, str | bytes) else message.payload)
                message.ack()
        return self.seen


@contextlib.contextmanager
def notify_worker(tmp_path: pathlib.Path, amqp_url: str, smtp: SmtpCapture) -> Iterator[tuple[ServiceProcess, Any]]:
    env = {
        "AMQP_URL": amqp_url,
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "CDRSTATS_SMTP_HOST": "127.0.0.1",
        "CDRSTATS_SMTP_PORT": str(smtp.port),
        "CDRSTATS_WEBHOOK_SECRET": SECRET,
        "CDRSTATS_WEBHOOK_TIMEOUT_S": "2",
        "CDRSTATS_PUBLIC_URL": "https://cdr.example.com",
        "CDRSTATS_ADMIN_EMAILS": "admin@example.com",
        "CDRSTATS_NOTIFY_RETRY_BASE_S": "1",
        "CDRSTATS_NOTIFY_RETRY_MAX_DELAY_S": "2",
    }
    worker = ServiceProcess("cdrstats_notify.worker", env, str(tmp_path / "worker.log"))
    store = open_store(f"sqlite:///{tmp_path}/notify.db")
    try:
        wait_for(store.worker_alive, timeout_s=30, what="notify worker heartbeat")
        yield worker, store
    finally:
        store.close()
        assert worker.stop() == 0, worker.log_text()[-3000:]


def test_alarm_to_email_and_webhooks_with_retries_once(tmp_path: pathlib.Path, amqp_url: str) -> None:
    with (
        SmtpCapture() as smtp,
        WebhookReceiver() as flaky,
        WebhookReceiver() as hanging,
        kombu.Connection(amqp_url) as connection,
    ):
        flaky.statuses = [500, 500]  # down for two attempts, then up
        hanging.delay_s = 20  # answers after the sender's hard limit: one slot busy, nothing else waits
        events = Events(connection)
        with notify_worker(tmp_path, amqp_url, smtp) as (worker, store):
            wait_for(lambda: queue_exists(connection, ALARM_QUEUE), what="the worker's alarm queue")
            publisher = EventPublisher(amqp_url, "alerting")
            data = alarm_data("Low ASR", ["noc@example.com"], [flaky.url("/in"), hanging.url("/slow")])
            envelope = make_envelope("alarm_triggered", "alerting", data)
            validate(envelope)  # what alerting publishes (its schema in docs/events.md)
            started = time.monotonic()
            publisher.publish(envelope, "alarm_triggered")

            (mail,) = smtp.wait(1, timeout_s=15)
            assert time.monotonic() - started < 5  # not held up by the failing or the hanging receiver
            assert mail.message["Subject"] == "[CDR-Stats] ALARM: Low ASR — ASR 12.5 %"
            link = "https://cdr.example.com/cdrs?from=2026-07-01T09%3A00%3A00Z"
            assert "12.5 %" in mail.part("plain") and link in mail.part("plain")
            assert "12.5 %" in mail.part("html") and link.replace("&", "&amp;") in mail.part("html")

            # while the hanging receiver still holds its slot, the next event's e-mail goes out at once
            hanging.wait(1, timeout_s=10)
            second = make_envelope("alarm_triggered", "alerting", alarm_data("Second", ["noc@example.com"], []))
            sent_at = time.monotonic()
            publisher.publish(second, "alarm_triggered")
            smtp.wait(2, timeout_s=10)
            assert time.monotonic() - sent_at < 3.5

            attempts = flaky.wait(3, timeout_s=20)
            assert [a.status for a in attempts] == [500, 500, 200]
            gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(attempts)]
            assert all(gap >= 0.4 for gap in gaps), gaps  # backoff: not retried in a tight loop
            delivered = attempts[-1]
            assert webhook.verify_signature(SECRET, delivered.headers["X-CDRStats-Signature"], delivered.body)
            assert len({a.headers["X-CDRStats-Delivery"] for a in attempts}) == 1  # the same delivery, retried
            body = json.loads(delivered.body)
            assert body["events"][0]["id"] == envelope["id"] and "recipients" not in body["events"][0]["data"]

            publisher.publish(envelope, "alarm_triggered")  # redelivered: nothing is sent twice
            publisher.close()
            seen = events.collect(
                lambda seen: sum(e["schema"] == "cdrstats.notification_sent.v1" for e in seen) >= 3
                and any(e["data"].get("final") is False and "/slow" in e["data"]["recipient"] for e in seen)
            )
            time.sleep(2)
            assert len(smtp.mails) == 2 and len(flaky.wait(3)) == 3
            for event in seen:
                validate(event)
            flaky_events = [e for e in seen if e["data"]["recipient"] == flaky.url("/in")]
            assert [(e["schema"].split(".")[1], e["data"]["attempts"]) for e in flaky_events] == [
                ("notification_failed", 1), ("notification_failed", 2), ("notification_sent", 3),
            ]  # fmt: skip
            assert flaky_events[0]["data"]["error"] == "HTTP 500 Internal Server Error"
            slow = store.list_deliveries(DeliveryFilter(channel="webhook"))
            assert any(d.recipient.endswith("/slow") and "timed out" in d.last_error for d in slow)
            assert "worker_task_failed" not in worker.log_text()


def test_a_task_that_keeps_failing_emails_the_admins_once(tmp_path: pathlib.Path, amqp_url: str) -> None:
    with SmtpCapture() as smtp, kombu.Connection(amqp_url) as connection:
        events = Events(connection)
        with notify_worker(tmp_path, amqp_url, smtp) as (worker, _store):
            wait_for(lambda: queue_exists(connection, ALARM_QUEUE), what="the worker's alarm queue")
            wait_for(lambda: queue_exists(connection, FAILED_QUEUE), what="the worker-failure queue")
            publisher = EventPublisher(amqp_url, "alerting")
            for _ in range(5):  # malformed: each is parked in the dead-letter queue
                publisher.publish(make_envelope("alarm_triggered", "alerting", {"value": 1}), "alarm_triggered")
            publisher.close()
            (mail,) = smtp.wait(1, timeout_s=20)
            assert mail.recipients == ("admin@example.com",)
            assert mail.message["Subject"] == "[CDR-Stats] Worker task failing: notify.on_alarm_triggered (3 in a row)"
            assert "data.alarm: expected an object with an id" in mail.part("plain")
            (failed,) = [e for e in events.collect(lambda seen: len(seen) >= 2) if "worker_task_failed" in e["schema"]]
            validate(failed)
            assert (failed["source"], failed["data"]["entrypoint"], failed["data"]["failures"]) == (
                "notify", "on_alarm_triggered", 3,
            )  # fmt: skip
            time.sleep(2)
            assert len(smtp.mails) == 1  # failures 4 and 5 do not mail again
            assert "message parked in dead-letter queue" in worker.log_text()
