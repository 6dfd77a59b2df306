"""mod_json_cdr bodies and documents -> canonical CDRs, with the exact values a real switch's leg gives."""

from __future__ import annotations

import base64
import copy
import json
import pathlib
import urllib.parse
from typing import Any

import pytest

from cdrstats_common.cdr import FIELDS, from_proto, to_proto
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.freeswitch_json import decode_body, normalise, percent_decode
from cdrstats_ingest.domain.switch import SwitchConfig

SAMPLE = pathlib.Path(__file__).parent / "data" / "json_cdr_answered_plain.json"
SWITCH = SwitchConfig(id="fs-edge-01", home_country="US")
A_UUID = "6b8f3c0e-7d2a-4b6e-8c8e-1b2f4a9d7e01"
B_UUID = "9a0d2e57-3c41-4f88-b7a6-55e0c3d1f2aa"
START = 1714557600120033
ANSWER = 1714557604502117
END = 1714557621930412
FORM = "application/x-www-form-urlencoded"


def fs_encode(value: str) -> str:
    """What FreeSWITCH does to every variable value with encode-values=true (the default)."""
    return urllib.parse.quote(value, safe="")


def sample_doc(*, encode_values: bool = True, drop: tuple[str, ...] = (), **variables: str) -> dict[str, Any]:
    """The sample leg, variables overridden/dropped, percent-encoded like a default switch."""
    doc = json.loads(SAMPLE.read_text())
    for name in drop:
        doc["variables"].pop(name, None)
    doc["variables"].update(variables)
    if encode_values:
        doc["variables"] = {k: fs_encode(v) for k, v in doc["variables"].items()}
    return doc


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def test_answered_sample_maps_every_canonical_field() -> None:
    cdr = normalise(decode_body(SAMPLE.read_bytes(), "application/json"), SWITCH)

    expected_core = {
        "id": "",
        "switch_id": "fs-edge-01",
        "source": "freeswitch_json",
        "uuid": A_UUID,
        "call_id": "a84b4c76e66710@198.51.100.7",
        "linked_id": B_UUID,  # the originatee leg in the callflow
        "direction": "inbound",
        "caller_id_number": "+14155550100",
        "caller_id_name": "Alice",
        "destination_number": "+12125550123",
        "destination_e164": "+12125550123",
        "country": "US",
        "destination_prefix": "+1212",
        "number_type": "fixed_or_mobile",
        "accountcode": "acme",
        "start_time_us": START,
        "answer_time_us": ANSWER,
        "end_time_us": END,
        "duration_ms": (END - START) // 1000,  # no mduration in the sample
        "billsec_ms": 17428,
        "pdd_ms": 890,  # callflow progress_time 1714557601010550 - start
        "answered": True,
        "disposition": "ANSWERED",
        "hangup_cause": 16,
        "sip_code": 0,
        "read_codec": "PCMU",
        "write_codec": "PCMU",
        "remote_media_ip": "198.51.100.7",
        "mos": 4.5,
        "jitter_ms": 7.9,  # callStats inbound jitter_max_variance
        "packet_loss_pct": 0.0,  # flaw_total 0 of 848 packets
    }
    assert {k: v for k, v in cdr.items() if k != "extra"} == expected_core
    assert cdr["duration_ms"] == 21810
    assert set(cdr) == set(FIELDS)


def test_extra_keeps_unmapped_values_and_drops_mapped_ones() -> None:
    cdr = normalise(sample_doc(), SWITCH)
    extra = cdr["extra"]
    assert extra["core-uuid"] == "0d6c4a3e-5b7d-4c1e-9a51-2f0e8f1d0c11"
    assert extra["switchname"] == "fs-edge-01"
    assert extra["sip_hangup_disposition"] == "send_bye"
    assert extra["start_stamp"] == "2024-05-01 10:00:00"  # decoded from 2024-05-01%2010%3A00%3A00
    assert extra["remote_media_port"] == "40012"
    assert extra["hangup_cause"] == "NORMAL_CLEARING"
    assert extra["callflow.caller_profile.network_addr"] == "198.51.100.7"
    assert extra["callflow.caller_profile.chan_name"] == "sofia/internal/1001@203.0.113.5"
    assert extra["channel_data.state"] == "CS_REPORTING"
    for mapped in ("uuid", "start_uepoch", "answer_uepoch", "end_uepoch", "billmsec", "sip_call_id", "accountcode"):
        assert mapped not in extra
    assert "callflow.caller_profile.uuid" not in extra
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items())


def test_percent_encoded_values_give_the_same_cdr_as_plain_ones() -> None:
    encoded = sample_doc()
    assert encoded["variables"]["caller_id_number"] == "%2B14155550100"
    plain = normalise(sample_doc(encode_values=False), SWITCH)
    assert normalise(encoded, SWITCH) == plain
    assert plain["caller_id_number"] == "+14155550100"


def test_proto_round_trip_keeps_every_value() -> None:
    cdr = normalise(sample_doc(), SWITCH)
    assert from_proto(to_proto(cdr)) == cdr


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("%2B14155550100", "+14155550100"),
        ("Jos%C3%A9%20Garc%C3%ADa", "José García"),
        ("A+B", "A+B"),  # '+' is no space in variables
        ("100% sure", "100% sure"),  # a '%' that starts no escape survives
        ("50%zz", "50%zz"),
        ("%FFabc", "%FFabc"),  # not UTF-8: kept rather than lost
        ("plain", "plain"),
        ("%25", "%"),
    ],
)
def test_percent_decode(raw: str, decoded: str) -> None:
    assert percent_decode(raw) == decoded


def test_unanswered_leg_with_answer_zero() -> None:
    doc = sample_doc(
        answer_uepoch="0",
        answer_epoch="0",
        billmsec="0",
        mduration="30012",
        end_uepoch=str(START + 30_012_345),
        progress_uepoch=str(START + 2_500_000),
        progress_media_uepoch="0",
        hangup_cause="NO_ANSWER",
        hangup_cause_q850="19",
        sip_term_status="480",
    )
    cdr = normalise(doc, SWITCH)
    assert cdr["answer_time_us"] == 0
    assert cdr["answered"] is False
    assert cdr["billsec_ms"] == 0
    assert cdr["duration_ms"] == 30012
    assert cdr["end_time_us"] == START + 30_012_345
    assert cdr["pdd_ms"] == 2500
    assert cdr["hangup_cause"] == 19
    assert cdr["sip_code"] == 480
    assert cdr["disposition"] == "NO_ANSWER"


def test_pdd_takes_the_earliest_progress_and_falls_back_to_answer() -> None:
    early_media_first = sample_doc(progress_uepoch=str(START + 900_000), progress_media_uepoch=str(START + 400_000))
    assert normalise(early_media_first, SWITCH)["pdd_ms"] == 400
    no_progress = sample_doc()
    no_progress["callflow"][0]["times"]["progress_time"] = "0"
    assert normalise(no_progress, SWITCH)["pdd_ms"] == (ANSWER - START) // 1000 == 4382
    nothing = sample_doc(answer_uepoch="0", billmsec="0", hangup_cause="USER_BUSY", hangup_cause_q850="17")
    nothing["callflow"][0]["times"]["progress_time"] = "0"
    assert normalise(nothing, SWITCH)["pdd_ms"] == -1


def test_billsec_and_duration_fall_back_to_times() -> None:
    cdr = normalise(sample_doc(drop=("billmsec", "mduration")), SWITCH)
    assert cdr["billsec_ms"] == (END - ANSWER) // 1000 == 17428
    assert cdr["duration_ms"] == (END - START) // 1000


@pytest.mark.parametrize(
    ("variables", "cause", "disposition"),
    [
        ({"hangup_cause": "USER_BUSY", "hangup_cause_q850": "17", "sip_term_status": "486"}, 17, "BUSY"),
        ({"hangup_cause": "NO_USER_RESPONSE", "hangup_cause_q850": "18"}, 18, "NO_ANSWER"),
        ({"hangup_cause": "CALL_REJECTED", "hangup_cause_q850": "21", "sip_term_status": "603"}, 21, "FAILED"),
        # FreeSWITCH reports internal causes > 127 as 16; the name still says CANCEL
        ({"hangup_cause": "ORIGINATOR_CANCEL", "hangup_cause_q850": "16", "sip_term_status": "487"}, 16, "CANCEL"),
        ({"hangup_cause": "ORIGINATOR_CANCEL"}, 16, "CANCEL"),  # no numeric field: mapped from the name
        ({"hangup_cause": "NORMAL_CIRCUIT_CONGESTION"}, 34, "CONGESTION"),
        ({"hangup_cause": "SWITCH_CONGESTION", "hangup_cause_q850": "42"}, 42, "CONGESTION"),
        ({"sip_term_status": "503"}, 41, "FAILED"),  # neither cause field: from the SIP code
        ({"sip_term_status": "487"}, 16, "CANCEL"),
        ({"hangup_cause": "RECOVERY_ON_TIMER_EXPIRE", "hangup_cause_q850": "102"}, 102, "FAILED"),
    ],
)
def test_unanswered_causes_and_dispositions(variables: dict[str, str], cause: int, disposition: str) -> None:
    overrides: dict[str, Any] = {"answer_uepoch": "0", "billmsec": "0", **variables}
    doc = sample_doc(drop=("hangup_cause", "hangup_cause_q850"), **overrides)
    cdr = normalise(doc, SWITCH)
    assert (cdr["hangup_cause"], cdr["disposition"], cdr["answered"]) == (cause, disposition, False)
    assert cdr["sip_code"] == int(variables.get("sip_term_status", "0"))


def test_quality_from_variables() -> None:
    doc = sample_doc(
        rtp_audio_in_mos="3.92",
        rtp_audio_in_jitter_max_variance="12.5",
        rtp_audio_in_flaw_total="17",
        rtp_audio_in_packet_count="850",
    )
    cdr = normalise(doc, SWITCH)
    assert cdr["mos"] == 3.92
    assert cdr["jitter_ms"] == 12.5
    assert cdr["packet_loss_pct"] == pytest.approx(2.0)
    assert "rtp_audio_in_packet_count" not in cdr["extra"]


def test_old_callflow_object_and_no_caller_variables() -> None:
    doc = sample_doc(drop=("uuid", "caller_id_number", "caller_id_name", "destination_number"))
    doc["callflow"] = doc["callflow"][0]  # older versions: an object
    cdr = normalise(doc, SWITCH)
    assert cdr["uuid"] == A_UUID
    assert cdr["caller_id_number"] == "+14155550100"
    assert cdr["caller_id_name"] == "Alice"
    assert cdr["destination_number"] == "+12125550123"
    assert cdr["pdd_ms"] == 890
    assert cdr["linked_id"] == B_UUID


def test_b_leg_prefers_callee_and_links_with_bridge_uuid() -> None:
    doc = sample_doc(
        uuid=B_UUID,
        direction="outbound",
        bridge_uuid=A_UUID,
        destination_number="sofia/gateway/carrier1/+12125550123",
        callee_id_number="+12125550123",
        callee_id_name="Outbound Call",
    )
    cdr = normalise(doc, SWITCH)
    assert cdr["uuid"] == B_UUID
    assert cdr["direction"] == "outbound"
    assert cdr["linked_id"] == A_UUID
    assert cdr["destination_number"] == "+12125550123"
    assert cdr["destination_e164"] == "+12125550123"
    assert cdr["extra"]["destination_number"] == "sofia/gateway/carrier1/+12125550123"
    assert "bridge_uuid" not in cdr["extra"]


def test_a_leg_links_with_bridge_uuid_before_the_callflow() -> None:
    cdr = normalise(sample_doc(bridge_uuid="11111111-2222-3333-4444-555555555555"), SWITCH)
    assert cdr["linked_id"] == "11111111-2222-3333-4444-555555555555"


def test_uuid_hint_from_the_query_string() -> None:
    doc = sample_doc(drop=("uuid",))
    del doc["callflow"][0]["caller_profile"]["uuid"]
    assert normalise(doc, SWITCH, uuid_hint="abc-123")["uuid"] == "abc-123"
    with pytest.raises(InvalidCdr) as exc:
        normalise(doc, SWITCH)
    assert exc.value.field == "variables.uuid"


def test_extension_to_extension_is_internal() -> None:
    doc = sample_doc(caller_id_number="1001", destination_number="1002")
    cdr = normalise(doc, SWITCH)
    assert cdr["direction"] == "internal"
    assert cdr["number_type"] == "extension"
    assert cdr["destination_e164"] == ""


def test_national_number_uses_the_switch_home_country() -> None:
    uk = SwitchConfig(id="lon-1", home_country="GB", remove_prefixes=("9",))
    cdr = normalise(sample_doc(destination_number="902079460958"), uk)
    assert (cdr["destination_e164"], cdr["country"], cdr["number_type"], cdr["destination_prefix"]) == (
        "+442079460958",
        "GB",
        "fixed",
        "+4420",
    )
    assert cdr["destination_number"] == "902079460958"  # as dialled


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"drop": ("start_uepoch", "start_epoch")}, "variables.start_uepoch"),
        ({"start_uepoch": "not-a-time", "start_epoch": ""}, "variables.start_uepoch"),
        ({"start_uepoch": "0", "start_epoch": "0"}, "variables.start_uepoch"),
        ({"drop": ("end_uepoch", "end_epoch", "mduration")}, "variables.end_uepoch"),
        ({"end_uepoch": str(START - 1)}, "end_time_us"),
    ],
)
def test_bad_times_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        normalise(sample_doc(**change), SWITCH)
    assert exc.value.field == field


def test_start_epoch_seconds_is_a_fallback() -> None:
    cdr = normalise(sample_doc(drop=("start_uepoch",)), SWITCH)
    assert cdr["start_time_us"] == 1714557600_000_000


def test_variables_must_be_an_object() -> None:
    doc = sample_doc()
    doc["variables"] = ["uuid"]
    with pytest.raises(InvalidCdr) as exc:
        normalise(doc, SWITCH)
    assert exc.value.field == "variables"


# ---- decode_body ---------------------------------------------------------------------------


def test_raw_json_body() -> None:
    doc = sample_doc()
    assert decode_body(body(doc), "application/json; charset=utf-8") == doc


def test_form_body_with_url_encoded_json() -> None:
    doc = sample_doc()  # values already percent-encoded: the form encodes them again
    form = "cdr=" + urllib.parse.quote_plus(json.dumps(doc))
    decoded = decode_body(form.encode(), FORM)
    assert decoded == doc
    assert normalise(decoded, SWITCH)["caller_id_number"] == "+14155550100"


def test_form_body_among_other_fields_and_without_content_type() -> None:
    doc = sample_doc()
    form = f"uuid={A_UUID}&cdr=" + urllib.parse.quote(json.dumps(doc), safe="")
    assert decode_body(form.encode(), "") == doc


def test_form_body_with_base64_json_keeps_plus_signs() -> None:
    doc = sample_doc(encode_values=False, caller_id_name="Zoë>>>?")
    payload = base64.b64encode(json.dumps(doc, ensure_ascii=False).encode()).decode()
    assert "+" in payload or "/" in payload
    decoded = decode_body(f"cdr={payload}".encode(), FORM)
    assert decoded == doc
    url_quoted = decode_body(("cdr=" + urllib.parse.quote(payload, safe="")).encode(), FORM)
    assert url_quoted == doc


def _plus_payload_doc() -> dict[str, Any]:
    """A document whose base64 form is guaranteed to contain '+' (>>> encodes as Pj4+)."""
    doc = sample_doc(encode_values=False)
    doc["switchname"] = ">>>"
    return doc


def test_base64_plus_is_not_a_space() -> None:
    doc = _plus_payload_doc()
    payload = base64.b64encode(json.dumps(doc).encode()).decode()
    assert "+" in payload
    assert decode_body(f"cdr={payload}".encode(), FORM) == doc


@pytest.mark.parametrize(
    ("raw", "content_type", "message"),
    [
        (b'{"variables": {"uuid": "x"', "application/json", "line 1 column 27"),
        (b"[1, 2]", "application/json", "expected a JSON object, got list"),
        (b'"just a string"', "application/json", "expected a JSON object, got str"),
        (b"uuid=abc&other=1", FORM, "'cdr' field"),
        (b"\xff\xfe{}", "application/json", "not valid UTF-8"),
        (b"cdr=%7B%22a%22%3A%22%FF%22%7D", FORM, "not valid UTF-8"),
        (b"cdr=!!!not-base64!!!", FORM, "neither JSON nor base64"),
        (b"cdr=" + base64.b64encode(b"not json"), FORM, "not valid JSON"),
        (b"cdr=" + base64.b64encode(b"\xff\xfe"), FORM, "not valid UTF-8"),
        (b"garbage", "application/json", "not valid JSON"),
    ],
)
def test_bad_bodies_are_invalid(raw: bytes, content_type: str, message: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        decode_body(raw, content_type)
    assert exc.value.field == "body"
    assert message in str(exc.value)


def _nested(levels: int) -> bytes:
    """A JSON object ``levels`` deep (the outer object is level 1)."""
    return ('{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)).encode()


def test_nesting_limit() -> None:
    assert decode_body(_nested(64), "application/json")
    for levels in (65, 100_000):  # 100k levels would blow Python's recursion limit
        with pytest.raises(InvalidCdr) as exc:
            decode_body(_nested(levels), "application/json")
        assert exc.value.field == "body"
        assert "deeper than 64" in str(exc.value)


def test_normalise_does_not_modify_the_document() -> None:
    doc = sample_doc()
    before = copy.deepcopy(doc)
    normalise(doc, SWITCH)
    assert doc == before


# ---- encode-values off, B-legs, ?uuid= ------------------------------------------------------


def test_unencoded_values_keep_a_literal_percent_escape() -> None:
    """encode-values=false: "%20" in a value is what the caller typed, not an escape."""
    doc = sample_doc(encode_values=False, caller_id_name="Promo%20Club 100%", sip_h_X_Code="A%2BB")
    cdr = normalise(doc, SWITCH)
    assert cdr["caller_id_name"] == "Promo%20Club 100%"
    assert cdr["extra"]["sip_h_X_Code"] == "A%2BB"
    assert cdr["extra"]["start_stamp"] == "2024-05-01 10:00:00"


def test_encoded_values_with_a_literal_percent_decode_once() -> None:
    doc = sample_doc(caller_id_name="Promo%20Club 100%")  # the switch encodes '%' as %25
    assert doc["variables"]["caller_id_name"] == "Promo%2520Club%20100%25"
    assert normalise(doc, SWITCH)["caller_id_name"] == "Promo%20Club 100%"


@pytest.mark.parametrize(
    "link_variable",
    ["originating_leg_uuid", "bridge_uuid", "last_bridge_to", "signal_bond", "other_loopback_leg_uuid"],
)
def test_b_leg_links_to_the_a_leg(link_variable: str) -> None:
    doc = sample_doc(drop=("direction",), uuid=B_UUID, **{link_variable: A_UUID})
    doc["channel_data"]["direction"] = "outbound"
    del doc["callflow"][0]["caller_profile"]["originatee"]
    cdr = normalise(doc, SWITCH)
    assert (cdr["uuid"], cdr["linked_id"], cdr["direction"]) == (B_UUID, A_UUID, "outbound")
    assert link_variable not in cdr["extra"]


def test_b_leg_links_through_the_callflow_originator() -> None:
    doc = sample_doc(uuid=B_UUID, direction="outbound")
    profile = doc["callflow"][0]["caller_profile"]
    originatee = profile.pop("originatee")["originatee_caller_profiles"][0]
    profile["uuid"] = B_UUID
    profile["originator"] = {"originator_caller_profiles": [{**originatee, "uuid": A_UUID}]}
    assert normalise(doc, SWITCH)["linked_id"] == A_UUID


def test_a_link_variable_naming_the_leg_itself_is_skipped() -> None:
    doc = sample_doc(bridge_uuid=A_UUID, signal_bond=B_UUID)
    cdr = normalise(doc, SWITCH)
    assert cdr["linked_id"] == B_UUID
    assert cdr["extra"]["bridge_uuid"] == A_UUID


def test_uuid_hint_with_the_prefix_a_leg_setting() -> None:
    doc = sample_doc(drop=("uuid",))
    del doc["callflow"][0]["caller_profile"]["uuid"]
    assert normalise(doc, SWITCH, uuid_hint=f"a_{A_UUID}")["uuid"] == A_UUID


def test_form_body_with_unencoded_values_keeps_percent_signs() -> None:
    doc = sample_doc(encode_values=False, caller_id_name="50%25 off")
    form = "cdr=" + urllib.parse.quote(json.dumps(doc), safe="")
    assert normalise(decode_body(form.encode(), FORM), SWITCH)["caller_id_name"] == "50%25 off"
