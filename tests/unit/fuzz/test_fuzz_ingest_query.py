"""Ingest's own request checks, fuzzed: CDR search queries and cursors, switch configurations and their
setup snippets. Any request is planned or refused naming the field; a cursor made for a page leads back to
exactly that row; a valid switch is kept and its snippet names what the operator must paste."""

from __future__ import annotations

import base64
import json
from typing import Any

from fuzz_strategies import FUZZ, FUZZ_MORE, json_trees, mutated_fields, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_ingest.domain import query, snippets
from cdrstats_ingest.domain.errors import IngestError
from cdrstats_ingest.domain.switch import ConnectorSettings, DirectionRule, SwitchConfig
from cdrstats_ingest.domain.switch_rules import InvalidSwitch, validate_switch

big_ints = st.integers(min_value=-(2**70), max_value=2**70)
texts = odd_text | st.text(min_size=250, max_size=270)
text_filters = st.none() | st.builds(query.TextFilter, op=st.sampled_from([*query.TEXT_OPS, "", "like"]), value=texts)
number_filters = st.lists(
    st.builds(query.NumberFilter, op=st.sampled_from([*query.NUMBER_OPS, "ne"]), value=big_ints), max_size=2
)
queries = st.builds(
    query.CdrQuery,
    start_from_us=big_ints,
    start_to_us=big_ints,
    switch_ids=st.lists(texts, max_size=2).map(tuple),
    destination_number=text_filters,
    caller_id_name=text_filters,
    directions=st.lists(st.sampled_from(["inbound", "sideways"]) | odd_text, max_size=2).map(tuple),
    hangup_causes=st.lists(big_ints, max_size=2).map(tuple),
    sip_codes=st.lists(big_ints, max_size=2).map(tuple),
    countries=st.lists(st.sampled_from(["de", " GB ", "XYZ", "ß"]) | odd_text, max_size=2).map(tuple),
    duration_ms=number_filters.map(tuple),
    answered=st.none() | st.booleans(),
    sources=st.lists(st.sampled_from(["api", "fax"]), max_size=2).map(tuple),
    uuid=texts,
    destination_prefixes=st.lists(st.sampled_from(["44", "+4420", "+", "0x1"]) | odd_text, max_size=2).map(tuple),
)
scopes = st.builds(query.Scope, admin=st.booleans(), allowed_accountcodes=st.lists(odd_text, max_size=2).map(tuple))


def forged(body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


#: a valid query with one to three fields made hostile
near_queries = mutated_fields(
    st.just(query.CdrQuery(start_from_us=1, countries=("DE",), destination_prefixes=("44",))),
    {
        "start_from_us": big_ints,
        "start_to_us": big_ints,
        "switch_ids": st.lists(texts, max_size=2).map(tuple),
        "destination_number": text_filters,
        "hangup_causes": st.lists(big_ints, max_size=2).map(tuple),
        "sip_codes": st.lists(big_ints, max_size=2).map(tuple),
        "countries": st.lists(odd_text, max_size=2).map(tuple),
        "duration_ms": number_filters.map(tuple),
        "uuid": texts,
        "destination_prefixes": st.lists(odd_text, max_size=2).map(tuple),
    },
)


@FUZZ_MORE
@given(
    scope=scopes,
    q=queries | near_queries,
    sort_by=st.sampled_from([*query.SORT_KEYS, "", "password"]),
    cursor=odd_text | st.builds(forged, json_trees),
)
@example(scope=query.Scope(True), q=query.CdrQuery(), sort_by="", cursor=forged({"v": 1, "q": "x", "k": 1, "i": "a"}))
def test_any_search_is_planned_or_names_the_request_field(
    scope: query.Scope, q: query.CdrQuery, sort_by: str, cursor: str
) -> None:
    planned = outcome(lambda: query.plan_search(scope, q, sort_by=sort_by, cursor=cursor), (IngestError,))
    if isinstance(planned, query.CdrSearch):
        assert planned.sort in query.SORT_KEYS.values()
        assert all(p.startswith("+") for p in planned.query.destination_prefixes)
        assert all(len(c) == 2 and c.isupper() for c in planned.query.countries)


rows = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"\A[0-9A-Z]{26}\Z"),
        "start_time_us": st.integers(1, 2**62),
        "destination_number": st.text(max_size=30),
        "answered": st.booleans(),
        "duration_ms": st.integers(0, 2**40),
        "source": st.sampled_from(["api", "freeswitch_json"]),
    }
)


@FUZZ
@given(row=rows, sort_by=st.sampled_from(["start_time", "id", "destination_number", "answered", "duration_ms"]))
def test_a_cursor_leads_back_to_the_row_it_was_made_at_and_only_for_its_search(row: dict[str, Any], sort_by: str):
    search = query.plan_search(query.Scope(True), query.CdrQuery(), sort_by=sort_by)
    cursor = query.encode_cursor(search, row)
    position = query.decode_cursor(cursor, search)
    assert (position.value, position.id) == (query.sort_value(row, search.sort), row["id"])
    other = query.plan_search(query.Scope(True), query.CdrQuery(), sort_by=sort_by, ascending=True)
    refused = outcome(lambda: query.decode_cursor(cursor, other), (query.InvalidQuery,))
    assert isinstance(refused, query.InvalidQuery) and refused.field == "cursor"


connectors = st.builds(
    ConnectorSettings,
    type=st.sampled_from(["", "kamailio_acc", "asterisk_db", "freeswitch_mongodb", "freeswitch_esl", "ftp"]),
    dsn=st.sampled_from(
        [
            "",
            "postgresql://kam:pw@db:5432/kamailio",
            "mysql+pymysql://a@h/asterisk",
            "mongodb://m:27017/cdr",
            "fs1:8021",
            "fs1:99999",
            "postgresql://h:99999/d",
            "mysql://[::1/x",
            "postgresql://u:secret",
            "x",
        ]
    )
    | odd_text,
    table=st.sampled_from(["", "acc_cdrs", "cdr"]),
    poll_interval_s=st.integers(-1, 3600),
    columns=st.lists(
        st.tuples(st.sampled_from(["call_id", "answer_time", "bogus"]), st.text(max_size=8)), max_size=2
    ).map(tuple),
    enrich_from_acc=st.booleans(),
    layout=st.sampled_from(["", "calldate", "start_answer_end", "x"]),
)
configs = st.builds(
    SwitchConfig,
    id=st.sampled_from(["sw1", "edge-01.paris", "-bad", "a" * 65]) | odd_text,
    type=st.sampled_from(["freeswitch", "asterisk", "kamailio", "other", "cisco"]),
    home_country=st.sampled_from(["US", "GB", "gb", "", "001"]),
    time_zone=st.sampled_from(["UTC", "Europe/Paris", "Mars/Olympus", ""]),
    internal_extension_max_len=st.integers(-1, 16),
    remove_prefixes=st.lists(st.sampled_from(["0", "+1", "*#9", "", "0" * 16]) | odd_text, max_size=2).map(tuple),
    username=st.sampled_from(["", "fs1", "a:b", "ü"]),
    direction_rules=st.lists(
        st.builds(
            DirectionRule,
            field=st.sampled_from(["context", "channel", "zz"]),
            pattern=st.sampled_from(["^from-trunk", "(", "", "[a-"]) | odd_text,
            direction=st.sampled_from(["inbound", "outbound", "internal", "unknown"]),
        ),
        max_size=2,
    ).map(tuple),
    connector=connectors,
)


VALID_SWITCHES = (
    SwitchConfig(id="fs1", time_zone="Europe/Paris", remove_prefixes=("0",)),
    SwitchConfig(
        id="kam1",
        type="kamailio",
        home_country="GB",
        connector=ConnectorSettings(
            "kamailio_acc", "postgresql://kam:pw@db:5432/kamailio", "acc_cdrs", columns=(("call_id", "callid"),)
        ),
    ),
    SwitchConfig(id="ast1", type="asterisk", connector=ConnectorSettings("asterisk_db", "mysql://a@h/asterisk", "cdr")),
    SwitchConfig(id="fs2", connector=ConnectorSettings("freeswitch_mongodb", "mongodb://m:27017/cdr", "cdr")),
    SwitchConfig(id="fs3", connector=ConnectorSettings("freeswitch_esl", "fs3:8021")),
)
#: a kept switch with one to three settings (of their own type) made hostile
near_configs = mutated_fields(
    st.sampled_from(VALID_SWITCHES),
    {
        "id": odd_text,
        "home_country": odd_text,
        "time_zone": odd_text,
        "internal_extension_max_len": st.integers(-(2**40), 2**40),
        "remove_prefixes": st.lists(odd_text, max_size=2).map(tuple),
        "username": odd_text,
        "direction_rules": configs.map(lambda config: config.direction_rules),
        "connector": connectors,
    },
)


@FUZZ_MORE
@given(
    config=configs | near_configs | st.sampled_from(VALID_SWITCHES),
    public_url=st.sampled_from(["https://cdr.example.com/", "http://[::1]:8080", ""]),
)
@example(
    config=SwitchConfig(
        id="k1", type="kamailio", connector=ConnectorSettings("kamailio_acc", "postgresql://h:99999/d")
    ),
    public_url="https://cdr.example.com",
)  # was kept, then the snippet (and the connector) failed on the port
@example(
    config=SwitchConfig(id="k1", connector=ConnectorSettings("freeswitch_mongodb", "mongodb://[::1/x")),
    public_url="https://cdr.example.com",
)
def test_any_switch_is_refused_naming_the_field_or_kept_with_a_working_snippet(config: SwitchConfig, public_url: str):
    refused = outcome(lambda: validate_switch(config), (InvalidSwitch,))
    if isinstance(refused, InvalidSwitch):
        assert refused.field.startswith("switch.")
        assert "secret" not in str(refused)  # a DSN's password is never repeated
        return
    setup = snippets.switch_setup(config, public_url)
    assert setup.snippet.strip() and setup.call_state_url.endswith(f"/v1/switches/{config.id}/calls")
    if config.connector.table and config.type in ("asterisk", "kamailio") and config.connector.type:
        assert config.connector.table in setup.snippet
