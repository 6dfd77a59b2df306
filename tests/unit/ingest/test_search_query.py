"""Search request validation, tenant scope and keyset cursors (domain/query.py)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from cdrstats_ingest.domain import query as q

ADMIN = q.Scope(admin=True)


def plan(query: q.CdrQuery | None = None, **kwargs: object) -> q.CdrSearch:
    return q.plan_search(ADMIN, query or q.CdrQuery(), **kwargs)  # type: ignore[arg-type]


def invalid_field(query: q.CdrQuery) -> str:
    with pytest.raises(q.InvalidQuery) as caught:
        plan(query)
    assert str(caught.value).startswith(caught.value.field + ": ")
    return caught.value.field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (q.CdrQuery(start_from_us=-1), "query.start_from_us"),
        (q.CdrQuery(start_from_us=10, start_to_us=10), "query.start_to_us"),
        (q.CdrQuery(destination_number=q.TextFilter("like", "44")), "query.destination_number.op"),
        (q.CdrQuery(caller_id_name=q.TextFilter("contains", "")), "query.caller_id_name.value"),
        (q.CdrQuery(accountcode=q.TextFilter("equals", "x" * 300)), "query.accountcode.value"),
        (q.CdrQuery(switch_ids=("sw1", "")), "query.switch_ids[1]"),
        (q.CdrQuery(directions=("outbound", "sideways")), "query.directions[1]"),
        (q.CdrQuery(sources=("fax",)), "query.sources[0]"),
        (q.CdrQuery(hangup_causes=(16, 128)), "query.hangup_causes[1]"),
        (q.CdrQuery(sip_codes=(99,)), "query.sip_codes[0]"),
        (q.CdrQuery(countries=("GBR",)), "query.countries[0]"),
        (q.CdrQuery(destination_prefixes=("+44a",)), "query.destination_prefixes[0]"),
        (q.CdrQuery(duration_ms=(q.NumberFilter("gte", 1),)), "query.duration_ms[0].op"),
        (q.CdrQuery(billsec_ms=(q.NumberFilter("gt", 1), q.NumberFilter("", 2))), "query.billsec_ms[1].op"),
        (q.CdrQuery(uuid="u" * 257), "query.uuid"),
    ],
)
def test_a_bad_filter_names_its_field(query: q.CdrQuery, field: str) -> None:
    assert invalid_field(query) == field


def test_values_are_normalised() -> None:
    query = plan(
        q.CdrQuery(
            countries=(" gb",),
            destination_prefixes=("44", "+33"),
            destination_number=q.TextFilter("", "123"),
            caller_id_number=q.TextFilter("", ""),
        )
    ).query
    assert query.countries == ("GB",)
    assert query.destination_prefixes == ("+44", "+33")
    assert query.destination_number == q.TextFilter("equals", "123")  # a value without an operator: equals
    assert query.caller_id_number is None  # an empty filter (unset in the proto): any


def test_sort_keys_map_to_cdr_fields_and_default_to_start_time() -> None:
    assert plan().sort == "start_time_us" and plan().ascending is False
    assert plan(sort_by="duration_ms", ascending=True).sort == "duration_ms"
    assert {plan(sort_by=key).sort for key in q.SORT_KEYS} == set(q.SORT_KEYS.values())
    with pytest.raises(q.InvalidQuery, match=r"^sort_by: expected one of start_time, id"):
        plan(sort_by="start_time_us; DROP TABLE cdrs")


def test_customers_must_name_account_codes_admins_need_none() -> None:
    assert q.scope_accountcodes(ADMIN) is None
    assert q.scope_accountcodes(q.Scope(False, ("b", "a", "b", ""))) == ("a", "b")
    for scope in (q.Scope(False), q.Scope(False, ("",))):
        with pytest.raises(q.PermissionDenied, match="allowed_accountcodes"):
            q.plan_search(scope, q.CdrQuery())


def test_page_sizes() -> None:
    assert q.page_size(0, default=25, maximum=1000, field="page_size") == 25
    assert q.page_size(1000, default=25, maximum=1000, field="page_size") == 1000
    for bad in (-1, 1001):
        with pytest.raises(q.InvalidQuery, match=r"^page_size: expected 1\.\.1000"):
            q.page_size(bad, default=25, maximum=1000, field="page_size")


@pytest.mark.parametrize(
    ("sort_by", "value"),
    [("start_time", 1_700_000_000_000_000), ("answered", True), ("country", "GB"), ("id", "01ABC")],
)
def test_a_cursor_round_trips_to_the_last_rows_position(sort_by: str, value: object) -> None:
    search = plan(sort_by=sort_by)
    row = {"id": "01ABC", search.sort: value}
    cursor = q.encode_cursor(search, row)
    assert cursor.isascii() and "=" not in cursor
    assert plan(sort_by=sort_by, cursor=cursor).after == q.Position(value, "01ABC")  # type: ignore[arg-type]


def _forge(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def test_forged_or_foreign_cursors_are_refused_clearly() -> None:
    search = plan(q.CdrQuery(countries=("GB",)))
    good = q.encode_cursor(search, {"id": "01ABC", "start_time_us": 5})
    fingerprint = q.fingerprint(search)
    cases = {
        "not base64!": "not a cursor returned by this API",
        _forge([1, 2]): "not a cursor returned by this API",
        _forge({"v": 1, "q": fingerprint, "k": 5}): "not a cursor returned by this API",
        _forge({"v": 1, "q": fingerprint, "k": "5", "i": "01ABC"}): "holds a str value for sort key 'start_time_us'",
        _forge({"v": 1, "q": fingerprint, "k": True, "i": "01ABC"}): "holds a bool value",
        _forge({"v": 1, "q": fingerprint, "k": 2**64, "i": "01ABC"}): "holds a int value",
        _forge({"v": 1, "q": fingerprint, "k": 5, "i": ""}): "holds no valid CDR id",
    }
    for cursor, message in cases.items():
        with pytest.raises(q.InvalidQuery, match=message) as caught:
            q.plan_search(ADMIN, q.CdrQuery(countries=("GB",)), cursor=cursor)
        assert caught.value.field == "cursor"
    # the same cursor with another filter, scope or order: refused, never silently re-applied
    for other in (
        lambda: q.plan_search(ADMIN, q.CdrQuery(countries=("FR",)), cursor=good),
        lambda: q.plan_search(q.Scope(False, ("acme",)), q.CdrQuery(countries=("GB",)), cursor=good),
        lambda: q.plan_search(ADMIN, q.CdrQuery(countries=("GB",)), ascending=True, cursor=good),
    ):
        with pytest.raises(q.InvalidQuery, match="was made for another query"):
            other()
    assert q.plan_search(ADMIN, q.CdrQuery(countries=("gb",)), cursor=good).after == q.Position(5, "01ABC")


def test_the_query_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.CdrQuery().uuid = "x"  # type: ignore[misc]
