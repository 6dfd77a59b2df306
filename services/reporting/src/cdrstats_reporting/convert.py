"""Domain -> proto conversion, nothing else."""

from __future__ import annotations

from cdrstats.reporting.v1 import reporting_pb2
from cdrstats_reporting.domain.dashboard import Dashboard


def dashboard_to_proto(report: Dashboard) -> reporting_pb2.Dashboard:
    return reporting_pb2.Dashboard(
        window_start_us=report.window_start_us,
        window_end_us=report.window_end_us,
        attempts=report.totals.attempts,
        answered=report.totals.answered,
        asr=report.asr,
        acd=report.acd,
        minutes=report.minutes,
        ach=report.ach,
        hours=[
            reporting_pb2.HourBucket(
                start_us=hour.start_us,
                attempts=hour.totals.attempts,
                answered=hour.totals.answered,
                minutes=hour.totals.minutes,
            )
            for hour in report.hours
        ],
    )


def status_to_proto(cdrs_applied: int, events_applied: int) -> reporting_pb2.ReportingStatus:
    return reporting_pb2.ReportingStatus(cdrs_applied=cdrs_applied, events_applied=events_applied)
