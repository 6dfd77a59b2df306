"""mod_xml_cdr bodies in every encode mode -> canonical CDRs equal to the same leg sent by mod_json_cdr."""

from __future__ import annotations

import base64
import json
import pathlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from cdrstats_ingest.domain import freeswitch_json
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.freeswitch_xml import decode_body, normalise
from cdrstats_ingest.domain.switch import SwitchConfig

DATA = pathlib.Path(__file__).parent / "data"
SWITCH = SwitchConfig(id="fs-edge-01", home_country="US")
A_UUID = "6b8f3c0e-7d2a-4b6e-8c8e-1b2f4a9d7e01"
B_UUID = "9a0d2e57-3c41-4f88-b7a6-55e0c3d1f2aa"
UNSAFE = '\r\n #%&+:;<=>?@[\\]^`{|}"'  # SWITCH_URL_UNSAFE


def fs_url_encode(text: str, *, double_encode: bool) -> str:
    """switch_url_encode_opt: escapes unsafe, control and non-ASCII bytes; without double_encode a %XX stays."""
    out = []
    data = text.encode()
    hexdigits = b"0123456789ABCDEFabcdef"
    for i, byte in enumerate(data):
        keep_escape = (
            not double_encode
            and byte == ord("%")
            and data[i + 1 : i + 2] != b""
            and set(data[i + 1 : i + 3]) <= set(hexdigits)
            and len(data[i + 1 : i + 3]) == 2
        )
        if not keep_escape and (byte < 0x20 or byte > 0x7E or chr(byte) in UNSAFE):
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def json_sample(**variables: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "json_cdr_answered_plain.json").read_text())
    doc["variables"].update(variables)
    return doc


def xml_from_json(doc: dict[str, Any]) -> str:
    """The same leg as switch_ivr_generate_xml_cdr writes it (variables percent-encoded, the rest plain)."""
    root = ET.Element("cdr", {"core-uuid": doc["core-uuid"], "switchname": doc["switchname"]})
    channel_data = ET.SubElement(root, "channel_data")
    for name, value in doc["channel_data"].items():
        ET.SubElement(channel_data, name).text = value
    stats = ET.SubElement(ET.SubElement(root, "callStats"), "audio")
    for direction, counters in doc["callStats"]["audio"].items():
        element = ET.SubElement(stats, direction)
        for name, value in counters.items():
            ET.SubElement(element, name).text = str(value)
    variables = ET.SubElement(root, "variables")
    for name, value in doc["variables"].items():
        ET.SubElement(variables, name).text = fs_url_encode(value, double_encode=False)
    for entry in doc["callflow"]:
        callflow = ET.SubElement(root, "callflow", {"dialplan": entry["dialplan"], "profile_index": "1"})
        profile = ET.SubElement(callflow, "caller_profile")
        for name, value in entry["caller_profile"].items():
            if isinstance(value, str):
                ET.SubElement(profile, name).text = value
        for side in ("originatee", "originator"):
            others = entry["caller_profile"].get(side, {}).get(f"{side}_caller_profiles", [])
            if others:
                wrapper = ET.SubElement(profile, side)
                for other in others:
                    element = ET.SubElement(wrapper, f"{side}_caller_profile", {"type": side})
                    for name, value in other.items():
                        ET.SubElement(element, name).text = value
        times = ET.SubElement(callflow, "times")
        for name, value in entry["times"].items():
            ET.SubElement(times, name).text = value
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")


def encode_modes(xml_text: str) -> dict[str, tuple[bytes, str]]:
    """The body and content type mod_xml_cdr posts for each ``encode`` setting."""
    return {
        "textxml": (xml_text.encode(), "text/xml"),
        "false": (f"cdr={xml_text}".encode(), "application/x-www-form-plaintext"),
        "true": (
            ("cdr=" + fs_url_encode(xml_text, double_encode=True)).encode(),
            "application/x-www-form-urlencoded",
        ),
        "base64": (b"cdr=" + base64.b64encode(xml_text.encode()), "application/x-www-form-base64-encoded"),
    }


@pytest.mark.parametrize("mode", ["textxml", "false", "true", "base64"])
def test_every_encode_mode_gives_the_same_cdr_as_mod_json_cdr(mode: str) -> None:
    doc = json_sample(caller_id_name="José & Co <sales>", sip_h_X_Note="100% sure; a+b=c")
    body, content_type = encode_modes(xml_from_json(doc))[mode]
    if mode == "true":
        assert "%252B14155550100" in body.decode()  # the variable value is url-encoded twice
    cdr = normalise(decode_body(body, content_type), SWITCH)
    expected = freeswitch_json.normalise(doc, SWITCH)
    assert {k: v for k, v in cdr.items() if k not in ("source", "extra")} == {
        k: v for k, v in expected.items() if k not in ("source", "extra")
    }
    assert cdr["source"] == "freeswitch_xml"
    assert cdr["caller_id_name"] == "José & Co <sales>"
    assert cdr["caller_id_number"] == "+14155550100"
    assert cdr["extra"]["sip_h_X_Note"] == "100% sure; a+b=c"
    assert cdr["extra"]["start_stamp"] == "2024-05-01 10:00:00"
    assert cdr["linked_id"] == B_UUID  # from the originatee caller profile


def test_b_leg_document() -> None:
    root = decode_body((DATA / "xml_cdr_b_leg.xml").read_bytes(), "text/xml")
    cdr = normalise(root, SWITCH, uuid_hint=B_UUID)
    assert (cdr["uuid"], cdr["direction"], cdr["linked_id"]) == (B_UUID, "outbound", A_UUID)
    assert cdr["source"] == "freeswitch_xml"
    assert cdr["call_id"] == "1b2c3d4e-7781-123a-55d0-00163e2a0c01"
    assert (cdr["destination_number"], cdr["destination_e164"], cdr["country"]) == (
        "+12125550123",
        "+12125550123",
        "US",
    )
    assert (cdr["start_time_us"], cdr["answer_time_us"], cdr["end_time_us"]) == (
        1714557600140200,
        1714557604502117,
        1714557621930412,
    )
    assert (cdr["duration_ms"], cdr["billsec_ms"], cdr["pdd_ms"]) == (21790, 17428, 870)
    assert (cdr["hangup_cause"], cdr["sip_code"], cdr["disposition"], cdr["answered"]) == (16, 200, "ANSWERED", True)
    assert (cdr["mos"], cdr["jitter_ms"], cdr["packet_loss_pct"]) == (4.41, 3.25, 1.0)
    assert cdr["remote_media_ip"] == "192.0.2.44"
    extra = cdr["extra"]
    assert extra["export_vars"] == "'A&B' <>"
    assert extra["sip_h_X-Route"] == "a=b&c=d"
    assert extra["sip_gateway_name"] == "carrier1"
    assert extra["core-uuid"] == "0d6c4a3e-5b7d-4c1e-9a51-2f0e8f1d0c11"
    assert extra["channel_data.flags"].startswith("0=1;1=1")
    assert extra["callflow.caller_profile.chan_name"] == "sofia/external/+12125550123"
    assert extra["callee_id_name"] == "Outbound Call"
    for mapped in ("uuid", "originating_leg_uuid", "callee_id_number", "start_uepoch", "sip_term_status"):
        assert mapped not in extra


def test_b_leg_without_link_variables_is_linked_through_the_originator_profile() -> None:
    text = (DATA / "xml_cdr_b_leg.xml").read_text().replace("originating_leg_uuid>", "x_unrelated>")
    cdr = normalise(decode_body(text.encode()), SWITCH)
    assert cdr["linked_id"] == A_UUID
    assert cdr["extra"]["x_unrelated"] == A_UUID


def test_repeated_variables_keep_every_value() -> None:
    text = xml_from_json(json_sample()).replace(
        "<variables>", "<variables><sip_h_P>one</sip_h_P><sip_h_P>two%20b</sip_h_P>"
    )
    extra = normalise(decode_body(text.encode()), SWITCH)["extra"]
    assert (extra["sip_h_P"], extra["sip_h_P[2]"]) == ("one", "two b")


def test_uuid_from_the_query_string_with_the_a_leg_prefix() -> None:
    doc = json_sample()
    del doc["variables"]["uuid"]
    del doc["callflow"][0]["caller_profile"]["uuid"]
    root = decode_body(xml_from_json(doc).encode())
    assert normalise(root, SWITCH, uuid_hint=f"a_{A_UUID}")["uuid"] == A_UUID
    with pytest.raises(InvalidCdr) as exc:
        normalise(root, SWITCH)
    assert exc.value.field == "variables.uuid"


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE cdr [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<cdr><variables><uuid>&b;</uuid></variables></cdr>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE cdr [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<cdr><variables><uuid>&secret;</uuid></variables></cdr>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BILLION_LAUGHS.encode(), "DOCTYPE"),
        (EXTERNAL.encode(), "DOCTYPE"),
        (b'<!DOCTYPE cdr SYSTEM "http://192.0.2.1/x.dtd"><cdr/>', "DOCTYPE"),
        (b"<cdr><variables><uuid>&nbsp;</uuid></variables></cdr>", "undefined entity at line 1"),
        (b"<cdr><variables><uuid>x</variables></cdr>", "mismatched tag at line 1 column 26"),
        (b"<cdr>", "no element found"),
        (b"<record/>", "expected a <cdr> root element, got <record>"),
        (b"cdr=%3Ccdr%3E%3Cbroken", "not well-formed XML"),
        (b"cdr=!!!not-base64!!!", "neither <cdr> nor base64-encoded <cdr>"),
        (b"cdr=" + base64.b64encode(b"<cdr><unclosed></cdr>"), "mismatched tag"),
        (b"uuid=abc&other=1", "expected a <cdr> document, or a form with a 'cdr' field"),
        (b"\xff\xfe<cdr/>", "not valid UTF-8"),
        (b"", "expected a <cdr> document"),
    ],
)
def test_bad_bodies_are_refused_naming_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        decode_body(body, "text/xml")
    assert exc.value.field == "body"
    assert message in str(exc.value)


def test_missing_times_name_the_variable() -> None:
    doc = json_sample()
    del doc["variables"]["start_uepoch"]
    del doc["variables"]["start_epoch"]
    with pytest.raises(InvalidCdr) as exc:
        normalise(decode_body(xml_from_json(doc).encode()), SWITCH)
    assert exc.value.field == "variables.start_uepoch"


def test_deep_nesting_is_parsed_without_recursion() -> None:
    body = b"<cdr>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"<variables/></cdr>"
    with pytest.raises(InvalidCdr) as exc:
        normalise(decode_body(body), SWITCH)
    assert exc.value.field == "variables.uuid"
