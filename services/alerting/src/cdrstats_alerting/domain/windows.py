"""Alarm windows and baselines as UTC spans [start, end), computed in the reporting time zone.

Rolling windows (last_15m, last_hour, last_day) end now and have a fixed length. Calendar
windows (day, week, month) run from the start of the current local period to now; weeks start
on Monday. Baselines:

- ``previous_window``: rolling - the window just before, of the same length; calendar - the same
  elapsed part of the previous period, measured on the local wall clock (Wednesday 14:00 in a
  week window compares with last week up to Wednesday 14:00, whatever DST did in between),
  clamped to the previous period's end (March 31 compares with all of February).
- ``same_window_last_week``: the window moved back 7 local days (same weekday, same local
  times); a rolling window keeps its length.

Local times that do not exist (the hour skipped by DST) resolve as Python's ``fold=0`` does:
with the offset before the change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from cdrstats_alerting.domain.alarms import CALENDAR_WINDOWS, ROLLING_WINDOWS

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_WEEK = dt.timedelta(days=7)


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    """A half-open UTC interval in epoch microseconds."""

    start_us: int
    end_us: int

    @property
    def empty(self) -> bool:
        return self.end_us <= self.start_us


def to_us(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def local(us: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The naive local wall-clock time of a UTC instant."""
    return (_EPOCH + dt.timedelta(microseconds=us)).astimezone(zone).replace(tzinfo=None)


def from_local(naive: dt.datetime, zone: zoneinfo.ZoneInfo) -> int:
    return to_us(naive.replace(tzinfo=zone))


def period_start(window: str, naive: dt.datetime) -> dt.datetime:
    """The local start of the calendar period holding ``naive``."""
    day = naive.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "day":
        return day
    if window == "week":
        return day - dt.timedelta(days=day.weekday())
    if window == "month":
        return day.replace(day=1)
    raise ValueError(f"window: not a calendar window: {window!r}")


def previous_period_start(window: str, start: dt.datetime) -> dt.datetime:
    if window == "day":
        return start - dt.timedelta(days=1)
    if window == "week":
        return start - _WEEK
    return (start - dt.timedelta(days=1)).replace(day=1)


def window_span(window: str, now_us: int, zone: zoneinfo.ZoneInfo) -> Span:
    """The span an alarm's window covers at ``now_us``: empty right at a calendar period's start."""
    if window in ROLLING_WINDOWS:
        return Span(now_us - ROLLING_WINDOWS[window], now_us)
    if window in CALENDAR_WINDOWS:
        return Span(from_local(period_start(window, local(now_us, zone)), zone), now_us)
    raise ValueError(f"window: unknown window {window!r}")


def baseline_span(window: str, baseline: str, now_us: int, zone: zoneinfo.ZoneInfo) -> Span:
    """The span a relative condition compares with (see the module docstring)."""
    current = window_span(window, now_us, zone)
    now_local = local(now_us, zone)
    if baseline == "same_window_last_week":
        end = from_local(now_local - _WEEK, zone)
        if window in ROLLING_WINDOWS:
            return Span(end - ROLLING_WINDOWS[window], end)
        return Span(from_local(period_start(window, now_local) - _WEEK, zone), end)
    if baseline != "previous_window":
        raise ValueError(f"baseline: unknown baseline {baseline!r}")
    if window in ROLLING_WINDOWS:
        length = current.end_us - current.start_us
        return Span(current.start_us - length, current.start_us)
    start_local = period_start(window, now_local)
    previous = previous_period_start(window, start_local)
    end = min(from_local(previous + (now_local - start_local), zone), current.start_us)
    return Span(from_local(previous, zone), end)
