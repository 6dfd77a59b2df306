"""The dashboard: the last 24 hourly buckets, from roll-up rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from cdrstats_common import metrics
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.rollup import DAY_HOURS
from cdrstats_reporting.domain.timegrid import HOUR_US, TimeGrid


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
    top_countries: list[tuple[str, Totals]] = dataclasses.field(default_factory=list)
    hangup_causes: list[tuple[int, int]] = dataclasses.field(default_factory=list)

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


def dashboard_window(now_us: int, time_zone: str = "UTC") -> tuple[int, int]:
    """The 24 local hours ending with the current one: [start of the hour 23 hours back, end of this hour)."""
    grid = TimeGrid(time_zone)
    current = grid.hour_start(now_us)
    return grid.hour_start(current - (DAY_HOURS - 1) * HOUR_US), grid.hour_start(current + HOUR_US)


def dashboard(
    rows: Iterable[tuple[int, Totals]], window_start_us: int, window_end_us: int, time_zone: str = "UTC"
) -> Dashboard:
    """Totals and one bucket per local hour of ``[window_start_us, window_end_us)``; rows outside are ignored."""
    grid = TimeGrid(time_zone)
    if window_end_us <= window_start_us or not grid.is_hour_start(window_start_us):
        raise ValueError("dashboard window must be whole, non-empty hours")
    buckets = {start: Totals() for start in grid.hours(window_start_us, window_end_us)}
    total = Totals()
    for hour_start_us, totals in rows:
        bucket = buckets.get(grid.hour_start(hour_start_us))
        if bucket is None:
            continue
        bucket.merge(totals)
        total.merge(totals)
    hours = [HourBucket(start, totals) for start, totals in sorted(buckets.items())]
    return Dashboard(window_start_us, window_end_us, total, hours)
