"""Generic CSV files read through a saved (or inline) mapping profile: which column holds which field.

A profile names its columns by header name (``has_header``) or by 1-based number. Times
follow ``date_format`` in ``time_zone`` (empty: the switch's). Columns that map to nothing
are kept in ``extra`` under their header name (or ``column_N``). Without a mapped uuid the
record's digest is its identity, so importing a file twice adds nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from cdrstats_common.cdr import DISPOSITIONS, new_cdr
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.asterisk import DISPOSITIONS as ASTERISK_DISPOSITIONS
from cdrstats_ingest.domain.direction import direction_for
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.formats import column_count_error, split_csv
from cdrstats_ingest.domain.files.values import EPOCH_FORMATS, duration_ms, time_us, whole_number, zone
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "csv_upload"
TEXT_FIELDS = (
    "uuid", "call_id", "linked_id", "caller_id_number", "caller_id_name", "destination_number", "accountcode",
    "read_codec", "write_codec", "remote_media_ip", "context", "channel", "dstchannel",
)  # fmt: skip
TIME_FIELDS = ("start_time", "answer_time", "end_time")
FIELDS = (*TEXT_FIELDS, *TIME_FIELDS, "duration", "billsec", "hangup_cause", "sip_code", "disposition", "direction")
_RULE_ONLY = ("context", "channel", "dstchannel")  # used by direction rules, kept in extra


@dataclasses.dataclass(frozen=True)
class MappingProfile:
    name: str = ""
    has_header: bool = True
    delimiter: str = ","
    date_format: str = ""  # strptime format, epoch, epoch_ms, epoch_us, iso8601 ("" = iso8601)
    time_zone: str = ""  # "" = the switch's zone
    duration_unit: str = "s"
    columns: tuple[tuple[str, str], ...] = ()  # (canonical field, header name or 1-based number)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["columns"] = [list(pair) for pair in self.columns]
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MappingProfile:
        values = dict(values)
        values["columns"] = tuple((str(f), str(c)) for f, c in values.get("columns", ()))
        return cls(**values)

    def check(self) -> None:
        """InvalidCdr naming the first setting that cannot work."""
        if len(self.delimiter or ",") != 1:
            raise InvalidCdr(f"must be one character, got {self.delimiter!r}", field="mapping.delimiter")
        if self.duration_unit not in ("", "s", "ms"):
            raise InvalidCdr(f"expected s or ms, got {self.duration_unit!r}", field="mapping.duration_unit")
        if self.time_zone:
            zone(self.time_zone)
        named = self.date_format in EPOCH_FORMATS or self.date_format == "iso8601"
        if self.date_format and not named and "%" not in self.date_format:
            raise InvalidCdr(
                "expected a strptime format (%Y-%m-%d %H:%M:%S), epoch, epoch_ms, epoch_us or iso8601",
                field="mapping.date_format",
            )
        seen = set()
        for field, column in self.columns:
            if field not in FIELDS and not field.startswith("extra."):
                raise InvalidCdr(
                    f"unknown field {field!r}, expected one of {', '.join(FIELDS)}", field="mapping.columns"
                )
            if field in seen:
                raise InvalidCdr(f"field {field!r} is mapped twice", field="mapping.columns")
            seen.add(field)
            if not self.has_header and not (column.isdecimal() and int(column) >= 1):
                raise InvalidCdr(
                    f"{field}: without a header row columns are numbers from 1, got {column!r}", field="mapping.columns"
                )
        if "start_time" not in seen:
            raise InvalidCdr("start_time must be mapped to a column", field="mapping.columns")


@dataclasses.dataclass
class GenericCsv:
    profile: MappingProfile
    header: list[str] | None = None
    name: str = "generic_csv"
    source: str = SOURCE
    quote: str = '"'
    backslash_escapes: bool = False
    _index: dict[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.profile.check()
        if not self.profile.has_header:
            self._index = {field: int(column) - 1 for field, column in self.profile.columns}
        elif self.header is not None:
            self._resolve(self.header)

    def fields(self, text: str) -> list[str]:
        return split_csv(text, delimiter=self.profile.delimiter or ",")

    def take_header(self, fields: list[str]) -> bool:
        if not self.profile.has_header or self.header is not None:
            return False
        self._resolve(fields)
        self.header = fields
        return True

    def _resolve(self, header: list[str]) -> None:
        positions = {name.strip(): i for i, name in enumerate(header)}
        for field, column in self.profile.columns:
            if column.strip() not in positions:
                raise InvalidCdr(
                    f"{field}: no column {column!r} in the header (columns: {', '.join(header)})", field="header"
                )
            self._index[field] = positions[column.strip()]

    def context(self) -> dict[str, Any]:
        return {"format": self.name, "mapping": self.profile.to_dict(), "header": self.header}

    def to_cdr(self, fields: list[str], switch: SwitchConfig) -> dict[str, Any]:
        needed = max(self._index.values(), default=0) + 1
        if len(fields) < needed:
            raise column_count_error(f"mapping {self.profile.name or 'inline'}", f"at least {needed}", len(fields))
        v = {field: fields[i].strip() for field, i in self._index.items()}
        zone_name = self.profile.time_zone or switch.time_zone
        fmt, unit = self.profile.date_format, self.profile.duration_unit or "s"
        start, answer, end = (time_us(v.get(f), zone_name, f, fmt) for f in TIME_FIELDS)
        if not start:
            raise InvalidCdr("empty: every CDR has a start time", field="start_time")
        if v.get("duration"):
            duration = duration_ms(v["duration"], "duration", unit)
        else:
            duration = max(end - start, 0) // 1000 if end else 0
        end = end or start + duration * 1000
        if v.get("billsec"):
            billsec = duration_ms(v["billsec"], "billsec", unit)
            answer = answer or (end - billsec * 1000 if billsec else 0)
        else:
            billsec = (end - answer) // 1000 if answer else 0
        cause = _cause(v.get("hangup_cause", ""))
        sip_code = whole_number(v.get("sip_code"), "sip_code", default=0)
        if not cause and sip_code:
            cause = causes.sip_to_q850(sip_code)
        used = set(self._index.values())
        names = self.header or []
        extra = {
            f"column_{i + 1}" if i >= len(names) else names[i]: value
            for i, value in enumerate(fields)
            if i not in used and value
        }
        extra.update(
            {f.removeprefix("extra."): v[f] for f in v if (f.startswith("extra.") or f in _RULE_ONLY) and v[f]}
        )
        return new_cdr(
            switch_id=switch.id,
            source=SOURCE,
            uuid=v.get("uuid") or _digest(fields),
            direction=_direction(v, switch),
            **{f: v.get(f, "") for f in TEXT_FIELDS if f not in ("uuid", *_RULE_ONLY)},
            start_time_us=start,
            answer_time_us=answer,
            end_time_us=end,
            duration_ms=duration,
            billsec_ms=billsec,
            hangup_cause=cause,
            sip_code=sip_code,
            disposition=_disposition(v.get("disposition", "")),
            extra=extra,
        )


def _cause(text: str) -> int:
    if not text:
        return 0
    if text.isdecimal() and len(text) <= 3:  # isdigit() passes '²', which int() refuses; Q.850 codes are 0..127
        return int(text)
    code = causes.q850_for_name(text)
    if code is None:
        raise InvalidCdr(f"expected a Q.850 number or cause name, got {text!r}", field="hangup_cause")
    return code


def _disposition(text: str) -> str:
    if not text:
        return ""
    value = text.upper()
    if value in DISPOSITIONS:
        return value
    if value in ASTERISK_DISPOSITIONS:
        return ASTERISK_DISPOSITIONS[value]
    raise InvalidCdr(f"unknown disposition {text!r}, expected one of {', '.join(DISPOSITIONS)}", field="disposition")


def _direction(v: dict[str, str], switch: SwitchConfig) -> str:
    given = v.get("direction", "").lower()
    if given:
        if given not in ("inbound", "outbound", "internal", "unknown"):
            raise InvalidCdr(f"expected inbound, outbound or internal, got {given!r}", field="direction")
        return given
    return direction_for(v, switch)


def _digest(fields: list[str]) -> str:
    return "sha1-" + hashlib.sha1("\x1f".join(fields).encode(), usedforsecurity=False).hexdigest()
