"""The file formats on realistic lines: FreeSWITCH mod_cdr_csv templates, Asterisk Master.csv, generic CSV."""

from __future__ import annotations

import datetime
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cdrstats_ingest.domain import normalise
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.asterisk_csv import AsteriskCsv
from cdrstats_ingest.domain.files.freeswitch_csv import FreeswitchCsv
from cdrstats_ingest.domain.files.generic_csv import GenericCsv, MappingProfile
from cdrstats_ingest.domain.switch import DirectionRule, SwitchConfig

PARIS = SwitchConfig(
    id="pbx1",
    type="asterisk",
    home_country="FR",
    time_zone="Europe/Paris",
    direction_rules=(
        DirectionRule("context", "^from-trunk", "inbound"),
        DirectionRule("dstchannel", "^SIP/carrier", "outbound"),
    ),
)


def local_us(text: str, zone: str = "Europe/Paris") -> int:
    stamp = datetime.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    return int(stamp.timestamp()) * 1_000_000


def parse(fmt: Any, line: str, switch: SwitchConfig = PARIS) -> dict[str, Any]:
    cdr = normalise.enrich(fmt.to_cdr(fmt.fields(line), switch), switch)
    normalise.validate(cdr)
    return dict(cdr)


FS_EXAMPLE = (
    '"Alice","1001","0033612345678","default","2024-03-05 14:02:11","2024-03-05 14:02:15",'
    '"2024-03-05 14:03:16","65","61","NORMAL_CLEARING","a1b2c3d4-0000-4000-8000-000000000001",'
    '"b1b2c3d4-0000-4000-8000-000000000002","acme","PCMA","PCMA"'
)


def test_freeswitch_example_template_answered_call() -> None:
    cdr = parse(FreeswitchCsv("freeswitch_csv"), FS_EXAMPLE)
    assert cdr["uuid"] == "a1b2c3d4-0000-4000-8000-000000000001"
    assert cdr["linked_id"] == "b1b2c3d4-0000-4000-8000-000000000002"
    assert cdr["start_time_us"] == local_us("2024-03-05 14:02:11")
    assert cdr["answer_time_us"] == local_us("2024-03-05 14:02:15")
    assert (cdr["duration_ms"], cdr["billsec_ms"], cdr["answered"]) == (65_000, 61_000, True)
    assert (cdr["hangup_cause"], cdr["disposition"]) == (16, "ANSWERED")
    assert (cdr["caller_id_name"], cdr["accountcode"], cdr["read_codec"]) == ("Alice", "acme", "PCMA")
    assert (cdr["destination_e164"], cdr["country"]) == ("+33612345678", "FR")
    assert cdr["extra"] == {"context": "default", "hangup_cause": "NORMAL_CLEARING"}
    assert cdr["source"] == "freeswitch_csv"


def test_freeswitch_unanswered_cancel_and_escaped_quote() -> None:
    line = (
        '"Bob \\"B\\"","0145678901","1003","from-trunk","2024-03-05 14:10:00","","2024-03-05 14:10:09","9","0",'
        '"ORIGINATOR_CANCEL","u-2","","","PCMU","PCMU"'
    )
    cdr = parse(FreeswitchCsv("freeswitch_csv"), line)
    assert cdr["caller_id_name"] == 'Bob "B"'
    assert (cdr["answer_time_us"], cdr["answered"], cdr["billsec_ms"]) == (0, False, 0)
    assert (cdr["hangup_cause"], cdr["disposition"]) == (16, "CANCEL")
    assert cdr["direction"] == "inbound"  # by the switch's context rule


def test_freeswitch_asterisk_template() -> None:
    line = (
        '"acme","1001","18005551234","default","\\"Alice\\" <1001>","sofia/internal/1001@pbx",'
        '"sofia/external/carrier","bridge","sofia/gateway/carrier/18005551234","2024-03-05 14:02:11",'
        '"2024-03-05 14:02:12","2024-03-05 14:02:40","29","28","USER_BUSY","3","u-3","vip"'
    )
    cdr = parse(FreeswitchCsv("freeswitch_csv_asterisk"), line)
    assert (cdr["caller_id_name"], cdr["caller_id_number"], cdr["accountcode"]) == ("Alice", "1001", "acme")
    assert (cdr["hangup_cause"], cdr["uuid"]) == (17, "u-3")
    assert cdr["extra"]["last_app"] == "bridge" and cdr["extra"]["userfield"] == "vip"


def test_freeswitch_sql_template_statement() -> None:
    line = (
        'INSERT INTO cdr VALUES ("Alice","1001","1002","default","2024-03-05 14:02:11","2024-03-05 14:02:15",'
        '"2024-03-05 14:03:16","65","61","NORMAL_CLEARING","u-4","", "acme");'
    )
    cdr = parse(FreeswitchCsv("freeswitch_csv_sql"), line)
    assert (cdr["uuid"], cdr["accountcode"], cdr["direction"]) == ("u-4", "acme", "internal")
    with pytest.raises(InvalidCdr, match="INSERT INTO cdr VALUES"):
        FreeswitchCsv("freeswitch_csv_sql").fields(FS_EXAMPLE)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"Alice","1001"', "line: expected 15 columns (mod_cdr_csv example template), got 2"),
        (FS_EXAMPLE.replace("2024-03-05 14:02:11", "05/03/2024"), "start_stamp: expected a time like"),
        (FS_EXAMPLE.replace("NORMAL_CLEARING", "NOT_A_CAUSE"), "hangup_cause: unknown FreeSWITCH cause name"),
        (FS_EXAMPLE.replace('"61"', '"lots"'), "billsec: expected a number of seconds"),
    ],
)
def test_freeswitch_bad_lines_name_the_field(line: str, message: str) -> None:
    with pytest.raises(InvalidCdr, match=re.escape(message)):
        parse(FreeswitchCsv("freeswitch_csv"), line)


AST_18 = (
    '"acme","0145678901","0612345678","from-trunk","""Jean Dupont"" <0145678901>","SIP/carrier-0000001a",'
    '"SIP/1001-0000001b","Dial","SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15",'
    '"2024-03-05 14:03:16",65,61,"ANSWERED","DOCUMENTATION","1709643731.26","note"'
)


def test_asterisk_master_csv_18_columns() -> None:
    cdr = parse(AsteriskCsv(), AST_18)
    assert (cdr["uuid"], cdr["caller_id_name"], cdr["caller_id_number"]) == (
        "1709643731.26",
        "Jean Dupont",
        "0145678901",
    )
    assert (cdr["direction"], cdr["disposition"], cdr["hangup_cause"]) == ("inbound", "ANSWERED", 16)
    assert (cdr["duration_ms"], cdr["billsec_ms"]) == (65_000, 61_000)
    assert cdr["answer_time_us"] == local_us("2024-03-05 14:02:15")
    assert cdr["extra"]["dcontext"] == "from-trunk" and cdr["extra"]["lastdata"] == "SIP/1001,30"
    assert cdr["destination_e164"] == "+33612345678"


def test_asterisk_unanswered_with_newcdrcolumns() -> None:
    line = (
        '"","1001","0612345678","internal","""Alice"" <1001>","SIP/1001-0000001c","SIP/carrier-0000001d","Dial",'
        '"SIP/carrier/0612345678","2024-03-05 15:00:00",,"2024-03-05 15:00:20",20,0,"NO ANSWER","DOCUMENTATION",'
        '"1709647200.30","","","1709647200.29","42"'
    )
    cdr = parse(AsteriskCsv(), line)
    assert (cdr["answered"], cdr["answer_time_us"], cdr["disposition"], cdr["hangup_cause"]) == (
        False,
        0,
        "NO_ANSWER",
        19,
    )
    assert (cdr["uuid"], cdr["linked_id"], cdr["direction"]) == ("1709647200.30-42", "1709647200.29", "outbound")


def test_asterisk_16_columns_get_a_stable_identity() -> None:
    line = AST_18.rsplit(",", 2)[0]  # without uniqueid and userfield
    first, second = parse(AsteriskCsv(), line), parse(AsteriskCsv(), line)
    assert first["uuid"].startswith("sha1-") and first["uuid"] == second["uuid"]


def test_asterisk_bad_disposition_and_column_count() -> None:
    with pytest.raises(InvalidCdr, match="disposition: unknown disposition 'HUNG'"):
        parse(AsteriskCsv(), AST_18.replace('"ANSWERED"', '"HUNG"'))
    with pytest.raises(InvalidCdr, match="expected 16, 18 or 21"):
        parse(AsteriskCsv(), '"a","b","c"')


def test_asterisk_time_zone_is_the_switchs() -> None:
    utc = SwitchConfig(id="pbx2", time_zone="UTC")
    cdr = parse(AsteriskCsv(), AST_18, utc)
    assert cdr["start_time_us"] == local_us("2024-03-05 14:02:11", "UTC")
    assert cdr["direction"] == "unknown"


PROFILE = MappingProfile(
    name="carrier",
    has_header=True,
    delimiter=";",
    date_format="%d/%m/%Y %H:%M:%S",
    time_zone="America/New_York",
    duration_unit="ms",
    columns=(
        ("uuid", "CallID"),
        ("caller_id_number", "From"),
        ("destination_number", "To"),
        ("start_time", "Start"),
        ("duration", "Dur"),
        ("billsec", "Bill"),
        ("sip_code", "SIP"),
    ),
)


def test_generic_csv_with_header_mapping() -> None:
    fmt = GenericCsv(PROFILE)
    assert fmt.take_header(fmt.fields("CallID;From;To;Start;Dur;Bill;SIP;Trunk"))
    cdr = parse(fmt, "c-1;+12125550100;+14155550199;05/03/2024 09:00:00;30500;25250;200;T1")
    assert cdr["start_time_us"] == local_us("2024-03-05 09:00:00", "America/New_York")
    assert (cdr["duration_ms"], cdr["billsec_ms"], cdr["answered"]) == (30_500, 25_250, True)
    assert cdr["answer_time_us"] == cdr["end_time_us"] - 25_250_000
    assert (cdr["sip_code"], cdr["hangup_cause"], cdr["extra"]) == (200, 16, {"Trunk": "T1"})
    assert cdr["source"] == "csv_upload"


def test_generic_csv_without_header_epoch_and_digest_identity() -> None:
    profile = MappingProfile(
        has_header=False,
        date_format="epoch",
        columns=(("start_time", "1"), ("end_time", "2"), ("destination_number", "3")),
    )
    fmt = GenericCsv(profile)
    assert not fmt.take_header(fmt.fields("1709643731,1709643791,1002"))
    cdr = parse(fmt, "1709643731,1709643791,1002")
    assert (cdr["start_time_us"], cdr["duration_ms"], cdr["billsec_ms"]) == (1709643731_000_000, 60_000, 0)
    assert cdr["uuid"].startswith("sha1-")


def test_generic_csv_header_missing_a_mapped_column_is_an_error() -> None:
    fmt = GenericCsv(PROFILE)
    with pytest.raises(InvalidCdr, match="header: start_time: no column 'Start'"):
        fmt.take_header(fmt.fields("CallID;From;To;Begin;Dur;Bill;SIP"))


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (MappingProfile(delimiter=";;", columns=(("start_time", "a"),)), "mapping.delimiter: must be one character"),
        (MappingProfile(columns=(("destination_number", "To"),)), "start_time must be mapped"),
        (MappingProfile(columns=(("start_time", "a"), ("bogus", "b"))), "unknown field 'bogus'"),
        (MappingProfile(has_header=False, columns=(("start_time", "Start"),)), "columns are numbers from 1"),
        (MappingProfile(time_zone="Mars/Base", columns=(("start_time", "a"),)), "unknown IANA time zone"),
        (MappingProfile(duration_unit="h", columns=(("start_time", "a"),)), "expected s or ms"),
    ],
)
def test_mapping_profiles_are_checked(profile: MappingProfile, message: str) -> None:
    with pytest.raises(InvalidCdr, match=message):
        profile.check()
