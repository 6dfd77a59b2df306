"""Live calls from ``call_state`` events: validation and the timeout rule.

A call is live from its ``started`` (or ``answered``) event until its ``ended`` event,
a ``cdrs_ingested`` CDR with the same (switch_id, uuid), or ``TIMEOUT_US`` without
any event (a switch that died mid-call never sends the end). Events may arrive out of
order: an ended call leaves a tombstone, so a late ``started`` does not revive it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_reporting.domain.errors import InvalidArgument

CALL_STATE_SCHEMA = "cdrstats.call_state.v1"
EVENTS = ("started", "answered", "ended")
TIMEOUT_US = 4 * 3_600_000_000
MAX_LISTED = 1_000

_TEXT = ("caller_id_number", "destination_number", "destination_e164", "country", "accountcode", "direction")


@dataclasses.dataclass(frozen=True)
class CallState:
    switch_id: str
    uuid: str
    event: str
    time_us: int
    details: dict[str, str]


def parse_call_state(event_id: str, data: Any) -> CallState:
    """The event's data, or InvalidArgument naming the field and what was expected."""
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"event {event_id}: 'data' must be an object")
    for name in ("switch_id", "uuid"):
        if not isinstance(data.get(name), str) or not data.get(name):
            raise InvalidArgument(f"event {event_id}: 'data.{name}' must be a non-empty string")
    if data.get("event") not in EVENTS:
        raise InvalidArgument(f"event {event_id}: 'data.event' must be one of {', '.join(EVENTS)}")
    time_us = data.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        raise InvalidArgument(f"event {event_id}: 'data.time_us' must be epoch microseconds > 0")
    details = {name: str(data.get(name) or "") for name in _TEXT}
    details["direction"] = details["direction"] or "unknown"
    return CallState(data["switch_id"], data["uuid"], data["event"], time_us, details)


def ended_by(
    cdrs: Iterable[Mapping[str, Any]], now_us: int
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
    """(calls a CDR batch ends, the ones recent enough to need a tombstone, the latest end time)."""
    keys, recent, last = [], [], 0
    for cdr in cdrs:
        if not cdr.get("uuid"):
            continue
        key = (str(cdr.get("switch_id") or ""), str(cdr["uuid"]))
        end = int(cdr.get("end_time_us") or 0)
        keys.append(key)
        if end >= now_us - TIMEOUT_US:
            recent.append(key)
        last = max(last, end)
    return keys, recent, last or now_us
