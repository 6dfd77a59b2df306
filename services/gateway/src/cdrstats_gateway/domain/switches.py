"""Switch registry and CSV import as the gateway shows and edits them (ingest owns the data).

Validation here gives page and API callers an error naming the field before a gRPC
round trip; ingest validates again (it is the owner).
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from cdrstats_gateway.domain.errors import InvalidInput

SWITCH_TYPES = ("freeswitch", "asterisk", "kamailio", "other")
CONNECTOR_TYPES = ("", "kamailio_acc", "asterisk_db", "freeswitch_mongodb", "freeswitch_esl")
DIRECTIONS = ("inbound", "outbound", "internal")
DIRECTION_FIELDS = ("context", "channel", "dstchannel", "caller_id_number", "destination_number")
IMPORT_FORMATS = ("freeswitch_csv", "freeswitch_csv_asterisk", "freeswitch_csv_sql", "asterisk_csv", "generic_csv")
DATE_FORMATS = ("iso8601", "epoch", "epoch_ms", "epoch_us")
SWITCH_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PREFIX_RE = re.compile(r"^[0-9+*#]{1,16}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


@dataclasses.dataclass(frozen=True)
class DirectionRule:
    field: str
    pattern: str
    direction: str


@dataclasses.dataclass(frozen=True)
class Connector:
    """How ingest pulls from this switch ("" = the switch pushes); ``password`` is write-only."""

    type: str = ""
    dsn: str = ""
    table: str = ""
    poll_interval_s: int = 0
    password: str = ""
    columns: tuple[tuple[str, str], ...] = ()
    enrich_from_acc: bool = False
    layout: str = ""


@dataclasses.dataclass(frozen=True)
class SwitchConfig:
    id: str
    name: str = ""
    type: str = "freeswitch"
    home_country: str = ""
    username: str = ""
    enabled: bool = True
    time_zone: str = ""
    internal_extension_max_len: int = 0
    remove_prefixes: tuple[str, ...] = ()
    direction_rules: tuple[DirectionRule, ...] = ()
    connector: Connector = Connector()
    has_password: bool = False


@dataclasses.dataclass(frozen=True)
class SwitchSetup:
    ingest_url: str
    snippet: str
    snippet_language: str
    call_state_url: str


@dataclasses.dataclass(frozen=True)
class ConnectorState:
    """How a switch's pull connector is doing (ingest's GetStatus): shown on the switch page."""

    source: str
    last_poll_time: float  # epoch seconds; 0: never
    last_success_time: float
    last_error: str
    last_accepted: int
    last_duplicates: int
    last_rejected: int
    total_accepted: int
    watermark: str


@dataclasses.dataclass(frozen=True)
class MappingProfile:
    name: str
    has_header: bool = True
    delimiter: str = ","
    date_format: str = "iso8601"
    time_zone: str = ""
    duration_unit: str = "s"
    #: canonical field -> column (header name, or 1-based number without a header row)
    columns: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class ImportRequest:
    switch_id: str
    format: str
    file_name: str
    size_bytes: int = 0
    mapping_profile: str = ""
    mapping: MappingProfile | None = None


@dataclasses.dataclass(frozen=True)
class ImportOutcome:
    job_id: str
    lines: int
    accepted: int
    duplicates: int
    rejected: int
    #: the first rejected lines: (line, reason)
    rejects: tuple[tuple[int, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class RejectInfo:
    """A record ingest refused, kept with its raw input so an admin can correct and retry it."""

    id: str
    switch_id: str
    source: str
    reason: str
    raw: str
    location: str
    received_time_us: int
    status: str  # open, reimported


@dataclasses.dataclass(frozen=True)
class RejectPage:
    rejects: tuple[RejectInfo, ...]
    next_cursor: str
    total: int


@dataclasses.dataclass(frozen=True)
class RetryOutcome:
    status: str  # accepted, duplicate, rejected
    reason: str
    cdr_id: str


def switch_id(value: object) -> str:
    text = str(value or "").strip()
    if not SWITCH_ID_RE.match(text):
        raise InvalidInput("id", "1 to 64 lower-case letters, digits or _ . - (starting with a letter or digit)")
    return text


def _zone(value: object, field: str) -> str:
    text = str(value or "").strip()
    if text:
        try:
            zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(field, "an IANA time zone like Europe/Paris, or empty") from exc
    return text


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    text = str(value or "").strip()
    if text not in choices:
        raise InvalidInput(field, "one of " + ", ".join(c or '""' for c in choices))
    return text


def _int(value: object, field: str, low: int, high: int) -> int:
    try:
        number = int(str(value if value not in (None, "") else 0).strip())
    except ValueError as exc:
        raise InvalidInput(field, f"a whole number from {low} to {high}") from exc
    if not low <= number <= high:
        raise InvalidInput(field, f"a whole number from {low} to {high}")
    return number


def _sequence(values: object, field: str) -> list[Any]:
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise InvalidInput(field, "a list")
    return list(values)


def prefixes(values: object) -> tuple[str, ...]:
    """Remove-prefix rules from a list or from text (one per line or comma separated)."""
    items = (
        re.split(r"[\s,;]+", values)
        if isinstance(values, str)
        else [str(v) for v in _sequence(values, "remove_prefixes")]
    )
    found = [item.strip() for item in items if item.strip()]
    for i, prefix in enumerate(found):
        if not PREFIX_RE.match(prefix):
            raise InvalidInput(f"remove_prefixes[{i}]", f"1 to 16 of 0-9 + * # (got {prefix!r})")
    return tuple(dict.fromkeys(found))


def direction_rules(values: object) -> tuple[DirectionRule, ...]:
    """Rules from dicts (API) or ``field pattern direction`` lines (the page's text area)."""
    rules = []
    items: list[Any] = values.splitlines() if isinstance(values, str) else _sequence(values, "direction_rules")
    for i, item in enumerate(items):
        if isinstance(item, str):
            if not item.strip():
                continue
            parts = item.split()
            if len(parts) != 3:
                raise InvalidInput(f"direction_rules[{i}]", "three words: field, regular expression, direction")
            item = dict(zip(("field", "pattern", "direction"), parts, strict=True))
        if not isinstance(item, Mapping):
            raise InvalidInput(f"direction_rules[{i}]", "an object with field, pattern and direction")
        field = _choice(item.get("field"), f"direction_rules[{i}].field", DIRECTION_FIELDS)
        pattern = str(item.get("pattern") or "")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"direction_rules[{i}].pattern", f"a valid regular expression ({exc})") from exc
        direction = _choice(item.get("direction"), f"direction_rules[{i}].direction", DIRECTIONS)
        rules.append(DirectionRule(field, pattern, direction))
    return tuple(rules)


def connector(values: Mapping[str, Any]) -> Connector:
    kind = _choice(values.get("type", ""), "connector.type", CONNECTOR_TYPES)
    columns = values.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise InvalidInput("connector.columns", "an object of canonical field -> source column")
    return Connector(
        type=kind,
        dsn=str(values.get("dsn") or "").strip(),
        table=str(values.get("table") or "").strip(),
        poll_interval_s=_int(values.get("poll_interval_s"), "connector.poll_interval_s", 0, 86_400),
        password=str(values.get("password") or ""),
        columns=tuple(sorted((str(k), str(v)) for k, v in columns.items())),
        enrich_from_acc=bool(values.get("enrich_from_acc")),
        layout=str(values.get("layout") or "").strip(),
    )


def switch_config(values: Mapping[str, Any], *, has_password: bool = False) -> SwitchConfig:
    """A SwitchConfig from API JSON or page form values; InvalidInput names the first bad field."""
    country = str(values.get("home_country") or "").strip().upper()
    if country and not COUNTRY_RE.match(country):
        raise InvalidInput("home_country", "an ISO 3166 alpha-2 code like FR, or empty")
    name = str(values.get("name") or "").strip()
    if len(name) > 100:
        raise InvalidInput("name", "at most 100 characters")
    username = str(values.get("username") or "").strip()
    if len(username) > 64 or any(c in username for c in ": \t"):
        raise InvalidInput("username", "at most 64 characters, no colon or spaces")
    raw_connector = values.get("connector") or {}
    if not isinstance(raw_connector, Mapping):
        raise InvalidInput("connector", "an object")
    return SwitchConfig(
        id=switch_id(values.get("id")),
        name=name,
        type=_choice(values.get("type") or "freeswitch", "type", SWITCH_TYPES),
        home_country=country,
        username=username,
        enabled=bool(values.get("enabled", True)),
        time_zone=_zone(values.get("time_zone"), "time_zone"),
        internal_extension_max_len=_int(values.get("internal_extension_max_len"), "internal_extension_max_len", 0, 12),
        remove_prefixes=prefixes(values.get("remove_prefixes") or ()),
        direction_rules=direction_rules(values.get("direction_rules") or ()),
        connector=connector(raw_connector),
        has_password=has_password,
    )


def profile_name(value: object) -> str:
    name = str(value or "").strip()
    if not 1 <= len(name) <= 64:
        raise InvalidInput("name", "1 to 64 characters")
    return name


def mapping_profile(values: Mapping[str, Any]) -> MappingProfile:
    name = profile_name(values.get("name"))
    delimiter = str(values.get("delimiter") or ",")
    if delimiter == "\\t":
        delimiter = "\t"
    if len(delimiter) != 1:
        raise InvalidInput("delimiter", "one character")
    date_format = str(values.get("date_format") or "iso8601").strip()
    if date_format not in DATE_FORMATS and "%" not in date_format:
        raise InvalidInput(
            "date_format", "iso8601, epoch, epoch_ms, epoch_us or a strptime format like %Y-%m-%d %H:%M:%S"
        )
    columns = values.get("columns") or {}
    if isinstance(columns, Mapping):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in columns.items()]
    elif isinstance(columns, list | tuple) and all(isinstance(c, Mapping) for c in columns):
        pairs = [(str(c.get("field", "")).strip(), str(c.get("column", "")).strip()) for c in columns]
    else:
        raise InvalidInput("columns", 'an object of field -> column, or a list of {"field": ..., "column": ...}')
    pairs = [(field, column) for field, column in pairs if field and column]
    if not pairs:
        raise InvalidInput("columns", "at least one canonical field mapped to a column")
    return MappingProfile(
        name=name,
        has_header=bool(values.get("has_header", True)),
        delimiter=delimiter,
        date_format=date_format,
        time_zone=_zone(values.get("time_zone"), "time_zone"),
        duration_unit=_choice(values.get("duration_unit") or "s", "duration_unit", ("s", "ms")),
        columns=tuple(pairs),
    )
