"""Rules for users, customers and account codes: what a valid name, password or code is. No I/O."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable

from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import ROLES

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ACCOUNTCODE_RE = re.compile(r"^[^\s,;]{1,64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MAX_CUSTOMER_NAME = 100
MAX_ACCOUNTCODES = 500


def text_of(value: object, field: str) -> str:
    """A text input; absent (None) is empty. A number, list or object from a JSON body is refused rather
    than stored in its Python spelling (a customer named ``[None, None]``, an account code ``None``)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, f"a string, got {type(value).__name__}")
    return value


def username(value: object) -> str:
    text = text_of(value, "username").strip()
    if not USERNAME_RE.match(text):
        raise InvalidInput("username", "1 to 64 letters, digits or . _ @ - (starting with a letter or digit)")
    return text


def password(value: object, field: str = "password") -> str:
    text = text_of(value, field)
    if not MIN_PASSWORD <= len(text) <= MAX_PASSWORD:
        raise InvalidInput(field, f"{MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return text


def role(value: object) -> str:
    text = text_of(value, "role").strip()
    if text not in ROLES:
        raise InvalidInput("role", f"one of {', '.join(ROLES)}")
    return text


def customer_name(value: object) -> str:
    text = " ".join(text_of(value, "name").split())
    if not 1 <= len(text) <= MAX_CUSTOMER_NAME:
        raise InvalidInput("name", f"1 to {MAX_CUSTOMER_NAME} characters")
    return text


def accountcodes(values: Iterable[object] | str) -> tuple[str, ...]:
    """Codes from a list or from text separated by commas, spaces or new lines; sorted, no duplicates."""
    raw: list[object] = re.split(r"[\s,;]+", values) if isinstance(values, str) else list(values)
    texts = [code for code in raw if isinstance(code, str)]
    if len(texts) != len(raw):
        raise InvalidInput("accountcodes", "a list of strings")
    codes = sorted({code.strip() for code in texts if code.strip()})
    for code in codes:
        if not ACCOUNTCODE_RE.match(code):
            raise InvalidInput(
                "accountcodes", f"codes of 1 to 64 characters without spaces, commas or ';' (got {code!r})"
            )
    if len(codes) > MAX_ACCOUNTCODES:
        raise InvalidInput("accountcodes", f"at most {MAX_ACCOUNTCODES} codes per customer")
    return tuple(codes)


def email(value: object) -> str:
    text = text_of(value, "email").strip()
    if text and (len(text) > 254 or not EMAIL_RE.match(text)):
        raise InvalidInput("email", "an e-mail address like ops@example.com, or empty")
    return text


def time_zone(value: object) -> str:
    text = text_of(value, "time_zone").strip()
    if not text:
        return ""
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("time_zone", "an IANA time zone like Europe/Paris, or empty") from exc
    return text


def check_role_customer(role_name: str, customer_id: int | None) -> None:
    """An admin belongs to no customer; a customer user without one sees no CDRs until assigned."""
    if role_name == "admin" and customer_id is not None:
        raise InvalidInput("customer_id", "empty for a user with role admin")
