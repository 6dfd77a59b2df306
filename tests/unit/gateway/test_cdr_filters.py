"""The CDR search parameters (one parser for pages, REST and export) and the public CDR formats."""

from __future__ import annotations

import datetime

import pytest
from multidict import MultiDict, MultiDictProxy

from cdrstats_common.cdr import new_cdr
from cdrstats_gateway.cdr_rpc import query_to_proto
from cdrstats_gateway.domain import cdr_format
from cdrstats_gateway.domain.cdr_filters import FilterError, NumberFilter, TextFilter, parse_filters


def q(*pairs: tuple[str, str]) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(pairs))


def test_every_parameter_lands_in_the_query() -> None:
    filters = parse_filters(
        q(
            ("from", "2026-03-01T10:00"),
            ("to", "2026-03-02T00:00:00Z"),
            ("switch", "sw1,sw2"),
            ("destination", "+4930"),
            ("caller", "555"),
            ("caller_op", "ends"),
            ("caller_name", "ali"),
            ("accountcode", "acme"),
            ("direction", "Inbound"),
            ("hangup_cause", "16"),
            ("hangup_cause", "17"),
            ("sip_code", "486"),
            ("country", "de,fr"),
            ("prefix", "+4930,331"),
            ("duration_min", "1.5"),
            ("duration_max", "60"),
            ("billsec_max", "30"),
            ("answered", "no"),
            ("source", "api"),
            ("uuid", "u-1"),
            ("call_id", "c@x"),
            ("sort", "duration_ms"),
            ("order", "asc"),
            ("page_size", "200"),
            ("cursor", "abc"),
        ),
        "Europe/Berlin",
    )
    assert filters.start_from_us == int(datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC).timestamp() * 1e6)
    assert filters.start_to_us == int(datetime.datetime(2026, 3, 2, tzinfo=datetime.UTC).timestamp() * 1e6)
    assert filters.switch_ids == ("sw1", "sw2") and filters.directions == ("inbound",)
    assert filters.text == {
        "destination_number": TextFilter("begins", "+4930"),
        "caller_id_number": TextFilter("ends", "555"),
        "caller_id_name": TextFilter("contains", "ali"),
        "accountcode": TextFilter("equals", "acme"),
    }
    assert (filters.hangup_causes, filters.sip_codes, filters.countries) == ((16, 17), (486,), ("DE", "FR"))
    assert filters.destination_prefixes == ("+4930", "+331")
    assert filters.duration_ms == (NumberFilter("ge", 1500), NumberFilter("le", 60_000))
    assert filters.billsec_ms == (NumberFilter("le", 30_000),)
    assert (filters.answered, filters.sources, filters.uuid, filters.call_id) == (False, ("api",), "u-1", "c@x")
    assert (filters.sort_by, filters.ascending, filters.page_size, filters.cursor) == ("duration_ms", True, 200, "abc")
    proto = query_to_proto(filters)
    assert proto.HasField("answered") and proto.answered is False
    assert proto.destination_number.op == "begins" and proto.caller_id_name.value == "ali"
    assert [(n.op, n.value) for n in proto.duration_ms] == [("ge", 1500), ("le", 60_000)]
    # links keep the search, in one canonical order, and can replace a parameter
    assert filters.query_string(cursor="", format="csv").startswith("from=2026-03-01T10%3A00&to=")
    assert "cursor" not in filters.query_string(cursor="") and filters.query_string().endswith("cursor=abc")


def test_no_parameters_is_everything_newest_first() -> None:
    filters = parse_filters(q(), "UTC")
    assert (filters.start_from_us, filters.text, filters.answered, filters.sort_by) == (0, {}, None, "start_time")
    assert not filters.ascending and filters.page_size == 50
    assert not query_to_proto(filters).HasField("answered")


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ((("from", "2026-13-01"),), "from"),
        ((("to", "soon"),), "to"),
        ((("from", "2026-03-02"), ("to", "2026-03-01")), "to"),
        ((("destination_op", "like"),), "destination_op"),
        ((("direction", "sideways"),), "direction"),
        ((("hangup_cause", "128"),), "hangup_cause"),
        ((("sip_code", "99"),), "sip_code"),
        ((("country", "DEU"),), "country"),
        ((("prefix", "49-30"),), "prefix"),
        ((("billsec_min", "-1"),), "billsec_min"),
        ((("duration_min", "nan"),), "duration_min"),
        ((("billsec_min", "10"), ("billsec_max", "5")), "billsec_max"),
        ((("answered", "maybe"),), "answered"),
        ((("source", "fax"),), "source"),
        ((("sort", "extra"),), "sort"),
        ((("order", "up"),), "order"),
        ((("page_size", "1001"),), "page_size"),
        ((("uuid", "x" * 129),), "uuid"),
        ((("cursor", "c" * 5000),), "cursor"),
        (tuple(("country", f"A{chr(65 + i % 26)}") for i in range(101)), "country"),
    ],
)
def test_bad_parameters_name_the_field(pairs: tuple[tuple[str, str], ...], field: str) -> None:
    with pytest.raises(FilterError) as error:
        parse_filters(q(*pairs), "UTC")
    assert error.value.field == field and str(error.value).startswith(f"{field}: ")


def test_public_cdr_json_and_csv() -> None:
    cdr = new_cdr(
        id="01",
        start_time_us=1_760_000_000_250_000,
        end_time_us=1_760_000_010_000_000,
        destination_number="@SUM(A1)",
        caller_id_number="+4930123",
        caller_id_name="-2+3",
        pdd_ms=-1,
        extra={"k": "v"},
    )
    shown = cdr_format.cdr_json(cdr)
    assert shown["start_time"] == "2025-10-09T08:53:20.250000Z" and shown["answer_time"] is None
    assert shown["end_time"] == "2025-10-09T08:53:30Z" and "start_time_us" not in shown
    row = dict(zip(cdr_format.COLUMNS, cdr_format.csv_row(cdr), strict=True))
    assert row["destination_number"] == "'@SUM(A1)" and row["caller_id_name"] == "'-2+3"
    assert row["caller_id_number"] == "+4930123" and row["pdd_ms"] == "-1" and row["extra"] == '{"k": "v"}'
    assert cdr_format.neutralise("\t=1") == "'\t=1" and cdr_format.neutralise("a=1") == "a=1"


def test_bulk_records_are_checked_by_type_with_their_position() -> None:
    cdr = cdr_format.cdr_from_json({"start_time": "2025-10-09T08:53:20.25+02:00", "billsec_ms": 5}, 0)
    assert cdr == {"start_time_us": 1_759_992_800_250_000, "billsec_ms": 5}
    for record, field in (
        ({"billsec_ms": 5}, "cdrs[2].start_time"),
        ({"start_time": "2025-10-09T08:53:20"}, "cdrs[2].start_time"),
        ({"start_time": "2025-10-09T08:53:20Z", "billsec_ms": "5"}, "cdrs[2].billsec_ms"),
        ({"start_time": "2025-10-09T08:53:20Z", "answered": 1}, "cdrs[2].answered"),
        ({"start_time": "2025-10-09T08:53:20Z", "extra": {"a": 1}}, "cdrs[2].extra.a"),
        ({"start_time": "2025-10-09T08:53:20Z", "id": "forged"}, "cdrs[2].id"),
        ({"start_time": "2025-10-09T08:53:20Z", "colour": "red"}, "cdrs[2].colour"),
        ([], "cdrs[2]"),
    ):
        with pytest.raises(cdr_format.CdrInputError) as error:
            cdr_format.cdr_from_json(record, 2)
        assert error.value.field == field, record
