"""Demo alarms, destination rules and a mail report, made through alerting's and notify's gRPC APIs.

Loaded once, on a fresh data directory, so the alarm, list and mail-report pages show something real:
the alarms evaluate against the demo traffic, the rules flag the demo's premium-rate and Nigerian calls,
and every mail they cause lands in the run's mail folder (the local catcher).
"""

from __future__ import annotations

import logging

import grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc

log = logging.getLogger(__name__)

NOC = "noc@example.com"
TIMEOUT_S = 30


def admin_alarms() -> list[alerting_pb2.Alarm]:
    """The installation's alarms: a quality alarm on every switch and a run of failed calls."""
    return [
        alerting_pb2.Alarm(
            name="ASR below 40 % (last hour, all switches)",
            metric="asr",
            scope=alerting_pb2.AlarmScope(kind="all"),
            window="last_hour",
            condition="lt",
            threshold=40,
            min_attempts=20,
            cooldown_s=3600,
            enabled=True,
            emails=[NOC],
        ),
        alerting_pb2.Alarm(
            name="More than 10 unanswered calls in a row",
            metric="cic",
            scope=alerting_pb2.AlarmScope(kind="all"),
            window="last_hour",
            condition="gt",
            threshold=10,
            cooldown_s=1800,
            enabled=True,
            emails=[NOC],
        ),
    ]


def customer_alarm() -> alerting_pb2.Alarm:
    """The demo customer's own alarm (it sees and edits it in the UI; the admin sees every alarm)."""
    return alerting_pb2.Alarm(
        name="Acme: ACD below 30 s today",
        metric="acd",
        scope=alerting_pb2.AlarmScope(kind="accountcode", value="acme"),
        window="day",
        condition="lt",
        threshold=30,
        min_attempts=10,
        cooldown_s=6 * 3600,
        enabled=True,
        emails=["telecom@acme.example.com"],
    )


def create_installation_demo(alerting_addr: str, notify_addr: str) -> bool:
    """Admin alarms, a black-list entry, a geo rule, the installation's contacts and the daily mail report;
    False when alarms exist already."""
    admin = alerting_pb2.Scope(admin=True)
    with grpc.insecure_channel(alerting_addr) as channel:
        alerting = alerting_pb2_grpc.AlertingServiceStub(channel)
        if alerting.ListAlarms(alerting_pb2.ListAlarmsRequest(scope=admin), timeout=TIMEOUT_S).alarms:
            return False
        for alarm in admin_alarms():
            alerting.CreateAlarm(alerting_pb2.SaveAlarmRequest(scope=admin, alarm=alarm), timeout=TIMEOUT_S)
        alerting.CreateListEntries(
            alerting_pb2.CreateListEntriesRequest(
                scope=admin,
                entries=[alerting_pb2.ListEntry(list="black", prefix="4490", note="UK premium rate (fraud target)")],
                **{"global": True},  # a Python keyword: the field is set by name
            ),
            timeout=TIMEOUT_S,
        )
        alerting.SaveGeoRule(
            alerting_pb2.SaveGeoRuleRequest(
                scope=admin,
                rule=alerting_pb2.GeoRule(mode="forbid", countries=["NG"], note="no traffic to Nigeria"),
                **{"global": True},
            ),
            timeout=TIMEOUT_S,
        )
    with grpc.insecure_channel(notify_addr) as channel:
        notify = notify_pb2_grpc.NotifyServiceStub(channel)
        # destination alerts of global rules go to the installation's contacts: the demo's land in var/mail
        notify.SaveContacts(
            notify_pb2.SaveContactsRequest(
                scope=notify_pb2.Scope(admin=True), contacts=notify_pb2.Contacts(owner="", emails=[NOC])
            ),
            timeout=TIMEOUT_S,
        )
        notify.SaveMailReport(
            notify_pb2.SaveMailReportRequest(
                scope=notify_pb2.Scope(admin=True),
                report=notify_pb2.MailReport(owner="", daily=True, hour=7, recipients=[NOC]),
            ),
            timeout=TIMEOUT_S,
        )
    log.info("demo alarms, black list, geo rule and daily mail report created")
    return True


def create_customer_demo(alerting_addr: str, tenant: str, name: str, accountcodes: list[str]) -> None:
    """The customer's alarm, made in the customer's own scope (owner = its tenant)."""
    scope = alerting_pb2.Scope(admin=False, tenant=tenant, allowed_accountcodes=accountcodes)
    with grpc.insecure_channel(alerting_addr) as channel:
        alerting = alerting_pb2_grpc.AlertingServiceStub(channel)
        # the gateway pushes the same in the background; pushed here too, alerting knows the codes now
        alerting.SetTenant(alerting_pb2.Tenant(id=tenant, accountcodes=accountcodes, name=name), timeout=TIMEOUT_S)
        if alerting.ListAlarms(alerting_pb2.ListAlarmsRequest(scope=scope), timeout=TIMEOUT_S).alarms:
            return
        alerting.CreateAlarm(alerting_pb2.SaveAlarmRequest(scope=scope, alarm=customer_alarm()), timeout=TIMEOUT_S)
