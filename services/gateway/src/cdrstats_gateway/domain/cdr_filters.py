"""CDR search filters as they travel in a URL: parsed and validated once, for pages, REST and exports.

The query string is the whole search (so a search can be bookmarked and shared); the
same names serve ``/cdrs``, ``/cdrs/export`` and ``/api/v1/cdrs``. Every problem
raises ``FilterError`` naming the parameter and what was expected (a 400).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Protocol
from urllib.parse import urlencode

from cdrstats_common.cdr import DIRECTIONS, SOURCES
from cdrstats_gateway.domain.digits import plain_digits

TEXT_OPS = ("equals", "begins", "contains", "ends")
SORT_KEYS = (
    "start_time",
    "id",
    "switch_id",
    "destination_number",
    "caller_id_number",
    "caller_id_name",
    "accountcode",
    "direction",
    "hangup_cause",
    "sip_code",
    "country",
    "duration_ms",
    "billsec_ms",
    "answered",
    "source",
)
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
MAX_TEXT = 128
MAX_VALUES = 100
MAX_CURSOR = 4096
#: text filter parameter -> (CdrQuery field, default operator)
TEXT_FILTERS = {
    "destination": ("destination_number", "begins"),
    "caller": ("caller_id_number", "begins"),
    "caller_name": ("caller_id_name", "contains"),
    "accountcode": ("accountcode", "equals"),
}
_COUNTRY = re.compile(r"[A-Z]{2}")
_PREFIX = re.compile(r"\+?[0-9]{1,15}")
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class FilterError(ValueError):
    """A bad search parameter: ``field`` is the query-string name, the message says what was expected."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field
        self.expected = expected


class MultiMapping(Protocol):
    """What aiohttp's ``request.query`` (a MultiDictProxy) offers."""

    def getall(self, key: str, default: list[str]) -> list[str]: ...

    def get(self, key: str, default: str) -> str: ...


@dataclasses.dataclass(frozen=True)
class TextFilter:
    op: str
    value: str


@dataclasses.dataclass(frozen=True)
class NumberFilter:
    op: str  # ge or le (min and max of a range)
    value: int


@dataclasses.dataclass(frozen=True)
class CdrFilters:
    """One CDR search: everything ingest's CdrQuery can express, plus sort and page."""

    start_from_us: int = 0
    start_to_us: int = 0
    switch_ids: tuple[str, ...] = ()
    text: Mapping[str, TextFilter] = dataclasses.field(default_factory=dict)  # CdrQuery field -> filter
    directions: tuple[str, ...] = ()
    hangup_causes: tuple[int, ...] = ()
    sip_codes: tuple[int, ...] = ()
    countries: tuple[str, ...] = ()
    duration_ms: tuple[NumberFilter, ...] = ()
    billsec_ms: tuple[NumberFilter, ...] = ()
    answered: bool | None = None
    sources: tuple[str, ...] = ()
    uuid: str = ""
    call_id: str = ""
    destination_prefixes: tuple[str, ...] = ()
    sort_by: str = "start_time"
    ascending: bool = False
    page_size: int = DEFAULT_PAGE_SIZE
    cursor: str = ""
    #: the parameters as given (canonical order, empty ones dropped): links keep the search
    params: tuple[tuple[str, str], ...] = ()

    def query_string(self, **changes: str) -> str:
        """The search as a query string; ``changes`` replace (or with "" drop) a parameter."""
        kept = [(k, v) for k, v in self.params if k not in changes]
        kept += [(k, v) for k, v in changes.items() if v]
        return urlencode(kept)


def _values(query: MultiMapping, name: str) -> list[str]:
    """Repeated parameters and comma-separated lists alike (``?country=DE&country=FR`` = ``?country=DE,FR``)."""
    found = [part.strip() for raw in query.getall(name, []) for part in raw.split(",")]
    found = [part for part in found if part]
    if len(found) > MAX_VALUES:
        raise FilterError(name, f"at most {MAX_VALUES} values")
    if any(len(part) > MAX_TEXT for part in found):  # ingest refuses longer ones, naming its own field
        raise FilterError(name, f"values of at most {MAX_TEXT} characters")
    return found


def _text(query: MultiMapping, name: str) -> str:
    value = query.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise FilterError(name, f"at most {MAX_TEXT} characters")
    return value


def _choice(query: MultiMapping, name: str, choices: Iterable[str], default: str) -> str:
    value = _text(query, name) or default
    allowed = tuple(choices)
    if value not in allowed:
        raise FilterError(name, f"one of {', '.join(allowed)} (got {value!r})")
    return value


def _ints(query: MultiMapping, name: str, low: int, high: int) -> tuple[int, ...]:
    numbers = []
    for value in _values(query, name):
        if not plain_digits(value) or not low <= int(value) <= high:
            raise FilterError(name, f"whole numbers from {low} to {high} (got {value!r})")
        numbers.append(int(value))
    return tuple(numbers)


def parse_time(field: str, value: str, time_zone: str) -> int:
    """RFC 3339 (``2026-01-02T03:04:05Z``, any offset) or a local time/date in the reporting zone -> UTC us."""
    text = value.strip()
    moment: datetime.datetime | None = None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None:
        for fmt in _LOCAL_FORMATS:
            try:
                moment = datetime.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        raise FilterError(field, f"an RFC 3339 time or a local YYYY-MM-DD[THH:MM] (got {value!r})")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
    time_us = int(moment.timestamp() * 1_000_000)
    if time_us < 0:  # CDR times are epoch microseconds; ingest refuses a negative bound, naming its own field
        raise FilterError(field, f"a time from 1970-01-01T00:00:00Z on (got {value!r})")
    return time_us


def _seconds_ms(query: MultiMapping, name: str) -> int | None:
    """A duration bound given in seconds (decimals allowed) -> milliseconds."""
    value = _text(query, name)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 10_000_000 or seconds != seconds:
        raise FilterError(name, f"a number of seconds from 0 to 10000000 (got {value!r})")
    return round(seconds * 1000)


def _range(query: MultiMapping, base: str) -> tuple[NumberFilter, ...]:
    low, high = _seconds_ms(query, f"{base}_min"), _seconds_ms(query, f"{base}_max")
    if low is not None and high is not None and low > high:
        raise FilterError(f"{base}_max", f"at least {base}_min")
    bounds = [] if low is None else [NumberFilter("ge", low)]
    return tuple(bounds if high is None else [*bounds, NumberFilter("le", high)])


def _text_filters(query: MultiMapping) -> dict[str, TextFilter]:
    found = {}
    for name, (field, default_op) in TEXT_FILTERS.items():
        value = _text(query, name)
        op = _choice(query, f"{name}_op", TEXT_OPS, default_op)
        if value:
            found[field] = TextFilter(op, value)
    return found


def _answered(query: MultiMapping) -> bool | None:
    value = _choice(query, "answered", ("", "yes", "no", "true", "false"), "")
    return None if not value else value in ("yes", "true")


def _prefixes(query: MultiMapping) -> tuple[str, ...]:
    prefixes = _values(query, "prefix")
    for prefix in prefixes:
        if not _PREFIX.fullmatch(prefix):
            raise FilterError("prefix", f"E.164 digits, optionally after a + (got {prefix!r})")
    return tuple("+" + p.lstrip("+") for p in prefixes)


def _countries(query: MultiMapping) -> tuple[str, ...]:
    countries = tuple(c.upper() for c in _values(query, "country"))
    for country in countries:
        if not _COUNTRY.fullmatch(country):
            raise FilterError("country", f"ISO 3166 alpha-2 codes such as DE (got {country!r})")
    return countries


def _members(query: MultiMapping, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    values = tuple(v.lower() for v in _values(query, name))
    for value in values:
        if value not in allowed:
            raise FilterError(name, f"any of {', '.join(allowed)} (got {value!r})")
    return values


def _page_size(query: MultiMapping, default: int) -> int:
    value = _text(query, "page_size")
    if not value:
        return default
    if not plain_digits(value) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise FilterError("page_size", f"a whole number from 1 to {MAX_PAGE_SIZE} (got {value!r})")
    return int(value)


def _time_window(query: MultiMapping, time_zone: str) -> tuple[int, int]:
    raw_from, raw_to = _text(query, "from"), _text(query, "to")
    start = parse_time("from", raw_from, time_zone) if raw_from else 0
    end = parse_time("to", raw_to, time_zone) if raw_to else 0
    if start and end and end <= start:
        raise FilterError("to", "a time after from")
    return start, end


def parse_filters(query: MultiMapping, time_zone: str, *, default_page_size: int = DEFAULT_PAGE_SIZE) -> CdrFilters:
    """Every search parameter at once; the first bad one raises FilterError."""
    start, end = _time_window(query, time_zone)
    filters = CdrFilters(
        start_from_us=start,
        start_to_us=end,
        switch_ids=tuple(_values(query, "switch")),
        text=_text_filters(query),
        directions=_members(query, "direction", DIRECTIONS),
        hangup_causes=_ints(query, "hangup_cause", 0, 127),
        sip_codes=_ints(query, "sip_code", 100, 699),
        countries=_countries(query),
        duration_ms=_range(query, "duration"),
        billsec_ms=_range(query, "billsec"),
        answered=_answered(query),
        sources=_members(query, "source", SOURCES),
        uuid=_text(query, "uuid"),
        call_id=_text(query, "call_id"),
        destination_prefixes=_prefixes(query),
        sort_by=_choice(query, "sort", SORT_KEYS, "start_time"),
        ascending=_choice(query, "order", ("desc", "asc"), "desc") == "asc",
        page_size=_page_size(query, default_page_size),
        cursor=_cursor(query),
    )
    return dataclasses.replace(filters, params=_canonical_params(query))


def _cursor(query: MultiMapping) -> str:
    """Opaque to the gateway (ingest validates it); only its size is bounded here."""
    value = query.get("cursor", "").strip()
    if len(value) > MAX_CURSOR:
        raise FilterError("cursor", "the next_cursor of a previous page")
    return value


#: every parameter the search understands, in the order links are written
PARAMS = (
    "from",
    "to",
    "switch",
    *(name for text in TEXT_FILTERS for name in (text, f"{text}_op")),
    "direction",
    "hangup_cause",
    "sip_code",
    "country",
    "prefix",
    "duration_min",
    "duration_max",
    "billsec_min",
    "billsec_max",
    "answered",
    "source",
    "uuid",
    "call_id",
    "sort",
    "order",
    "page_size",
    "cursor",
)


def _canonical_params(query: MultiMapping) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name in PARAMS for value in query.getall(name, []) if value.strip())


def form_values(filters: CdrFilters) -> dict[str, str]:
    """What the search form's inputs show back: one string per parameter, lists comma-joined."""
    values: dict[str, list[str]] = {}
    for name, value in filters.params:
        values.setdefault(name, []).append(value)
    return {name: ",".join(found) for name, found in values.items()}
