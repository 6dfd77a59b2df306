"""Where a mail report's numbers come from: reporting's roll-ups and ingest's search, over sync gRPC.

Synchronous grpcio: the api calls it from a thread (``asyncio.to_thread``); the nameko worker must go
through ``cdrstats_common.tpool.call_blocking`` (a sync call would freeze its eventlet hub), which
``run_io`` does on its own when the process is eventlet-patched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import sys
import zoneinfo
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import grpc
import pycountry

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_notify.domain.mail_report import Period
from cdrstats_notify.domain.mail_report_data import (
    LAST_CALLS,
    TOP_COUNTRIES,
    CallLine,
    CauseLine,
    CountryLine,
    PeriodTotals,
)

TIMEOUT_S = 30.0
P = ParamSpec("P")
R = TypeVar("R")


class ReportSourceError(Exception):
    """Reporting or ingest failed or disagree with notify (e.g. another time zone): the report is not sent."""


def run_io(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call blocking gRPC code: through eventlet's thread pool in an eventlet-patched worker, else directly."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("socket"):
        from cdrstats_common.tpool import call_blocking

        return call_blocking(fn, *args, **kwargs)
    return fn(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class ReportScope:
    """Whose CDRs: every account code (admin) or a tenant's codes; optionally one switch."""

    admin: bool
    accountcodes: tuple[str, ...] = ()
    switch_id: str = ""


@functools.cache
def country_name(alpha_2: str) -> str:
    found = pycountry.countries.get(alpha_2=alpha_2.upper()) if len(alpha_2) == 2 else None
    if found is None:
        return alpha_2 or "Unknown"
    return str(getattr(found, "common_name", found.name))


def _rpc_error(what: str, exc: grpc.RpcError) -> ReportSourceError:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return ReportSourceError(f"{what}: {code.name if code else 'error'}: {details}")


class ReportSource:
    """Sync clients of ReportingService and IngestService; channels open on first use and are reused."""

    def __init__(self, reporting_addr: str, ingest_addr: str, time_zone: str, timeout_s: float = TIMEOUT_S) -> None:
        self.reporting_addr = reporting_addr
        self.ingest_addr = ingest_addr
        self.time_zone = time_zone
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.timeout_s = timeout_s
        self._channels: list[grpc.Channel] = []
        self._reporting: reporting_pb2_grpc.ReportingServiceStub | None = None
        self._ingest: ingest_pb2_grpc.IngestServiceStub | None = None

    def _open(self, address: str) -> grpc.Channel:
        channel = grpc.insecure_channel(address)
        self._channels.append(channel)
        return channel

    @property
    def reporting(self) -> reporting_pb2_grpc.ReportingServiceStub:
        if self._reporting is None:
            self._reporting = reporting_pb2_grpc.ReportingServiceStub(self._open(self.reporting_addr))
        return self._reporting

    @property
    def ingest(self) -> ingest_pb2_grpc.IngestServiceStub:
        if self._ingest is None:
            self._ingest = ingest_pb2_grpc.IngestServiceStub(self._open(self.ingest_addr))
        return self._ingest

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        self._reporting = self._ingest = None

    @staticmethod
    def _reporting_scope(scope: ReportScope) -> reporting_pb2.Scope:
        return reporting_pb2.Scope(admin=scope.admin, allowed_accountcodes=list(scope.accountcodes))

    def totals(self, scope: ReportScope, period: Period, previous: Period) -> tuple[PeriodTotals, PeriodTotals]:
        """Sums of ``period`` and of ``previous`` (just before it) from one report by day over both."""
        request = reporting_pb2.DailyReportRequest(
            scope=self._reporting_scope(scope),
            switch_id=scope.switch_id,
            start_date=previous.first.isoformat(),
            end_date=period.last.isoformat(),
        )
        try:
            reply = self.reporting.GetDailyReport(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise _rpc_error("reporting GetDailyReport", exc) from exc
        if reply.time_zone and reply.time_zone != self.time_zone:
            raise ReportSourceError(
                f"reporting's time zone is {reply.time_zone!r}, notify's is {self.time_zone!r}:"
                " set the same CDRSTATS_TIME_ZONE for both"
            )
        return self._sum(reply, period), self._sum(reply, previous)

    @staticmethod
    def _sum(reply: reporting_pb2.DailyReport, period: Period) -> PeriodTotals:
        days = [d for d in reply.days if period.start_us <= d.start_us < period.end_us]
        if not days or days[0].start_us != period.start_us or days[-1].end_us != period.end_us:
            raise ReportSourceError(f"reporting's days do not cover {period.label} exactly")
        return PeriodTotals(
            attempts=sum(d.stats.attempts for d in days),
            answered=sum(d.stats.answered for d in days),
            billsec_ms=sum(d.stats.billsec_ms for d in days),
            hours=period.hours,
        )

    def countries(self, scope: ReportScope, period: Period) -> list[CountryLine]:
        request = reporting_pb2.CountryReportRequest(
            scope=self._reporting_scope(scope),
            switch_id=scope.switch_id,
            start_date=period.first.isoformat(),
            end_date=period.last.isoformat(),
            top=TOP_COUNTRIES,
        )
        try:
            reply = self.reporting.GetCountryReport(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise _rpc_error("reporting GetCountryReport", exc) from exc
        return [
            CountryLine(
                country=c.country,
                name=country_name(c.country),
                attempts=c.stats.attempts,
                answered=c.stats.answered,
                billsec_ms=c.stats.billsec_ms,
                share=c.share,
            )
            for c in reply.countries[:TOP_COUNTRIES]
        ]

    def causes(self, scope: ReportScope, period: Period) -> list[CauseLine]:
        request = reporting_pb2.HangupCausesRequest(
            scope=self._reporting_scope(scope),
            switch_id=scope.switch_id,
            start_date=period.first.isoformat(),
            end_date=period.last.isoformat(),
            granularity="day",
        )
        try:
            reply = self.reporting.GetHangupCauses(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise _rpc_error("reporting GetHangupCauses", exc) from exc
        return [CauseLine(code=c.hangup_cause, attempts=c.attempts, share=c.share) for c in reply.causes]

    def last_calls(self, scope: ReportScope, period: Period) -> list[CallLine]:
        """The newest calls that started in the period, times shown in the reporting zone."""
        request = ingest_pb2.SearchCdrsRequest(
            scope=ingest_pb2.Scope(admin=scope.admin, allowed_accountcodes=list(scope.accountcodes)),
            query=ingest_pb2.CdrQuery(
                start_from_us=period.start_us,
                start_to_us=period.end_us,
                switch_ids=[scope.switch_id] if scope.switch_id else [],
            ),
            sort_by="start_time",
            ascending=False,
            page_size=LAST_CALLS,
        )
        try:
            reply = self.ingest.SearchCdrs(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise _rpc_error("ingest SearchCdrs", exc) from exc
        return [self._call(cdr) for cdr in reply.cdrs[:LAST_CALLS]]

    def _call(self, cdr: cdr_pb2.Cdr) -> CallLine:
        return CallLine(
            id=cdr.id,
            start=_local_text(cdr.start_time_us, self.zone),
            switch_id=cdr.switch_id,
            accountcode=cdr.accountcode,
            caller=cdr.caller_id_number,
            destination=cdr.destination_e164 or cdr.destination_number,
            country=cdr.country,
            answered=cdr.answered,
            billsec_s=cdr.billsec_ms / 1000,
            duration_s=cdr.duration_ms / 1000,
            disposition=cdr.disposition,
            hangup_cause=cdr.hangup_cause,
        )


def _local_text(time_us: int, zone: zoneinfo.ZoneInfo) -> str:
    """ "2026-11-26 23:59:58" in ``zone`` (whole seconds: what a reader compares with the switch's log)."""
    moment = dt.datetime.fromtimestamp(time_us // 1_000_000, tz=dt.UTC).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


__all__ = ["ReportScope", "ReportSource", "ReportSourceError", "country_name", "run_io"]
