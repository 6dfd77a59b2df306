"""A CDR as the public API and exports show it, and the bulk-create input it accepts. No I/O.

Times are RFC 3339 in UTC (``answer_time`` is null when the call was not answered);
durations stay in milliseconds under their canonical names; ``extra`` is an object
(in CSV: one JSON cell).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

from cdrstats_common.cdr import DEFAULTS, FIELDS, INT_RANGES

TIME_FIELDS = ("start_time", "answer_time", "end_time")
#: the public columns, in the canonical order (``*_time_us`` shown as ``*_time``)
COLUMNS = tuple(field[: -len("_us")] if field.endswith("_time_us") else field for field in FIELDS)
#: spreadsheet programs run cells starting with these as formulas (CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
MAX_EXTRA_KEYS = 200


def rfc3339_us(time_us: int) -> str:
    """UTC, ``Z`` suffix; a fraction only when the time has one (``...05.250000Z``)."""
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, tz=datetime.UTC)
    moment = moment.replace(microsecond=time_us % 1_000_000)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(pattern)


def cdr_json(cdr: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON object of a canonical CDR dict."""
    shown: dict[str, Any] = {}
    for field, column in zip(FIELDS, COLUMNS, strict=True):
        value = cdr.get(field, DEFAULTS[field])
        if field.endswith("_time_us"):
            shown[column] = rfc3339_us(value) if value else None
        elif field == "extra":
            shown[column] = dict(value)
        else:
            shown[column] = value
    return shown


def neutralise(cell: str) -> str:
    """Prefix ``'`` to text a spreadsheet would evaluate; signed plain numbers (``+4930...``, ``-1``) stay."""
    if cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def csv_row(cdr: Mapping[str, Any]) -> list[str]:
    row = []
    for column, value in cdr_json(cdr).items():
        if value is None:
            cell = ""
        elif column == "extra":
            cell = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
        elif isinstance(value, bool):
            cell = "true" if value else "false"
        else:
            cell = str(value)
        row.append(neutralise(cell))
    return row


class CdrInputError(ValueError):
    """A bulk-create record is malformed; ``field`` is ``cdrs[3].start_time`` style."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field
        self.expected = expected


def _parse_rfc3339(field: str, value: Any) -> int:
    if not isinstance(value, str):
        raise CdrInputError(field, "an RFC 3339 time string such as 2026-01-02T03:04:05Z")
    try:
        moment = datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:
        raise CdrInputError(field, f"an RFC 3339 time such as 2026-01-02T03:04:05Z (got {value!r})") from exc
    if moment.tzinfo is None:
        raise CdrInputError(field, f"a time with an offset or Z (got {value!r})")
    delta = moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _typed(field: str, label: str, value: Any) -> Any:
    default = DEFAULTS[field]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise CdrInputError(label, "true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CdrInputError(label, "a whole number")
        low, high = INT_RANGES[field]
        if not low <= value <= high:
            raise CdrInputError(label, f"a whole number from {low} to {high} (got {value})")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CdrInputError(label, "a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise CdrInputError(label, "a string")
        return value
    return _extra(label, value)


def _extra(label: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_EXTRA_KEYS:
        raise CdrInputError(label, f"an object of at most {MAX_EXTRA_KEYS} string values")
    for key, item in value.items():
        if not isinstance(item, str):
            raise CdrInputError(f"{label}.{key}", "a string")
    return dict(value)


def cdr_from_json(record: Any, index: int) -> dict[str, Any]:
    """One bulk-create record -> a canonical CDR dict; times as RFC 3339 ``*_time`` or ``*_time_us``.

    Only types are checked here; ingest normalises and rejects what is semantically wrong.
    """
    where = f"cdrs[{index}]"
    if not isinstance(record, dict):
        raise CdrInputError(where, "a JSON object")
    cdr: dict[str, Any] = {}
    for key, value in record.items():
        label = f"{where}.{key}"
        if key in TIME_FIELDS:
            cdr[f"{key}_us"] = _parse_rfc3339(label, value) if value is not None else 0
        elif key in DEFAULTS and key != "id":
            cdr[key] = _typed(key, label, value)
        else:
            raise CdrInputError(label, f"not a CDR field (fields: {', '.join(c for c in COLUMNS if c != 'id')})")
    if not cdr.get("start_time_us"):
        raise CdrInputError(f"{where}.start_time", "required")
    return cdr
