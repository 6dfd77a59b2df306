"""Source-independent normalisation of canonical CDRs: number intelligence, derived fields, validation.

Every source (switch receivers, file imports, the bulk API) passes its canonical CDRs
through ``enrich`` and then ``validate``; both are idempotent.
"""

from __future__ import annotations

import math
from typing import Any

from cdrstats_common import cdr as canonical
from cdrstats_common.metrics import is_answered
from cdrstats_ingest.domain import causes, numbers
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

_INT_FIELDS = ("start_time_us", "answer_time_us", "end_time_us", "duration_ms", "billsec_ms", "pdd_ms")
_NON_NEGATIVE = ("answer_time_us", "duration_ms", "billsec_ms")
_TIME_FIELDS = ("start_time_us", "answer_time_us", "end_time_us")
_DURATION_FIELDS = ("duration_ms", "billsec_ms", "pdd_ms")
_FLOAT_FIELDS = ("mos", "jitter_ms", "packet_loss_pct")
#: 2100-01-01: a later time is seconds read as ms or ns by mistake, and would not fit the stores or a datetime
MAX_TIME_US = 4_102_444_800_000_000
MAX_DURATION_MS = MAX_TIME_US // 1000
_STRING_FIELDS = tuple(name for name, default in canonical.DEFAULTS.items() if isinstance(default, str))


def enrich(cdr: dict[str, Any], switch: SwitchConfig) -> dict[str, Any]:
    """A copy of ``cdr`` with the derived fields filled in.

    - destination_e164 / country / number_type / destination_prefix from the dialled
      number, each only when empty (a source that knows better wins);
    - direction "internal" when caller and destination are both extensions;
    - answered recomputed with the one definition (metrics.is_answered);
    - disposition from hangup cause and answered when empty.
    """
    out = dict(cdr)
    extra = cdr.get("extra") or {}
    out["extra"] = dict(extra) if isinstance(extra, dict) else extra  # else validate() names the field
    destination = str(out.get("destination_number") or "")
    info = numbers.classify(destination, switch) if destination else numbers.UNPARSEABLE
    for field, value in (
        ("destination_e164", info.e164),
        ("country", info.country),
        ("number_type", info.number_type),
        ("destination_prefix", info.prefix),
    ):
        if not out.get(field):
            out[field] = value
    caller = str(out.get("caller_id_number") or "")
    if caller and destination and info.number_type == numbers.EXTENSION and numbers.is_extension(caller, switch):
        out["direction"] = "internal"
    if not out.get("direction"):
        out["direction"] = "unknown"
    answer, billsec = out.get("answer_time_us", 0), out.get("billsec_ms", 0)
    if _is_int(answer) and _is_int(billsec):  # else validate() names the field
        out["answered"] = is_answered(int(answer), int(billsec))
    if not out.get("disposition") and _is_int(out.get("hangup_cause")):
        out["disposition"] = causes.disposition_for(int(out["hangup_cause"]), bool(out.get("answered")))
    return out


def validate(cdr: dict[str, Any]) -> None:
    """Raise InvalidCdr naming the first field that breaks the canonical model's rules."""
    unknown = sorted(set(cdr) - set(canonical.FIELDS))
    if unknown:
        name = unknown[0]  # user text: quoted, and an empty name still names a field
        raise InvalidCdr(f"unknown field {name!r}, expected one of the canonical CDR fields", field=name or "cdr")
    for field in _STRING_FIELDS:
        if not isinstance(cdr.get(field, ""), str):
            raise InvalidCdr(f"expected a string, got {type(cdr[field]).__name__}", field=field)
    if not cdr.get("uuid", "").strip():
        raise InvalidCdr("must not be empty", field="uuid")
    for field in _INT_FIELDS:
        if not _is_int(cdr.get(field, canonical.DEFAULTS[field])):
            raise InvalidCdr(f"expected an integer, got {cdr[field]!r}", field=field)
    start = cdr.get("start_time_us", 0)
    end = cdr.get("end_time_us", 0)
    if start <= 0:
        raise InvalidCdr(f"must be a positive epoch time in microseconds, got {start}", field="start_time_us")
    if end < start:
        raise InvalidCdr(f"end ({end}) is before start ({start})", field="end_time_us")
    for field in _NON_NEGATIVE:
        if cdr.get(field, 0) < 0:
            raise InvalidCdr(f"must not be negative, got {cdr[field]}", field=field)
    if cdr.get("pdd_ms", -1) < -1:
        raise InvalidCdr(f"must be >= 0, or -1 when unknown, got {cdr['pdd_ms']}", field="pdd_ms")
    _check_ranges(cdr)
    _check_choice(cdr, "direction", canonical.DIRECTIONS)
    _check_choice(cdr, "source", canonical.SOURCES)
    _check_choice(cdr, "disposition", canonical.DISPOSITIONS)
    extra = cdr.get("extra", {})
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise InvalidCdr("expected a map of strings to strings", field="extra")


def _check_ranges(cdr: dict[str, Any]) -> None:
    """Values every store, the proto (int64, int32, double) and a datetime can hold; else the field is named."""
    for field in _TIME_FIELDS:
        if cdr.get(field, 0) >= MAX_TIME_US:
            raise InvalidCdr(f"expected microseconds since the epoch before 2100, got {cdr[field]}", field=field)
    for field in _DURATION_FIELDS:
        if cdr.get(field, 0) > MAX_DURATION_MS:
            raise InvalidCdr(f"expected at most {MAX_DURATION_MS} ms, got {cdr[field]}", field=field)
    cause = cdr.get("hangup_cause", 0)
    if not _is_int(cause) or not 0 <= cause <= 127:
        raise InvalidCdr(f"expected a Q.850 cause 0..127, got {cause!r}", field="hangup_cause")
    sip_code = cdr.get("sip_code", 0)
    if not _is_int(sip_code) or not (sip_code == 0 or 100 <= sip_code <= 699):
        raise InvalidCdr(f"expected a SIP response code 100..699 (or 0), got {sip_code!r}", field="sip_code")
    for field in _FLOAT_FIELDS:
        value = cdr.get(field, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise InvalidCdr(f"expected a finite number, got {value!r}", field=field)
    if not isinstance(cdr.get("answered", False), bool):
        raise InvalidCdr(f"expected true or false, got {cdr['answered']!r}", field="answered")


def _check_choice(cdr: dict[str, Any], field: str, allowed: tuple[str, ...]) -> None:
    value = cdr.get(field, canonical.DEFAULTS[field])
    if value not in allowed:
        raise InvalidCdr(f"unknown value {value!r}, expected one of {', '.join(allowed)}", field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
