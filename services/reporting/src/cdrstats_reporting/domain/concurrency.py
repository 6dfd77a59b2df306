"""Exact per-minute concurrent-call peaks that late CDRs can still change.

A call [start, end) is a +1 point at start and a -1 point at end. For each minute m
of a scope we keep ``net`` (the sum of the minute's points) and ``peak_in`` (the
highest running sum of the minute's points at any instant of the minute, counting
the minute's first instant when no point sits on it). With L(m) = the sum of ``net``
over every earlier minute (the number of calls up just before m):

    peak(m) = L(m) + peak_in(m), and peak(m) = L(m) for a minute without points.

That is exactly ``cdrstats_common.metrics.concurrent_peaks`` (proved by the tests).
A late CDR only changes the rows of the minute holding its start and the minute
holding its end (recomputed from their stored points); every minute between them
moves through L. L at a day's start comes from per-day nets, so a day is read from
at most 1,440 minute rows plus one sum over day rows.

Scopes: every call is stored in three scopes - (switch, code), (switch, all codes) and
(all, all) - each with its points, so one stored scope answers a day from its minute
rows. A selection no stored scope holds (an account code over every switch, a customer
with several codes) is the union of disjoint stored scopes, swept from their points at
query time (customers' volumes are small next to the whole installation's).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cdrstats_reporting.domain.timegrid import MINUTE_US, TimeGrid

ALL = "\x1e"  #: the "every switch" / "every account code" marker of an aggregate scope

Points = dict[int, int]  # time_us -> summed delta


def minute_of(time_us: int) -> int:
    """Minutes are UTC minutes (every zone's offset is a whole number of minutes since 1970)."""
    return time_us - time_us % MINUTE_US


def batch_points(
    cdrs: Iterable[Mapping[str, Any]], grid: TimeGrid
) -> tuple[dict[tuple[str, str, int], Points], dict[tuple[str, str, int], int]]:
    """({(switch, code, minute): points}, {(switch, code, day_start): net}) for the three stored scopes of a call."""
    points: dict[tuple[str, str, int], Points] = {}
    days: dict[tuple[str, str, int], int] = {}
    for cdr in cdrs:
        start, end = int(cdr.get("start_time_us") or 0), int(cdr.get("end_time_us") or 0)
        if end <= start:
            continue
        switch, code = str(cdr.get("switch_id") or ""), str(cdr.get("accountcode") or "")
        for time_us, delta in ((start, 1), (end, -1)):
            minute, day = minute_of(time_us), grid.day_start(time_us)
            for scope_switch, scope_code in ((switch, code), (switch, ALL), (ALL, ALL)):
                minute_points = points.setdefault((scope_switch, scope_code, minute), {})
                minute_points[time_us] = minute_points.get(time_us, 0) + delta
                key = (scope_switch, scope_code, day)
                days[key] = days.get(key, 0) + delta
    return points, days


def scopes_of(
    switch_ids: list[str] | None, accountcodes: list[str] | None, known_switches: Callable[[], list[str]]
) -> list[tuple[str, str]]:
    """Disjoint stored scopes whose union is the selection (None: every switch / every code)."""
    if switch_ids is None:
        if accountcodes is None:
            return [(ALL, ALL)]
        switch_ids = known_switches()  # (all switches, code) is not stored: the union over switches
    codes = [ALL] if accountcodes is None else sorted(set(accountcodes))
    return [(switch, code) for switch in sorted(set(switch_ids)) for code in codes]


def summarize(minute_us: int, points: Mapping[int, int]) -> tuple[int, int]:
    """(net, peak_in) of one minute's points."""
    level = 0
    ordered = sorted(points.items())
    best = 0 if not ordered or ordered[0][0] > minute_us else None
    for _, delta in ordered:
        level += delta
        if best is None or level > best:
            best = level
    return level, best if best is not None else 0


def tail_peak(points: Mapping[int, int]) -> int:
    """Highest running sum of ``points`` at any of them (no empty prefix): the peak they add after a level."""
    level, best = 0, None
    for _, delta in sorted(points.items()):
        level += delta
        if best is None or level > best:
            best = level
    return best if best is not None else 0


def minute_row(minute_us: int, points: Mapping[int, int]) -> tuple[int, int, int, int, int, bytes]:
    """(net, peak_in, first_us, last_us, tail_peak, encoded points) of a minute's new points, in one pass."""
    ordered = sorted(points.items())
    level, tail = 0, None
    flat = array("q")
    for time_us, delta in ordered:
        level += delta
        if tail is None or level > tail:
            tail = level
        flat.append(time_us)
        flat.append(delta)
    tail = tail if tail is not None else 0
    peak_in = max(tail, 0) if ordered and ordered[0][0] > minute_us else tail
    return level, peak_in, ordered[0][0], ordered[-1][0], tail, flat.tobytes()


def merge(into: Points, points: Mapping[int, int]) -> None:
    for time_us, delta in points.items():
        into[time_us] = into.get(time_us, 0) + delta


def encode(points: Mapping[int, int]) -> bytes:
    flat = array("q")
    for time_us, delta in sorted(points.items()):
        flat.append(time_us)
        flat.append(delta)
    return flat.tobytes()


def decode(blob: bytes | None) -> Points:
    if not blob:
        return {}
    flat = array("q")
    flat.frombytes(blob)
    points: Points = {}
    for time_us, delta in zip(flat[0::2], flat[1::2], strict=True):  # appended blobs may repeat an instant
        points[time_us] = points.get(time_us, 0) + delta
    return points


def day_peaks(start_us: int, end_us: int, level_before: int, rows: Mapping[int, tuple[int, int]]) -> list[int]:
    """Peaks of every minute of [start_us, end_us) from {minute: (net, peak_in)} and the level before."""
    peaks = []
    level = level_before
    for minute in range(start_us, end_us, MINUTE_US):
        row = rows.get(minute)
        if row is None:
            peaks.append(max(level, 0))
        else:
            peaks.append(max(level + row[1], 0))
            level += row[0]
    return peaks
