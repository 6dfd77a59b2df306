"""Password and token hashing: argon2id for passwords, SHA-256 for random high-entropy tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cdrstats_common.argon2_slots import ARGON2_SLOTS

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
#: verified against when the username is unknown, so both paths cost the same
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    with ARGON2_SLOTS:
        return str(_HASHER.hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; an unknown user (``None``) still spends one verification."""
    try:
        with ARGON2_SLOTS:
            matched = bool(_HASHER.verify(password_hash or _DUMMY_HASH, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return bool(_HASHER.check_needs_rehash(password_hash))


def new_token(prefix: str = "") -> str:
    """32 random bytes, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are 256-bit random values: a plain SHA-256 is enough to store them (no stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
