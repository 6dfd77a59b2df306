"""Asterisk CDRs (Master.csv lines and rows of the ``cdr`` table) as canonical CDRs.

Asterisk writes local times without a zone (the switch's zone applies), whole seconds for
duration and billsec, a disposition instead of a cause, and no direction: the switch's
direction rules give it. Columns follow the ``cdr`` table; older tables have ``calldate``
instead of ``start``/``answer``/``end``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain import causes
from cdrstats_ingest.domain.direction import direction_for
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.values import duration_ms, time_us
from cdrstats_ingest.domain.switch import SwitchConfig

#: the Asterisk cdr columns this module maps; every other non-empty column goes to ``extra``
MAPPED = frozenset(
    {
        "src",
        "dst",
        "accountcode",
        "start",
        "answer",
        "end",
        "calldate",
        "duration",
        "billsec",
        "disposition",
        "uniqueid",
        "linkedid",
    }
)
#: kept in ``extra`` under their own name (they are mapped but still useful to see)
KEPT = ("uniqueid",)
DISPOSITIONS = {
    "ANSWERED": "ANSWERED",
    "NO ANSWER": "NO_ANSWER",
    "NO_ANSWER": "NO_ANSWER",
    "BUSY": "BUSY",
    "FAILED": "FAILED",
    "CONGESTION": "CONGESTION",
    "CANCEL": "CANCEL",
}
_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')


def parse_clid(clid: str) -> tuple[str, str]:
    """``"Alice" <1001>`` -> ("Alice", "1001"); a bare number or name gives ("", number) / (name, "")."""
    match = _CLID.match(clid)
    if match:
        return match["name"].strip(), match["number"].strip()
    text = clid.strip().strip('"')
    return ("", text) if text.lstrip("+").isdigit() else (text, "")


def normalise_row(row: Mapping[str, str | None], switch: SwitchConfig, *, source: str) -> dict[str, Any]:
    """A canonical CDR (not yet enriched) from a row with the ``cdr`` table's column names.

    Raises InvalidCdr naming the column that is missing or malformed.
    """
    values = {str(k).lower(): ("" if v is None else str(v)) for k, v in row.items()}
    zone = switch.time_zone
    billsec = duration_ms(values.get("billsec"), "billsec")
    duration = duration_ms(values.get("duration"), "duration")
    if values.get("start", "").strip() or "calldate" not in values:
        start = time_us(values.get("start"), zone, "start")
        answer = time_us(values.get("answer"), zone, "answer")
        end = time_us(values.get("end"), zone, "end") or (start + duration * 1000 if start else 0)
    else:  # calldate layout: the call's start only; answer and end follow from the durations
        start = time_us(values.get("calldate"), zone, "calldate")
        end = start + duration * 1000
        answer = end - billsec * 1000 if billsec > 0 else 0
    if not start:
        raise InvalidCdr("missing start time (start or calldate, YYYY-MM-DD HH:MM:SS)", field="start")
    disposition_text = values.get("disposition", "").strip().upper()
    disposition = DISPOSITIONS.get(disposition_text)
    if disposition is None:
        raise InvalidCdr(
            f"unknown disposition {values.get('disposition', '')!r}, expected one of "
            "ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION, CANCEL",
            field="disposition",
        )
    name, number = parse_clid(values.get("clid", ""))
    caller = values.get("src", "").strip() or number
    destination = values.get("dst", "").strip()
    direction = direction_for(
        {
            "context": values.get("dcontext", ""),
            "channel": values.get("channel", ""),
            "dstchannel": values.get("dstchannel", ""),
            "caller_id_number": caller,
            "destination_number": destination,
        },
        switch,
    )
    extra = {k: v for k, v in values.items() if v and (k not in MAPPED or k in KEPT)}
    return new_cdr(
        switch_id=switch.id,
        source=source,
        uuid=_identity(values),
        linked_id=values.get("linkedid", "").strip(),
        direction=direction,
        caller_id_number=caller,
        caller_id_name=name,
        destination_number=destination,
        accountcode=values.get("accountcode", "").strip(),
        start_time_us=start,
        answer_time_us=answer,
        end_time_us=end,
        duration_ms=duration,
        billsec_ms=billsec,
        disposition=disposition,
        hangup_cause=causes.asterisk_disposition_to_q850(disposition_text),
        extra=extra,
    )


def _identity(values: Mapping[str, str]) -> str:
    """``uniqueid`` (plus ``sequence``: one channel can write several CDRs), or a digest of the record.

    Old Master.csv lines have no uniqueid; the digest of what identifies a call keeps re-imports
    of the same file duplicates instead of new CDRs.
    """
    uniqueid = values.get("uniqueid", "").strip()
    sequence = values.get("sequence", "").strip()
    if uniqueid:
        return f"{uniqueid}-{sequence}" if sequence else uniqueid
    key = "\x1f".join(
        values.get(k, "")
        for k in (
            "accountcode",
            "src",
            "dst",
            "dcontext",
            "channel",
            "dstchannel",
            "start",
            "calldate",
            "answer",
            "end",
            "duration",
            "billsec",
            "disposition",
        )
    )
    return "sha1-" + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
