"""Source-independent normalisation of canonical CDRs: number intelligence, derived fields, validation.

Every source (switch receivers, file imports, the bulk API) passes its canonical CDRs
through ``enrich`` and then ``validate``; both are idempotent.
"""

from __future__ import annotations

from typing import Any

from cdrstats_common import cdr as canonical
from cdrstats_common.metrics import is_answered
from cdrstats_ingest.domain import causes, numbers
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

_INT_FIELDS = ("start_time_us", "answer_time_us", "end_time_us", "duration_ms", "billsec_ms", "pdd_ms")
_NON_NEGATIVE = ("answer_time_us", "duration_ms", "billsec_ms")
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
    out["extra"] = dict(cdr.get("extra") or {})
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
        raise InvalidCdr(f"unknown field (expected one of the canonical CDR fields): {unknown[0]}", field=unknown[0])
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
    _check_choice(cdr, "direction", canonical.DIRECTIONS)
    _check_choice(cdr, "source", canonical.SOURCES)
    _check_choice(cdr, "disposition", canonical.DISPOSITIONS)
    extra = cdr.get("extra", {})
    if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
        raise InvalidCdr("expected a map of strings to strings", field="extra")


def _check_choice(cdr: dict[str, Any], field: str, allowed: tuple[str, ...]) -> None:
    value = cdr.get(field, canonical.DEFAULTS[field])
    if value not in allowed:
        raise InvalidCdr(f"unknown value {value!r}, expected one of {', '.join(allowed)}", field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
