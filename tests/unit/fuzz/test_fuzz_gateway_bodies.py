"""REST bodies and forms of switches, mapping profiles, bulk CDRs and accounts, fuzzed at the function level.

Any JSON value is the typed object or the domain's error naming the field; what the gateway accepts goes
through the real gRPC conversion and ingest answers with InvalidSwitch/InvalidCdr naming the field, or
takes it; and what the API shows (switch JSON, a CDR's JSON) is read back as the same object.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from fuzz_calls import Call, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, dicts_of, json_trees, mutated, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_common.cdr import new_cdr
from cdrstats_gateway import ingest_admin
from cdrstats_gateway.domain import accounts, cdr_format, switches
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.rest_switches import switch_json
from cdrstats_ingest import convert
from cdrstats_ingest.domain import snippets
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.generic_csv import MappingProfile as IngestProfile
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig as IngestSwitch
from cdrstats_ingest.domain.switch_rules import InvalidSwitch, validate_switch

SWITCH_KEYS = ["id", "name", "type", "home_country", "username", "enabled", "time_zone"]
SWITCH_KEYS += ["internal_extension_max_len", "remove_prefixes", "direction_rules", "connector"]
CONNECTOR_KEYS = ["type", "dsn", "table", "poll_interval_s", "password", "columns", "enrich_from_acc", "layout"]


def stored_cdr(call: Call) -> dict[str, Any]:
    """The call as ingest keeps it (enriched), with an id and quality values."""
    values = {
        "id": "01HZZZ", "switch_id": "sw1", "source": "api", "uuid": call.uuid, "call_id": call.call_id,
        "caller_id_number": call.caller, "caller_id_name": call.caller_name, "destination_number": call.destination,
        "accountcode": call.accountcode, "start_time_us": call.start_us, "answer_time_us": call.answer_us,
        "end_time_us": call.end_us, "duration_ms": (call.ring_s + call.talk_s) * 1000,
        "billsec_ms": call.talk_s * 1000, "hangup_cause": call.q850, "disposition": call.disposition, "mos": 4.25,
        "extra": {"k": call.caller_name},
    }  # fmt: skip
    return enrich(new_cdr(**values), IngestSwitch(id="sw1", home_country="US"))


def shown_without_id(cdr: dict[str, Any]) -> dict[str, Any]:
    """A CDR's JSON as the API shows it, through JSON text, without the id a new record may not carry."""
    shown = json.loads(json.dumps(cdr_format.cdr_json(cdr)))
    shown.pop("id")
    return shown


good_ish = st.sampled_from(
    ["sw1", "kamailio", "kamailio_acc", "postgresql://u@h:99999/db", "mysql://[::1/x", "h:8021", "GB", "UTC"]
)
switch_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,20}\Z")
gateway_switches = st.builds(
    switches.SwitchConfig,
    id=switch_ids,
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(str.strip),
    type=st.sampled_from(switches.SWITCH_TYPES),
    home_country=st.sampled_from(["", "GB", "US", "FR"]),
    username=st.from_regex(r"\A[A-Za-z0-9_.@+-]{0,20}\Z"),
    enabled=st.booleans(),
    time_zone=st.sampled_from(["", "UTC", "Europe/Paris"]),
    internal_extension_max_len=st.integers(0, 12),
    remove_prefixes=st.lists(st.from_regex(r"\A[0-9+*#]{1,16}\Z"), max_size=3, unique=True).map(tuple),
    direction_rules=st.lists(
        st.builds(
            switches.DirectionRule,
            field=st.sampled_from(switches.DIRECTION_FIELDS),
            pattern=st.sampled_from(["^from-trunk", "^SIP/carrier", "^\\+?1", ""]),
            direction=st.sampled_from(switches.DIRECTIONS),
        ),
        max_size=3,
    ).map(tuple),
    connector=st.builds(
        switches.Connector,
        type=st.sampled_from(switches.CONNECTOR_TYPES),
        dsn=st.sampled_from(["", "postgresql://kam@db:5432/kamailio", "mongodb://m/cdr"]),
        table=st.sampled_from(["", "acc_cdrs"]),
        poll_interval_s=st.integers(0, 86_400),
        columns=st.lists(
            st.tuples(st.sampled_from(["call_id", "accountcode"]), st.sampled_from(["callid", "acct"])),
            max_size=2,
            unique_by=lambda pair: pair[0],
        ).map(lambda pairs: tuple(sorted(pairs))),
        enrich_from_acc=st.booleans(),
        layout=st.sampled_from(["", "calldate"]),
    ),
)


switch_bodies = dicts_of(SWITCH_KEYS, json_trees | good_ish).map(
    lambda body: {**body, "connector": body.get("connector") or {}}
) | st.builds(
    lambda body, connector: {**body, "id": "sw1", "connector": connector},
    dicts_of(SWITCH_KEYS, json_trees | good_ish),
    dicts_of(CONNECTOR_KEYS, json_trees | good_ish),
)


#: what the API shows of a real switch, with a few fields (or connector fields) made hostile
near_switch_bodies = st.one_of(
    mutated(gateway_switches.map(switch_json), json_trees | good_ish),
    gateway_switches.map(switch_json).flatmap(
        lambda body: mutated(st.just(body["connector"]), json_trees | good_ish).map(lambda c: {**body, "connector": c})
    ),
)


@FUZZ_MORE
@given(body=switch_bodies | near_switch_bodies)
@example(body={"id": "k1", "type": "kamailio", "connector": {"type": "kamailio_acc", "dsn": "postgresql://h:99999/d"}})
@example(body={"id": "k1", "type": "asterisk", "connector": {"type": "asterisk_db", "dsn": "mysql://[::1/x"}})
@example(body={"id": "k1", "connector": {"type": "freeswitch_esl", "dsn": "h:99999"}})
def test_any_switch_body_is_a_switch_ingest_takes_or_names_the_field(body: dict[str, Any]) -> None:
    config = outcome(lambda: switches.switch_config(body), (InvalidInput,))
    if isinstance(config, InvalidInput):
        return
    received = convert.switch_from_proto(ingest_admin.switch_to_proto(config))
    problem = outcome(lambda: validate_switch(received), (InvalidSwitch,))
    if problem is None:  # what ingest keeps, it can render its setup snippet for
        assert snippets.switch_setup(received, "https://cdr.example.com").snippet


@FUZZ
@given(config=gateway_switches)
def test_a_switch_as_the_api_shows_it_reads_back_as_the_same_switch(config: switches.SwitchConfig) -> None:
    shown = json.loads(json.dumps(switch_json(config)))
    read = switches.switch_config(shown)
    assert read == dataclasses.replace(config, name=config.name or config.id)


PROFILE_KEYS = ["name", "delimiter", "date_format", "columns", "has_header", "time_zone", "duration_unit"]


profile_values = json_trees | st.sampled_from(["\\t", ";", "epoch", "%d/%m/%Y", "ms", "Mars/Base"])
valid_profile_bodies = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["cdrs", "billing export"]),
        "columns": st.sampled_from(
            [
                {"start_time": "Start", "uuid": "Id"},
                [{"field": "start_time", "column": "1"}, {"field": "billsec", "column": "4"}],
            ]
        ),
    },
    optional={
        "delimiter": st.sampled_from([",", ";", "\\t"]),
        "date_format": st.sampled_from(["iso8601", "epoch_ms", "%d/%m/%Y %H:%M"]),
        "has_header": st.booleans(),
        "time_zone": st.sampled_from(["", "Europe/Paris"]),
        "duration_unit": st.sampled_from(["s", "ms"]),
    },
)


@FUZZ_MORE
@given(body=dicts_of(PROFILE_KEYS, profile_values) | mutated(valid_profile_bodies, profile_values))
@example(body={"name": "p", "columns": ["start_time"]})  # AttributeError: 'str' has no .get
@example(body={"name": "p", "columns": [{"field": "start_time", "column": "1"}, 7]})
def test_any_mapping_profile_body_is_a_profile_ingest_checks_or_names_the_field(body: dict[str, Any]) -> None:
    profile = outcome(lambda: switches.mapping_profile(body), (InvalidInput,))
    if isinstance(profile, InvalidInput):
        return
    received = convert.profile_from_proto(ingest_admin.profile_to_proto(profile))
    assert isinstance(received, IngestProfile)
    problem = outcome(received.check, (InvalidCdr,))
    assert problem is None or problem.field.startswith(("mapping.", "time_zone"))


@FUZZ_MORE
@given(
    record=json_trees
    | dicts_of([*cdr_format.COLUMNS, "start_time_us", "id"], json_trees)
    | mutated(calls().map(lambda call: shown_without_id(stored_cdr(call))), json_trees | odd_text)
)
@example(record={"start_time": "2026-01-01T00:00:00Z", "duration_ms": 2**64})
@example(record={"start_time": "9999-12-31T23:59:59-23:59"})
@example(record={"start_time": "2026-01-01T00:00:00Z", "extra": {"a": 1}})
def test_any_bulk_record_is_a_typed_cdr_or_names_the_field(record: Any) -> None:
    cdr = outcome(lambda: cdr_format.cdr_from_json(record, 3), (cdr_format.CdrInputError,))
    if isinstance(cdr, cdr_format.CdrInputError):
        assert cdr.field.startswith("cdrs[3]")
        return
    switch = IngestSwitch(id="sw1")

    def submit() -> dict[str, Any]:  # what ingest's SubmitCdrs does with each record
        enriched = enrich({**cdr, "switch_id": "sw1", "source": "api"}, switch)
        validate(enriched)
        return enriched

    result = outcome(submit, (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


@FUZZ
@given(call=calls())
def test_a_cdr_as_the_api_shows_it_is_accepted_back_unchanged(call: Call) -> None:
    stored = stored_cdr(call)
    assert_storable(stored)
    assert cdr_format.cdr_from_json(shown_without_id(stored), 0) == {k: v for k, v in stored.items() if k != "id"}


@FUZZ_MORE
@given(value=json_trees | odd_text)
@example(value="²")
def test_any_account_value_is_clean_text_or_names_the_field(value: Any) -> None:
    for check, field in (
        (accounts.username, "username"),
        (accounts.password, "password"),
        (accounts.role, "role"),
        (accounts.customer_name, "name"),
        (accounts.email, "email"),
        (accounts.time_zone, "time_zone"),
        (switches.switch_id, "id"),
        (switches.profile_name, "name"),
    ):
        result = outcome(lambda check=check: check(value), (InvalidInput,))
        assert isinstance(result, str) or result.field == field
    for many in (accounts.accountcodes, switches.prefixes, switches.direction_rules):
        outcome(lambda many=many: many(value if isinstance(value, str | list) else [value]), (InvalidInput,))


@FUZZ
@given(codes=st.lists(st.from_regex(r"\A[^\s,;]{1,64}\Z"), max_size=20), separators=st.sampled_from([",", "\n", " ; "]))
def test_account_codes_typed_in_any_separation_are_the_same_codes(codes: list[str], separators: str) -> None:
    assert accounts.accountcodes(separators.join(codes)) == tuple(sorted(set(codes)))
    assert accounts.accountcodes(codes) == tuple(sorted(set(codes)))
