"""The CDRs of the fault run and the bodies that carry them, as each kind of sender would send them.

Every CDR is a function of its number, so the plan is reproducible and nothing is kept twice in memory:
- FreeSWITCH mod_json_cdr and mod_xml_cdr documents, one leg per POST (values percent-encoded);
- bulk REST records (``POST /api/v1/cdrs``), RFC 3339 times;
- mod_cdr_csv lines of the default ``example`` template (whole seconds, cause names).
Bad records carry a marker (``bad-<channel>-<n>``) in their uuid so their reject can be found.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import xml.etree.ElementTree as ET
from typing import Any

import phonenumbers

from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_gateway.domain.cdr_format import cdr_json

US = 1_000_000
ACCOUNTCODES = ("acme", "globex", "initech", "umbrella")
#: (switch id, home country): who sends what
SWITCHES = {"json": ("fs-json", "US"), "xml": ("fs-xml", "GB"), "csv": ("fs-csv", "US")}
BULK_SWITCHES = (("bulk-a", "US"), ("bulk-b", "FR"))
CALLERS = {"US": "+12125550", "GB": "+44207946", "FR": "+33140000"}  # + 3 digits
#: (disposition, Q.850 cause, SIP code, weight): FreeSWITCH reports ORIGINATOR_CANCEL as 16
OUTCOMES = (
    ("ANSWERED", 16, 200, 58), ("BUSY", 17, 486, 10), ("NO_ANSWER", 19, 480, 12), ("CANCEL", 16, 487, 8),
    ("CONGESTION", 34, 503, 5), ("FAILED", 1, 404, 4), ("FAILED", 41, 500, 3),
)  # fmt: skip
CAUSE_NAMES = {
    1: "UNALLOCATED_NUMBER",
    16: "NORMAL_CLEARING",
    17: "USER_BUSY",
    19: "NO_ANSWER",
    34: "NORMAL_CIRCUIT_CONGESTION",
    41: "NORMAL_TEMPORARY_FAILURE",
}


def _destinations() -> list[str]:
    """A few hundred distinct valid numbers of 11 countries (repeated numbers, as real traffic has them)."""
    found = []
    for region in ("US", "GB", "FR", "DE", "ES", "IT", "IN", "NG", "BR", "AU", "JP"):
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.format_number(
                phonenumbers.example_number_for_type(region, kind), phonenumbers.PhoneNumberFormat.E164
            )
            variants = (example[:-2] + f"{n:02d}" for n in range(100))
            found += [v for v in variants if phonenumbers.is_valid_number(phonenumbers.parse(v))][:12]
    return found


DESTINATIONS = _destinations()


def uuid_of(switch_id: str, number: int, seed: int) -> str:
    """The identity of CDR ``number``: ``(switch_id, uuid_of(...))``."""
    return f"{switch_id}-{seed:x}-{number:07d}"


def make_cdr(
    number: int, switch: tuple[str, str], now_us: int, *, seed: int, whole_seconds: bool = False
) -> dict[str, Any]:
    """CDR ``number`` of ``switch``: a finished call that started in the 3 days before ``now_us`` - 20 min."""
    rng = random.Random(seed * 1_000_003 + number)
    switch_id, home = switch
    disposition, cause, sip, _ = rng.choices(OUTCOMES, [o[3] for o in OUTCOMES])[0]
    answered = disposition == "ANSWERED"
    ring_ms = rng.randrange(1_500, 9_000)
    billsec_ms = int(min(7200.0, rng.lognormvariate(4.3, 1.0)) * 1000) if answered else 0
    start = now_us - rng.randrange(20 * 60 * US, 3 * 86_400 * US)
    call = new_cdr(
        switch_id=switch_id,
        source="api",
        uuid=uuid_of(switch_id, number, seed),
        call_id=f"{rng.getrandbits(64):016x}@{switch_id}",
        direction="outbound",
        caller_id_number=f"{CALLERS[home]}{rng.randrange(1000):03d}",
        caller_id_name=rng.choice(("Reception", "Sales", "Support", "")),
        destination_number=rng.choice(DESTINATIONS),
        accountcode=rng.choice(ACCOUNTCODES),
        start_time_us=start,
        answer_time_us=start + ring_ms * 1000 if answered else 0,
        end_time_us=start + (ring_ms + billsec_ms) * 1000,
        duration_ms=ring_ms + billsec_ms,
        billsec_ms=billsec_ms,
        pdd_ms=rng.randrange(800, 4_000),
        answered=answered,
        disposition=disposition,
        hangup_cause=cause,
        sip_code=sip,
        read_codec=rng.choice(("PCMA", "PCMU", "G722", "OPUS")),
        write_codec="PCMA",
        mos=round(rng.uniform(3.6, 4.5), 2) if answered else 0.0,
    )
    return _whole_seconds(call) if whole_seconds else call  # mod_cdr_csv writes whole seconds


def flip_cdr(number: int, switch_id: str, now_us: int, *, answered: bool) -> dict[str, Any]:
    """A call of the alarm's account code that started a minute ago (inside its 15-minute window)."""
    start = now_us - 90 * US + number
    billsec_ms = 30_000 if answered else 0
    return new_cdr(
        switch_id=switch_id,
        source="api",
        uuid=f"flip-{number:06d}-{now_us}",
        call_id=f"flip-{number}@faults",
        direction="outbound",
        caller_id_number="+14155550100",
        destination_number="+442071838750",
        accountcode="flip",
        start_time_us=start,
        answer_time_us=start + 2_000_000 if answered else 0,
        end_time_us=start + 2_000_000 + billsec_ms * 1000,
        duration_ms=2_000 + billsec_ms,
        billsec_ms=billsec_ms,
        pdd_ms=1_500,
        answered=answered,
        disposition="ANSWERED" if answered else "NO_ANSWER",
        hangup_cause=16 if answered else 19,
        sip_code=200 if answered else 480,
    )


def _whole_seconds(call: dict[str, Any]) -> dict[str, Any]:
    start = call["start_time_us"] // US * US
    duration_s = call["duration_ms"] // 1000
    billsec_s = call["billsec_ms"] // 1000
    answered = call["answer_time_us"] > 0
    return {
        **call,
        "start_time_us": start,
        "answer_time_us": start + (duration_s - billsec_s) * US if answered else 0,
        "end_time_us": start + duration_s * US,
        "duration_ms": duration_s * 1000,
        "billsec_ms": billsec_s * 1000,
    }


# -- bodies -------------------------------------------------------------------------------------------


def json_body(cdr: dict[str, Any]) -> bytes:
    return json.dumps(demo.freeswitch_json_document(cdr)).encode()


def xml_body(cdr: dict[str, Any]) -> bytes:
    """The same leg as mod_xml_cdr writes it: variables percent-encoded, caller profile and times plain."""
    document = demo.freeswitch_json_document(cdr)
    root = ET.Element("cdr", {"core-uuid": document["core-uuid"], "switchname": document["switchname"]})
    channel_data = ET.SubElement(root, "channel_data")
    for name, value in document["channel_data"].items():
        ET.SubElement(channel_data, name).text = value
    variables = ET.SubElement(root, "variables")
    for name, value in document["variables"].items():
        ET.SubElement(variables, name).text = value
    for entry in document["callflow"]:
        callflow = ET.SubElement(root, "callflow", {"dialplan": entry["dialplan"], "profile_index": "1"})
        profile = ET.SubElement(callflow, "caller_profile")
        for name, value in entry["caller_profile"].items():
            ET.SubElement(profile, name).text = value
        times = ET.SubElement(callflow, "times")
        for name, value in entry["times"].items():
            ET.SubElement(times, name).text = value
    return ('<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode")).encode()


def bulk_record(cdr: dict[str, Any]) -> dict[str, Any]:
    """A record of ``POST /api/v1/cdrs``: the public JSON of a CDR without its id (ingest assigns it)."""
    return {k: v for k, v in cdr_json(cdr).items() if k not in ("id", "switch_id")}


def _stamp(time_us: int) -> str:
    if not time_us:
        return ""
    return dt.datetime.fromtimestamp(time_us // US, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def csv_fields(cdr: dict[str, Any]) -> list[str]:
    """The 15 fields of mod_cdr_csv's ``example`` template (the switch's zone is UTC)."""
    cause = "ORIGINATOR_CANCEL" if cdr["disposition"] == "CANCEL" else CAUSE_NAMES[cdr["hangup_cause"]]
    return [
        cdr["caller_id_name"], cdr["caller_id_number"], cdr["destination_number"], "default",
        _stamp(cdr["start_time_us"]), _stamp(cdr["answer_time_us"]), _stamp(cdr["end_time_us"]),
        str(cdr["duration_ms"] // 1000), str(cdr["billsec_ms"] // 1000), cause, cdr["uuid"], "",
        cdr["accountcode"], cdr["read_codec"], cdr["write_codec"],
    ]  # fmt: skip


def csv_line(fields: list[str]) -> str:
    """One line as mod_cdr_csv writes it: every field quoted."""
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(fields)
    return out.getvalue()


# -- bad records: each names a different fault, each carries its marker --------------------------------


def bad_json(marker: str, good: dict[str, Any], variant: int) -> bytes:
    if variant % 2:
        return json_body({**good, "uuid": marker, "end_time_us": good["start_time_us"] - US})  # ends before it starts
    return json_body({**good, "uuid": marker})[:-40]  # cut off: not JSON


def bad_xml(marker: str, good: dict[str, Any], variant: int) -> bytes:
    body = xml_body({**good, "uuid": marker})
    if variant % 2:
        return body.replace(b"</cdr>", b"")  # not well-formed
    return body.replace(b"<cdr ", b'<!DOCTYPE cdr [<!ENTITY x "y">]><cdr ', 1)  # a DTD: refused


def bad_bulk(marker: str, good: dict[str, Any], variant: int) -> dict[str, Any]:
    record = bulk_record({**good, "uuid": marker})
    if variant % 2:
        record["billsec_ms"] = -5
    else:
        record["direction"] = "sideways"
    return record


def bad_csv(marker: str, good: dict[str, Any], variant: int) -> str:
    fields = csv_fields({**good, "uuid": marker})
    if variant % 2:
        fields[9] = "NOT_A_CAUSE"  # no such FreeSWITCH cause
        return csv_line(fields)
    return csv_line([*fields[:9], marker])  # 10 columns of the 15
