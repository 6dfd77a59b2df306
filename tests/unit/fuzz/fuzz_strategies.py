"""What the fuzz tests share: the deterministic settings, hostile input, and how a parser must answer it.

Every parser is driven twice: with hostile input (it must answer with its documented error, naming
the field or line, and nothing else) and with a ``Call`` rendered in its format (fuzz_calls.py: it
must give back the call's fields). Random input alone is refused at a parser's first check, so most
tests also take a valid input and make a few of its fields hostile (``mutated``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from cdrstats_ingest.domain import normalise
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.formats import FileFormat
from cdrstats_ingest.domain.files.records import split_records
from cdrstats_ingest.domain.switch import SwitchConfig

#: derandomized (the same examples on every run, so CI is stable) and nothing saved under .hypothesis
FUZZ = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
FUZZ_MORE = settings(FUZZ, max_examples=200)

# --- hostile input ---------------------------------------------------------------------------------------

#: values that broke or nearly broke parsers: numbers past every limit, non-finite numbers, odd unicode
EDGE_TEXT = (
    "",
    " ",
    "\x00",
    "\ufeff",
    "\u202e",
    "\U0001d7d8\U0001d7d9",  # mathematical digits
    "٣٤",
    "ß",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "sNaN",
    "1e400",
    "-1e400",
    "1e999999",
    "-0",
    "-1",
    "0x10",
    "1_000",
    "9" * 30,
    "9" * 5000,
    "0000-00-00 00:00:00",
    "0001-01-01",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31",
    "9999-12-31 23:59:59",
    "9999-12-31T23:59:59-23:59",
    "2026-02-30",
    "2026-01-01T25:00",
    "2026-01-01 10:00:00",
    "2026-W53",
    "%",
    "%ZZ",
    "%E2%82",
    "a,b",
    '"',
    '""',
    "\\",
    "\r\n",
    "<a>",
    "&amp;",
    "http://[::1",
    "postgresql://u:p@h:99999/x",
)
edge_text = st.sampled_from(EDGE_TEXT)
odd_text = st.one_of(edge_text, st.text(max_size=40), st.text(st.characters(codec="utf-8"), max_size=12))
#: text that is mostly a number of some kind
numberish = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    edge_text,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
)
json_trees = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(odd_text, children, max_size=3),
    max_leaves=6,
)
#: what a database driver may hand over for one column
db_values = st.one_of(
    json_scalars,
    st.binary(max_size=12),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
)
#: bytes that are often not UTF-8
raw_bytes = st.one_of(st.binary(max_size=300), odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")))


def dicts_of(keys: list[str], values: st.SearchStrategy[Any] = json_trees) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts over the keys a parser reads (plus a stranger), each with any value."""
    return st.dictionaries(st.sampled_from([*keys, "zz_unknown"]) | odd_text, values, max_size=min(len(keys), 8) + 1)


def mutated(
    base: st.SearchStrategy[dict[str, Any]], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid input with a few keys replaced by hostile values, dropped or added: random input alone is
    refused at its first check, a nearly valid one reaches every later branch of the parser."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        doc = dict(draw(base))
        keys = sorted(doc, key=str)
        for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)) if keys else ():
            if draw(st.integers(0, 3)):
                doc[key] = draw(values)
            else:
                del doc[key]
        if not keys or draw(st.integers(0, 4)) == 0:
            doc[draw(odd_text)] = draw(values)
        return doc

    return build()


def mutated_fields(base: st.SearchStrategy[Any], hostile: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A valid dataclass with one to three fields given a hostile value of the field's own type (what a
    typed caller, such as a proto conversion, can still send)."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        names = draw(st.lists(st.sampled_from(sorted(hostile)), min_size=1, max_size=3, unique=True))
        return dataclasses.replace(draw(base), **{name: draw(hostile[name]) for name in names})

    return build()


def mutated_list(base: st.SearchStrategy[list[str]], values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """A valid row of cells with a few cells replaced by hostile ones (and sometimes one cell more or less)."""
    replacements = st.lists(st.tuples(st.integers(0, 40), values), min_size=1, max_size=3)
    return st.tuples(base, replacements, st.integers(-1, 1)).map(_replace_cells)


def _replace_cells(drawn: tuple[list[str], list[tuple[int, str]], int]) -> list[str]:
    cells, replacements, length_change = drawn
    cells = list(cells)
    for index, value in replacements:
        if cells:
            cells[index % len(cells)] = value
    if length_change < 0 and cells:
        cells.pop()
    elif length_change > 0:
        cells.append("extra")
    return cells


_FIELD_FIRST = re.compile(r"^[\w.\[\]-]+( line \d+)?: \S")


def assert_names_field(exc: Exception, field: str | None = None) -> None:
    """The error says what is wrong where: ``field: expected ...`` (``field`` when given).

    An error with a ``field`` attribute must start with it (it may be the caller's own unknown key);
    one without (alerting, notify) must start with a field path.
    """
    message, named = str(exc), getattr(exc, "field", None)
    if named:
        assert message.startswith(f"{named}: ") and len(message) > len(named) + 2, message
    else:
        assert named is None and _FIELD_FIRST.match(message), f"no field named in {message!r}"
    if field is not None:
        assert named == field or message.startswith(f"{field}:"), message


def outcome(fn: Callable[[], Any], errors: tuple[type[Exception], ...]) -> Any:
    """The result, or the documented error (which must name a field); any other exception fails the test."""
    try:
        return fn()
    except errors as exc:
        assert_names_field(exc)
        return exc


def import_file(fmt: FileFormat, data: bytes, switch: SwitchConfig, chunk: int = 1 << 16) -> list[Any]:
    """Each record's CDR or InvalidCdr (or the splitter's error record), as an import reads a file: split, header, fields, to_cdr, enrich, validate."""
    results: list[Any] = []
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for record in split_records(chunks, quote=fmt.quote, backslash_escapes=fmt.backslash_escapes):
        assert record.line >= 1
        if record.error:
            results.append(record)
            continue

        def read(text: str = record.text) -> Any:
            fields = fmt.fields(text)
            if fmt.take_header(fields):
                return None
            cdr = normalise.enrich(fmt.to_cdr(fields, switch), switch)
            normalise.validate(cdr)
            return cdr

        result = outcome(read, (InvalidCdr,))
        if result is not None:
            results.append(result)
    return results
