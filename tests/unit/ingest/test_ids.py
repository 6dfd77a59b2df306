"""CDR ids: ULID layout, sortable by creation, unique within a millisecond."""

from __future__ import annotations

import random

import pytest

from cdrstats_ingest.domain import ids


def _reference(value: int) -> str:
    """The ULID text of a 128-bit value, five bits at a time."""
    symbols = []
    for _ in range(26):
        symbols.append(ids._ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(symbols))


def test_encoding_is_crockford_base32_of_the_128_bit_value() -> None:
    rng = random.Random(3)
    for value in [0, 1, (1 << 128) - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        assert ids._encode(value) == _reference(value)


def test_time_is_the_leading_48_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_last", (0, 0))  # ids made earlier in the run must not move the clock
    (first,) = ids.new_ids(1, now_ms=1_764_000_000_000)
    assert first[:10] == _reference(1_764_000_000_000 << 80)[:10]


def test_ids_sort_in_creation_order_within_one_millisecond_and_across_batches() -> None:
    made = ids.new_ids(3000, now_ms=1) + ids.new_ids(5, now_ms=1) + [ids.new_id(now_ms=1)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    later = ids.new_id()
    assert later > made[-1]
