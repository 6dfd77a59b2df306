"""One pass over a ``cdrs_ingested`` batch: every sum a store writes, computed in Python once.

The roll-up consumer's budget is a few microseconds per CDR, so the batch is read in a
single loop that fetches each field once and folds it into plain dicts keyed by tuples:
the full hourly cube, the top-destination groups, the concurrency points and day nets.
The coarser scopes (every switch / every code) and the coarser cubes are derived from
those dicts afterwards, which touches each distinct key once instead of each CDR.
Local hour and day starts come from ``TimeGrid.hour_and_day`` (cached per UTC quarter
hour), so zoneinfo is consulted a few times per batch, not per CDR.

The definitions are those of ``rollup.cdr_sums``, ``destinations.batch_destinations`` and
``concurrency.batch_points`` (the unit tests hold the digest equal to them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_common.metrics import NER_CAUSES
from cdrstats_reporting.domain.concurrency import ALL, Points
from cdrstats_reporting.domain.live import TIMEOUT_US
from cdrstats_reporting.domain.timegrid import MINUTE_US, TimeGrid

FullKey = tuple[int, str, str, str, int, str]  # hour_start_us, switch, code, country, cause, direction
Group = tuple[int, str, str, str]  # day_start_us, switch, code, kind


@dataclasses.dataclass
class Digest:
    """What one batch adds; ``full`` sums are in ``rollup.SUM_FIELDS`` order."""

    full: dict[FullKey, list[int]]
    days: dict[int, int]  # hour start -> local day start, for every hour in ``full``
    destinations: dict[Group, dict[str, list[int]]]  # value -> [attempts, answered, billsec_ms], with (ALL, ALL)
    points: dict[tuple[str, str, int], Points]  # (switch, code, minute) in the three stored scopes
    day_nets: dict[tuple[str, str, int], int]  # (switch, code, day start) in the three stored scopes
    ended: list[tuple[str, str]]  # (switch, uuid) of every CDR: their live calls are over
    recent: list[tuple[str, str]]  # the ones recent enough to need a tombstone
    ended_us: int


def digest(cdrs: Iterable[Mapping[str, Any]], grid: TimeGrid, now_us: int) -> Digest:
    full: dict[FullKey, list[int]] = {}
    days: dict[int, int] = {}
    groups: dict[Group, dict[str, list[int]]] = {}
    fine_points: dict[tuple[str, str, int], Points] = {}
    fine_nets: dict[tuple[str, str, int], int] = {}
    ended: list[tuple[str, str]] = []
    recent: list[tuple[str, str]] = []
    last_end = 0
    buckets = grid.hour_and_day
    ner_causes = NER_CAUSES
    tombstone_after = now_us - TIMEOUT_US
    for cdr in cdrs:
        get = cdr.get
        start = int(get("start_time_us") or 0)
        end = int(get("end_time_us") or 0)
        switch = str(get("switch_id") or "")
        code = str(get("accountcode") or "")
        cause = int(get("hangup_cause") or 0)
        billsec = int(get("billsec_ms") or 0)
        answered = 1 if billsec > 0 or int(get("answer_time_us") or 0) > 0 else 0
        pdd = get("pdd_ms")
        pdd = -1 if pdd is None else int(pdd)
        hour, day = buckets(start)
        days[hour] = day
        key = (hour, switch, code, str(get("country") or ""), cause, str(get("direction") or "unknown"))
        row = full.get(key)
        if row is None:
            full[key] = [
                1,
                answered,
                int(get("duration_ms") or 0),
                billsec,
                pdd if pdd > 0 else 0,
                1 if pdd >= 0 else 0,
                1 if not answered and cause in ner_causes else 0,
            ]
        else:
            row[0] += 1
            row[1] += answered
            row[2] += int(get("duration_ms") or 0)
            row[3] += billsec
            if pdd >= 0:
                row[4] += pdd
                row[5] += 1
            if not answered and cause in ner_causes:
                row[6] += 1

        number = str(get("destination_e164") or get("destination_number") or "")
        for kind, value in (("n", number), ("p", str(get("destination_prefix") or ""))):
            values = groups.get((day, switch, code, kind))
            if values is None:
                values = groups[(day, switch, code, kind)] = {}
            sums = values.get(value)
            if sums is None:
                values[value] = [1, answered, billsec]
            else:
                sums[0] += 1
                sums[1] += answered
                sums[2] += billsec

        if end > start:
            for time_us, delta, point_day in ((start, 1, day), (end, -1, None)):
                point_key = (switch, code, time_us - time_us % MINUTE_US)
                minute = fine_points.get(point_key)
                if minute is None:
                    fine_points[point_key] = {time_us: delta}
                else:
                    minute[time_us] = minute.get(time_us, 0) + delta
                net_key = (switch, code, buckets(time_us)[1] if point_day is None else point_day)
                fine_nets[net_key] = fine_nets.get(net_key, 0) + delta

        uuid = get("uuid")
        if uuid:
            call = (switch, str(uuid))
            ended.append(call)
            if end >= tombstone_after:
                recent.append(call)
            if end > last_end:
                last_end = end
    return Digest(
        full,
        days,
        _with_all_groups(groups),
        _with_all_scopes_points(fine_points),
        _with_all_scopes_nets(fine_nets),
        ended,
        recent,
        last_end or now_us,
    )


def _with_all_groups(groups: dict[Group, dict[str, list[int]]]) -> dict[Group, dict[str, list[int]]]:
    """Add the (every switch, every code) group of each day and kind."""
    totals: dict[Group, dict[str, list[int]]] = {}
    for (day, _switch, _code, kind), values in groups.items():
        into = totals.setdefault((day, ALL, ALL, kind), {})
        for value, sums in values.items():
            row = into.get(value)
            if row is None:
                into[value] = list(sums)
            else:
                row[0] += sums[0]
                row[1] += sums[1]
                row[2] += sums[2]
    groups.update(totals)
    return groups


def _with_all_scopes_points(fine: dict[tuple[str, str, int], Points]) -> dict[tuple[str, str, int], Points]:
    """Add the (switch, every code) and (every switch, every code) scopes of each minute."""
    coarse: dict[tuple[str, str, int], Points] = {}
    for (switch, _code, minute), points in fine.items():
        for key in ((switch, ALL, minute), (ALL, ALL, minute)):
            into = coarse.get(key)
            if into is None:
                coarse[key] = dict(points)
            else:
                for time_us, delta in points.items():
                    into[time_us] = into.get(time_us, 0) + delta
    fine.update(coarse)
    return fine


def _with_all_scopes_nets(fine: dict[tuple[str, str, int], int]) -> dict[tuple[str, str, int], int]:
    out = dict(fine)
    for (switch, _code, day), net in fine.items():
        for key in ((switch, ALL, day), (ALL, ALL, day)):
            out[key] = out.get(key, 0) + net
    return out
