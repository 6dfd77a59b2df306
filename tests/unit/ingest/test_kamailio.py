"""domain/kamailio.py: an acc_cdrs row (as a driver returns it) -> canonical CDR."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from cdrstats_ingest.domain import kamailio
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="kam1", home_country="US", time_zone="Europe/Paris")
COLUMNS = kamailio.column_map(())


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 17,
        "start_time": dt.datetime(2026, 7, 1, 12, 0, 0),
        "end_time": dt.datetime(2026, 7, 1, 12, 1, 5),
        "duration": 65.4,
        "callid": "abc@host",
        "src_user": "+14155550100",
        "dst_user": "+33142685300",
        "sip_code": "200",
        "sip_reason": "OK",
        "src_ip": "192.0.2.1",
    }
    return {**base, **values}


def test_local_whole_second_times_in_the_switch_zone() -> None:
    cdr = kamailio.normalise_row(row(), SWITCH, columns=COLUMNS)
    assert cdr["start_time_us"] == int(dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000
    assert (cdr["duration_ms"], cdr["billsec_ms"], cdr["answered"], cdr["hangup_cause"]) == (65400, 65400, True, 16)
    assert (cdr["uuid"], cdr["call_id"], cdr["country"], cdr["source"]) == (
        "abc@host",
        "abc@host",
        "FR",
        "kamailio_acc",
    )
    assert cdr["extra"] == {"id": "17", "src_ip": "192.0.2.1", "sip_reason": "OK"}


def test_failed_call_and_precise_epoch_columns() -> None:
    columns = kamailio.column_map((("start_time", "start_ts"), ("end_time", "end_ts")))
    failed = row(duration=decimal.Decimal("0"), sip_code="486", sip_reason="Busy Here", start_ts="1795712792.006")
    failed["end_ts"] = failed["start_ts"]
    cdr = kamailio.normalise_row(failed, SWITCH, columns=columns)
    assert (cdr["answered"], cdr["disposition"], cdr["hangup_cause"], cdr["sip_code"]) == (False, "BUSY", 17, 486)
    assert cdr["start_time_us"] == cdr["end_time_us"] == 1795712792_006000


def test_missed_calls_code_wins_over_acc() -> None:
    replies = kamailio.final_replies(
        [{"id": 1, "method": "INVITE", "callid": "abc@host", "sip_code": "500", "sip_reason": "Server Internal Error"}],
        [{"id": 9, "method": "INVITE", "callid": "abc@host", "sip_code": "503", "sip_reason": "Service Unavailable"}],
    )
    cdr = kamailio.normalise_row(
        row(duration=0, sip_code="", sip_reason=""), SWITCH, columns=COLUMNS, reply=replies["abc@host"]
    )
    assert (cdr["sip_code"], cdr["hangup_cause"], cdr["disposition"]) == (503, 41, "FAILED")
    assert (cdr["extra"]["acc_sip_code"], cdr["extra"]["missed_calls_sip_code"]) == ("500", "503")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"sip_code": "abc"}, "sip_code"),
        ({"start_time": None}, "start_time"),
        ({"duration": "soon"}, "duration"),
        ({"end_time": dt.datetime(2026, 7, 1, 11, 0)}, "end_time_us"),
    ],
)
def test_bad_rows_name_the_column(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCdr) as error:
        kamailio.normalise_row(row(**values), SWITCH, columns=COLUMNS)
    assert error.value.field == field


def test_unknown_column_setting_is_refused() -> None:
    with pytest.raises(InvalidCdr, match="unknown field 'caller'"):
        kamailio.column_map((("caller", "src_user"),))
