"""What every source shares, fuzzed: enrich + validate of any dict (the bulk API and a retried reject's edited
JSON), number intelligence, live call-state events and CDR ids."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import phonenumbers
from fuzz_calls import Call, assert_fields, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, dicts_of, json_trees, mutated, odd_text, outcome, raw_bytes
from hypothesis import assume, example, given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from cdrstats_common.cdr import FIELDS, new_cdr
from cdrstats_ingest import imports
from cdrstats_ingest.domain import callstate, ids, numbers
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="sw1", home_country="US")
START = 1_714_557_600_000_000
typed_values = st.one_of(
    json_trees,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=START - 10**9, max_value=START + 10**9),
    st.sampled_from(["ANSWERED", "inbound", "api", "+442079460123", "1001"]),
)


def bulk_record(call: Call) -> dict[str, Any]:
    """A call as a bulk-API client sends it: no number intelligence, no answered flag."""
    return new_cdr(
        source="api",
        uuid=call.uuid,
        call_id=call.call_id,
        caller_id_number=call.caller,
        caller_id_name=call.caller_name,
        destination_number=call.destination,
        accountcode=call.accountcode,
        start_time_us=call.start_us,
        answer_time_us=call.answer_us,
        end_time_us=call.end_us,
        duration_ms=(call.ring_s + call.talk_s) * 1000,
        billsec_ms=call.talk_s * 1000,
        hangup_cause=call.q850,
        disposition=call.disposition,
    )


#: real records with a few fields made hostile, dropped or added
near_records = mutated(calls().map(bulk_record), typed_values)


def accepted(values: dict[str, Any]) -> Any:
    """What ingest makes of a bulk record: a validated CDR or InvalidCdr naming the field."""

    def run() -> dict[str, Any]:
        cdr = enrich({"uuid": "u1", "start_time_us": START, "end_time_us": START, **values}, SWITCH)
        validate(cdr)
        return cdr

    return outcome(run, (InvalidCdr,))


@FUZZ_MORE
@given(values=dicts_of(list(FIELDS), typed_values) | near_records)
@example(values={"extra": ["a", "b"]})  # TypeError in enrich
@example(values={"extra": "ab"})  # ValueError in enrich
@example(values={"start_time_us": 2**70, "end_time_us": 2**70})  # passed validate, broke the proto
@example(values={"end_time_us": 253_402_300_800_000_000})  # year 10000: no datetime shows it
@example(values={"hangup_cause": 2**31})
@example(values={"sip_code": -5})
@example(values={"duration_ms": 2**63})
@example(values={"mos": float("nan")})
@example(values={"jitter_ms": "1.5"})
@example(values={"answered": "yes", "answer_time_us": "x"})
def test_any_canonical_record_is_a_storable_cdr_or_names_the_field(values: dict[str, Any]) -> None:
    result = accepted(values)
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


@FUZZ
@given(raw=odd_text | near_records.map(lambda record: json.dumps(record, default=str)))
@example(raw='{"uuid": "u", "start_time_us": 1714557600000000, "extra": [1]}')
def test_a_retried_reject_with_any_edited_json_is_a_cdr_or_names_the_field(raw: str) -> None:
    def retry() -> dict[str, Any]:
        cdr = enrich(imports.RETRY_PARSERS["api"](raw, SWITCH), SWITCH)
        validate(cdr)
        return cdr

    result = outcome(retry, (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


@FUZZ
@given(call=calls())
def test_a_bulk_record_keeps_its_values_and_gains_the_derived_ones(call: Call) -> None:
    cdr = enrich(bulk_record(call), SWITCH)
    validate(cdr)
    assert_fields(cdr, {**call.expected(), "call_id": call.call_id, "caller_id_name": call.caller_name})
    assert enrich(cdr, SWITCH) == cdr  # idempotent


switches = st.builds(
    SwitchConfig,
    id=st.just("sw"),
    home_country=st.sampled_from(["US", "GB", "FR", "", "ZZ", "001", "xx"]) | odd_text,
    remove_prefixes=st.lists(st.sampled_from(["0", "00", "9", "+", "*", ""]) | odd_text, max_size=3).map(tuple),
    internal_extension_max_len=st.integers(0, 15),
)


@FUZZ_MORE
@given(number=odd_text | st.from_regex(r"\A(sip:|tel:)?\+?[0-9 ()./-]{0,25}(@[a-z.]+)?\Z"), switch=switches)
@example(number="+" + "9" * 40, switch=SwitchConfig(id="sw"))
@example(number="sip:@", switch=SwitchConfig(id="sw", remove_prefixes=("",)))
def test_classifying_any_number_never_raises(number: str, switch: SwitchConfig) -> None:
    info = numbers.classify(number, switch)
    assert info.e164 == "" or (info.e164.startswith("+") and info.e164[1:].isdigit())
    assert info.country == "" or len(info.country) == 2


#: NANP and a few other plans do not tell fixed lines from mobiles: either kind may say fixed_or_mobile
NUMBER_TYPES = {
    PhoneNumberType.FIXED_LINE: ("fixed", "fixed_or_mobile"),
    PhoneNumberType.MOBILE: ("mobile", "fixed_or_mobile"),
}


@FUZZ_MORE
@given(
    region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)),
    kind=st.sampled_from(sorted(NUMBER_TYPES)),
    written=st.sampled_from(["e164", "international", "00", "national", "sip", "tel"]),
)
def test_every_countrys_example_number_is_recognised_however_it_is_written(
    region: str, kind: int, written: str
) -> None:
    example_number = phonenumbers.example_number_for_type(region, kind)
    assume(example_number is not None and phonenumbers.is_valid_number(example_number))
    assume(phonenumbers.region_code_for_number(example_number) == region)
    e164 = phonenumbers.format_number(example_number, PhoneNumberFormat.E164)
    text = {
        "e164": e164,
        "international": phonenumbers.format_number(example_number, PhoneNumberFormat.INTERNATIONAL),
        "00": "00" + e164[1:],
        "national": phonenumbers.format_number(example_number, PhoneNumberFormat.NATIONAL),
        "sip": f"sip:{e164}@carrier.example;user=phone",
        "tel": phonenumbers.format_number(example_number, PhoneNumberFormat.RFC3966),
    }[written]
    info = numbers.classify(text, SwitchConfig(id="sw", home_country=region, internal_extension_max_len=0))
    assert (info.e164, info.country) == (e164, region), text
    assert info.number_type in NUMBER_TYPES[kind]
    assert e164.startswith(info.prefix) and len(info.prefix) > 1


@FUZZ_MORE
@given(body=raw_bytes | json_trees.map(lambda tree: json.dumps(tree).encode()))
@example(body=b"[" * 50_000)
@example(body=b'{"event": "started", "uuid": "u", "time": 1e400}')
def test_any_call_state_body_is_events_or_an_error_naming_the_body(body: bytes) -> None:
    events = outcome(lambda: callstate.parse_body(body), (InvalidCdr,))
    if isinstance(events, InvalidCdr):
        assert events.field == "body"
        return
    for raw in events:
        outcome(lambda raw=raw: callstate.normalise(raw, SWITCH, now_us=lambda: START), (InvalidCdr,))


call_events = st.fixed_dictionaries(
    {"event": st.sampled_from(callstate.EVENTS), "uuid": st.just("leg-1")},
    optional={
        "time": st.integers(946_684_800_000_000, 4_102_444_799_999_999),  # 2000 .. 2099, in µs
        "direction": st.sampled_from(["inbound", "outbound", "internal", ""]),
        "destination_number": st.sampled_from(["+442079460123", "1001", ""]),
        "caller_id_number": st.sampled_from(["+14155550100", "1002"]),
        "accountcode": st.just("acme"),
    },
)


@FUZZ_MORE
@given(event=dicts_of(["event", "uuid", "time", "direction", "destination_number"]) | mutated(call_events, json_trees))
@example(event={"event": "started", "uuid": "u", "time": "9999-12-31T23:59:59-23:59"})
@example(event={"event": "started", "uuid": "u", "time": 2**70})
@example(event={"event": "started", "uuid": "u", "time": "\u00b2"})  # '²'.isdigit(), but int('²') fails
@example(event={"event": "started", "uuid": "u", "time": "9" * 5000})  # int() refuses 4300+ digits
def test_any_call_state_event_is_data_or_names_the_field(event: dict[str, Any]) -> None:
    outcome(lambda: callstate.normalise(event, SWITCH, now_us=lambda: START), (InvalidCdr,))


@FUZZ
@given(
    moment=st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2099, 12, 30)),
    offset_min=st.integers(-14 * 60, 14 * 60),
    as_text=st.booleans(),
)
def test_a_call_state_time_in_any_offset_is_the_same_instant(moment: dt.datetime, offset_min: int, as_text: bool):
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_min)))
    time_us = (aware - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    given_time: Any = aware.isoformat() if as_text else time_us
    data = callstate.normalise({"event": "answered", "uuid": "u", "time": given_time}, SWITCH)
    assert data["time_us"] == time_us


@FUZZ
@given(times=st.lists(st.integers(0, 2**48 - 1), min_size=1, max_size=5), count=st.integers(1, 50))
def test_ids_are_crockford_and_sort_in_the_order_they_were_made(times: list[int], count: int) -> None:
    made = [new for now in sorted(times) for new in ids.new_ids(count, now)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in made)
