"""Domain errors of the gateway's own data (users, customers); the view layer maps them to HTTP once."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input: names the field and what was expected (400)."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field
        self.expected = expected


class NotFound(LookupError):
    """No such user/customer/token (404); also what another tenant's id looks like."""


class Conflict(Exception):
    """The change clashes with existing data: a taken name, a customer that still has users (409)."""
