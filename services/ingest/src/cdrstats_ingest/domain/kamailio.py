"""Kamailio acc: one ``acc_cdrs`` row (one per dialog) -> a canonical CDR.

Facts this mapping relies on (Kamailio 5.6 acc module with ``cdr_enable``):
- ``start_time``/``end_time`` are whole seconds in the switch's local time, no zone;
  ``duration`` (REAL) runs from the INVITE to the end, so it includes ring time;
- failed calls have ``duration`` 0 and ``end_time = start_time``;
- everything else (Call-ID, users, SIP code, precise epochs) exists only as ``cdr_extra``
  columns whose names the operator chose, hence the configurable column map;
- ``acc``/``missed_calls`` log one row per transaction; a downstream 503 is logged in
  ``acc`` as 500 and in ``missed_calls`` as 503, so missed_calls wins.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.direction import direction_for
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.normalise import MAX_DURATION_MS, MAX_TIME_US, enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "kamailio_acc"

#: canonical name -> default source column; ``connector.columns`` overrides any of them.
#: A time may be a DATETIME (local, switch time zone) or an epoch number (e.g. ``$TV(Sn)`` extras).
DEFAULT_COLUMNS: dict[str, str] = {
    "call_id": "callid",
    "caller_id_number": "src_user",
    "caller_id_name": "",
    "destination_number": "dst_user",
    "accountcode": "",
    "remote_media_ip": "",
    "sip_code": "sip_code",
    "sip_reason": "sip_reason",
    "start_time": "start_time",
    "end_time": "end_time",
    "answer_time": "answer_time",
    "duration": "duration",
}
_TEXT_FIELDS = ("call_id", "caller_id_number", "caller_id_name", "destination_number", "accountcode", "remote_media_ip")


@dataclasses.dataclass(frozen=True)
class FinalReply:
    """The last reply to a dialog's INVITE in each of acc and missed_calls ((code, reason) or None)."""

    acc: tuple[int, str] | None = None
    missed_calls: tuple[int, str] | None = None

    @property
    def final(self) -> tuple[int, str] | None:
        """missed_calls holds the code sent upstream (503), acc may hold the one received (500)."""
        return self.missed_calls or self.acc


def column_map(columns: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The defaults overridden by ``connector.columns``; unknown names are a configuration error."""
    mapping = dict(DEFAULT_COLUMNS)
    for field, column in columns:
        if field not in DEFAULT_COLUMNS:
            raise InvalidCdr(
                f"unknown field {field!r}, expected one of {', '.join(DEFAULT_COLUMNS)}", field="connector.columns"
            )
        mapping[field] = column
    return mapping


def final_replies(
    acc_rows: Iterable[Mapping[str, Any]], missed_rows: Iterable[Mapping[str, Any]]
) -> dict[str, FinalReply]:
    """Per Call-ID, the last INVITE reply logged in acc and in missed_calls."""
    found: dict[str, dict[str, tuple[int, str]]] = {}
    for table, rows in (("acc", acc_rows), ("missed_calls", missed_rows)):
        for row in sorted(rows, key=lambda r: _int_or_zero(r.get("id"))):
            code = _int_or_zero(row.get("sip_code"))
            call_id = _text(row.get("callid"))
            if str(row.get("method") or "").upper() == "INVITE" and code and call_id:
                found.setdefault(call_id, {})[table] = (code, _text(row.get("sip_reason")))
    return {call_id: FinalReply(**tables) for call_id, tables in found.items()}


def normalise_row(
    row: Mapping[str, Any], switch: SwitchConfig, *, columns: Mapping[str, str], reply: FinalReply | None = None
) -> dict[str, Any]:
    """One acc_cdrs row as a complete, enriched and validated canonical CDR; InvalidCdr names the column."""
    zone = _zone(switch.time_zone)

    def value(field: str) -> Any:
        column = columns.get(field, "")
        return row.get(column) if column else None

    start_us = _time_us(value("start_time"), zone, columns["start_time"], required=True)
    end_us = _time_us(value("end_time"), zone, columns["end_time"], required=True)
    answer_us = _time_us(value("answer_time"), zone, columns["answer_time"], required=False)
    raw_duration = value("duration")
    duration_ms = (
        _duration_ms(raw_duration, columns["duration"])
        if raw_duration is not None
        else max(0, end_us - start_us) // 1000
    )
    sip_code = _sip_code(value("sip_code"), columns["sip_code"])
    sip_reason = _text(value("sip_reason"))
    mapped = {column for column in columns.values() if column}
    extra = {str(k): _text(v) for k, v in row.items() if str(k) not in mapped}
    if sip_reason:
        extra["sip_reason"] = sip_reason
    if reply is not None:
        for table, logged in (("acc", reply.acc), ("missed_calls", reply.missed_calls)):
            if logged is not None:
                extra[f"{table}_sip_code"], extra[f"{table}_sip_reason"] = str(logged[0]), logged[1]
        final = reply.final
        if final is not None and (reply.missed_calls is not None or not sip_code):
            sip_code, extra["sip_reason"] = final
    answered = answer_us > 0 or 200 <= sip_code < 300 or (sip_code == 0 and duration_ms > 0)
    # the true end is at least start + duration; whole-second end_time may lag the real one
    last_us = max(end_us, start_us + duration_ms * 1000)
    if answered and answer_us:
        billsec_ms = min(duration_ms, max(0, (last_us - answer_us) // 1000))
    else:
        billsec_ms = duration_ms if answered else 0  # no answer time logged: duration includes ring time
    texts = {field: _text(value(field)) for field in _TEXT_FIELDS}
    uuid = texts["call_id"] or f"acc_cdrs:{_text(row.get('id'))}"
    cdr = new_cdr(
        switch_id=switch.id,
        source=SOURCE,
        uuid=uuid,
        **texts,
        direction=direction_for(texts, switch),  # Kamailio records none: the switch's rules on the numbers
        start_time_us=start_us,
        answer_time_us=answer_us if answered else 0,
        end_time_us=end_us,
        duration_ms=duration_ms,
        billsec_ms=billsec_ms,
        pdd_ms=(answer_us - start_us) // 1000 if answered and answer_us >= start_us > 0 else -1,
        sip_code=sip_code,
        hangup_cause=causes.sip_to_q850(sip_code) if sip_code else (causes.NORMAL_CLEARING if answered else 0),
        disposition=_disposition(sip_code, answered),
        extra=extra,
    )
    cdr = enrich(cdr, switch)
    validate(cdr)
    return cdr


def _disposition(sip_code: int, answered: bool) -> str:
    if answered:
        return "ANSWERED"
    return causes.disposition_for(causes.sip_to_cause(sip_code), False) if sip_code else ""


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidCdr(f"unknown time zone {name!r}", field="switch.time_zone") from exc


def _time_us(raw: Any, zone: dt.tzinfo, column: str, *, required: bool) -> int:
    """A DATETIME (local unless it carries a zone), 'YYYY-MM-DD HH:MM:SS' text or an epoch number -> epoch µs."""
    if raw is None or raw == "":
        if required:
            raise InvalidCdr("is empty, expected a date and time", field=column)
        return 0
    if isinstance(raw, dt.datetime):
        moment = raw if raw.tzinfo else raw.replace(tzinfo=zone)
        return _epoch_us(moment)
    text = str(raw).strip()
    try:
        seconds = decimal.Decimal(text)
    except decimal.InvalidOperation:
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidCdr(f"expected a date and time or epoch seconds, got {text!r}", field=column) from exc
        return _epoch_us(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone))
    if not seconds.is_finite() or seconds < 0 or seconds >= MAX_TIME_US // 1_000_000:
        raise InvalidCdr(f"expected epoch seconds before 2100, got {text!r}", field=column)
    return int(seconds * 1_000_000)


def _epoch_us(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _duration_ms(raw: Any, column: str) -> int:
    try:
        seconds = decimal.Decimal(str(raw).strip())
    except decimal.InvalidOperation as exc:
        raise InvalidCdr(f"expected seconds, got {raw!r}", field=column) from exc
    if not seconds.is_finite() or seconds < 0 or seconds > MAX_DURATION_MS // 1000:
        raise InvalidCdr(
            f"expected non-negative seconds (at most {MAX_DURATION_MS // 1000}), got {raw!r}", field=column
        )
    return int((seconds * 1000).to_integral_value(decimal.ROUND_HALF_UP))


def _sip_code(raw: Any, column: str) -> int:
    if raw is None or str(raw).strip() == "":
        return 0
    code = _int_or_zero(raw)
    if not 100 <= code <= 699:
        raise InvalidCdr(f"expected a SIP response code (100-699), got {raw!r}", field=column)
    return code


def _int_or_zero(raw: Any) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        return 0


def _text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, dt.datetime):
        return raw.isoformat(sep=" ")
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw)
