"""The mail-report RPCs of NotifyService: proto <-> domain, owner rules, domain errors -> status codes.

Owner rules (notify.proto): an admin names any owner ("" = the all-switch report); a customer always
gets its own tenant, and naming another owner is NOT_FOUND (other tenants are never confirmed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn, TypeVar

import grpc

from cdrstats.notify.v1 import notify_pb2
from cdrstats_notify.domain.mail_report import TENANT_PREFIX, InvalidMailReport, Schedule, valid_owner
from cdrstats_notify.report_source import ReportSourceError
from cdrstats_notify.reports_service import Preview, ReportsService, UnknownTenant
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore

Ctx = grpc.aio.ServicerContext
T = TypeVar("T")

_STATUS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InvalidMailReport, grpc.StatusCode.INVALID_ARGUMENT),
    (UnknownTenant, grpc.StatusCode.FAILED_PRECONDITION),
    (ReportSourceError, grpc.StatusCode.UNAVAILABLE),
)


async def _abort(context: Ctx, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("abort raises")  # pragma: no cover


async def _call(context: Ctx, fn: Callable[[], T]) -> T:
    """Run a blocking use-case (store, sync gRPC to reporting/ingest) in a thread; map its errors once, here."""
    try:
        return await asyncio.to_thread(fn)
    except tuple(error for error, _ in _STATUS) as exc:
        code = next(code for error, code in _STATUS if isinstance(exc, error))
        await _abort(context, code, str(exc))


async def _owner(context: Ctx, scope: notify_pb2.Scope, requested: str) -> str:
    if scope.admin:
        if not valid_owner(requested):
            await _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"owner: expected '' (the installation) or a tenant id 'customer:<id>', got {requested!r}",
            )
        return requested
    tenant = scope.tenant
    if not tenant.startswith(TENANT_PREFIX) or not valid_owner(tenant):
        await _abort(context, grpc.StatusCode.PERMISSION_DENIED, "scope: a customer request needs its tenant id")
    if requested and requested != tenant:
        await _abort(context, grpc.StatusCode.NOT_FOUND, f"owner: no mail report for {requested!r}")
    return tenant


def schedule_from_proto(owner: str, report: notify_pb2.MailReport) -> Schedule:
    return Schedule(
        owner=owner,
        daily=report.daily,
        weekly=report.weekly,
        hour=report.hour,
        weekday=report.weekday or 1,
        recipients=tuple(report.recipients),
        switch_id=report.switch_id.strip(),
    )


def schedule_to_proto(schedule: Schedule, time_zone: str) -> notify_pb2.MailReport:
    return notify_pb2.MailReport(
        owner=schedule.owner,
        daily=schedule.daily,
        weekly=schedule.weekly,
        hour=schedule.hour,
        weekday=schedule.weekday,
        recipients=list(schedule.recipients),
        switch_id=schedule.switch_id,
        last_daily_period=schedule.last_daily_period,
        last_weekly_period=schedule.last_weekly_period,
        time_zone=time_zone,
    )


def rendered_to_proto(preview: Preview) -> notify_pb2.RenderedMail:
    return notify_pb2.RenderedMail(
        subject=preview.rendered.subject,
        text=preview.rendered.text,
        html=preview.rendered.html,
        recipients=list(preview.recipients),
        period=preview.period.label,
        period_start_us=preview.period.start_us,
        period_end_us=preview.period.end_us,
    )


class MailReportsApi:
    """GetMailReport, SaveMailReport, PreviewMailReport, SendMailReport (mixed into NotifyServicer)."""

    store: NotifyStore
    settings: NotifySettings
    _reports_service: ReportsService | None = None

    @property
    def reports_service(self) -> ReportsService:
        """Built on first use from the servicer's store and settings; tests may assign their own (a fixed clock)."""
        if self._reports_service is None:
            self._reports_service = ReportsService(self.store, self.settings)
        return self._reports_service

    @reports_service.setter
    def reports_service(self, service: ReportsService) -> None:
        self._reports_service = service

    async def GetMailReport(self, request: notify_pb2.OwnerRequest, context: Ctx) -> notify_pb2.MailReport:
        owner = await _owner(context, request.scope, request.owner)
        schedule = await _call(context, lambda: self.reports_service.schedule(owner))
        return schedule_to_proto(schedule, self.settings.time_zone)

    async def SaveMailReport(self, request: notify_pb2.SaveMailReportRequest, context: Ctx) -> notify_pb2.MailReport:
        owner = await _owner(context, request.scope, request.report.owner)
        schedule = schedule_from_proto(owner, request.report)
        saved = await _call(context, lambda: self.reports_service.save(schedule))
        return schedule_to_proto(saved, self.settings.time_zone)

    async def PreviewMailReport(self, request: notify_pb2.MailReportRequest, context: Ctx) -> notify_pb2.RenderedMail:
        owner = await _owner(context, request.scope, request.owner)
        draft = schedule_from_proto(owner, request.draft) if request.HasField("draft") else None
        preview = await _call(context, lambda: self.reports_service.preview(owner, request.kind, request.period, draft))
        return rendered_to_proto(preview)

    async def SendMailReport(self, request: notify_pb2.MailReportRequest, context: Ctx) -> notify_pb2.SendReply:
        owner = await _owner(context, request.scope, request.owner)
        draft = schedule_from_proto(owner, request.draft) if request.HasField("draft") else None
        ids, period = await _call(
            context, lambda: self.reports_service.send_now(owner, request.kind, request.period, draft)
        )
        return notify_pb2.SendReply(delivery_ids=ids, message=f"queued {len(ids)} e-mail(s) for {period.label}")
