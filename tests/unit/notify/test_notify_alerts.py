"""Alert events to e-mails and webhooks, end to end in one process: AlertsService + DeliveriesService on a
real SQLite store, a real SMTP server and a real webhook receiver; a fake clock drives retries and
coalescing windows."""

from __future__ import annotations

import copy
import json
import pathlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.testing import free_port
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver
from cdrstats_notify.alerts_service import AlertsService
from cdrstats_notify.deliveries_service import DeliveriesService, InlineDispatcher
from cdrstats_notify.domain import webhook
from cdrstats_notify.domain.deliveries import Contacts, DeliveryFilter
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore, open_store

SECRET = "whsec"
EVENTS_DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "events.md"
T0 = 1_782_900_000.0  # 2026-07-01 10:00 UTC


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, store: NotifyStore, settings: NotifySettings, smtp: SmtpCapture, hooks: WebhookReceiver) -> None:
        self.store, self.settings, self.smtp, self.hooks = store, settings, smtp, hooks
        self.clock = Clock()
        self.alerts = AlertsService(store, settings, clock=self.clock)
        self.deliveries = DeliveriesService(store, settings, clock=self.clock, dispatcher=InlineDispatcher())


@pytest.fixture
def rig(tmp_path: pathlib.Path) -> Iterator[Rig]:
    with SmtpCapture() as smtp, WebhookReceiver() as hooks:
        settings = NotifySettings.from_env(
            {
                "CDRSTATS_DATA_DIR": str(tmp_path),
                "CDRSTATS_SMTP_HOST": "127.0.0.1",
                "CDRSTATS_SMTP_PORT": str(smtp.port),
                "CDRSTATS_SMTP_TIMEOUT_S": "5",
                "CDRSTATS_WEBHOOK_SECRET": SECRET,
                "CDRSTATS_WEBHOOK_TIMEOUT_S": "2",
                "CDRSTATS_PUBLIC_URL": "https://cdr.example.com/",
                "CDRSTATS_ADMIN_EMAILS": "root@example.com, ops@example.com",
                "CDRSTATS_TIME_ZONE": "Europe/Paris",
                "CDRSTATS_NOTIFY_RETRY_MAX_ATTEMPTS": "3",
            }
        )
        store = open_store(settings.store_url)
        yield Rig(store, settings, smtp, hooks)
        store.close()


def uid(name: str) -> str:
    """Event ids are UUIDs (the schemas say so); derived from a readable name for the assertions."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def alarm_event(event_id: str = "ev-alarm-1", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "alarm": {"id": "al-1", "name": "Low ASR", "owner": "customer:1", "metric": "asr", "condition": "lt",
                  "threshold": 40.0, "baseline": "", "window": "last_hour", "hangup_cause": 0},
        "scope": {"kind": "switch", "value": "sw1"},
        "window": {"start": "2026-07-01T09:00:00Z", "end": "2026-07-01T10:00:00Z"},
        "value": 31.5, "baseline": None, "threshold": 40.0, "attempts": 200, "evaluation_id": "e1",
        "state": "FIRING", "message": "ASR 31.5 % below 40 %", "link": "/cdrs?from=2026-07-01T09%3A00%3A00Z&switch=sw1",
        "recipients": {"emails": ["noc@example.com", "not an address"], "webhooks": []},
    }  # fmt: skip
    body.update(data)
    return {"schema": "cdrstats.alarm_triggered.v1", "id": uid(event_id), "time": "2026-07-01T10:00:01Z",
            "source": "alerting", "data": body}  # fmt: skip


def destination_event(index: int, owner: str = "customer:1", rule_id: str = "r1") -> dict[str, Any]:
    cdr = new_cdr(id=f"cdr-{index}", uuid=f"leg-{index}", source="api", disposition="NO_ANSWER", switch_id="sw1", caller_id_number="1001",
                  destination_number="00882123", destination_e164=f"+88212345{index:03d}", accountcode="acme",
                  start_time_us=int(T0 * 1e6) + index)  # fmt: skip
    return {"schema": "cdrstats.destination_alert.v1", "id": uid(f"ev-dest-{rule_id}-{index}"), "time": "2026-07-01T10:00:01Z",
            "source": "alerting", "data": {"hit": {"id": f"hit-{index}", "verdict": "black", "rule_id": rule_id,
            "rule": "black prefix 882", "owner": owner}, "cdr": cdr, "tenant": owner, "link": f"/cdrs/cdr-{index}"}}  # fmt: skip


def test_an_alarm_reaches_its_email_and_webhook_once(rig: Rig) -> None:
    event = alarm_event(recipients={"emails": ["noc@example.com", "not an address"], "webhooks": [rig.hooks.url()]})
    assert rig.alerts.on_event("alarm_triggered", event) is True
    assert rig.deliveries.deliver_due() == 2
    (received,) = rig.smtp.wait(1)
    assert received.recipients == ("noc@example.com",)
    assert received.message["Subject"] == "[CDR-Stats] ALARM: Low ASR — ASR 31.5 %"
    for part in (received.part("plain"), received.part("html")):
        assert (
            "31.5 %" in part
            and "https://cdr.example.com/cdrs?from=2026-07-01T09%3A00%3A00Z&switch=sw1" in part.replace("&amp;", "&")
        )
        assert "2026-07-01 11:00:00" in part  # 09:00 UTC in Paris (CEST)
    (request,) = rig.hooks.wait(1)
    body = json.loads(request.body)
    assert body["kind"] == "alarm_triggered" and body["count"] == 1
    assert body["events"][0]["id"] == uid("ev-alarm-1") and body["events"][0]["data"]["value"] == 31.5
    assert "recipients" not in body["events"][0]["data"]
    assert webhook.verify_signature(SECRET, request.headers["X-CDRStats-Signature"], request.body, now=T0)
    assert rig.alerts.on_event("alarm_triggered", event) is False  # redelivered: nothing again
    assert rig.deliveries.deliver_due() == 0
    log = rig.store.list_deliveries(DeliveryFilter(owner="customer:1"))
    assert {(d.channel, d.status, d.kind, d.reference) for d in log} == {
        ("email", "sent", "alarm_triggered", uid("ev-alarm-1")), ("webhook", "sent", "alarm_triggered", uid("ev-alarm-1")),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"data": {}}, "id"),
        ({"id": "x"}, "data"),
        ({"id": "x", "data": {"value": 1}}, r"data\.alarm"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(rig: Rig, event: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rig.alerts.on_event("alarm_triggered", event)
    with pytest.raises(ValueError, match="event type"):
        rig.alerts.on_event("something_else", alarm_event())


def test_a_dead_webhook_does_not_hold_up_the_email_and_is_retried_with_backoff(rig: Rig) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"
    rig.alerts.on_event("alarm_triggered", alarm_event(recipients={"emails": ["noc@example.com"], "webhooks": [dead]}))
    rig.deliveries.deliver_due()
    assert len(rig.smtp.wait(1)) == 1
    (hook,) = rig.store.list_deliveries(DeliveryFilter(channel="webhook"))
    assert (hook.status, hook.attempts) == ("pending", 1) and "ConnectionRefused" in hook.last_error
    wait_s = (hook.next_attempt_us - T0 * 1e6) / 1e6
    assert 15 <= wait_s <= 30  # 30 s base, up to half of it taken off by the jitter
    rig.clock.now = hook.next_attempt_us / 1e6
    rig.deliveries.deliver_due()
    rig.clock.now += 3600
    rig.deliveries.deliver_due()
    (given_up,) = rig.store.list_deliveries(DeliveryFilter(channel="webhook"))
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert given_up.last_error.startswith("gave up after 3 attempts: ")
    assert len(rig.smtp.mails) == 1


def test_a_refused_address_fails_at_once(rig: Rig) -> None:
    rig.smtp.refuse["gone@example.com"] = "550 5.1.1 no such user"
    rig.alerts.on_event("alarm_triggered", alarm_event(recipients={"emails": ["gone@example.com"]}))
    rig.deliveries.deliver_due()
    (delivery,) = rig.store.list_deliveries(DeliveryFilter())
    assert (delivery.status, delivery.attempts) == ("failed", 1) and "550" in delivery.last_error


def test_destination_alerts_are_coalesced_per_rule_and_recipient(rig: Rig) -> None:
    rig.store.save_contacts(Contacts("customer:1", ("fraud@acme.example",), (rig.hooks.url("/fraud"),)))
    for index in range(3):  # a burst: all three before the next delivery pass
        assert rig.alerts.on_event("destination_alert", destination_event(index))
    assert rig.alerts.on_event("destination_alert", destination_event(0)) is False
    assert rig.deliveries.deliver_due() == 2
    (first,) = rig.smtp.wait(1)
    assert first.message["Subject"] == "[CDR-Stats] Black-list alert: 3 calls matching black prefix 882"
    text = first.part("plain")
    assert all(f"+88212345{i:03d}" in text for i in range(3)) and "https://cdr.example.com/cdrs/cdr-2" in text
    (request,) = rig.hooks.wait(1)
    body = json.loads(request.body)
    assert body["count"] == 3 and [e["id"] for e in body["events"]] == [uid(f"ev-dest-r1-{i}") for i in range(3)]

    rig.clock.now += 60  # more hits within the window: they wait for its end, together
    for index in range(3, 5):
        rig.alerts.on_event("destination_alert", destination_event(index))
    assert rig.deliveries.deliver_due() == 0
    rig.clock.now = T0 + 300
    assert rig.deliveries.deliver_due() == 2
    second = rig.smtp.wait(2)[1]
    assert second.message["Subject"] == "[CDR-Stats] Black-list alert: 2 calls matching black prefix 882"
    assert "+88212345003" in second.part("html") and "+88212345000" not in second.part("html")
    assert json.loads(rig.hooks.wait(2)[1].body)["count"] == 2


def test_installation_rules_go_to_the_installation_contacts_and_the_admins(rig: Rig) -> None:
    rig.store.save_contacts(Contacts("", ("noc@example.com", "root@example.com")))
    rig.alerts.on_event("destination_alert", destination_event(1, owner=""))
    rig.alerts.on_event("destination_alert", destination_event(2, owner="customer:9"))  # no contacts: nobody
    rig.deliveries.deliver_due()
    mails = rig.smtp.wait(3)
    assert sorted(m.recipients[0] for m in mails) == ["noc@example.com", "ops@example.com", "root@example.com"]
    assert rig.store.delivery_counts()["deliveries"] == 3


def test_a_worker_failure_emails_the_admins(rig: Rig) -> None:
    rig.store.save_contacts(Contacts("", ("noc@example.com",), (rig.hooks.url(),)))
    event = {"schema": "cdrstats.worker_task_failed.v1", "id": "wf-1", "time": "2026-07-01T08:00:00Z",
             "source": "reporting", "data": {"service": "reporting", "entrypoint": "on_cdrs_ingested",
             "failures": 3, "error": "OperationalError: disk I/O error", "host": "pod-7"}}  # fmt: skip
    assert rig.alerts.on_event("worker_task_failed", copy.deepcopy(event))
    rig.deliveries.deliver_due()
    mails = rig.smtp.wait(3)
    assert sorted(m.recipients[0] for m in mails) == ["noc@example.com", "ops@example.com", "root@example.com"]
    assert mails[0].message["Subject"] == "[CDR-Stats] Worker task failing: reporting.on_cdrs_ingested (3 in a row)"
    assert "disk I/O error" in mails[0].part("plain") and "pod-7" in mails[0].part("html")
    assert rig.hooks.requests == []  # e-mail only
    assert not rig.alerts.on_event("worker_task_failed", event)


def test_the_sample_events_are_what_alerting_publishes() -> None:
    """The events these tests feed in validate against alerting's schemas in docs/events.md."""
    blocks = dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", EVENTS_DOC.read_text(), flags=re.S))
    for event in (alarm_event(recipients={"emails": ["noc@example.com"], "webhooks": []}), destination_event(1)):
        schema = json.loads(blocks[event["schema"]])
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(event)
