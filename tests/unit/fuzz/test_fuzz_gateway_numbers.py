"""Whole numbers in URLs, forms and cursors, fuzzed through the gateway's own readers (in-process requests).

Each reader checked its text with ``str.isdigit()`` and then called ``int()``: '²' passes the first and
fails the second, as do 5000 digits, so a typo in ``?limit=`` was a 500. Any text is now the number or
the reader's documented answer (a 400/404 naming the parameter).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from fuzz_strategies import FUZZ_MORE, odd_text
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_gateway import (
    rest,
    rest_admin,
    rest_alarms,
    rest_control,
    rest_rejects,
    views_admin,
    views_cdrs,
    views_contacts,
    views_notify,
)
from cdrstats_gateway.domain.cdr_filters import FilterError
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.middlewares import ApiError

numbers = st.one_of(
    odd_text,
    st.integers(-5, 10**20).map(str),
    st.sampled_from(["\u00b2", "\u2460", "\u0663", "\uff11", "9" * 5000, "0" * 30 + "5", " 7", "7 "]),
)
#: what each reader may answer instead of a number: its documented client errors, never anything else
CLIENT_ERRORS = (ApiError, FilterError, InvalidInput, web.HTTPNotFound, web.HTTPBadRequest)


def query(name: str, value: str) -> web.Request:
    return make_mocked_request("GET", "/x?" + urlencode({name: value}))


READERS: dict[str, Callable[[str], Any]] = {
    "rest.page_params": lambda v: rest.page_params(query("limit", v)),
    "rest.page_params cursor": lambda v: rest.page_params(
        query("cursor", base64.urlsafe_b64encode(f"id:{v}".encode()).decode())
    ),
    "rest.path_int": lambda v: rest.path_int(make_mocked_request("GET", "/x", match_info={"id": v})),
    "rest_alarms limit": lambda v: rest_alarms._limit(query("limit", v), 50, 500),
    "rest_control.query_limit": lambda v: rest_control.query_limit(query("limit", v), 100, 1000),
    "rest_rejects.page_size": lambda v: rest_rejects.page_size(query("limit", v)),
    "rest_admin customer_id": lambda v: rest_admin._customer_id(v),
    "views_admin id": lambda v: views_admin._id(make_mocked_request("GET", "/x", match_info={"id": v})),
    "views_admin customer": lambda v: views_admin._form_customer({"customer_id": v}),
    "views_cdrs.export_limit": lambda v: views_cdrs.export_limit(query("limit", v)),
    "views_contacts before": lambda v: views_contacts.delivery_query({"before": v}, 50),
    "views_notify hour": lambda v: views_notify._int({"hour": v}, "hour", 0, 23, 7),
}


@FUZZ_MORE
@given(reader=st.sampled_from(sorted(READERS)), text=numbers)
@example(reader="rest.page_params", text="\u00b2")  # ValueError: invalid literal for int(): a 500
@example(reader="rest_control.query_limit", text="9" * 5000)  # ValueError: exceeds the 4300-digit limit
@example(reader="rest.path_int", text="\u00b2")
@example(reader="views_notify hour", text="\u00b2")
def test_any_number_text_is_read_or_answered_as_a_client_error(reader: str, text: str) -> None:
    try:
        READERS[reader](text)
    except CLIENT_ERRORS as exc:
        assert not isinstance(exc, ApiError) or exc.status in (400, 404)


@FUZZ_MORE
@given(text=numbers)
def test_what_plain_digits_lets_through_int_takes_and_an_int64_holds(text: str) -> None:
    if plain_digits(text):
        assert 0 <= int(text) < 2**63
