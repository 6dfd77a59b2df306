"""Hourly roll-up keys and batch aggregation.

A CDR belongs to the hour of its ``start_time_us`` (half-open ``[hour, hour + 1 h)``
buckets, so a CDR starting exactly on a boundary belongs to the later hour only).
Hours are UTC hours. For every zone whose offset is a whole number of hours (UTC,
Europe/*, America/*, ...) a local hour is exactly a UTC hour, so hourly reports in the
reporting time zone read these rows unchanged; day buckets are formed from hours in
the reporting time zone (``CDRSTATS_TIME_ZONE``) by the day reports. Zones with a
half-hour offset (Asia/Kolkata) would need 30-minute roll-ups: not supported yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from cdrstats_common.metrics import Totals

HOUR_US = 3_600_000_000
DAY_HOURS = 24

#: Totals fields stored in a roll-up row, in a fixed order (storage adapters use it).
SUM_FIELDS = ("attempts", "answered", "duration_ms", "billsec_ms", "pdd_sum_ms", "pdd_count", "ner_failures")


class RollupKey(NamedTuple):
    """The dimensions of one hourly roll-up row."""

    hour_start_us: int
    switch_id: str
    accountcode: str
    country: str
    hangup_cause: int
    direction: str


def floor_hour(time_us: int) -> int:
    """Start of the UTC hour holding ``time_us`` (correct for negative times too)."""
    return time_us - time_us % HOUR_US


def rollup_key(cdr: Mapping[str, Any]) -> RollupKey:
    return RollupKey(
        hour_start_us=floor_hour(int(cdr.get("start_time_us") or 0)),
        switch_id=str(cdr.get("switch_id") or ""),
        accountcode=str(cdr.get("accountcode") or ""),
        country=str(cdr.get("country") or ""),
        hangup_cause=int(cdr.get("hangup_cause") or 0),
        direction=str(cdr.get("direction") or "unknown"),
    )


def aggregate(cdrs: Iterable[Mapping[str, Any]]) -> dict[RollupKey, Totals]:
    """Sum a batch per roll-up key, so a store does one upsert per key instead of per CDR."""
    rows: dict[RollupKey, Totals] = {}
    for cdr in cdrs:
        key = rollup_key(cdr)
        totals = rows.get(key)
        if totals is None:
            totals = rows[key] = Totals()
        totals.add_cdr(cdr)
    return rows


def totals_values(totals: Totals) -> tuple[int, ...]:
    return tuple(int(getattr(totals, name)) for name in SUM_FIELDS)


def totals_from(values: Mapping[str, Any]) -> Totals:
    return Totals(**{name: int(values.get(name) or 0) for name in SUM_FIELDS})
