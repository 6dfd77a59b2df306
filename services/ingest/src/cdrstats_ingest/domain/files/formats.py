"""What every file format provides to the importer: how to split a record into fields and read a CDR from them."""

from __future__ import annotations

import csv
from typing import Any, Protocol

from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig


class FileFormat(Protocol):
    name: str  # the ImportHeader.format value
    source: str  # the canonical CDR source
    quote: str
    backslash_escapes: bool  # \" inside quotes (FreeSWITCH) besides ""

    def fields(self, text: str) -> list[str]:
        """The record's fields; InvalidCdr when the record is no CSV of this format."""
        ...

    def take_header(self, fields: list[str]) -> bool:
        """True when this record is the file's header (consumed, not a CDR)."""
        ...

    def to_cdr(self, fields: list[str], switch: SwitchConfig) -> dict[str, Any]:
        """A canonical CDR, not yet enriched; InvalidCdr naming the column on bad input."""
        ...

    def context(self) -> dict[str, Any]:
        """What re-parsing one stored line needs later (format, mapping, header): JSON-ready."""
        ...


def split_csv(text: str, *, delimiter: str = ",", escapechar: str | None = None, skip_space: bool = False) -> list[str]:
    """One CSV record (which may contain quoted line breaks) as fields."""
    try:
        rows = list(
            csv.reader([text], delimiter=delimiter, escapechar=escapechar, skipinitialspace=skip_space, strict=True)
        )
    except csv.Error as exc:
        raise InvalidCdr(f"not a valid CSV record: {exc}", field="line") from None
    if len(rows) != 1:
        raise InvalidCdr("not a valid CSV record", field="line")
    return rows[0]


def column_count_error(name: str, expected: str, got: int) -> InvalidCdr:
    return InvalidCdr(f"expected {expected} columns ({name}), got {got}", field="line")
