"""The dashboard: the last 24 hourly buckets, from roll-up rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from cdrstats_common import metrics
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.rollup import DAY_HOURS, HOUR_US, floor_hour


@dataclasses.dataclass(frozen=True)
class HourBucket:
    start_us: int
    totals: Totals


@dataclasses.dataclass(frozen=True)
class Dashboard:
    window_start_us: int
    window_end_us: int
    totals: Totals
    hours: list[HourBucket]

    @property
    def window_hours(self) -> float:
        return (self.window_end_us - self.window_start_us) / HOUR_US

    @property
    def asr(self) -> float:
        return self.totals.asr

    @property
    def acd(self) -> float:
        return self.totals.acd

    @property
    def minutes(self) -> float:
        return self.totals.minutes

    @property
    def ach(self) -> float:
        """Attempts per hour over the whole window (24 h), not over the hours that had calls."""
        return metrics.ach(self.totals.attempts, self.window_hours)


def dashboard_window(now_us: int) -> tuple[int, int]:
    """The 24 hourly buckets ending with the current hour: [floor(now) - 23 h, floor(now) + 1 h)."""
    end = floor_hour(now_us) + HOUR_US
    return end - DAY_HOURS * HOUR_US, end


def dashboard(rows: Iterable[tuple[int, Totals]], window_start_us: int, window_end_us: int) -> Dashboard:
    """Totals and one bucket per hour of ``[window_start_us, window_end_us)``; rows outside are ignored."""
    if window_start_us % HOUR_US or window_end_us % HOUR_US or window_end_us <= window_start_us:
        raise ValueError("dashboard window must be whole, non-empty hours")
    buckets = {start: Totals() for start in range(window_start_us, window_end_us, HOUR_US)}
    total = Totals()
    for hour_start_us, totals in rows:
        bucket = buckets.get(floor_hour(hour_start_us))
        if bucket is None:
            continue
        bucket.merge(totals)
        total.merge(totals)
    hours = [HourBucket(start, totals) for start, totals in sorted(buckets.items())]
    return Dashboard(window_start_us, window_end_us, total, hours)
