"""Live call state (started / answered / ended) from a switch: validation and the ``call_state`` event data.

Events arrive as JSON over HTTP (``POST /v1/switches/{id}/calls``) or from the
FreeSWITCH event socket; both end here, so the realtime page sees one shape:
``{switch_id, uuid, event, time_us, caller_id_number, destination_number,
destination_e164, country, accountcode, direction}``, strings empty when unknown.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from cdrstats_common import strict_json
from cdrstats_ingest.domain import numbers
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

EVENTS = ("started", "answered", "ended")
DIRECTIONS = ("inbound", "outbound", "internal", "")
MAX_EVENTS = 1000  # per request
_TEXT_FIELDS = ("uuid", "caller_id_number", "destination_number", "accountcode", "direction")
_MAX_TEXT = 256
# epoch µs between 2000-01-01 and 2100-01-01: seconds or milliseconds by mistake fall outside
_MIN_US, _MAX_US = 946_684_800_000_000, 4_102_444_800_000_000


def parse_body(body: bytes) -> list[Any]:
    """The events of a POST body: one JSON object or a list of them (each validated later, on its own)."""
    try:
        doc = strict_json.loads(body)  # also refuses NaN, duplicate keys, numbers past 64 bits
    except strict_json.JsonInputError as exc:
        raise InvalidCdr(f"not valid JSON: {exc}", field="body") from None
    events = doc if isinstance(doc, list) else [doc]
    if not isinstance(doc, list | dict):
        raise InvalidCdr(f"expected a JSON object or a list of objects, got {type(doc).__name__}", field="body")
    if not events:
        raise InvalidCdr("expected at least one event", field="body")
    if len(events) > MAX_EVENTS:
        raise InvalidCdr(f"{len(events)} events in one request, at most {MAX_EVENTS}", field="body")
    return events


def normalise(
    raw: Any, switch: SwitchConfig, *, now_us: Callable[[], int] = lambda: time.time_ns() // 1000
) -> dict[str, Any]:
    """One event as ``call_state`` data; raises InvalidCdr naming the field. A missing ``time`` is now."""
    if not isinstance(raw, Mapping):
        raise InvalidCdr(f"expected a JSON object, got {type(raw).__name__}", field="event")
    event = raw.get("event")
    if event not in EVENTS:
        raise InvalidCdr(f"expected one of {', '.join(EVENTS)}, got {event!r}", field="event")
    values = {name: _text(raw, name) for name in _TEXT_FIELDS}
    if not values["uuid"]:
        raise InvalidCdr("must not be empty (the call leg's unique id)", field="uuid")
    direction = values["direction"].lower()
    if direction not in DIRECTIONS:
        raise InvalidCdr(f"expected one of inbound, outbound, internal, got {direction!r}", field="direction")
    time_us = parse_time(raw["time"], field="time") if raw.get("time") not in (None, "") else now_us()
    destination = values["destination_number"]
    info = numbers.classify(destination, switch) if destination else numbers.UNPARSEABLE
    caller = values["caller_id_number"]
    if not direction and info.number_type == numbers.EXTENSION and caller and numbers.is_extension(caller, switch):
        direction = "internal"
    return {
        "switch_id": switch.id,
        "uuid": values["uuid"],
        "event": event,
        "time_us": time_us,
        "caller_id_number": caller,
        "destination_number": destination,
        "destination_e164": info.e164,
        "country": info.country,
        "accountcode": values["accountcode"],
        "direction": direction,
    }


def parse_time(value: Any, *, field: str) -> int:
    """Epoch microseconds from an integer (or digit string) of µs, or an RFC 3339 time with its offset."""
    if isinstance(value, bool):
        raise InvalidCdr(f"expected RFC 3339 or epoch microseconds, got {value!r}", field=field)
    if isinstance(value, str) and value.strip().isdecimal():  # isdigit() passes '²', which int() refuses
        digits = value.strip()
        if len(digits) > 19:  # no µs before 2100; and int() refuses more than 4300 digits
            raise InvalidCdr(f"{digits[:20]}... is not epoch microseconds between 2000 and 2100", field=field)
        value = int(digits)
    if isinstance(value, int):
        if not _MIN_US <= value < _MAX_US:
            raise InvalidCdr(f"{value} is not epoch microseconds between 2000 and 2100", field=field)
        return value
    if not isinstance(value, str):
        raise InvalidCdr(f"expected RFC 3339 or epoch microseconds, got {type(value).__name__}", field=field)
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidCdr(f"not an RFC 3339 time: {value!r}", field=field) from None
    if parsed.tzinfo is None:
        raise InvalidCdr(f"RFC 3339 time without an offset (add Z or +hh:mm): {value!r}", field=field)
    delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not _MIN_US <= micros < _MAX_US:
        raise InvalidCdr(f"{value!r} is not between 2000 and 2100", field=field)
    return micros


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidCdr(f"expected a string, got {type(value).__name__}", field=name)
    value = value.strip()
    if len(value) > _MAX_TEXT:
        raise InvalidCdr(f"longer than {_MAX_TEXT} characters", field=name)
    return value
