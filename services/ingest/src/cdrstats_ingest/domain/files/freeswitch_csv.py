"""FreeSWITCH mod_cdr_csv lines of the stock templates of cdr_csv.conf.xml: ``example`` (the default),
``asterisk`` and ``sql`` (an INSERT statement per line).

Stamps are ``YYYY-MM-DD HH:MM:SS`` in the switch's local time, answer_stamp is empty when
the leg was not answered, duration and billsec are whole seconds, hangup_cause is the
cause name. The templates carry no direction: the switch's direction rules give it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.asterisk import parse_clid
from cdrstats_ingest.domain.direction import direction_for
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.formats import column_count_error, split_csv
from cdrstats_ingest.domain.files.values import duration_ms, time_us
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "freeswitch_csv"
EXAMPLE = (
    "caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp", "answer_stamp",
    "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec",
    "write_codec",
)  # fmt: skip
SQL = EXAMPLE[:13]
ASTERISK = (
    "accountcode", "caller_id_number", "destination_number", "context", "caller_id", "channel_name",
    "bridge_channel", "last_app", "last_arg", "start_stamp", "answer_stamp", "end_stamp", "duration", "billsec",
    "hangup_cause", "amaflags", "uuid", "userfield",
)  # fmt: skip
TEMPLATES = {"freeswitch_csv": EXAMPLE, "freeswitch_csv_asterisk": ASTERISK, "freeswitch_csv_sql": SQL}
_MAPPED = frozenset({
    "caller_id_name", "caller_id_number", "destination_number", "start_stamp", "answer_stamp", "end_stamp",
    "duration", "billsec", "uuid", "bleg_uuid", "accountcode", "read_codec", "write_codec",
})  # fmt: skip
_SQL_PREFIX = "INSERT INTO "


@dataclasses.dataclass
class FreeswitchCsv:
    """One of the stock templates, chosen by format name."""

    name: str = "freeswitch_csv"
    source: str = SOURCE
    quote: str = '"'
    backslash_escapes: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return TEMPLATES[self.name]

    def fields(self, text: str) -> list[str]:
        if self.name == "freeswitch_csv_sql":
            text = _sql_values(text)
        return split_csv(text, escapechar="\\", skip_space=self.name == "freeswitch_csv_sql")

    def take_header(self, fields: list[str]) -> bool:
        return False  # mod_cdr_csv writes no header

    def context(self) -> dict[str, Any]:
        return {"format": self.name}

    def to_cdr(self, fields: list[str], switch: SwitchConfig) -> dict[str, Any]:
        columns = self.columns
        if len(fields) < len(columns):
            raise column_count_error(f"mod_cdr_csv {_template(self.name)} template", f"{len(columns)}", len(fields))
        v = dict(zip(columns, fields, strict=False))
        uuid = v["uuid"].strip()
        if not uuid:
            raise InvalidCdr("empty: every leg has a uuid", field="uuid")
        zone = switch.time_zone
        start = time_us(v["start_stamp"], zone, "start_stamp")
        if not start:
            raise InvalidCdr("empty: expected YYYY-MM-DD HH:MM:SS", field="start_stamp")
        answer = time_us(v["answer_stamp"], zone, "answer_stamp")
        end = time_us(v["end_stamp"], zone, "end_stamp") or start
        cause_name = v["hangup_cause"].strip().upper()
        code = causes.code_for_name(cause_name)
        if code is None:
            raise InvalidCdr(f"unknown FreeSWITCH cause name {v['hangup_cause']!r}", field="hangup_cause")
        billsec = duration_ms(v["billsec"], "billsec")
        name = v.get("caller_id_name", "")
        if "caller_id" in v and not name:
            name = parse_clid(v["caller_id"])[0]
        extra = {k: value for k, value in v.items() if value and k not in _MAPPED}
        extra.update({f"column_{i + 1}": value for i, value in enumerate(fields) if i >= len(columns) and value})
        return new_cdr(
            switch_id=switch.id,
            source=SOURCE,
            uuid=uuid,
            linked_id=v["bleg_uuid"].strip() if "bleg_uuid" in v else "",
            direction=direction_for(
                {
                    "context": v["context"],
                    "channel": v.get("channel_name", ""),
                    "dstchannel": v.get("bridge_channel", ""),
                    "caller_id_number": v["caller_id_number"],
                    "destination_number": v["destination_number"],
                },
                switch,
            ),
            caller_id_number=v["caller_id_number"],
            caller_id_name=name,
            destination_number=v["destination_number"],
            accountcode=v["accountcode"],
            start_time_us=start,
            answer_time_us=answer,
            end_time_us=end,
            duration_ms=duration_ms(v["duration"], "duration"),
            billsec_ms=billsec,
            hangup_cause=causes.reported_q850(code),
            disposition=causes.disposition_for(code, answer > 0 or billsec > 0),
            read_codec=v.get("read_codec", ""),
            write_codec=v.get("write_codec", ""),
            extra=extra,
        )


def _template(name: str) -> str:
    return {"freeswitch_csv": "example", "freeswitch_csv_asterisk": "asterisk", "freeswitch_csv_sql": "sql"}[name]


def _sql_values(text: str) -> str:
    """``INSERT INTO cdr VALUES ("a","b", "c");`` -> ``"a","b", "c"``."""
    stripped = text.strip()
    opening = stripped.find("(")
    if not stripped.upper().startswith(_SQL_PREFIX) or opening < 0 or not stripped.endswith(");"):
        raise InvalidCdr('expected INSERT INTO cdr VALUES ("...", ...); (mod_cdr_csv sql template)', field="line")
    return stripped[opening + 1 : -2]
