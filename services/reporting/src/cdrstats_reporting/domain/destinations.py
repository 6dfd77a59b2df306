"""Top destinations with bounded storage.

Per local day and (switch, account code) the store keeps exact counts for at most
``CAP`` distinct numbers and ``CAP`` distinct prefixes. A value is admitted the first
time it is seen while the day's cap is not reached, and from then on every CDR of that
day counts on it, so every listed count is exact. CDRs of values seen only after the
cap was reached are summed in one ``OTHER`` row per day: the report returns its
attempts as ``other_attempts``, and its top N is the exact top N whenever
``other_attempts`` is below the N-th count (no untracked value can be above it).

Every CDR is also counted in the day's (every switch, every code) group with its own cap,
so the admin's list over the whole installation reads one group per day; any narrower
selection sums the (switch, code) groups it covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_reporting.domain.concurrency import ALL
from cdrstats_reporting.domain.timegrid import TimeGrid

CAP = 500
OTHER = "\x1f"  #: the value of the row holding every untracked destination of a day
KINDS = {"number": "n", "prefix": "p"}


def number_of(cdr: Mapping[str, Any]) -> str:
    """The E.164 form when ingest normalised the number, else the number as dialled."""
    return str(cdr.get("destination_e164") or cdr.get("destination_number") or "")


def batch_destinations(
    cdrs: Iterable[Mapping[str, Any]], grid: TimeGrid
) -> dict[tuple[int, str, str, str], dict[str, list[int]]]:
    """{(day_start, switch, code, kind): {value: [attempts, answered, billsec_ms]}} of one batch, including the
    (ALL, ALL) group of each day."""
    out: dict[tuple[int, str, str, str], dict[str, list[int]]] = {}
    for cdr in cdrs:
        day = grid.day_start(int(cdr.get("start_time_us") or 0))
        switch, code = str(cdr.get("switch_id") or ""), str(cdr.get("accountcode") or "")
        billsec = int(cdr.get("billsec_ms") or 0)
        answered = int(int(cdr.get("answer_time_us") or 0) > 0 or billsec > 0)
        for kind, value in (("n", number_of(cdr)), ("p", str(cdr.get("destination_prefix") or ""))):
            for group in ((day, switch, code, kind), (day, ALL, ALL, kind)):
                values = out.setdefault(group, {})
                row = values.get(value)
                if row is None:
                    values[value] = [1, answered, billsec]
                else:
                    row[0] += 1
                    row[1] += answered
                    row[2] += billsec
    return out


def admit(
    batch: Mapping[str, list[int]], tracked: set[str], tracked_count: int, cap: int = CAP
) -> dict[str, list[int]]:
    """The batch's rows after the cap: values already tracked, then new ones (most attempts first) while room is left,
    the rest summed under OTHER."""
    out: dict[str, list[int]] = {}
    room = cap - tracked_count
    for value, row in sorted(batch.items(), key=lambda item: (-item[1][0], item[0])):
        if value in tracked or room > 0:
            if value not in tracked:
                room -= 1
            out[value] = list(row)
        else:
            other = out.setdefault(OTHER, [0, 0, 0])
            for index in range(3):
                other[index] += row[index]
    return out
