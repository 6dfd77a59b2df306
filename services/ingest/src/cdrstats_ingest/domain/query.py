"""CDR search requests: validation, tenant scope, sort keys and keyset cursors (no I/O, no protobuf).

Every request is checked here once, so the stores only ever see whitelisted sort
columns, known operators and typed values; an error names the request field.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import re
from typing import Any

from cdrstats_common.cdr import DIRECTIONS, SOURCES
from cdrstats_ingest.domain.errors import IngestError

TEXT_OPS = ("equals", "begins", "contains", "ends")
NUMBER_OPS = ("eq", "gt", "ge", "lt", "le")
TEXT_FIELDS = ("destination_number", "caller_id_number", "caller_id_name", "accountcode")
#: sort key (API name) -> CDR field; the only column names a store may put into a query
SORT_KEYS: dict[str, str] = {
    "start_time": "start_time_us",
    "id": "id",
    "switch_id": "switch_id",
    "destination_number": "destination_number",
    "caller_id_number": "caller_id_number",
    "caller_id_name": "caller_id_name",
    "accountcode": "accountcode",
    "direction": "direction",
    "hangup_cause": "hangup_cause",
    "sip_code": "sip_code",
    "country": "country",
    "duration_ms": "duration_ms",
    "billsec_ms": "billsec_ms",
    "answered": "answered",
    "source": "source",
}
INT_SORT_FIELDS = frozenset({"start_time_us", "hangup_cause", "sip_code", "duration_ms", "billsec_ms"})
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
DEFAULT_BATCH_SIZE = 1000
MAX_BATCH_SIZE = 10_000
MAX_TEXT = 256
_COUNTRY = re.compile(r"[A-Z]{2}")
_PREFIX = re.compile(r"\+?[0-9]{1,15}")
_CURSOR_VERSION = 1


class InvalidQuery(IngestError):
    """A search request a caller can fix; ``field`` names the request field."""

    def __init__(self, message: str, *, field: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class PermissionDenied(IngestError):
    """A customer asked without any account code: unscoped customer queries are refused."""


@dataclasses.dataclass(frozen=True)
class TextFilter:
    op: str  # one of TEXT_OPS
    value: str


@dataclasses.dataclass(frozen=True)
class NumberFilter:
    op: str  # one of NUMBER_OPS
    value: int


@dataclasses.dataclass(frozen=True)
class CdrQuery:
    """Filters of a search; empty means "any". ``start_time`` is in ``[start_from_us, start_to_us)``."""

    start_from_us: int = 0
    start_to_us: int = 0
    switch_ids: tuple[str, ...] = ()
    destination_number: TextFilter | None = None  # the dialled number or its E.164 form
    caller_id_number: TextFilter | None = None
    caller_id_name: TextFilter | None = None  # matched ignoring ASCII case
    accountcode: TextFilter | None = None
    directions: tuple[str, ...] = ()
    hangup_causes: tuple[int, ...] = ()
    sip_codes: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    duration_ms: tuple[NumberFilter, ...] = ()  # all must hold
    billsec_ms: tuple[NumberFilter, ...] = ()
    answered: bool | None = None
    sources: tuple[str, ...] = ()
    uuid: str = ""
    call_id: str = ""
    destination_prefixes: tuple[str, ...] = ()  # E.164 prefixes with "+"; any may match


@dataclasses.dataclass(frozen=True)
class Scope:
    admin: bool
    allowed_accountcodes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a keyset page ends: the last row's sort value and id."""

    value: int | str | bool
    id: str


@dataclasses.dataclass(frozen=True)
class CdrSearch:
    """A validated search as the stores receive it. ``accountcodes`` None: every account (admin)."""

    query: CdrQuery
    accountcodes: tuple[str, ...] | None
    sort: str  # a CDR field from SORT_KEYS' values
    ascending: bool
    after: Position | None = None


@dataclasses.dataclass
class SearchPage:
    """One page from a store: ``more`` says whether rows follow the last one."""

    cdrs: list[dict[str, Any]]
    more: bool
    total: int | None = None


def scope_accountcodes(scope: Scope) -> tuple[str, ...] | None:
    """Admins see every account; customers only theirs, and must name at least one."""
    if scope.admin:
        return None
    codes = tuple(sorted({code for code in scope.allowed_accountcodes if code}))
    if not codes:
        raise PermissionDenied("scope.allowed_accountcodes: a customer query needs at least one account code")
    return codes


def validate_query(query: CdrQuery, *, field: str = "query") -> CdrQuery:
    """The query with values normalised (countries upper case, prefixes with "+"), or InvalidQuery."""
    if query.start_from_us < 0:
        raise InvalidQuery("expected a time in microseconds since the epoch, >= 0", field=f"{field}.start_from_us")
    if query.start_to_us < 0:
        raise InvalidQuery("expected a time in microseconds since the epoch, >= 0", field=f"{field}.start_to_us")
    if query.start_from_us and query.start_to_us and query.start_to_us <= query.start_from_us:
        raise InvalidQuery("must be after start_from_us", field=f"{field}.start_to_us")
    texts: dict[str, Any] = {name: _text_filter(getattr(query, name), f"{field}.{name}") for name in TEXT_FIELDS}
    _strings(query.switch_ids, f"{field}.switch_ids")
    _members(query.directions, DIRECTIONS, f"{field}.directions")
    _members(query.sources, SOURCES, f"{field}.sources")
    for index, cause in enumerate(query.hangup_causes):
        if not 0 <= cause <= 127:
            raise InvalidQuery(f"expected a Q.850 cause 0..127, got {cause}", field=f"{field}.hangup_causes[{index}]")
    for index, code in enumerate(query.sip_codes):
        if code != 0 and not 100 <= code <= 699:
            raise InvalidQuery(f"expected a SIP code 100..699 (or 0), got {code}", field=f"{field}.sip_codes[{index}]")
    countries = tuple(country.strip().upper() for country in query.countries)
    for index, country in enumerate(countries):
        if not _COUNTRY.fullmatch(country):
            raise InvalidQuery(
                f"expected an ISO 3166 alpha-2 code, got {query.countries[index]!r}",
                field=f"{field}.countries[{index}]",
            )
    prefixes = tuple(prefix.strip() for prefix in query.destination_prefixes)
    for index, prefix in enumerate(prefixes):
        if not _PREFIX.fullmatch(prefix):
            raise InvalidQuery(
                f"expected an E.164 prefix such as +4420, got {prefix!r}",
                field=f"{field}.destination_prefixes[{index}]",
            )
    for name in ("duration_ms", "billsec_ms"):
        for index, number in enumerate(getattr(query, name)):
            if number.op not in NUMBER_OPS:
                raise InvalidQuery(
                    f"expected an operator of {', '.join(NUMBER_OPS)}, got {number.op!r}",
                    field=f"{field}.{name}[{index}].op",
                )
    for name in ("uuid", "call_id"):
        if len(getattr(query, name)) > MAX_TEXT:
            raise InvalidQuery(f"longer than {MAX_TEXT} characters", field=f"{field}.{name}")
    return dataclasses.replace(
        query,
        countries=countries,
        destination_prefixes=tuple(p if p.startswith("+") else "+" + p for p in prefixes),
        **texts,
    )


def sort_field(sort_by: str, *, field: str = "sort_by") -> str:
    """The CDR field of a sort key; "" is start_time."""
    key = sort_by or "start_time"
    if key not in SORT_KEYS:
        raise InvalidQuery(f"expected one of {', '.join(SORT_KEYS)}, got {sort_by!r}", field=field)
    return SORT_KEYS[key]


def page_size(value: int, *, default: int, maximum: int, field: str) -> int:
    if value == 0:
        return default
    if not 1 <= value <= maximum:
        raise InvalidQuery(f"expected 1..{maximum} (0 for {default}), got {value}", field=field)
    return value


def sort_value(cdr: dict[str, Any], sort: str) -> int | str | bool:
    value: int | str | bool = bool(cdr[sort]) if sort == "answered" else cdr[sort]
    return value


def fingerprint(search: CdrSearch) -> str:
    """Ties a cursor to the query, scope and order it was made for."""
    material = json.dumps(
        [dataclasses.asdict(search.query), search.accountcodes, search.sort, search.ascending],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def encode_cursor(search: CdrSearch, last: dict[str, Any]) -> str:
    """Opaque to callers: base64url JSON of the last row's sort value and id, bound to the query."""
    body = {"v": _CURSOR_VERSION, "q": fingerprint(search), "k": sort_value(last, search.sort), "i": last["id"]}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, search: CdrSearch, *, field: str = "cursor") -> Position:
    """The position a cursor of ``search`` points at; a forged, corrupt or foreign one is InvalidQuery."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidQuery("not a cursor returned by this API (pass next_cursor unchanged)", field=field) from exc
    if not isinstance(body, dict) or body.get("v") != _CURSOR_VERSION or set(body) != {"v", "q", "k", "i"}:
        raise InvalidQuery("not a cursor returned by this API (pass next_cursor unchanged)", field=field)
    if body["q"] != fingerprint(search):
        raise InvalidQuery("was made for another query, scope or sort order; start again without a cursor", field=field)
    value, cdr_id = body["k"], body["i"]
    if not isinstance(cdr_id, str) or not cdr_id or len(cdr_id) > MAX_TEXT:
        raise InvalidQuery("holds no valid CDR id", field=field)
    if not _value_fits(value, search.sort):
        raise InvalidQuery(f"holds a {type(value).__name__} value for sort key {search.sort!r}", field=field)
    return Position(value, cdr_id)


def _value_fits(value: object, sort: str) -> bool:
    if sort == "answered":
        return isinstance(value, bool)
    if sort in INT_SORT_FIELDS:
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 4 * MAX_TEXT


def _text_filter(text: TextFilter | None, field: str) -> TextFilter | None:
    if text is None or (not text.op and not text.value):
        return None
    op = text.op or "equals"
    if op not in TEXT_OPS:
        raise InvalidQuery(f"expected one of {', '.join(TEXT_OPS)}, got {text.op!r}", field=f"{field}.op")
    if not text.value:
        raise InvalidQuery(f"a {op!r} filter needs a value", field=f"{field}.value")
    if len(text.value) > MAX_TEXT:
        raise InvalidQuery(f"longer than {MAX_TEXT} characters", field=f"{field}.value")
    return TextFilter(op, text.value)


def _strings(values: tuple[str, ...], field: str) -> None:
    for index, value in enumerate(values):
        if not value or len(value) > MAX_TEXT:
            raise InvalidQuery(
                f"expected a non-empty value of at most {MAX_TEXT} characters", field=f"{field}[{index}]"
            )


def _members(values: tuple[str, ...], allowed: tuple[str, ...], field: str) -> None:
    for index, value in enumerate(values):
        if value not in allowed:
            raise InvalidQuery(f"expected one of {', '.join(allowed)}, got {value!r}", field=f"{field}[{index}]")


def plan_search(
    scope: Scope, query: CdrQuery, *, sort_by: str = "", ascending: bool = False, cursor: str = ""
) -> CdrSearch:
    """A validated, scoped search positioned after ``cursor`` (if any)."""
    accountcodes = scope_accountcodes(scope)
    search = CdrSearch(validate_query(query), accountcodes, sort_field(sort_by), ascending)
    if cursor:
        search = dataclasses.replace(search, after=decode_cursor(cursor, search))
    return search
