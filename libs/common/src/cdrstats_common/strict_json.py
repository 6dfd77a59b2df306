"""JSON from untrusted senders, parsed so that every bad document is a ValueError naming what is wrong.

``json.loads`` alone lets through what later code cannot handle: NaN and Infinity (not JSON,
and refused by protobuf), integers too long for ``int()`` (a ValueError that is not a
JSONDecodeError), numbers past 64 bits or a double, silently dropped duplicate keys, and
nesting deep enough for a RecursionError. Here each of these is one ``JsonInputError``.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: longest integer literal read at all (int64 has 19 digits); longer ones are refused unread
_MAX_INT_DIGITS = 40


class JsonInputError(ValueError):
    """The document is not acceptable JSON; the message says why and where."""


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (UTF-8 if bytes; a leading BOM is skipped)."""
    text = _utf8(data) if isinstance(data, bytes | bytearray) else data
    try:
        doc = json.loads(
            text.removeprefix("\ufeff"),
            parse_constant=refuse_constant,
            parse_int=_int,
            parse_float=_float,
            object_pairs_hook=_refuse_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})") from None
    except RecursionError:
        raise JsonInputError(f"nested deeper than {max_depth} levels") from None
    if depth_over(doc, max_depth):
        raise JsonInputError(f"nested deeper than {max_depth} levels")
    return doc


def _utf8(data: bytes | bytearray) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def refuse_constant(name: str) -> Any:
    """A ``parse_constant`` hook: NaN, Infinity and -Infinity are refused."""
    raise JsonInputError(f"{name} is not a JSON number")


def _int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > _MAX_INT_DIGITS:
        raise JsonInputError(f"integer of {digits} digits is out of range (at most 64 bits)")
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise JsonInputError(f"integer {literal} is out of range (at most 64 bits)")
    return value


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise JsonInputError(f"number {literal[:40]} is out of range (too large for a double)")
    return value


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise JsonInputError(f"duplicate key {key[:100]!r} in an object")
        doc[key] = value
    return doc


def keep_first(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` keeping a repeated key's first value (json.loads keeps the last)."""
    doc: dict[str, Any] = {}
    for key, value in pairs:
        doc.setdefault(key, value)
    return doc


def depth_over(doc: Any, max_depth: int) -> bool:
    """Iterative (a recursive walk would itself hit the recursion limit)."""
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
