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

from cdrstats_common import strict_json
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.freeswitch_leg import Leg, decode_variables, percent_decode, to_cdr
from cdrstats_ingest.domain.switch import SwitchConfig

__all__ = ["SOURCE", "decode_body", "normalise", "percent_decode"]

SOURCE = "freeswitch_json"
MAX_DEPTH = 64
FORM = "application/x-www-form-urlencoded"


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON document of a mod_json_cdr POST (raw JSON, ``cdr=`` url-encoded, or ``cdr=`` base64)."""
    text = utf8(body, "body")
    media = content_type.split(";", 1)[0].strip().lower()
    looks_like_json = text.lstrip().startswith(("{", "["))
    if looks_like_json or (media == "application/json" and "cdr=" not in text):
        return _parse_json(text)
    return _parse_json(form_cdr(text, opening=("{", "["), kind="JSON"))


def normalise(doc: Mapping[str, Any], switch: SwitchConfig, *, uuid_hint: str = "") -> dict[str, Any]:
    """One leg's mod_json_cdr document as a complete, enriched and validated canonical CDR."""
    raw_variables = doc.get("variables", {})
    if not isinstance(raw_variables, dict):
        raise InvalidCdr("expected an object of channel variables", field="variables")
    callflow = _first_callflow(doc.get("callflow"))
    raw_profile = _mapping(callflow.get("caller_profile"))
    channel_data = _mapping(doc.get("channel_data"))
    extra = {k: _as_text(val) for k, val in doc.items() if _is_scalar(val)}
    extra.update({f"channel_data.{k}": _as_text(val) for k, val in channel_data.items() if _is_scalar(val)})
    leg = Leg(
        variables=decode_variables({str(k): _as_text(val) for k, val in raw_variables.items()}),
        profile={str(k): _as_text(val) for k, val in raw_profile.items() if _is_scalar(val)},
        other_legs=_other_legs(raw_profile),
        callflow_times={str(k): _as_text(val) for k, val in _mapping(callflow.get("times")).items()},
        channel_direction=_as_text(channel_data.get("direction")),
        audio_in=_mapping(_mapping(_mapping(doc.get("callStats")).get("audio")).get("inbound")),
        extra=extra,
    )
    return to_cdr(leg, switch, source=SOURCE, uuid_hint=uuid_hint)


def _other_legs(profile: Mapping[str, Any]) -> tuple[str, ...]:
    """Uuids of the callflow's other profiles (originatee for an A-leg, originator for a B-leg)."""
    uuids = []
    for side in ("originatee", "originator"):
        for other in _mapping(profile.get(side)).get(f"{side}_caller_profiles") or ():
            uuids.append(_as_text(_mapping(other).get("uuid")).strip())
    return tuple(uuid for uuid in uuids if uuid)


def _first_callflow(callflow: Any) -> Mapping[str, Any]:
    """The current callflow entry: the first of the array (new), or the object itself (old)."""
    if isinstance(callflow, list):
        return next((entry for entry in callflow if isinstance(entry, dict)), {})
    return _mapping(callflow)


def utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise InvalidCdr(f"{what} is not valid UTF-8 (byte {exc.start})", field="body") from None


def form_cdr(text: str, *, opening: tuple[str, ...], kind: str) -> str:
    """The document of a ``cdr=`` form field: url-encoded (it then starts with ``opening``), else base64."""
    for pair in text.split("&"):
        name, _, raw = pair.partition("=")
        if urllib.parse.unquote_plus(name).strip() == "cdr":
            break
    else:
        raise InvalidCdr(f"expected a {kind} document, or a form with a 'cdr' field", field="body")
    try:
        decoded = urllib.parse.unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidCdr("the cdr form field is not valid UTF-8 once url-decoded", field="body") from None
    if decoded.lstrip().startswith(opening):
        return decoded
    # base64 is sent without url-encoding, so '+' is a base64 digit here, not a space
    compact = re.sub(r"\s", "", urllib.parse.unquote(raw))
    compact += "=" * (-len(compact) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            return utf8(base64.b64decode(compact, altchars=altchars, validate=True), "the base64 cdr field")
        except (binascii.Error, ValueError):
            continue
    raise InvalidCdr(f"the cdr form field is neither {kind} nor base64-encoded {kind}", field="body")


def _parse_json(text: str) -> dict[str, Any]:
    try:
        # older mod_json_cdr repeats "callflow" once per caller profile, the current one first:
        # keep the first (plain json.loads keeps the last, the oldest profile); NaN is no JSON
        doc = json.loads(text, object_pairs_hook=strict_json.keep_first, parse_constant=strict_json.refuse_constant)
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
    if strict_json.depth_over(doc, MAX_DEPTH):
        raise InvalidCdr(f"JSON nested deeper than {MAX_DEPTH} levels", field="body")
    return doc


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
