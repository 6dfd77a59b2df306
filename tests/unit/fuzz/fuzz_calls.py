"""A model of one call, and what every parser must make of it: the "correct result" half of the fuzz tests.

Each test renders a ``Call`` the way its switch writes it (JSON, XML, CSV, a database row) and
compares the parsed CDR with ``Call.expected()``, which is written down from the switches' own
documentation, independently of the product's code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zoneinfo
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from cdrstats_common.cdr import to_proto
from cdrstats_gateway.domain import cdr_format
from cdrstats_ingest.domain.normalise import validate

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")
#: FreeSWITCH cause name -> (reported Q.850 code, disposition when not answered); from switch_types.h
FS_CAUSES = {
    "USER_BUSY": (17, "BUSY"),
    "NO_ANSWER": (19, "NO_ANSWER"),
    "NO_USER_RESPONSE": (18, "NO_ANSWER"),
    "ORIGINATOR_CANCEL": (16, "CANCEL"),
    "CALL_REJECTED": (21, "FAILED"),
    "UNALLOCATED_NUMBER": (1, "FAILED"),
    "NORMAL_CIRCUIT_CONGESTION": (34, "CONGESTION"),
}
#: a dialled number and what libphonenumber makes of it with home country US
DESTINATIONS = {
    "+442079460123": ("GB", "+442079460123"),
    "+33142685300": ("FR", "+33142685300"),
    "+4930901820": ("DE", "+4930901820"),
    "+61255501234": ("AU", "+61255501234"),
    "2125550123": ("US", "+12125550123"),
    "1001": ("", ""),  # an extension
}
_id_text = st.text(st.sampled_from("abcdef0123456789-"), min_size=8, max_size=36).filter(lambda s: s.strip("-"))
#: a caller name as people type them: any printable text, quotes and commas included
names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\\"), max_size=24
).map(str.strip)


@dataclasses.dataclass(frozen=True)
class Call:
    """One leg as the switch saw it; times are whole seconds (what file formats carry)."""

    uuid: str
    call_id: str
    caller: str
    caller_name: str
    destination: str
    accountcode: str
    start_s: int
    ring_s: int
    talk_s: int  # > 0: answered
    cause: str  # FreeSWITCH cause name; NORMAL_CLEARING when answered
    zone: str

    @property
    def answered(self) -> bool:
        return self.talk_s > 0

    @property
    def start_us(self) -> int:
        return self.start_s * 1_000_000

    @property
    def answer_us(self) -> int:
        return (self.start_s + self.ring_s) * 1_000_000 if self.answered else 0

    @property
    def end_us(self) -> int:
        return (self.start_s + self.ring_s + self.talk_s) * 1_000_000

    @property
    def q850(self) -> int:
        return 16 if self.answered else FS_CAUSES[self.cause][0]

    @property
    def disposition(self) -> str:
        return "ANSWERED" if self.answered else FS_CAUSES[self.cause][1]

    def local(self, time_us: int) -> str:
        """``YYYY-MM-DD HH:MM:SS`` in the switch's zone, as switches write stamps."""
        moment = dt.datetime.fromtimestamp(time_us // 1_000_000, zoneinfo.ZoneInfo(self.zone))
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def expected(self) -> dict[str, Any]:
        """The canonical fields every parser must give for this call (file formats lose the Call-ID)."""
        country, e164 = DESTINATIONS[self.destination]
        return {
            "uuid": self.uuid,
            "caller_id_number": self.caller,
            "destination_number": self.destination,
            "accountcode": self.accountcode,
            "start_time_us": self.start_us,
            "answer_time_us": self.answer_us,
            "end_time_us": self.end_us,
            "duration_ms": (self.ring_s + self.talk_s) * 1000,
            "billsec_ms": self.talk_s * 1000,
            "answered": self.answered,
            "hangup_cause": self.q850,
            "disposition": self.disposition,
            "country": country,
            "destination_e164": e164,
        }


def _unambiguous(zone: str, seconds: int) -> bool:
    """A local stamp that names one instant (not in a DST fold), so it can be read back exactly."""
    local = dt.datetime.fromtimestamp(seconds, zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
    tz = zoneinfo.ZoneInfo(zone)
    return local.replace(tzinfo=tz, fold=0).utcoffset() == local.replace(tzinfo=tz, fold=1).utcoffset()


@st.composite
def calls(draw: st.DrawFn, *, zone: str | None = None) -> Call:
    answered = draw(st.booleans())
    call_zone = zone or draw(st.sampled_from(ZONES))
    start_s = draw(st.integers(min_value=978_307_200, max_value=4_102_444_000 - 200_000))  # 2001 .. 2099
    ring_s = draw(st.integers(min_value=0, max_value=120))
    talk_s = draw(st.integers(min_value=1, max_value=86_400)) if answered else 0
    for seconds in (start_s, start_s + ring_s, start_s + ring_s + talk_s):
        assume(_unambiguous(call_zone, seconds))
    return Call(
        uuid=draw(_id_text),
        call_id=draw(_id_text) + "@" + draw(st.sampled_from(["192.0.2.7", "pbx.example.com"])),
        caller=draw(st.sampled_from(["+14155550100", "1001", "+33612345678", "anonymous"])),
        caller_name=draw(names),
        destination=draw(st.sampled_from(sorted(DESTINATIONS))),
        accountcode=draw(st.sampled_from(["", "acme", "cust-42"])),
        start_s=start_s,
        ring_s=ring_s,
        talk_s=talk_s,
        cause="NORMAL_CLEARING" if answered else draw(st.sampled_from(sorted(FS_CAUSES))),
        zone=call_zone,
    )


def assert_fields(cdr: dict[str, Any], expected: dict[str, Any]) -> None:
    """Field by field, so a failure names the field that came out wrong."""
    wrong = {k: (cdr.get(k), v) for k, v in expected.items() if cdr.get(k) != v}
    assert not wrong, f"(got, expected) per field: {wrong}"


def assert_storable(cdr: dict[str, Any]) -> None:
    """What ingest accepts, every later step can take: validation, the proto, JSON events, the gateway's CSV."""
    validate(cdr)
    to_proto(cdr)
    json.dumps(cdr, allow_nan=False)
    cdr_format.csv_row(cdr)  # RFC 3339 times: a datetime must hold them
