"""One FreeSWITCH leg (mod_json_cdr or mod_xml_cdr) -> canonical CDR: the channel-variable mapping both share.

Both modules report the same channel variables, caller profile and callflow times; only
the envelope differs (JSON object vs ``<cdr>`` document). Each parser flattens its
envelope into a ``Leg`` and this module does the rest, so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import is_answered
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_VALID_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# what switch_url_encode always escapes (SWITCH_URL_UNSAFE, plus controls and non-ASCII); '%' is checked apart
_URL_UNSAFE = re.compile(r"[\r\n #&+:;<=>?@\[\\\]^`{|}\"\x00-\x1f\x7f-\U0010ffff]")
# the other leg of a call, most specific first: the B-leg's originator, then the bridge partner
LINK_VARIABLES = (
    "originating_leg_uuid",
    "ent_originate_aleg_uuid",
    "bridge_uuid",
    "last_bridge_to",
    "signal_bond",
    "originate_signal_bond",
    "other_loopback_leg_uuid",
    "other_leg_unique_id",
    "originator",
)
PROFILE_MAPPED = frozenset({"uuid", "caller_id_number", "caller_id_name", "destination_number"})
_DIRECTIONS = ("inbound", "outbound")


@dataclasses.dataclass(frozen=True)
class Leg:
    """A leg's values, flattened from either envelope; ``variables`` already percent-decoded."""

    variables: dict[str, str]
    profile: Mapping[str, str]  # scalar fields of the current callflow's caller_profile
    other_legs: tuple[str, ...] = ()  # uuids of the originator/originatee caller profiles
    callflow_times: Mapping[str, str] = dataclasses.field(default_factory=dict)
    channel_direction: str = ""  # channel_data.direction
    audio_in: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # callStats audio inbound (newer versions)
    extra: dict[str, str] = dataclasses.field(default_factory=dict)  # unmapped envelope values, already prefixed


def percent_decode(value: str) -> str:
    """Decode %XX escapes (UTF-8); a '%' that starts no valid escape and '+' are kept as they are."""
    if "%" not in value:
        return value
    return _ESCAPE_RUN.sub(_decode_run, value)


def values_are_encoded(values: Iterable[str]) -> bool:
    """Whether these variable values went through switch_url_encode (encode-values=true).

    An encoded value never holds a space, ':', '@', '+', a non-ASCII character or a '%'
    that starts no escape. One such value means the switch sent them plain, and then
    nothing is decoded: a literal "100%25 off" must stay as the switch had it.
    """
    for value in values:
        if _URL_UNSAFE.search(value) or value.count("%") != len(_VALID_ESCAPE.findall(value)):
            return False
    return True


def decode_variables(raw: Mapping[str, str]) -> dict[str, str]:
    """The channel variables as the switch had them, whether or not it percent-encoded them."""
    if not values_are_encoded(raw.values()):
        return dict(raw)
    return {name: percent_decode(value) for name, value in raw.items()}


def uuid_from_query(hint: str) -> str:
    """The leg uuid of ``?uuid=``; with prefix-a-leg=true the switch sends ``a_<uuid>`` for A-legs."""
    hint = hint.strip()
    return hint[2:] if hint.startswith("a_") and len(hint) > 2 else hint


def to_cdr(leg: Leg, switch: SwitchConfig, *, source: str, uuid_hint: str = "") -> dict[str, Any]:
    """The leg as a complete, enriched and validated canonical CDR (raises InvalidCdr naming the field)."""
    v = _Variables(leg.variables)
    profile = leg.profile
    uuid = v.text("uuid") or profile.get("uuid", "").strip() or uuid_from_query(uuid_hint)
    if not uuid:
        raise InvalidCdr("no leg uuid in variables, callflow caller_profile or ?uuid=", field="variables.uuid")
    direction = _direction(v, leg.channel_direction)
    # a B-leg's (outbound) dialled string may be a dial string; the callee is the number reached
    callee_names = ("callee_id_number", "destination_number") if direction == "outbound" else ("destination_number",)
    destination = v.text(*callee_names) or next((profile[n] for n in callee_names if profile.get(n)), "")
    times = _times(v, leg.callflow_times)
    cdr = new_cdr(
        switch_id=switch.id,
        source=source,
        uuid=uuid,
        call_id=v.text("sip_call_id"),
        linked_id=_linked_id(v, leg.other_legs, uuid),
        direction=direction,
        caller_id_number=v.text("caller_id_number") or profile.get("caller_id_number", ""),
        caller_id_name=v.text("caller_id_name") or profile.get("caller_id_name", ""),
        destination_number=destination,
        accountcode=v.text("accountcode"),
        **times,
        **_outcome(v, times["answered"]),
        read_codec=v.text("read_codec"),
        write_codec=v.text("write_codec"),
        remote_media_ip=v.text("remote_media_ip"),
        **_quality(v, leg.audio_in),
        extra=_extra(leg, v),
    )
    cdr = enrich(cdr, switch)
    validate(cdr)
    return cdr


def _linked_id(v: _Variables, other_legs: tuple[str, ...], own_uuid: str) -> str:
    """The other leg's uuid: a link variable first (not pointing at this leg), else the callflow's other profile."""
    for name in LINK_VARIABLES:
        value = v.values.get(name, "").strip()
        if value and value != own_uuid:
            v.used.add(name)
            return value
    return next((uuid for uuid in other_legs if uuid and uuid != own_uuid), "")


def _times(v: _Variables, callflow_times: Mapping[str, str]) -> dict[str, Any]:
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


def _quality(v: _Variables, stats: Mapping[str, Any]) -> dict[str, float]:
    """Inbound audio quality from rtp_audio_in_* variables, else from callStats (newer versions)."""
    mos = _first(v.real("rtp_audio_in_mos"), number(stats.get("mos")))
    jitter = _first(v.real("rtp_audio_in_jitter_max_variance"), number(stats.get("jitter_max_variance")))
    flaw = _first(v.real("rtp_audio_in_flaw_total"), number(stats.get("flaw_total")))
    packets = _first(v.real("rtp_audio_in_packet_count"), number(stats.get("packet_count")))
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
        value = number(self.values.get(name))
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


def _pdd_ms(v: _Variables, callflow_times: Mapping[str, str], start: int, answer: int) -> int:
    """Earliest progress (ringing or early media) minus start; else answer minus start; else -1."""
    progress = [t for t in (v.integer("progress_uepoch"), v.integer("progress_media_uepoch")) if t and t > 0]
    if not progress:
        candidates = (number(callflow_times.get("progress_time")), number(callflow_times.get("progress_media_time")))
        progress = [int(t) for t in candidates if t and t > 0]
    if progress and min(progress) >= start:
        return (min(progress) - start) // 1000
    if answer > 0 and answer >= start:
        return (answer - start) // 1000
    return -1


def _direction(v: _Variables, channel_direction: str) -> str:
    """The leg's own direction: an A-leg is inbound to the switch, a B-leg it originated is outbound."""
    value = v.values.get("direction", "").strip().lower()
    if value in _DIRECTIONS:
        v.used.add("direction")
        return value
    channel_direction = channel_direction.strip().lower()
    return channel_direction if channel_direction in _DIRECTIONS else "unknown"


def _extra(leg: Leg, v: _Variables) -> dict[str, str]:
    """Every unmapped value, flat: the envelope's, callflow.caller_profile.*, then the unused variables."""
    extra = dict(leg.extra)
    for key, val in leg.profile.items():
        if key not in PROFILE_MAPPED:
            extra[f"callflow.caller_profile.{key}"] = val
    extra.update(v.unused())
    return extra


def _decode_run(match: re.Match[str]) -> str:
    try:
        return bytes.fromhex(match.group(0).replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return match.group(0)  # not UTF-8: keep the escapes rather than lose bytes


def number(value: Any) -> float | None:
    """A finite float from a JSON/XML scalar, else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and abs(result) != float("inf") else None  # no NaN/inf


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)
