"""The mail-report store contract: one schedule per owner, and the "sent" watermark per kind.

``claim_report_period`` is what makes a scheduled report go out once per (owner, kind, period) even when
the worker restarts or two timer runs overlap: the watermark moves and the e-mails are queued in one
transaction (SQLite), or behind one conditional update and then once per event id (MongoDB, see
``mongo_reports``); the loser of a race queues nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.domain.mail_report import Schedule


class MailReportStore(Protocol):
    def get_mail_report(self, owner: str) -> Schedule | None:
        """The owner's schedule, None when never saved."""
        ...

    def save_mail_report(self, schedule: Schedule) -> Schedule:
        """Insert or replace the settings; the stored ``last_*_period`` watermarks are kept (only a claim
        moves them). Returns the stored schedule."""
        ...

    def list_mail_reports(self) -> list[Schedule]:
        """Every schedule with daily or weekly switched on, by owner."""
        ...

    def claim_report_period(
        self, owner: str, kind: str, period: str, deliveries: Sequence[Delivery], now_us: int
    ) -> list[str] | None:
        """If ``period`` is newer than the owner's last sent ``kind`` period: record it as sent and queue
        ``deliveries``, atomically; their ids. None when it (or a newer one) was sent already."""
        ...

    def finish_report_claims(self) -> int:
        """Queue the e-mails of claims a crash interrupted half-way (MongoDB's two-step claim; on SQLite a
        claim is one transaction and this is 0). Called before each scheduling run; how many were queued."""
        ...
