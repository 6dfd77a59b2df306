"""Generic CSV files read through a mapping profile, fuzzed: any profile is usable or refused naming the
setting, any row is a storable CDR or InvalidCdr naming the column, and a call exported with any delimiter,
date format, duration unit, column order or header comes back with its own fields."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

from fuzz_calls import Call, assert_fields, assert_storable, calls
from fuzz_strategies import FUZZ, FUZZ_MORE, import_file, mutated_list, numberish, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.files.generic_csv import FIELDS, GenericCsv, MappingProfile
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="pbx", home_country="US", time_zone="Europe/Paris")
cells = st.one_of(numberish, odd_text, st.sampled_from(["NORMAL_CLEARING", "ANSWERED", "NO ANSWER", "2026-01-01"]))
#: file text without carriage returns (a CRLF file's records lose theirs, by design)
note_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=20)


DATE_FORMATS = {
    "iso8601": lambda call, us: call.local(us),
    "epoch": lambda call, us: str(us // 1_000_000),
    "epoch_ms": lambda call, us: str(us // 1000),
    "epoch_us": lambda call, us: str(us),
    "%d/%m/%Y %H:%M:%S": lambda call, us: dt.datetime.fromisoformat(call.local(us)).strftime("%d/%m/%Y %H:%M:%S"),
}
GENERIC_FIELDS = (
    "uuid", "call_id", "caller_id_number", "caller_id_name", "destination_number", "accountcode", "start_time",
    "answer_time", "end_time", "duration", "billsec", "hangup_cause", "disposition",
)  # fmt: skip


def generic_values(
    call: Call, date_format: str = "iso8601", unit: str = "s", *, cause_as_name: bool = False
) -> dict[str, str]:
    """A call's canonical values as a CSV exporter writes them."""
    scale = 1000 if unit == "ms" else 1
    render = DATE_FORMATS[date_format]
    return {
        "uuid": call.uuid, "call_id": call.call_id, "caller_id_number": call.caller,
        "caller_id_name": call.caller_name, "destination_number": call.destination, "accountcode": call.accountcode,
        "start_time": render(call, call.start_us), "answer_time": render(call, call.answer_us) if call.answered else "",
        "end_time": render(call, call.end_us), "duration": str((call.ring_s + call.talk_s) * scale),
        "billsec": str(call.talk_s * scale), "hangup_cause": call.cause if cause_as_name else str(call.q850),
        "disposition": call.disposition.lower(),
    }  # fmt: skip


#: every field mapped, by column number: the profile a nearly valid row is read with
BY_NUMBER = MappingProfile("fuzz", False, columns=tuple((f, str(i + 1)) for i, f in enumerate(GENERIC_FIELDS)))
#: real records with a few cells made hostile (or one cell more or less)
generic_rows = mutated_list(calls().map(lambda c: [generic_values(c)[f] for f in GENERIC_FIELDS]), cells)


# --- hostile input ------------------------------------------------------------------------------------------


profiles = st.builds(
    MappingProfile,
    name=st.just("fuzz"),
    has_header=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t", "", ",,", "\x00"]),
    date_format=st.sampled_from(["", "iso8601", "epoch", "epoch_ms", "epoch_us", "%d/%m/%Y %H:%M", "%Q", "bogus"]),
    time_zone=st.sampled_from(["", "UTC", "Asia/Kolkata", "Nope/Nowhere", "../etc/passwd", "America"]),
    duration_unit=st.sampled_from(["", "s", "ms", "h"]),
    columns=st.lists(
        st.tuples(st.sampled_from([*FIELDS, "extra.note", "bogus"]), st.sampled_from(["1", "2", "3", "a", "b", "0"])),
        max_size=6,
    ).map(lambda pairs: (("start_time", "1"), *pairs)),
)


@FUZZ_MORE
@given(profile=profiles, rows=st.lists(st.lists(cells, max_size=5), min_size=1, max_size=4))
@example(
    profile=MappingProfile(name="p", has_header=False, date_format="epoch", columns=(("start_time", "1"),)),
    rows=[["1e400"], ["nan"], ["-inf"]],
)
@example(
    profile=MappingProfile(name="p", has_header=False, columns=(("start_time", "1"), ("duration", "2"))),
    rows=[["2026-01-01 10:00:00", "1e400"]],
)
@example(
    profile=MappingProfile(name="p", has_header=False, columns=(("start_time", "1"), ("sip_code", "2"))),
    rows=[["2026-01-01 10:00:00", "inf"]],
)
@example(
    profile=MappingProfile(name="p", has_header=False, columns=(("start_time", "1"), ("hangup_cause", "2"))),
    rows=[["2026-01-01 10:00:00", "\u00b2"], ["2026-01-01 10:00:00", "9" * 5000]],  # int() refused both
)
@example(profile=MappingProfile(name="p", has_header=False, columns=(("start_time", "\u00b2"),)), rows=[["x"]])
def test_any_generic_csv_is_cdrs_or_named_errors(profile: MappingProfile, rows: list[list[str]]) -> None:
    """Any profile, any rows; and (below) the full profile with real rows made hostile."""
    fmt = outcome(lambda: GenericCsv(profile), (InvalidCdr,))
    if isinstance(fmt, InvalidCdr):
        assert fmt.field.startswith(("mapping.", "time_zone"))
        return
    data = "\n".join((fmt.profile.delimiter or ",").join(row) for row in rows).encode()
    for result in import_file(fmt, data, SWITCH):
        if isinstance(result, dict):
            assert_storable(result)


@FUZZ_MORE
@given(row=generic_rows, delimiter=st.sampled_from([",", ";"]))
def test_a_nearly_valid_generic_row_is_a_storable_cdr_or_names_its_column(row: list[str], delimiter: str) -> None:
    fmt = GenericCsv(dataclasses.replace(BY_NUMBER, delimiter=delimiter))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(row)
    for result in import_file(fmt, out.getvalue().encode(), SWITCH):
        if isinstance(result, dict):
            assert_storable(result)


# --- the correct result -------------------------------------------------------------------------------------


@FUZZ
@given(
    call=calls(),
    order=st.permutations([*GENERIC_FIELDS, "note"]),
    has_header=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    date_format=st.sampled_from(sorted(DATE_FORMATS)),
    unit=st.sampled_from(["s", "ms"]),
    cause_as_name=st.booleans(),
    note=note_text,
    own_zone=st.booleans(),
)
def test_generic_csv_gives_back_its_calls_through_any_mapping(
    call: Call,
    order: list[str],
    has_header: bool,
    delimiter: str,
    date_format: str,
    unit: str,
    cause_as_name: bool,
    note: str,
    own_zone: bool,
) -> None:
    values = {**generic_values(call, date_format, unit, cause_as_name=cause_as_name), "note": note}
    headers = {name: f"Col {name}" for name in order}
    columns = tuple((f, headers[f] if has_header else str(order.index(f) + 1)) for f in GENERIC_FIELDS)
    zone = call.zone if own_zone else ""
    profile = MappingProfile("fuzz", has_header, delimiter, date_format, zone, unit, columns)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if has_header:
        writer.writerow([headers[name] for name in order])
    writer.writerow([values[name] for name in order])
    switch = SwitchConfig(id="pbx", home_country="US", time_zone=call.zone if not own_zone else "UTC")
    (cdr,) = import_file(GenericCsv(profile), out.getvalue().encode(), switch)
    assert_fields(cdr, {**call.expected(), "call_id": call.call_id, "caller_id_name": call.caller_name})
    note_key = headers["note"] if has_header else f"column_{order.index('note') + 1}"
    assert cdr["extra"].get(note_key, "") == note
