"""proto <-> domain for destination control (alerting) and notification settings (notify); nothing else."""

from __future__ import annotations

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats.notify.v1 import notify_pb2
from cdrstats_gateway.domain.control import (
    ControlScope,
    Delivery,
    GeoRule,
    Hit,
    ListEntry,
    MailReport,
    mask_url_passwords,
)


def alerting_scope(scope: ControlScope) -> alerting_pb2.Scope:
    return alerting_pb2.Scope(admin=scope.admin, tenant=scope.tenant, allowed_accountcodes=list(scope.accountcodes))


def notify_scope(scope: ControlScope) -> notify_pb2.Scope:
    return notify_pb2.Scope(admin=scope.admin, tenant=scope.tenant, allowed_accountcodes=list(scope.accountcodes))


def entry_to_proto(entry: ListEntry) -> alerting_pb2.ListEntry:
    return alerting_pb2.ListEntry(
        id=entry.id, list=entry.list, owner=entry.owner, prefix=entry.prefix, country=entry.country, note=entry.note
    )


def entry_from_proto(m: alerting_pb2.ListEntry) -> ListEntry:
    return ListEntry(m.id, m.list, m.owner, m.prefix, m.country, m.note, m.created_us)


def rule_to_proto(rule: GeoRule) -> alerting_pb2.GeoRule:
    return alerting_pb2.GeoRule(
        id=rule.id, switch_id=rule.switch_id, mode=rule.mode, countries=list(rule.countries), note=rule.note
    )


def rule_from_proto(m: alerting_pb2.GeoRule) -> GeoRule:
    return GeoRule(m.id, m.owner, m.switch_id, m.mode, tuple(m.countries), m.note, m.created_us)


def hit_from_proto(m: alerting_pb2.Hit) -> Hit:
    return Hit(
        m.id,
        m.cdr_id,
        m.switch_id,
        m.accountcode,
        m.destination_e164,
        m.country,
        m.verdict,
        m.rule_id,
        m.rule,
        m.owner,
        m.start_us,
        m.time_us,
    )


def report_to_proto(report: MailReport) -> notify_pb2.MailReport:
    return notify_pb2.MailReport(
        owner=report.owner,
        daily=report.daily,
        weekly=report.weekly,
        hour=report.hour,
        weekday=report.weekday,
        recipients=list(report.recipients),
        switch_id=report.switch_id,
    )


def report_from_proto(m: notify_pb2.MailReport) -> MailReport:
    return MailReport(
        owner=m.owner,
        daily=m.daily,
        weekly=m.weekly,
        hour=m.hour,
        weekday=m.weekday or 1,
        recipients=tuple(m.recipients),
        switch_id=m.switch_id,
        last_daily_period=m.last_daily_period,
        last_weekly_period=m.last_weekly_period,
        time_zone=m.time_zone,
    )


def delivery_from_proto(m: notify_pb2.Delivery) -> Delivery:
    return Delivery(
        m.id,
        m.owner,
        m.channel,
        mask_url_passwords(m.recipient),
        m.kind,
        m.reference,
        m.subject,
        m.status,
        m.attempts,
        mask_url_passwords(m.last_error),
        m.created_us,
        m.next_attempt_us,
        m.sent_us,
    )


def mail_request(
    scope: ControlScope, owner: str, kind: str, period: str, draft: MailReport | None
) -> notify_pb2.MailReportRequest:
    request = notify_pb2.MailReportRequest(scope=notify_scope(scope), owner=owner, kind=kind, period=period)
    if draft is not None:
        request.draft.CopyFrom(report_to_proto(draft))
    return request
