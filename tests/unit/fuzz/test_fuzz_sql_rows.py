"""Rows the pull connectors read, fuzzed: Kamailio acc_cdrs / acc / missed_calls and Asterisk's cdr table.

Any row (any driver type in any column, missing columns, huge or non-finite numbers) is a storable CDR or
InvalidCdr naming the column; a call as Kamailio or Asterisk logs it comes back with its own fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import zoneinfo
from typing import Any

from fuzz_calls import Call, assert_fields, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, db_values, dicts_of, mutated, numberish, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_ingest.domain import asterisk, kamailio, normalise
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

COLUMNS = kamailio.column_map(())
ACC_COLUMNS = ["id", "callid", "src_user", "dst_user", "sip_code", "sip_reason", "start_time", "end_time"]
ACC_COLUMNS += ["answer_time", "duration", "method", "src_ip"]
ASTERISK_COLUMNS = sorted(asterisk.MAPPED | {"clid", "dcontext", "channel", "dstchannel", "sequence", "START"})
#: SIP final response -> (Q.850 cause, disposition) of an unanswered dialog (RFC 3398 as sofia maps it)
SIP_OUTCOMES = {486: (17, "BUSY"), 404: (1, "FAILED"), 480: (18, "NO_ANSWER"), 487: (16, "CANCEL"), 603: (21, "FAILED")}
zones = st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "America/St_Johns"])


# --- renderers: a call as Kamailio and Asterisk log it ----------------------------------------------------


def local_naive(call: Call, time_us: int) -> dt.datetime:
    """A DATETIME column as the driver returns it: local wall time, no zone."""
    return dt.datetime.fromtimestamp(time_us / 1_000_000, zoneinfo.ZoneInfo(call.zone)).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Dialog:
    """A call as the dialog module measures it: ms precision, failed dialogs last 0 and end at their start."""

    call: Call
    ring_ms: int = 0
    talk_ms: int = 0
    failure: int = 486

    @property
    def ring(self) -> int:
        return self.call.ring_s * 1000 + self.ring_ms

    @property
    def duration(self) -> int:
        return self.ring + self.call.talk_s * 1000 + self.talk_ms if self.call.answered else 0

    @property
    def end_us(self) -> int:
        return self.call.start_us + self.duration * 1000

    @property
    def code(self) -> int:
        return 200 if self.call.answered else self.failure

    def acc_cdrs_row(self, duration_type: type = float) -> dict[str, Any]:
        call = self.call
        return {
            "id": 41,
            "callid": call.call_id,
            "src_user": call.caller,
            "dst_user": call.destination,
            "acct": call.accountcode,  # a cdr_extra column of the operator's choosing
            "sip_code": str(self.code),
            "sip_reason": "OK" if call.answered else "Failed",
            "start_time": local_naive(call, call.start_us),
            "end_time": local_naive(call, self.end_us).replace(microsecond=0),
            "duration": duration_type(str(decimal.Decimal(self.duration) / 1000)),
            "answer_time": str(decimal.Decimal(call.start_us + self.ring * 1000) / 1_000_000)
            if call.answered
            else None,
            "start_ts": f"{call.start_s}.000",
            "end_ts": str(decimal.Decimal(self.end_us) / 1_000_000),
        }


def cdr_table_row(call: Call, failed_as: str = "BUSY", *, as_datetime: bool = False) -> dict[str, Any]:
    """The old Asterisk ``cdr`` table: calldate (local start) with duration and billsec."""
    calldate = local_naive(call, call.start_us)
    return {
        "calldate": calldate if as_datetime else calldate.strftime("%Y-%m-%d %H:%M:%S"),
        "clid": f'"Caller" <{call.caller}>',
        "src": call.caller,
        "dst": call.destination,
        "accountcode": call.accountcode,
        "duration": call.ring_s + call.talk_s,
        "billsec": call.talk_s,
        "disposition": "ANSWERED" if call.answered else failed_as,
        "uniqueid": call.uuid,
        "linkedid": "",
    }


#: a real row with a few columns made hostile, dropped or added
acc_cdrs_rows = mutated(calls().map(lambda call: Dialog(call).acc_cdrs_row()), db_values | numberish)
cdr_table_rows = mutated(calls().map(cdr_table_row), st.none() | numberish | odd_text)


@FUZZ_MORE
@given(row=dicts_of(ACC_COLUMNS, db_values | numberish) | acc_cdrs_rows, zone=zones)
@example(row={"start_time": "1e999999", "end_time": "1"}, zone="UTC")  # decimal.Overflow escaped
@example(row={"start_time": "1", "end_time": "2", "duration": "1e999999"}, zone="UTC")
@example(row={"start_time": 1.7976931348623157e308, "end_time": 1.7976931348623157e308}, zone="UTC")
@example(row={"start_time": "0001-01-01 00:00:00", "end_time": "9999-12-31 23:59:59"}, zone="Pacific/Kiritimati")
def test_any_acc_cdrs_row_is_a_storable_cdr_or_names_its_column(row: dict[str, Any], zone: str) -> None:
    switch = SwitchConfig(id="kam", time_zone=zone)
    result = outcome(lambda: kamailio.normalise_row(row, switch, columns=COLUMNS), (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


acc_rows = st.lists(dicts_of(["id", "callid", "method", "sip_code", "sip_reason"], db_values), max_size=4)


@FUZZ
@given(acc=acc_rows, missed=acc_rows)
@example(acc=[{}], missed=[{"id": None, "callid": "c", "method": "INVITE", "sip_code": "503"}])  # KeyError, TypeError
@example(acc=[{"id": decimal.Decimal("Infinity"), "method": "INVITE", "sip_code": 500}], missed=[])
def test_any_acc_and_missed_calls_rows_give_final_replies(acc: list[dict[str, Any]], missed: list[dict[str, Any]]):
    replies = kamailio.final_replies(acc, missed)
    for call_id, reply in replies.items():
        assert call_id and reply.final is not None
        assert all(code >= 100 for code, _ in filter(None, (reply.acc, reply.missed_calls)))


@FUZZ
@given(
    pairs=st.lists(st.tuples(st.sampled_from([*kamailio.DEFAULT_COLUMNS, "bogus"]) | odd_text, odd_text), max_size=4)
)
def test_any_column_overrides_are_a_map_or_name_the_setting(pairs: list[tuple[str, str]]) -> None:
    result = outcome(lambda: kamailio.column_map(pairs), (InvalidCdr,))
    assert isinstance(result, dict) or result.field == "connector.columns"


@FUZZ_MORE
@given(row=dicts_of(ASTERISK_COLUMNS, st.none() | numberish | odd_text) | cdr_table_rows, zone=zones)
@example(row={"calldate": "2026-01-01 10:00:00", "billsec": "1e400", "disposition": "ANSWERED"}, zone="UTC")
@example(row={"start": "2026-01-01 10:00:00", "duration": "nan", "disposition": "BUSY"}, zone="UTC")
@example(row={"calldate": "9999-12-31 23:59:59", "duration": "5", "disposition": "BUSY"}, zone="UTC")
def test_any_asterisk_cdr_row_is_a_storable_cdr_or_names_its_column(row: dict[str, Any], zone: str) -> None:
    switch = SwitchConfig(id="ast", time_zone=zone)

    def read() -> dict[str, Any]:
        cdr = normalise.enrich(asterisk.normalise_row(row, switch, source="asterisk_db"), switch)
        normalise.validate(cdr)
        return cdr

    result = outcome(read, (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


# --- the correct result ------------------------------------------------------------------------------------


@FUZZ
@given(
    call=calls(),
    ring_ms=st.integers(0, 999),
    talk_ms=st.integers(0, 999),
    failure=st.sampled_from(sorted(SIP_OUTCOMES)),
    epoch_columns=st.booleans(),
    duration_type=st.sampled_from([float, decimal.Decimal, str]),
)
def test_an_acc_cdrs_row_gives_back_its_dialog(
    call: Call, ring_ms: int, talk_ms: int, failure: int, epoch_columns: bool, duration_type: type
) -> None:
    """Kamailio: whole-second start/end DATETIMEs (or precise epoch extras), duration REAL from the INVITE."""
    dialog = Dialog(call, ring_ms, talk_ms, failure)
    row = dialog.acc_cdrs_row(duration_type)
    overrides = [("accountcode", "acct")]
    if epoch_columns:
        overrides += [("start_time", "start_ts"), ("end_time", "end_ts")]
    columns = kamailio.column_map(overrides)
    switch = SwitchConfig(id="kam", home_country="US", time_zone=call.zone)
    cdr = kamailio.normalise_row(row, switch, columns=columns)
    q850, disposition = (16, "ANSWERED") if call.answered else SIP_OUTCOMES[failure]
    expected = {
        **call.expected(),
        "uuid": call.call_id,
        "call_id": call.call_id,
        "answer_time_us": call.start_us + dialog.ring * 1000 if call.answered else 0,
        "end_time_us": dialog.end_us if epoch_columns else dialog.end_us // 1_000_000 * 1_000_000,
        "duration_ms": dialog.duration,
        "billsec_ms": dialog.duration - dialog.ring if call.answered else 0,
        "pdd_ms": dialog.ring if call.answered else -1,
        "sip_code": dialog.code,
        "hangup_cause": q850,
        "disposition": disposition,
        "source": "kamailio_acc",
    }
    assert_fields(cdr, expected)
    assert_storable(cdr)


@FUZZ
@given(
    call=calls(), failed_as=st.sampled_from(["BUSY", "NO ANSWER", "FAILED", "CONGESTION"]), as_datetime=st.booleans()
)
def test_an_asterisk_cdr_row_in_the_calldate_layout_gives_back_its_call(
    call: Call, failed_as: str, as_datetime: bool
) -> None:
    """The old table: answer and end follow from calldate, duration and billsec."""
    row = cdr_table_row(call, failed_as, as_datetime=as_datetime)
    switch = SwitchConfig(id="ast", home_country="US", time_zone=call.zone)
    cdr = normalise.enrich(asterisk.normalise_row(row, switch, source="asterisk_db"), switch)
    normalise.validate(cdr)
    q850 = {"BUSY": 17, "NO ANSWER": 19, "FAILED": 41, "CONGESTION": 34}.get(failed_as, 0)
    expected = {**call.expected(), "caller_id_name": "Caller", "source": "asterisk_db"}
    if not call.answered:
        expected.update(hangup_cause=q850, disposition=failed_as.replace(" ", "_"))
    else:
        expected.update(hangup_cause=16, disposition="ANSWERED")
    assert_fields(cdr, expected)
