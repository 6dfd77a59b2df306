"""FreeSWITCH mod_json_cdr: decode a POSTed body and turn one leg's document into a canonical CDR.

mod_json_cdr sends raw JSON, ``cdr=<url-encoded JSON>`` (encode=true) or ``cdr=<base64>``
(encode=base64); values under ``variables`` are percent-encoded unless encode-values=false.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import is_answered
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "freeswitch_json"
MAX_DEPTH = 64
FORM = "application/x-www-form-urlencoded"
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_LINK_VARIABLES = ("bridge_uuid", "other_leg_unique_id", "originator", "signal_bond", "originate_signal_bond")
_MAPPED_PROFILE_FIELDS = frozenset({"uuid", "caller_id_number", "caller_id_name", "destination_number"})
_DIRECTIONS = ("inbound", "outbound")


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON document of a mod_json_cdr POST (raw JSON, ``cdr=`` url-encoded, or ``cdr=`` base64)."""
    text = _utf8(body, "body")
    media = content_type.split(";", 1)[0].strip().lower()
    looks_like_json = text.lstrip().startswith(("{", "["))
    if looks_like_json or (media == "application/json" and "cdr=" not in text):
        return _parse_json(text)
    return _parse_json(_form_cdr(text))


def percent_decode(value: str) -> str:
    """Decode %XX escapes (UTF-8); a '%' that starts no valid escape and '+' are kept as they are."""
    if "%" not in value:
        return value
    return _ESCAPE_RUN.sub(_decode_run, value)


def normalise(doc: Mapping[str, Any], switch: SwitchConfig, *, uuid_hint: str = "") -> dict[str, Any]:
    """One leg's mod_json_cdr document as a complete, enriched and validated canonical CDR."""
    raw_variables = doc.get("variables", {})
    if not isinstance(raw_variables, dict):
        raise InvalidCdr("expected an object of channel variables", field="variables")
    v = _Variables({str(k): percent_decode(_as_text(val)) for k, val in raw_variables.items()})
    callflow = _first_callflow(doc.get("callflow"))
    profile = _mapping(callflow.get("caller_profile"))
    uuid = v.text("uuid") or _as_text(profile.get("uuid")) or uuid_hint.strip()
    if not uuid:
        raise InvalidCdr("no leg uuid in variables, callflow caller_profile or ?uuid=", field="variables.uuid")
    direction = _direction(v, doc)
    # a B-leg's (outbound) dialled string may be a dial string; the callee is the number reached
    callee_names = ("callee_id_number", "destination_number") if direction == "outbound" else ("destination_number",)
    destination = v.text(*callee_names) or next((_as_text(profile[n]) for n in callee_names if profile.get(n)), "")
    times = _times(v, _mapping(callflow.get("times")))
    cdr = new_cdr(
        switch_id=switch.id,
        source=SOURCE,
        uuid=uuid,
        call_id=v.text("sip_call_id"),
        linked_id=v.text(*_LINK_VARIABLES) or _other_leg(profile, uuid),
        direction=direction,
        caller_id_number=v.text("caller_id_number") or _as_text(profile.get("caller_id_number")),
        caller_id_name=v.text("caller_id_name") or _as_text(profile.get("caller_id_name")),
        destination_number=destination,
        accountcode=v.text("accountcode"),
        **times,
        **_outcome(v, times["answered"]),
        read_codec=v.text("read_codec"),
        write_codec=v.text("write_codec"),
        remote_media_ip=v.text("remote_media_ip"),
        **_quality(v, doc),
        extra=_extra(doc, profile, v),
    )
    cdr = enrich(cdr, switch)
    validate(cdr)
    return cdr


def _times(v: _Variables, callflow_times: Mapping[str, Any]) -> dict[str, Any]:
    """start/answer/end (µs), duration, billsec and pdd (ms), answered."""
    start = _time_us(v, "start")
    if not start:
        raise InvalidCdr("missing, zero or not an integer (µs since the epoch)", field="variables.start_uepoch")
    answer = _time_us(v, "answer") or 0
    mduration = v.integer("mduration")
    end = _time_us(v, "end")
    if end is None:
        if mduration is None:
            raise InvalidCdr("missing end time (end_uepoch or mduration)", field="variables.end_uepoch")
        end = start + mduration * 1000
    billsec_ms = v.integer("billmsec")
    if billsec_ms is None:
        billsec_ms = (end - answer) // 1000 if answer > 0 else 0
    return {
        "start_time_us": start,
        "answer_time_us": answer,
        "end_time_us": end,
        "duration_ms": mduration if mduration is not None else (end - start) // 1000,
        "billsec_ms": billsec_ms,
        "pdd_ms": _pdd_ms(v, callflow_times, start, answer),
        "answered": is_answered(answer, billsec_ms),
    }


def _outcome(v: _Variables, answered: bool) -> dict[str, Any]:
    """hangup_cause as the switch reports Q.850 (internal causes -> 16), sip_code, disposition.

    The disposition uses the internal cause (hangup_cause name, or SIP 487), so an
    ORIGINATOR_CANCEL leg is CANCEL although its Q.850 code is 16. The name stays in extra.
    """
    cause_name = v.values.get("hangup_cause", "").strip()
    internal = causes.code_for_name(cause_name) if cause_name else None
    sip_code = v.integer("sip_term_status") or 0
    q850 = v.integer("hangup_cause_q850")
    if q850 is None:
        fallback = internal if internal is not None else (causes.sip_to_cause(sip_code) if sip_code else 0)
        q850 = causes.reported_q850(fallback)
    if internal is None:
        internal = causes.ORIGINATOR_CANCEL if sip_code == 487 else q850
    return {"hangup_cause": q850, "sip_code": sip_code, "disposition": causes.disposition_for(internal, answered)}


def _quality(v: _Variables, doc: Mapping[str, Any]) -> dict[str, float]:
    """Inbound audio quality from rtp_audio_in_* variables, else from callStats (newer versions)."""
    stats = _mapping(_mapping(_mapping(doc.get("callStats")).get("audio")).get("inbound"))
    mos = _first(v.real("rtp_audio_in_mos"), _number(stats.get("mos")))
    jitter = _first(v.real("rtp_audio_in_jitter_max_variance"), _number(stats.get("jitter_max_variance")))
    flaw = _first(v.real("rtp_audio_in_flaw_total"), _number(stats.get("flaw_total")))
    packets = _first(v.real("rtp_audio_in_packet_count"), _number(stats.get("packet_count")))
    return {
        "mos": mos or 0.0,
        "jitter_ms": jitter or 0.0,
        "packet_loss_pct": 100.0 * flaw / packets if flaw is not None and packets else 0.0,
    }


class _Variables:
    """Decoded channel variables; remembers which ones a canonical field took (the rest go to extra)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.used: set[str] = set()

    def text(self, *names: str) -> str:
        """The first non-empty value among ``names``."""
        for name in names:
            value = self.values.get(name, "").strip()
            if value:
                self.used.add(name)
                return value
        return ""

    def integer(self, name: str) -> int | None:
        try:
            value = int(self.values[name].strip())
        except (KeyError, ValueError):
            return None
        self.used.add(name)
        return value

    def real(self, name: str) -> float | None:
        value = _number(self.values.get(name))
        if value is not None:
            self.used.add(name)
        return value

    def unused(self) -> dict[str, str]:
        return {k: val for k, val in self.values.items() if k not in self.used}


def _time_us(v: _Variables, stem: str) -> int | None:
    """``<stem>_uepoch`` (µs), else ``<stem>_epoch`` (s) scaled; None when neither is an integer."""
    micros = v.integer(f"{stem}_uepoch")
    if micros is not None:
        return micros
    seconds = v.integer(f"{stem}_epoch")
    return None if seconds is None else seconds * 1_000_000


def _pdd_ms(v: _Variables, callflow_times: Mapping[str, Any], start: int, answer: int) -> int:
    """Earliest progress (ringing or early media) minus start; else answer minus start; else -1."""
    progress = [t for t in (v.integer("progress_uepoch"), v.integer("progress_media_uepoch")) if t and t > 0]
    if not progress:
        candidates = (_number(callflow_times.get("progress_time")), _number(callflow_times.get("progress_media_time")))
        progress = [int(t) for t in candidates if t and t > 0]
    if progress and min(progress) >= start:
        return (min(progress) - start) // 1000
    if answer > 0 and answer >= start:
        return (answer - start) // 1000
    return -1


def _direction(v: _Variables, doc: Mapping[str, Any]) -> str:
    value = v.values.get("direction", "").strip().lower()
    if value in _DIRECTIONS:
        v.used.add("direction")
        return value
    channel_direction = _as_text(_mapping(doc.get("channel_data")).get("direction")).strip().lower()
    return channel_direction if channel_direction in _DIRECTIONS else "unknown"


def _other_leg(profile: Mapping[str, Any], own_uuid: str) -> str:
    """The other leg's uuid from the callflow (originatee for an A-leg, originator for a B-leg)."""
    for side in ("originatee", "originator"):
        for leg in _mapping(profile.get(side)).get(f"{side}_caller_profiles") or ():
            uuid = _as_text(_mapping(leg).get("uuid")).strip()
            if uuid and uuid != own_uuid:
                return uuid
    return ""


def _extra(doc: Mapping[str, Any], profile: Mapping[str, Any], v: _Variables) -> dict[str, str]:
    """Every unmapped value, flat: top-level scalars, channel_data.*, callflow.caller_profile.*, variables."""
    extra = {k: _as_text(val) for k, val in doc.items() if _is_scalar(val)}
    for key, val in _mapping(doc.get("channel_data")).items():
        if _is_scalar(val):
            extra[f"channel_data.{key}"] = _as_text(val)
    for key, val in profile.items():
        if _is_scalar(val) and key not in _MAPPED_PROFILE_FIELDS:
            extra[f"callflow.caller_profile.{key}"] = _as_text(val)
    extra.update(v.unused())
    return extra


def _first_callflow(callflow: Any) -> Mapping[str, Any]:
    """The current callflow entry: the first of the array (new), or the object itself (old)."""
    if isinstance(callflow, list):
        return next((entry for entry in callflow if isinstance(entry, dict)), {})
    return _mapping(callflow)


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidCdr(f"{what} is not valid UTF-8 (byte {exc.start})", field="body") from None


def _form_cdr(text: str) -> str:
    """The JSON text of a ``cdr=`` form field: url-encoded JSON, else base64 JSON."""
    for pair in text.split("&"):
        name, _, raw = pair.partition("=")
        if urllib.parse.unquote_plus(name).strip() == "cdr":
            break
    else:
        raise InvalidCdr("expected a JSON object or a form with a 'cdr' field", field="body")
    try:
        decoded = urllib.parse.unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidCdr("the cdr form field is not valid UTF-8 once url-decoded", field="body") from None
    if decoded.lstrip().startswith(("{", "[")):
        return decoded
    # base64 is sent without url-encoding, so '+' is a base64 digit here, not a space
    compact = re.sub(r"\s", "", urllib.parse.unquote(raw))
    compact += "=" * (-len(compact) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            return _utf8(base64.b64decode(compact, altchars=altchars, validate=True), "the base64 cdr field")
        except (binascii.Error, ValueError):
            continue
    raise InvalidCdr("the cdr form field is neither JSON nor base64-encoded JSON", field="body")


def _parse_json(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCdr(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})", field="body"
        ) from None
    except RecursionError:
        raise InvalidCdr(f"JSON nested deeper than {MAX_DEPTH} levels", field="body") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise InvalidCdr(f"not valid JSON: {exc}", field="body") from None
    if not isinstance(doc, dict):
        raise InvalidCdr(f"expected a JSON object, got {type(doc).__name__}", field="body")
    if _too_deep(doc):
        raise InvalidCdr(f"JSON nested deeper than {MAX_DEPTH} levels", field="body")
    return doc


def _too_deep(doc: dict[str, Any]) -> bool:
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _decode_run(match: re.Match[str]) -> str:
    try:
        return bytes.fromhex(match.group(0).replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)  # not UTF-8: keep the escapes rather than lose bytes


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None  # no NaN/inf


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)
