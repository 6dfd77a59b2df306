"""FreeSWITCH mod_json_cdr / mod_xml_cdr bodies, fuzzed: a storable CDR or InvalidCdr naming the field, and
every call rendered the way the switch sends it (each encode mode) comes back with its own fields."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any
from xml.sax.saxutils import escape

from fuzz_calls import Call, assert_fields, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, dicts_of, json_trees, mutated, numberish, odd_text, outcome, raw_bytes
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_ingest.domain import freeswitch_json, freeswitch_xml
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="fs1", home_country="US")
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = ("application/json", FORM, "text/xml", "", "application/json; charset=latin-1")
#: the variables the leg mapping reads, so random documents reach the interesting branches
VARIABLES = [
    "uuid",
    "sip_call_id",
    "start_uepoch",
    "answer_uepoch",
    "end_uepoch",
    "start_epoch",
    "end_epoch",
    "mduration",
    "billmsec",
    "progress_uepoch",
    "progress_media_uepoch",
    "hangup_cause",
    "hangup_cause_q850",
    "sip_term_status",
    "direction",
    "caller_id_number",
    "destination_number",
    "rtp_audio_in_mos",
    "rtp_audio_in_flaw_total",
    "rtp_audio_in_packet_count",
    "originating_leg_uuid",
]
START = "1714557600120033"
variables = dicts_of(VARIABLES, st.one_of(numberish, odd_text, json_trees))
documents = st.fixed_dictionaries(
    {"variables": variables},
    optional={
        "callflow": json_trees | st.lists(dicts_of(["caller_profile", "times"]), max_size=2),
        "channel_data": dicts_of(["direction"]),
        "callStats": json_trees,
        "core-uuid": odd_text,
    },
)


def parse_json(body: bytes, content_type: str) -> dict[str, Any]:
    return freeswitch_json.normalise(freeswitch_json.decode_body(body, content_type), SWITCH)


def parse_xml(body: bytes) -> dict[str, Any]:
    return freeswitch_xml.normalise(freeswitch_xml.decode_body(body), SWITCH)


# --- renderers: a call as the switch sends it ----------------------------------------------------------


def leg_variables(call: Call, *, with_q850: bool) -> dict[str, str]:
    """What a leg's channel variables hold (mod_json_cdr and mod_xml_cdr report the same ones)."""
    values = {
        "uuid": call.uuid,
        "sip_call_id": call.call_id,
        "direction": "inbound",
        "caller_id_number": call.caller,
        "caller_id_name": call.caller_name,
        "destination_number": call.destination,
        "start_uepoch": str(call.start_us),
        "answer_uepoch": str(call.answer_us),
        "end_uepoch": str(call.end_us),
        "duration": str(call.ring_s + call.talk_s),
        "billsec": str(call.talk_s),
        "mduration": str((call.ring_s + call.talk_s) * 1000),
        "billmsec": str(call.talk_s * 1000),
        "hangup_cause": call.cause,
    }
    if call.accountcode:
        values["accountcode"] = call.accountcode
    if with_q850:
        values["hangup_cause_q850"] = str(call.q850)
    return values


def fs_encode(value: str) -> str:
    """switch_url_encode, as encode-values=true (the default) applies it to every variable."""
    return urllib.parse.quote(value, safe="")


def envelope(document: str, mode: str) -> bytes:
    """The POST body of each ``encode`` setting of the module."""
    if mode == "base64":
        return b"cdr=" + base64.b64encode(document.encode())
    if mode == "true":
        return ("cdr=" + urllib.parse.quote_plus(document)).encode()
    if mode == "false":
        return ("cdr=" + document).encode()
    return document.encode()


def expected(call: Call) -> dict[str, Any]:
    pdd_ms = call.ring_s * 1000 if call.answered else -1  # no progress variables: answer - start, else unknown
    return {**call.expected(), "call_id": call.call_id, "caller_id_name": call.caller_name, "pdd_ms": pdd_ms}


@FUZZ_MORE
@given(body=raw_bytes | st.builds(lambda t: b"cdr=" + t, raw_bytes), content_type=st.sampled_from(CONTENT_TYPES))
@example(body=b"cdr=%FF%FE", content_type=FORM)
@example(body=b"cdr=////", content_type=FORM)
@example(body=b"[" * 100_000, content_type="application/json")
@example(body=b'{"a": 1' + b"0" * 5000 + b"}", content_type="application/json")
def test_any_body_is_a_document_or_an_error_naming_the_body(body: bytes, content_type: str) -> None:
    for decode in (lambda: freeswitch_json.decode_body(body, content_type), lambda: freeswitch_xml.decode_body(body)):
        result = outcome(decode, (InvalidCdr,))
        if isinstance(result, InvalidCdr):
            assert result.field == "body"


hostile_values = st.one_of(numberish, odd_text, json_trees)
#: a real leg with a few variables made hostile, dropped or added: past the first checks, into the mapping
leg_documents = st.builds(
    lambda variables, rest: {"variables": variables, **rest},
    mutated(calls().map(lambda call: leg_variables(call, with_q850=True)), hostile_values),
    st.fixed_dictionaries({}, optional={"callflow": json_trees, "callStats": json_trees, "channel_data": json_trees}),
)


@FUZZ_MORE
@given(doc=documents | leg_documents)
@example(doc={"variables": {"uuid": "u1", "start_uepoch": "9" * 30, "mduration": "1"}})  # past 2100: was stored
@example(doc={"variables": {"uuid": "u1", "start_uepoch": START, "end_uepoch": str(2**70)}})
@example(doc={"variables": {"uuid": "u1", "start_uepoch": START, "mduration": "1", "sip_term_status": "2147483648"}})
@example(doc={"variables": {"uuid": "u1", "start_uepoch": START, "mduration": "1", "hangup_cause_q850": "999"}})
@example(doc={"variables": {"uuid": "u1", "start_epoch": "1e400", "mduration": "1"}})
@example(doc={"variables": [], "callflow": {"caller_profile": []}})
def test_any_json_document_is_a_storable_cdr_or_invalid_cdr(doc: dict[str, Any]) -> None:
    result = outcome(lambda: freeswitch_json.normalise(doc, SWITCH), (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


xml_tags = st.sampled_from(
    ["variables", "callflow", "caller_profile", "times", "channel_data", "callStats", "audio", "inbound", *VARIABLES]
)
xml_nodes = st.recursive(
    st.tuples(xml_tags, st.one_of(numberish, odd_text).map(escape)),
    lambda children: st.tuples(xml_tags, st.lists(children, max_size=4)),
    max_leaves=10,
)


def render_xml(node: tuple[str, Any]) -> str:
    tag, content = node
    inner = content if isinstance(content, str) else "".join(render_xml(child) for child in content)
    return f"<{tag}>{inner}</{tag}>"


leg_elements = mutated(
    calls().map(lambda call: {k: fs_encode(v) for k, v in leg_variables(call, with_q850=False).items()}),
    st.one_of(numberish, odd_text).map(escape),
).map(lambda variables: [("variables", list(variables.items()))])


@FUZZ
@given(children=st.lists(xml_nodes, max_size=4) | leg_elements)
@example(children=[("variables", [("uuid", "u"), ("start_uepoch", "1" * 40), ("mduration", "5")])])
@example(children=[("callStats", [("audio", [("inbound", [("mos", "nan")])])])])
def test_any_cdr_element_tree_is_a_storable_cdr_or_invalid_cdr(children: list[tuple[str, Any]]) -> None:
    body = ("<cdr>" + "".join(render_xml(child) for child in children) + "</cdr>").encode()
    result = outcome(lambda: parse_xml(body), (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


# --- the correct result: a call rendered by the switch comes back ------------------------------------------


@FUZZ
@given(
    call=calls(),
    encode_values=st.booleans(),
    mode=st.sampled_from(["raw", "true", "base64"]),
    with_q850=st.booleans(),
)
def test_a_json_leg_in_every_encoding_gives_back_its_call(
    call: Call, encode_values: bool, mode: str, with_q850: bool
) -> None:
    values = leg_variables(call, with_q850=with_q850)
    doc = {
        "core-uuid": "c0ffee",
        "channel_data": {"direction": "inbound", "state": "CS_REPORTING"},
        "variables": {k: fs_encode(v) for k, v in values.items()} if encode_values else values,
        "callflow": [{"caller_profile": {"uuid": call.uuid, "destination_number": call.destination}}],
    }
    content_type = "application/json" if mode == "raw" else FORM
    cdr = parse_json(envelope(json.dumps(doc, ensure_ascii=bool(call.start_s % 2)), mode), content_type)
    assert_fields(cdr, expected(call))
    assert cdr["source"] == "freeswitch_json"
    assert_storable(cdr)


@FUZZ
@given(call=calls(), mode=st.sampled_from(["raw", "false", "true", "base64"]), with_q850=st.booleans())
def test_an_xml_leg_in_every_encoding_gives_back_its_call(call: Call, mode: str, with_q850: bool) -> None:
    values = leg_variables(call, with_q850=with_q850)
    variables = "".join(f"<{name}>{fs_encode(value)}</{name}>" for name, value in values.items())
    profile = f"<caller_profile><uuid>{call.uuid}</uuid><caller_id_name>{escape(call.caller_name)}</caller_id_name>"
    document = (
        '<?xml version="1.0"?>\n<cdr core-uuid="c0ffee" switchname="fs1">'
        "<channel_data><direction>inbound</direction></channel_data>"
        f"<variables>{variables}</variables><callflow>{profile}</caller_profile></callflow></cdr>"
    )
    cdr = parse_xml(envelope(document, mode))
    assert_fields(cdr, expected(call))
    assert cdr["source"] == "freeswitch_xml"
    assert_storable(cdr)
