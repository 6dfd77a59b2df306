"""Splitting a file's byte stream into CSV records: chunk borders, BOM, CRLF, quoted line breaks, bad UTF-8."""

from __future__ import annotations

from cdrstats_ingest.domain.files.records import Record, split_records


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_records_are_the_same_whatever_the_chunk_size() -> None:
    data = b'\xef\xbb\xbf"a","b"\r\n"c","multi\r\nline"\r\n\r\n"d","e"'
    expected = [Record(1, '"a","b"'), Record(2, '"c","multi\nline"'), Record(4, ""), Record(5, '"d","e"')]
    for size in (1, 2, 3, 7, 1000):
        assert list(split_records(chunked(data, size))) == expected


def test_bad_utf8_rejects_only_its_line_and_names_the_byte() -> None:
    records = list(split_records([b'"ok"\n"caf\xe9"\n"next"\n']))
    assert [r.line for r in records] == [1, 2, 3]
    assert records[1].error == "not UTF-8 (byte 0xe9 at column 5)" and records[1].text == '"caf\ufffd"'
    assert not records[0].error and not records[2].error


def test_doubled_and_backslash_escaped_quotes_do_not_open_a_field() -> None:
    data = b'"say ""hi""","x"\n"a \\"b\\"","y"\n'
    assert [r.line for r in split_records([data], backslash_escapes=True)] == [1, 2]


def test_an_unclosed_quote_is_bounded_and_splitting_resumes() -> None:
    data = b'"open,' + b"x" * 50 + b"\n" + b"y" * 50 + b"\n" + b'"fine"\n'
    records = list(split_records([data], max_record_bytes=80))
    assert records[0].line == 1 and "longer than 80 bytes" in records[0].error
    assert records[-1] == Record(3, '"fine"')


def test_an_unclosed_quote_at_the_end_is_rejected() -> None:
    records = list(split_records([b'"a"\n"b,\n']))
    assert records[1].line == 2 and records[1].error == "unclosed quoted field at the end of the file"
