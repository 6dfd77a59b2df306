"""CDR files of the switches, fuzzed: record splitting, FreeSWITCH mod_cdr_csv (example, asterisk and sql
templates) and Asterisk Master.csv. A bad record is InvalidCdr naming the column or the line; a call the
switch wrote (any chunking, line ending, BOM or quoting) comes back with its own fields."""

from __future__ import annotations

from typing import Any

from fuzz_calls import Call, assert_fields, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, import_file, mutated_list, numberish, odd_text, outcome
from hypothesis import assume, example, given
from hypothesis import strategies as st

from cdrstats_ingest.domain import normalise
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.asterisk_csv import AsteriskCsv
from cdrstats_ingest.domain.files.formats import FileFormat
from cdrstats_ingest.domain.files.freeswitch_csv import TEMPLATES, FreeswitchCsv
from cdrstats_ingest.domain.files.records import split_records
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="pbx", home_country="US", time_zone="Europe/Paris")
cells = st.one_of(numberish, odd_text, st.sampled_from(["NORMAL_CLEARING", "ANSWERED", "NO ANSWER", "2026-01-01"]))
#: file text without carriage returns (a CRLF file's records lose theirs, by design)
note_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=20)


def fs_quoted(value: str) -> str:
    """mod_cdr_csv's "${var}" with a quote inside escaped by a backslash."""
    return '"' + value.replace('"', '\\"') + '"'


def freeswitch_cells(call: Call, template: str) -> list[str]:
    """The template's variables of one leg, in its column order."""
    values = {
        "caller_id_name": call.caller_name,
        "caller_id_number": call.caller,
        "destination_number": call.destination,
        "context": "public",
        "caller_id": f'"{call.caller_name}" <{call.caller}>',
        "channel_name": "sofia/internal/x",
        "start_stamp": call.local(call.start_us),
        "answer_stamp": call.local(call.answer_us) if call.answered else "",
        "end_stamp": call.local(call.end_us),
        "duration": str(call.ring_s + call.talk_s),
        "billsec": str(call.talk_s),
        "hangup_cause": call.cause,
        "uuid": call.uuid,
        "accountcode": call.accountcode,
    }
    return [values.get(column, "") for column in TEMPLATES[template]]


def freeswitch_line(call: Call, template: str) -> str:
    line = ",".join(fs_quoted(cell) for cell in freeswitch_cells(call, template))
    return f"INSERT INTO cdr VALUES ({line});" if template == "freeswitch_csv_sql" else line


ASTERISK_OUTCOMES = {"BUSY": 17, "NO ANSWER": 19, "FAILED": 41, "CONGESTION": 34, "CANCEL": 21}
UNQUOTED = (12, 13)  # duration and billsec


def asterisk_cells(call: Call, disposition: str = "BUSY", userfield: str = "") -> list[str]:
    """A Master.csv record with newcdrcolumns (21 columns), unquoted."""
    return [
        call.accountcode, call.caller, call.destination, "from-internal", f'"{call.caller_name}" <{call.caller}>',
        "SIP/100-0001", "", "Dial", userfield, call.local(call.start_us),
        call.local(call.answer_us) if call.answered else "", call.local(call.end_us), str(call.ring_s + call.talk_s),
        str(call.talk_s), "ANSWERED" if call.answered else disposition, "DOCUMENTATION", call.uuid, userfield, "",
        call.uuid, "7",
    ]  # fmt: skip


def asterisk_line(cells: list[str], columns: int) -> str:
    """Master.csv: every field quoted ("" inside) except duration and billsec."""
    quoted = (c if i in UNQUOTED else '"' + c.replace('"', '""') + '"' for i, c in enumerate(cells[:columns]))
    return ",".join(quoted)


paris_calls = calls(zone="Europe/Paris")
#: real records with a few cells made hostile (or one cell more or less)
switch_records = st.one_of(
    st.tuples(st.sampled_from(sorted(TEMPLATES)), st.lists(cells, max_size=24)),
    st.tuples(st.just("asterisk_csv"), st.lists(cells, max_size=22)),
    st.sampled_from(sorted(TEMPLATES)).flatmap(
        lambda t: st.tuples(st.just(t), mutated_list(paris_calls.map(lambda c: freeswitch_cells(c, t)), cells))
    ),
    st.tuples(st.just("asterisk_csv"), mutated_list(paris_calls.map(asterisk_cells), cells)),
)


# --- hostile input ------------------------------------------------------------------------------------------


@FUZZ_MORE
@given(chunks=st.lists(st.binary(max_size=40), max_size=6), backslash=st.booleans(), limit=st.integers(1, 64))
@example(chunks=[b'"open\n', b"\xff\xfe\n", b"\xef\xbb\xbfx"], backslash=True, limit=4)
def test_splitting_any_bytes_gives_numbered_records(chunks: list[bytes], backslash: bool, limit: int) -> None:
    records = list(split_records(chunks, backslash_escapes=backslash, max_record_bytes=limit))
    lines = [record.line for record in records]
    assert lines == sorted(set(lines)) and all(line >= 1 for line in lines)
    assert len(records) <= sum(chunk.count(b"\n") for chunk in chunks) + 1
    for record in records:
        assert not record.error or record.error.split(" ")[0] in ("not", "record", "unclosed")


@FUZZ_MORE
@given(record=switch_records, zone=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati"]))
@example(
    record=("freeswitch_csv_sql", [*["x"] * 4, "2026-01-01 10:00:00", "", "", "1e400", "0", "NORMAL_CLEARING", "u1"]),
    zone="UTC",
)
@example(
    record=("asterisk_csv", [*[""] * 9, "2026-01-01 10:00:00", "", "", "nan", "0", "BUSY", "", ""]),
    zone="UTC",
)
@example(
    record=("asterisk_csv", [*[""] * 9, "9999-12-31 23:59:59", "", "", "0", "0", "BUSY", "", ""]),
    zone="Pacific/Kiritimati",
)
def test_any_fields_of_a_switch_format_are_a_storable_cdr_or_a_named_error(
    record: tuple[str, list[str]], zone: str
) -> None:
    name, fields = record
    fmt: FileFormat = AsteriskCsv() if name == "asterisk_csv" else FreeswitchCsv(name)
    switch = SwitchConfig(id="pbx", time_zone=zone)

    def read() -> dict[str, Any]:
        cdr = normalise.enrich(fmt.to_cdr(fields, switch), switch)
        normalise.validate(cdr)
        return cdr

    result = outcome(read, (InvalidCdr,))
    if not isinstance(result, InvalidCdr):
        assert_storable(result)


@FUZZ
@given(text=odd_text | st.lists(cells, max_size=6).map(",".join), name=st.sampled_from([*TEMPLATES, "asterisk_csv"]))
def test_any_record_text_is_fields_or_an_error_naming_the_line(text: str, name: str) -> None:
    fmt: FileFormat = AsteriskCsv() if name == "asterisk_csv" else FreeswitchCsv(name)
    result = outcome(lambda: fmt.fields(text), (InvalidCdr,))
    assert isinstance(result, list) or result.field == "line"


# --- the correct result -------------------------------------------------------------------------------------


def file_bytes(lines: list[str], *, crlf: bool, bom: bool) -> bytes:
    data = ("\r\n" if crlf else "\n").join(lines).encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


@FUZZ
@given(
    call_list=st.lists(calls(zone="Europe/Paris"), min_size=1, max_size=3),
    template=st.sampled_from(sorted(TEMPLATES)),
    crlf=st.booleans(),
    bom=st.booleans(),
    chunk=st.integers(1, 300),
)
def test_mod_cdr_csv_lines_give_back_their_calls(
    call_list: list[Call], template: str, crlf: bool, bom: bool, chunk: int
) -> None:
    if template == "freeswitch_csv_asterisk":  # the name only travels inside "Name" <number>
        assume(all(not set('"<>') & set(call.caller_name) for call in call_list))
    data = file_bytes([freeswitch_line(call, template) for call in call_list], crlf=crlf, bom=bom)
    results = import_file(FreeswitchCsv(template), data, SWITCH, chunk)
    assert len(results) == len(call_list)
    for call, cdr in zip(call_list, results, strict=True):
        assert_fields(cdr, {**call.expected(), "caller_id_name": call.caller_name, "source": "freeswitch_csv"})


@FUZZ
@given(
    call=calls(zone="Europe/Paris"),
    failed_as=st.sampled_from(sorted(ASTERISK_OUTCOMES)),
    userfield=note_text,
    columns=st.sampled_from([18, 21]),
    crlf=st.booleans(),
)
def test_master_csv_lines_give_back_their_calls(
    call: Call, failed_as: str, userfield: str, columns: int, crlf: bool
) -> None:
    assume(not set('"<>') & set(call.caller_name))
    disposition = "ANSWERED" if call.answered else failed_as
    data = file_bytes([asterisk_line(asterisk_cells(call, disposition, userfield), columns), ""], crlf=crlf, bom=False)
    (cdr,) = import_file(AsteriskCsv(), data, SWITCH)
    q850 = 16 if call.answered else ASTERISK_OUTCOMES[failed_as]
    expected = {
        **call.expected(),
        "uuid": f"{call.uuid}-7" if columns == 21 else call.uuid,
        "caller_id_name": call.caller_name,
        "hangup_cause": q850,
        "disposition": disposition.replace(" ", "_"),
    }
    assert_fields(cdr, expected)
    assert cdr["extra"].get("userfield", "") == userfield
    assert cdr["extra"].get("lastdata", "") == userfield
