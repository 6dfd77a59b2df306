"""Split a file arriving in byte chunks into CSV records, in constant memory.

A record is one line, or several when a quoted field holds a line break. Each record
is decoded on its own, so a line of bad UTF-8 is one rejected record naming its line
and never stops the file. A quote that is never closed would swallow the rest of the
file: a record longer than ``max_record_bytes`` is rejected and splitting resumes at
the next line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

BOM = b"\xef\xbb\xbf"
MAX_RECORD_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Record:
    """Lines ``line``..: ``text`` without its line ending, or ``error`` (then ``text`` is a lossy rendering)."""

    line: int
    text: str
    error: str = ""


def _open_quotes(data: bytes, quote: int, backslash_escapes: bool) -> bool:
    """True when ``data`` ends inside a quoted field ("" and, optionally, \\" do not toggle)."""
    count = data.count(quote)
    if backslash_escapes and count:
        count -= data.count(b"\\" + bytes([quote]))
    return count % 2 == 1


def split_records(
    chunks: Iterable[bytes],
    *,
    quote: str = '"',
    backslash_escapes: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> Iterator[Record]:
    """Records of a byte stream; line numbers are 1-based and count physical lines (LF or CRLF)."""
    quote_byte = ord(quote) if quote else -1
    pending = b""  # an incomplete line from the previous chunk
    record: list[bytes] = []  # lines of a record still inside quotes
    record_size = 0
    record_line = 1
    line_no = 0
    for chunk in chunks:
        pending += chunk
        if len(pending) > max_record_bytes and b"\n" not in pending:
            pending = pending[-max_record_bytes:]  # keep memory bounded; the line is rejected when it ends
        start = 0
        while True:
            end = pending.find(b"\n", start)
            if end < 0:
                break
            line = pending[start:end]
            start = end + 1
            line_no += 1
            if not record:
                record_line = line_no
            record.append(line)
            record_size += len(line) + 1
            if record_size > max_record_bytes:
                yield Record(
                    record_line,
                    _lossy(b"\n".join(record)[:200]),
                    f"record longer than {max_record_bytes} bytes (an unclosed quote?)",
                )
                record, record_size = [], 0
                continue
            joined = b"\n".join(record) if len(record) > 1 else line
            if quote_byte >= 0 and _open_quotes(joined, quote_byte, backslash_escapes):
                continue
            record, record_size = [], 0
            yield _decode(record_line, joined)
        pending = pending[start:]
    if pending:
        line_no += 1
        if not record:
            record_line = line_no
        record.append(pending)
    if record:
        joined = b"\n".join(record)
        if quote_byte >= 0 and _open_quotes(joined, quote_byte, backslash_escapes):
            yield Record(record_line, _lossy(joined), "unclosed quoted field at the end of the file")
        else:
            yield _decode(record_line, joined)


def _decode(line: int, data: bytes) -> Record:
    if line == 1 and data.startswith(BOM):
        data = data[len(BOM) :]
    if data.endswith(b"\r"):
        data = data[:-1]
    try:
        return Record(line, data.decode("utf-8").replace("\r\n", "\n"))
    except UnicodeDecodeError as exc:
        return Record(line, _lossy(data), f"not UTF-8 (byte 0x{data[exc.start]:02x} at column {exc.start + 1})")


def _lossy(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
