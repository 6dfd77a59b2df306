"""CDRs through ingest -> reporting -> alerting -> notify, as real processes: the alarm's e-mail and its signed
webhook arrive at a real SMTP server and a real HTTP receiver with the ASR the CDRs make (issue 5)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import kombu
import pytest
from pipeline_kit import ADMIN, PUBLIC_URL, WEBHOOK_SECRET, Pipeline, now_us

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats.notify.v1 import notify_pb2
from cdrstats_common.events import event_exchange
from cdrstats_common.testing import wait_for
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver

pytestmark = pytest.mark.integration

CALLS, ANSWERED = 8, 3  # ASR 37.5 %
EXPECTED_ASR = 37.5


def asr_alarm(emails: list[str], webhooks: list[str]) -> alerting_pb2.Alarm:
    return alerting_pb2.Alarm(
        name="ASR below 50 %",
        metric="asr",
        scope=alerting_pb2.AlarmScope(kind="all"),
        window="last_15m",
        condition="lt",
        threshold=50,
        min_attempts=5,
        cooldown_s=3600,
        enabled=True,
        emails=emails,
        webhooks=webhooks,
    )


def post_calls(pipeline: Pipeline) -> None:
    """CALLS calls that started in the last ten minutes, ANSWERED of them answered."""
    start = now_us() - 600_000_000
    for n in range(CALLS):
        reply = pipeline.post_call(answered=n < ANSWERED, start_us=start + n * 30_000_000)
        assert reply["status"] == "accepted", reply


def wait_until_reporting_has_them(pipeline: Pipeline, alarm: alerting_pb2.Alarm) -> None:
    """TestAlarm asks reporting without storing anything: all calls rolled up before the alarm exists."""

    def attempts() -> int:
        evaluation = pipeline.alerting.TestAlarm(alerting_pb2.TestAlarmRequest(scope=ADMIN, alarm=alarm), timeout=10)
        return int(evaluation.attempts)

    wait_for(lambda: attempts() == CALLS, timeout_s=30, what=f"reporting to count {CALLS} attempts")


def verify_signature(header: str, body: bytes) -> bool:
    """The receiver's check, written from the documented format ``t=<unix s>,v1=<hex HMAC-SHA256 of "t.body">``."""
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(WEBHOOK_SECRET.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_alarm_email_and_signed_webhook_carry_the_asr(
    pipeline: Pipeline, mailbox: SmtpCapture, webhooks: WebhookReceiver, amqp_url: str
) -> None:
    with kombu.Connection(amqp_url) as connection:
        # any AMQP client can follow notify's outcome: bind before anything is sent
        sent_events = connection.SimpleQueue(
            kombu.Queue("pipeline-test.notification_sent", event_exchange("notify"), routing_key="notification_sent")
        )
        post_calls(pipeline)
        alarm = asr_alarm(["noc@example.com"], [webhooks.url()])
        wait_until_reporting_has_them(pipeline, alarm)
        created = pipeline.alerting.CreateAlarm(alerting_pb2.SaveAlarmRequest(scope=ADMIN, alarm=alarm), timeout=10)

        try:
            (mail,) = mailbox.wait(1, timeout_s=45)
            (hook,) = webhooks.wait(1, timeout_s=10)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{pipeline.logs()}") from None

        evaluations = pipeline.alerting.ListEvaluations(
            alerting_pb2.ListEvaluationsRequest(scope=ADMIN, alarm_id=created.id), timeout=10
        ).evaluations
        fired = [e for e in evaluations if e.verdict == "breach" and e.published]
        assert len(fired) == 1, evaluations
        assert fired[0].value == pytest.approx(EXPECTED_ASR) and fired[0].attempts == CALLS
        assert fired[0].link.startswith(f"{PUBLIC_URL}/cdrs?")
        stored = pipeline.alerting.GetAlarm(alerting_pb2.AlarmRef(scope=ADMIN, id=created.id), timeout=10)
        assert stored.state == "FIRING" and stored.last_value == pytest.approx(EXPECTED_ASR)

        # the e-mail: to the alarm's recipient, the value in the subject and text, and the link to the CDRs
        assert mail.recipients == ("noc@example.com",) and mail.mail_from == "cdr-stats@pipeline.test"
        assert mail.message["From"] == "cdr-stats@pipeline.test"
        assert "37.5 %" in mail.message["Subject"], mail.message["Subject"]
        text = mail.part("plain")
        assert "ASR 37.5 % < 50 %" in text, text
        assert fired[0].link in text, text

        # the webhook: signed with the installation's key over the exact body, carrying the value
        headers, body = hook.headers, hook.body
        assert verify_signature(headers["X-CDRStats-Signature"], body), headers
        assert not verify_signature(headers["X-CDRStats-Signature"], body + b" ")
        assert headers["X-CDRStats-Event"] == "alarm_triggered"
        payload = json.loads(body)
        assert (payload["kind"], payload["count"]) == ("alarm_triggered", 1), payload
        (event,) = payload["events"]  # the alarm_triggered event itself, as on alerting.events
        assert event["schema"] == "cdrstats.alarm_triggered.v1" and event["data"]["alarm"]["id"] == created.id
        assert event["data"]["value"] == pytest.approx(EXPECTED_ASR) and event["data"]["attempts"] == CALLS
        assert fired[0].link in body.decode()

        # the delivery log and notify's own events agree: two messages sent, nothing pending or failed
        deliveries = pipeline.notify.ListDeliveries(
            notify_pb2.ListDeliveriesRequest(scope=notify_pb2.Scope(admin=True)), timeout=10
        ).deliveries
        assert sorted((d.channel, d.recipient, d.status, d.kind) for d in deliveries) == [
            ("email", "noc@example.com", "sent", "alarm_triggered"),
            ("webhook", webhooks.url(), "sent", "alarm_triggered"),
        ]
        notified = []
        wait_for(lambda: notified.extend(_drain(sent_events)) or len(notified) >= 2, what="notification_sent x2")
        assert sorted(n["data"]["channel"] for n in notified) == ["email", "webhook"]
        sent_events.close()

    # each process exposes its metrics in Prometheus text: evaluation time in alerting, sends in notify
    evaluated = pipeline.metrics("alerting-worker")
    assert evaluated[("cdrstats_alarm_evaluation_seconds_count", ())] >= 1
    assert evaluated[("cdrstats_alarm_evaluations_total", (("verdict", "breach"),))] >= 1
    sends = pipeline.metrics("notify-worker")
    for channel in ("email", "webhook"):
        assert sends[("cdrstats_notifications_total", (("channel", channel), ("result", "sent")))] == 1
    assert not [key for key, value in sends.items() if ("result", "failed") in key[1] and value]

    # a second evaluation of the same breach notifies nobody again (the alarm is FIRING, not re-triggered)
    time.sleep(2.5)
    assert len(mailbox.mails) == 1 and len(webhooks.requests) == 1


def _drain(queue: Any) -> list[dict[str, Any]]:
    bodies = []
    while True:
        try:
            message = queue.get(block=False)
        except queue.Empty:
            return bodies
        bodies.append(message.payload)
        message.ack()
