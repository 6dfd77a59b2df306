"""Hostile JSON (deep nesting, huge numbers, NaN, duplicate keys) is a 400 naming the problem, never a 500."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from bad_input_testkit import Reply, Site, api_cdr

from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr

pytestmark = pytest.mark.integration

#: (body, words the 400's message must contain)
HOSTILE = {
    "100,000 levels of [": (b"[" * 100_000, "nested deeper than 64 levels"),
    "a 5,000 digit integer": (b'{"n": ' + b"7" * 5000 + b"}", "5000 digits"),
    "an integer past 64 bits": (b'{"n": 18446744073709551616}', "out of range"),
    "1e400": (b'{"n": 1e400}', "out of range"),
    "NaN": (b'{"n": NaN}', "NaN is not a JSON number"),
    "-Infinity": (b'{"n": -Infinity}', "-Infinity is not a JSON number"),
    "a duplicate key": (b'{"switch_id": "a", "switch_id": "b", "event": "x", "event": "y"}', "duplicate key"),
}
CASES = pytest.mark.parametrize("body,words", HOSTILE.values(), ids=HOSTILE.keys())


@pytest.fixture(scope="module")
def switch(site: Site) -> tuple[str, str]:
    """One switch for the module's pushes (a new one costs a password hash on both sides)."""
    return site.new_switch("json")


def assert_refused(reply: Reply, code: str, words: str) -> None:
    assert reply.status == 400, reply.text
    assert reply.json()["error"] == code
    assert words in reply.json()["message"]


@CASES
def test_gateway_bulk_create_refuses_hostile_json(site: Site, body: bytes, words: str) -> None:
    reply = site.gateway("POST", "/api/v1/cdrs", body, {**site.admin, "Content-Type": "application/json"})
    assert_refused(reply, "invalid_argument", words)
    assert reply.json()["details"] == {"field": "body"}


@CASES
def test_gateway_json_api_refuses_hostile_json(site: Site, body: bytes, words: str) -> None:
    reply = site.gateway("PUT", "/api/v1/mapping-profiles/hostile", body, site.admin)
    assert_refused(reply, "invalid_argument", words)


@CASES
def test_ingest_call_states_refuse_hostile_json(site: Site, switch: tuple[str, str], body: bytes, words: str) -> None:
    reply = site.ingest(f"/v1/switches/{switch[0]}/calls", body, switch)
    assert_refused(reply, "invalid_call_state", words)


@pytest.mark.parametrize("name", ["100,000 levels of [", "a 5,000 digit integer", "NaN", "-Infinity"])
def test_ingest_freeswitch_json_refuses_hostile_json_and_keeps_it_as_a_reject(
    site: Site, switch: tuple[str, str], name: str
) -> None:
    body, words = HOSTILE[name]
    reply = site.ingest("/v1/freeswitch/json", body, switch)
    assert_refused(reply, "invalid_cdr", words.replace("nested deeper", "JSON nested deeper"))
    kept = [r for r in site.rejects(switch[0]) if r["raw"].encode() == body]
    assert [(r["source"], words.split()[0] in r["reason"]) for r in kept] == [("freeswitch_json", True)]


def test_bulk_create_refuses_integers_the_cdr_cannot_carry(site: Site) -> None:
    """Regression: a hangup cause or SIP code past int32 was a 500 from the proto conversion (int64: see HOSTILE)."""
    switch_id, _ = site.new_switch("range")
    for field, value in (("hangup_cause", 2**31), ("sip_code", -(2**31) - 1)):
        reply = site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": [api_cdr(**{field: value})]})
        assert (reply.status, reply.json()["details"]) == (400, {"field": f"cdrs[0].{field}"}), reply.text
        assert f"a whole number from {-(2**31)} to {2**31 - 1} (got {value})" in reply.json()["message"]
    assert site.cdrs(switch_id) == []


def freeswitch_leg_with_two_callflows(uuid_value: str) -> bytes:
    """A leg as older mod_json_cdr wrote it: one "callflow" key per caller profile, the current first."""
    now_us = int(time.time() * 1_000_000)
    cdr = new_cdr(
        uuid=uuid_value,
        caller_id_number="+14155550100",
        destination_number="+442071838750",
        start_time_us=now_us - 65_000_000,
        answer_time_us=now_us - 62_000_000,
        end_time_us=now_us - 2_000_000,
        duration_ms=63_000,
        billsec_ms=60_000,
        hangup_cause=16,
    )
    doc: dict[str, Any] = demo.freeswitch_json_document(cdr)
    del doc["variables"]["caller_id_name"]  # so the name comes from the callflow's caller profile
    current, older = (
        {**doc["callflow"][0], "caller_profile": {**doc["callflow"][0]["caller_profile"], "caller_id_name": name}}
        for name in ("Transferred Now", "Original Caller")
    )
    del doc["callflow"]
    text = json.dumps(doc)
    return f'{text[:-1]}, "callflow": {json.dumps(current)}, "callflow": {json.dumps(older)}}}'.encode()


def test_repeated_callflow_keys_of_older_freeswitch_keep_the_current_profile(site: Site) -> None:
    """Duplicate keys are real switch output here: accepted, the first (current) profile wins, not the last."""
    switch = site.new_switch("oldfs")
    leg_uuid = str(uuid.uuid4())
    reply = site.ingest(f"/v1/freeswitch/json?uuid={leg_uuid}", freeswitch_leg_with_two_callflows(leg_uuid), switch)
    assert (reply.status, reply.json()["status"]) == (200, "accepted"), reply.text
    [cdr] = site.cdrs(switch[0])
    assert (cdr["uuid"], cdr["caller_id_name"]) == (leg_uuid, "Transferred Now")
