"""Asterisk ``Master.csv`` (cdr_csv): no header, 16 columns (old), 18 (with uniqueid and userfield),
or 21 with ``newcdrcolumns`` (peeraccount, linkedid, sequence).

Asterisk doubles quotes inside fields (``""``); duration and billsec are unquoted, and an
unanswered call's answer field is empty.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cdrstats_ingest.domain import asterisk
from cdrstats_ingest.domain.files.formats import column_count_error, split_csv
from cdrstats_ingest.domain.switch import SwitchConfig

SOURCE = "asterisk_csv"
COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
    "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield", "peeraccount",
    "linkedid", "sequence",
)  # fmt: skip
COUNTS = (16, 17, 18, 21)


@dataclasses.dataclass
class AsteriskCsv:
    name: str = "asterisk_csv"
    source: str = SOURCE
    quote: str = '"'
    backslash_escapes: bool = False

    def fields(self, text: str) -> list[str]:
        return split_csv(text)

    def take_header(self, fields: list[str]) -> bool:
        return False

    def context(self) -> dict[str, Any]:
        return {"format": self.name}

    def to_cdr(self, fields: list[str], switch: SwitchConfig) -> dict[str, Any]:
        if len(fields) not in COUNTS:
            raise column_count_error("Asterisk Master.csv", "16, 18 or 21 (newcdrcolumns)", len(fields))
        return asterisk.normalise_row(dict(zip(COLUMNS, fields, strict=False)), switch, source=SOURCE)
