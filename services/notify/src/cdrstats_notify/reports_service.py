"""Mail-report use-cases: save a schedule, preview a period, send it now, and queue the scheduled ones.

E-mails are never sent from here: they are queued as deliveries (channel "email", kind "mail_report",
reference "<owner>:daily:2026-11-26") and the deliveries service sends them with retries. A scheduled
report is queued together with its "sent" watermark (``claim_report_period``), so it goes out once per
owner, kind and period whatever restarts or overlapping timer runs happen.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import zoneinfo
from collections.abc import Callable

from cdrstats_notify.domain.deliveries import EMAIL, Delivery
from cdrstats_notify.domain.mail_report import (
    KINDS,
    OWNER_ADMIN,
    InvalidMailReport,
    Period,
    Schedule,
    due_period,
    last_complete,
    parse_period,
    validated,
)
from cdrstats_notify.domain.mail_report_data import ReportContent
from cdrstats_notify.report_render import RenderedReport, render, report_link
from cdrstats_notify.report_source import ReportScope, ReportSource, ReportSourceError, run_io
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore

log = logging.getLogger(__name__)
KIND = "mail_report"


class UnknownTenant(Exception):
    """A tenant notify has no account codes for (the gateway has not sent SetTenant yet)."""


@dataclasses.dataclass(frozen=True)
class Preview:
    rendered: RenderedReport
    recipients: tuple[str, ...]
    period: Period


def reference(owner: str, kind: str, period: str) -> str:
    return f"{owner}:{kind}:{period}"


class ReportsService:
    def __init__(
        self,
        store: NotifyStore,
        settings: NotifySettings,
        *,
        clock: Callable[[], float] = time.time,
        source: ReportSource | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(settings.time_zone)
        self.source = source or ReportSource(
            settings.reporting_grpc_addr, settings.ingest_grpc_addr, settings.time_zone
        )

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    # -- settings -----------------------------------------------------------------------------

    def schedule(self, owner: str) -> Schedule:
        """The saved schedule, or the defaults (nothing switched on) when none was saved."""
        self._tenant(owner)
        return self.store.get_mail_report(owner) or Schedule(owner)

    def save(self, schedule: Schedule) -> Schedule:
        """Validate and store; switching a kind on starts its schedule now (no backlog is sent)."""
        schedule = validated(schedule)
        self._tenant(schedule.owner)
        if (schedule.daily or schedule.weekly) and not self.recipients(schedule):
            raise InvalidMailReport("recipients: at least one e-mail address is needed to send the report")
        stored = self.store.get_mail_report(schedule.owner)
        now = self.now_us()
        since = {kind: 0 for kind in KINDS}
        for kind in KINDS:
            if schedule.enabled(kind):  # on since it was switched on: keep that time, else now
                since[kind] = stored.since_us(kind) if stored is not None and stored.enabled(kind) else now
        return self.store.save_mail_report(
            dataclasses.replace(schedule, daily_since_us=since["daily"], weekly_since_us=since["weekly"])
        )

    def recipients(self, schedule: Schedule) -> tuple[str, ...]:
        """The configured recipients; the admin report falls back to CDRSTATS_ADMIN_EMAILS."""
        if schedule.recipients:
            return schedule.recipients
        return tuple(self.settings.admin_emails) if schedule.owner == OWNER_ADMIN else ()

    # -- one report -----------------------------------------------------------------------------

    def preview(self, owner: str, kind: str, period: str, draft: Schedule | None = None) -> Preview:
        """Render ``period`` (empty: the last complete one) with the saved or the ``draft`` settings; queues nothing."""
        kind = kind or "daily"
        settings = self._settings_for(owner, draft)
        chosen = self._period(kind, period)
        content = self.content(settings, chosen)
        return Preview(render(content), self.recipients(settings), chosen)

    def send_now(self, owner: str, kind: str, period: str, draft: Schedule | None = None) -> tuple[list[str], Period]:
        """Render and queue to the saved (or draft) recipients, every call; the schedule's watermark is untouched.
        The delivery ids and the period sent."""
        preview = self.preview(owner, kind, period, draft)
        if not preview.recipients:
            raise InvalidMailReport("recipients: no recipients are configured for this report")
        deliveries = self._deliveries(owner, kind or "daily", preview)
        ids = self.store.enqueue(deliveries, now_us=self.now_us())
        return list(ids or []), preview.period

    def content(self, schedule: Schedule, period: Period) -> ReportContent:
        """The numbers of one period, from reporting (roll-ups) and ingest (the last calls)."""
        name, scope = self._scope(schedule)
        previous = period.previous(self.zone)
        totals, previous_totals = run_io(self.source.totals, scope, period, previous)
        content = ReportContent(
            owner=schedule.owner,
            owner_name=name,
            kind=period.kind,
            period=period,
            previous=previous,
            time_zone=self.settings.time_zone,
            switch_id=schedule.switch_id,
            totals=totals,
            previous_totals=previous_totals,
            countries=run_io(self.source.countries, scope, period),
            causes=run_io(self.source.causes, scope, period),
            calls=run_io(self.source.last_calls, scope, period),
        )
        return dataclasses.replace(content, link=report_link(self.settings.public_url, content))

    # -- the schedule ---------------------------------------------------------------------------

    def send_due(self) -> int:
        """Queue every report whose local hour has come and whose period was not sent; the number of
        e-mails queued. A report that cannot be built now (reporting down) is tried again next run."""
        now = self.now_us()
        queued = self.store.finish_report_claims()
        for schedule in self.store.list_mail_reports():
            for kind in KINDS:
                period = due_period(schedule, kind, now, self.zone)
                if period is None:
                    continue
                try:
                    queued += self._send_scheduled(schedule, period, now)
                except (ReportSourceError, UnknownTenant) as exc:
                    log.warning(
                        "mail report not sent yet",
                        extra={"fields": {"owner": schedule.owner, "period": period.label, "error": str(exc)}},
                    )
        return queued

    def _send_scheduled(self, schedule: Schedule, period: Period, now_us: int) -> int:
        recipients = self.recipients(schedule)
        if not recipients:
            log.warning("mail report has no recipients", extra={"fields": {"owner": schedule.owner}})
            return 0
        preview = Preview(render(self.content(schedule, period)), recipients, period)
        deliveries = self._deliveries(schedule.owner, period.kind, preview)
        ids = self.store.claim_report_period(schedule.owner, period.kind, period.label, deliveries, now_us)
        if ids is None:
            return 0  # another run sent it meanwhile
        log.info(
            "mail report queued",
            extra={"fields": {"owner": schedule.owner, "period": period.label, "recipients": len(ids)}},
        )
        return len(ids)

    # -- helpers --------------------------------------------------------------------------------

    def _deliveries(self, owner: str, kind: str, preview: Preview) -> list[Delivery]:
        ref = reference(owner, kind, preview.period.label)
        return [
            Delivery(
                owner=owner,
                channel=EMAIL,
                recipient=recipient,
                kind=KIND,
                reference=ref,
                subject=preview.rendered.subject,
                text=preview.rendered.text,
                html=preview.rendered.html,
            )
            for recipient in preview.recipients
        ]

    def _settings_for(self, owner: str, draft: Schedule | None) -> Schedule:
        saved = self.schedule(owner)
        if draft is None:
            return saved
        draft = validated(dataclasses.replace(draft, owner=owner))
        return dataclasses.replace(saved, switch_id=draft.switch_id, recipients=draft.recipients or saved.recipients)

    def _period(self, kind: str, label: str) -> Period:
        if kind not in KINDS:
            raise InvalidMailReport(f"kind: expected daily or weekly, got {kind!r}")
        now = self.now_us()
        if not label:
            return last_complete(kind, now, self.zone)
        period = parse_period(kind, label, self.zone)
        if period.end_us > now:
            unit = "day" if kind == "daily" else "week"
            raise InvalidMailReport(f"period: {label} has not ended yet; a report covers a complete {unit}")
        return period

    def _tenant(self, owner: str) -> tuple[str, tuple[str, ...]]:
        if owner == OWNER_ADMIN:
            return "All switches", ()
        found = self.store.tenant(owner)
        if found is None:
            raise UnknownTenant(f"owner: tenant {owner!r} is unknown to notify (no SetTenant for it yet)")
        name, codes = found
        return name or owner, codes

    def _scope(self, schedule: Schedule) -> tuple[str, ReportScope]:
        name, codes = self._tenant(schedule.owner)
        if schedule.owner == OWNER_ADMIN:
            return name, ReportScope(admin=True, switch_id=schedule.switch_id)
        return name, ReportScope(admin=False, accountcodes=codes, switch_id=schedule.switch_id)
