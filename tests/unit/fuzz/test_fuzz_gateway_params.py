"""Query parameters of the CDR search and the reports, fuzzed: a search or FilterError naming the parameter.

What the gateway accepts, ingest must accept too once it crossed gRPC (else the caller gets an error
naming ingest's internal field, or a 500); and any search written as a query string reads back the same.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qsl, urlencode

from fuzz_strategies import FUZZ, FUZZ_MORE, mutated, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st
from multidict import MultiDict

from cdrstats_gateway import cdr_rpc
from cdrstats_gateway.domain import cdr_filters, report_params
from cdrstats_gateway.domain.cdr_filters import FilterError, parse_filters
from cdrstats_gateway.domain.models import Scope
from cdrstats_ingest import convert
from cdrstats_ingest.domain import query

ZONES = st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "Etc/GMT+12"])
NOW = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)  # a DST change in Paris
values = st.one_of(
    odd_text,
    st.sampled_from(
        ["²", "\uff11\uff12", "٣", "+44", "0044", "DE,fr", "yes", "asc", "start_time", "inbound", "1.5", "-0"]
    ),
    st.text(min_size=120, max_size=300),
)


def params(names: tuple[str, ...]) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(st.sampled_from([*names, "zz"]), values), max_size=8)


searches = st.fixed_dictionaries(
    {},
    optional={
        "from": st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2090, 1, 1)).map(
            lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "switch": st.lists(st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,20}\Z"), min_size=1, max_size=3).map(",".join),
        "destination": st.from_regex(r"\A\+?[0-9]{1,15}\Z"),
        "destination_op": st.sampled_from(cdr_filters.TEXT_OPS),
        "caller_name": st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(
            str.strip
        ),
        "direction": st.sampled_from(["inbound", "outbound", "internal"]),
        "hangup_cause": st.lists(st.integers(0, 127).map(str), min_size=1, max_size=3).map(",".join),
        "sip_code": st.integers(100, 699).map(str),
        "country": st.sampled_from(["DE", "fr", "GB,US"]),
        "prefix": st.from_regex(r"\A\+?[1-9][0-9]{0,14}\Z"),
        "duration_min": st.integers(0, 3600).map(str),
        "answered": st.sampled_from(["yes", "no", "true", "false"]),
        "source": st.sampled_from(["api", "freeswitch_json"]),
        "sort": st.sampled_from(cdr_filters.SORT_KEYS),
        "order": st.sampled_from(["asc", "desc"]),
        "page_size": st.integers(1, cdr_filters.MAX_PAGE_SIZE).map(str),
    },
)


def ingest_accepts(filters: cdr_filters.CdrFilters) -> None:
    """The search as ingest receives it (through the real proto conversions) passes ingest's own checks."""
    request = cdr_rpc.search_request(Scope(admin=True), filters, with_total=False)
    checked = query.validate_query(convert.cdr_query_from_proto(request.query))
    assert query.sort_field(request.sort_by) in query.SORT_KEYS.values()
    assert query.page_size(request.page_size, default=25, maximum=query.MAX_PAGE_SIZE, field="page_size")
    assert checked.start_from_us >= 0 and checked.start_to_us >= 0


@FUZZ_MORE
@given(pairs=params(cdr_filters.PARAMS) | mutated(searches, values).map(lambda d: list(d.items())), zone=ZONES)
@example(pairs=[("hangup_cause", "²")], zone="UTC")  # isdigit() said yes, int() said no: a 500
@example(pairs=[("page_size", "²")], zone="UTC")
@example(pairs=[("from", "1900-01-01")], zone="UTC")  # ingest refused query.start_from_us < 0
@example(pairs=[("switch", "s" * 300)], zone="UTC")  # ingest refused query.switch_ids[0]
@example(pairs=[("to", "9999-12-31T23:59")], zone="Etc/GMT+12")
@example(pairs=[("duration_min", "1e400"), ("billsec_max", "nan")], zone="UTC")
def test_any_search_parameters_are_a_search_ingest_accepts_or_name_the_parameter(
    pairs: list[tuple[str, str]], zone: str
) -> None:
    filters = outcome(lambda: parse_filters(MultiDict(pairs), zone), (FilterError,))
    if isinstance(filters, FilterError):
        assert filters.field in cdr_filters.PARAMS or filters.field.removesuffix("_op") in cdr_filters.TEXT_FILTERS
        return
    ingest_accepts(filters)
    assert parse_filters(MultiDict(parse_qsl(filters.query_string(), keep_blank_values=True)), zone) == filters


@FUZZ
@given(search=searches)
def test_a_written_search_reads_back_as_the_same_filters(search: dict[str, str]) -> None:
    filters = parse_filters(MultiDict(parse_qsl(urlencode(search))), "Europe/Paris")
    if "from" in search:
        moment = dt.datetime.strptime(search["from"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert filters.start_from_us == int(moment.timestamp()) * 1_000_000
    if "destination" in search:
        expected_op = search.get("destination_op", "begins")
        assert filters.text["destination_number"] == cdr_filters.TextFilter(expected_op, search["destination"])
    if "hangup_cause" in search:
        assert filters.hangup_causes == tuple(int(c) for c in search["hangup_cause"].split(","))
    if "country" in search:
        assert filters.countries == tuple(search["country"].upper().split(","))
    if "prefix" in search:
        assert filters.destination_prefixes == ("+" + search["prefix"].lstrip("+"),)
    if "answered" in search:
        assert filters.answered is (search["answered"] in ("yes", "true"))
    assert filters.page_size == int(search.get("page_size", cdr_filters.DEFAULT_PAGE_SIZE))
    assert dict(filters.params) == search
    ingest_accepts(filters)


REPORT_PARAMS = ("start", "end", "date", "month", "months", "previous", "mode", "metric", "granularity")
REPORT_PARAMS += ("top", "by", "limit", "switch", "accountcode")


valid_reports = st.fixed_dictionaries(
    {"start": st.just("2026-03-01"), "end": st.just("2026-03-02")},
    optional={
        "granularity": st.sampled_from(report_params.GRANULARITIES),
        "metric": st.sampled_from(report_params.METRICS),
        "month": st.just("2026-02"),
        "top": st.just("5"),
        "date": st.just("2026-03-02"),
    },
)


@FUZZ_MORE
@given(pairs=params(REPORT_PARAMS) | mutated(valid_reports, values).map(lambda d: list(d.items())), zone=ZONES)
@example(pairs=[("start", "9999-12-31")], zone="UTC")  # start + 6 days: OverflowError
@example(pairs=[("end", "0001-01-01")], zone="UTC")  # end - 6 days: OverflowError
@example(pairs=[("top", "²")], zone="UTC")
@example(pairs=[("month", "0000-01")], zone="UTC")
def test_any_report_parameters_are_params_or_name_the_parameter(pairs: list[tuple[str, str]], zone: str) -> None:
    result = outcome(lambda: report_params.parse_report_params(MultiDict(pairs), zone, now=NOW), (FilterError,))
    if isinstance(result, FilterError):
        assert result.field in REPORT_PARAMS
        return
    start, end = dt.date.fromisoformat(result.start_date), dt.date.fromisoformat(result.end_date)
    assert start <= end and (end - start).days < report_params.MAX_RANGE_DAYS
    assert report_params.FIRST_DATE.year <= int(result.month[:4]) <= report_params.LAST_DATE.year


@FUZZ
@given(
    start=st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2099, 1, 1)),
    days=st.integers(0, report_params.MAX_RANGE_DAYS - 1),
    granularity=st.sampled_from(report_params.GRANULARITIES),
    metric=st.sampled_from(report_params.METRICS),
    top=st.integers(1, 50),
)
def test_report_parameters_in_range_read_back_as_given(
    start: dt.date, days: int, granularity: str, metric: str, top: int
) -> None:
    if granularity == "hour":
        days = min(days, 2)
    end = min(start + dt.timedelta(days=days), report_params.LAST_DATE)
    given_params = {"start": start.isoformat(), "end": end.isoformat(), "granularity": granularity, "metric": metric}
    result = report_params.parse_report_params(MultiDict({**given_params, "top": str(top)}), "UTC", now=NOW)
    assert (result.start_date, result.end_date) == (start.isoformat(), end.isoformat())
    assert (result.granularity, result.metric, result.top) == (granularity, metric, top)
