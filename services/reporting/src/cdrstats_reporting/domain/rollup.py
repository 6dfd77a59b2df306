"""Roll-up cubes and batch aggregation.

A CDR belongs to the local hour and the local day of its ``start_time_us`` in the
reporting zone (half-open buckets keyed by their UTC start; see ``timegrid``). One
batch is summed in Python into the finest cube (hour x every dimension) once, and the
coarser cubes are derived from those sums, so a store does one upsert per key and
cube instead of one per CDR.

Cubes (at hour and day grain) and why they exist:
- ``world`` and ``causes``: country / hangup cause alone - the admin's dashboard, world map
  and cause breakdown over every switch and code read a few rows per bucket;
- ``full``: switch, account code, country, hangup cause, direction - any filter combination
  (hour grain only: a day query on it sums the day's hours, to halve the writes per CDR);
- ``base``: switch, account code - dashboard, report by day, overview, compares (few rows);
- ``country``: + country - top countries, country report, world map;
- ``cause``: + hangup cause - hangup-cause breakdown and series.
A query is answered from the smallest cube holding every dimension it groups or filters by.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from cdrstats_common.metrics import NER_CAUSES, Totals
from cdrstats_reporting.domain.timegrid import HOUR_US, TimeGrid

__all__ = ["HOUR_US"]

DAY_HOURS = 24

#: Totals fields stored in a roll-up row, in a fixed order (storage adapters use it).
SUM_FIELDS = ("attempts", "answered", "duration_ms", "billsec_ms", "pdd_sum_ms", "pdd_count", "ner_failures")
DIMENSIONS = ("switch_id", "accountcode", "country", "hangup_cause", "direction")
GRAINS = ("hour", "day")


@dataclasses.dataclass(frozen=True)
class Cube:
    name: str
    dims: tuple[str, ...]
    grains: tuple[str, ...] = GRAINS

    def table(self, grain: str) -> str:
        return f"rollup_{self.name}_{grain}"


CUBES = (  # smallest first: cube_for takes the first that holds every dimension a query needs
    Cube("world", ("country",)),
    Cube("causes", ("hangup_cause",)),
    Cube("base", ("switch_id", "accountcode")),
    Cube("country", ("switch_id", "accountcode", "country")),
    Cube("cause", ("switch_id", "accountcode", "hangup_cause")),
    Cube("full", DIMENSIONS, ("hour",)),
)


def cube_for(dims: Iterable[str]) -> Cube:
    """The smallest cube holding every dimension in ``dims``."""
    needed = set(dims)
    unknown = needed - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown roll-up dimensions: {sorted(unknown)}")
    return next(cube for cube in CUBES if needed <= set(cube.dims))


class RollupKey(NamedTuple):
    """The dimensions of one hourly roll-up row of the full cube."""

    hour_start_us: int
    switch_id: str
    accountcode: str
    country: str
    hangup_cause: int
    direction: str


@dataclasses.dataclass(frozen=True)
class Filters:
    """Roll-up filters; None means "any", an empty list matches nothing."""

    switch_ids: list[str] | None = None
    accountcodes: list[str] | None = None
    countries: list[str] | None = None
    hangup_causes: list[int] | None = None
    directions: list[str] | None = None

    def items(self) -> list[tuple[str, list[Any]]]:
        pairs = [
            ("switch_id", self.switch_ids),
            ("accountcode", self.accountcodes),
            ("country", self.countries),
            ("hangup_cause", self.hangup_causes),
            ("direction", self.directions),
        ]
        return [(dim, list(values)) for dim, values in pairs if values is not None]

    def dims(self) -> list[str]:
        return [dim for dim, _ in self.items()]

    def matches_nothing(self) -> bool:
        return any(not values for _, values in self.items())


def floor_hour(time_us: int) -> int:
    """Start of the UTC hour holding ``time_us`` (correct for negative times too)."""
    return time_us - time_us % HOUR_US


def cdr_sums(cdr: Mapping[str, Any]) -> tuple[int, int, int, int, int, int, int]:
    """One CDR as the SUM_FIELDS tuple, with the definitions of cdrstats_common.metrics."""
    billsec = int(cdr.get("billsec_ms") or 0)
    answered = int(cdr.get("answer_time_us") or 0) > 0 or billsec > 0
    pdd = cdr.get("pdd_ms")
    pdd = -1 if pdd is None else int(pdd)
    cause = int(cdr.get("hangup_cause") or 0)
    return (
        1,
        int(answered),
        int(cdr.get("duration_ms") or 0),
        billsec,
        pdd if pdd >= 0 else 0,
        int(pdd >= 0),
        int(not answered and cause in NER_CAUSES),
    )


def _add(rows: dict[Any, list[int]], key: Any, values: Iterable[int]) -> None:
    row = rows.get(key)
    if row is None:
        rows[key] = list(values)
    else:
        for index, value in enumerate(values):
            row[index] += value


def aggregate(cdrs: Iterable[Mapping[str, Any]], grid: TimeGrid | None = None) -> dict[RollupKey, Totals]:
    """Sum a batch per full hourly key (the finest cube)."""
    return {key: totals_of(values) for key, values in aggregate_sums(cdrs, grid or TimeGrid()).items()}


def rollup_key(cdr: Mapping[str, Any], grid: TimeGrid | None = None) -> RollupKey:
    start = int(cdr.get("start_time_us") or 0)
    return RollupKey(
        grid.hour_start(start) if grid is not None else floor_hour(start),
        str(cdr.get("switch_id") or ""),
        str(cdr.get("accountcode") or ""),
        str(cdr.get("country") or ""),
        int(cdr.get("hangup_cause") or 0),
        str(cdr.get("direction") or "unknown"),
    )


def aggregate_sums(cdrs: Iterable[Mapping[str, Any]], grid: TimeGrid) -> dict[RollupKey, list[int]]:
    rows: dict[RollupKey, list[int]] = {}
    for cdr in cdrs:
        _add(rows, rollup_key(cdr, grid), cdr_sums(cdr))
    return rows


def cube_rows(
    full: Mapping[tuple[Any, ...], list[int]], grid: TimeGrid
) -> dict[tuple[Cube, str], dict[tuple[Any, ...], list[int]]]:
    """Every (cube, grain) -> {(bucket_start_us, *dims): sums}, derived from the full hourly sums."""
    out: dict[tuple[Cube, str], dict[tuple[Any, ...], list[int]]] = {}
    days = {hour: grid.day_start(hour) for hour in {key[0] for key in full}}
    for cube in CUBES:
        positions = [DIMENSIONS.index(dim) + 1 for dim in cube.dims]
        hourly: dict[tuple[Any, ...], list[int]] = {}
        daily: dict[tuple[Any, ...], list[int]] = {}
        for key, values in full.items():
            dims = tuple(key[p] for p in positions)
            _add(hourly, (key[0], *dims), values)
            _add(daily, (days[key[0]], *dims), values)
        out[(cube, "hour")] = hourly
        if "day" in cube.grains:
            out[(cube, "day")] = daily
    return out


def totals_of(values: Iterable[int]) -> Totals:
    return Totals(*values)


def totals_values(totals: Totals) -> tuple[int, ...]:
    return tuple(int(getattr(totals, name)) for name in SUM_FIELDS)


def totals_from(values: Mapping[str, Any]) -> Totals:
    return Totals(**{name: int(values.get(name) or 0) for name in SUM_FIELDS})
