"""Sortable CDR ids: 48-bit millisecond time + 80 random bits, Crockford base32 (ULID layout)."""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: base64's RFC 4648 base32 alphabet, mapped onto Crockford's: the C encoder does the bit work
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())
_RANDOM_MASK = (1 << 80) - 1
_lock = threading.Lock()
_last = (0, 0)


def new_id(now_ms: int | None = None) -> str:
    """Ids made later sort after earlier ones, also within one millisecond of one process."""
    return new_ids(1, now_ms)[0]


def new_ids(count: int, now_ms: int | None = None) -> list[str]:
    """``count`` ids in increasing order (one clock read and one lock for the lot)."""
    global _last
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        last_ms, last_rand = _last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        _last = (ms, rand + count - 1)
    return [_encode((ms << 80) | ((rand + offset) & _RANDOM_MASK)) for offset in range(count)]


def _encode(value: int) -> str:
    # 26 symbols are 130 bits: shift the 128-bit value into 17 bytes so the first 26 symbols of
    # base32 are exactly its 5-bit groups (the 27th symbol holds only padding zeros)
    text = base64.b32encode((value << 6).to_bytes(17, "big"))[:26]
    return text.translate(_TO_CROCKFORD).decode("ascii")
