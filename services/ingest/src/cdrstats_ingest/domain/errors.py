"""Domain errors of ingest; api.py maps them to HTTP and gRPC status codes once."""

from __future__ import annotations


class IngestError(Exception):
    """Base class of ingest's domain errors."""


class InvalidCdr(IngestError):
    """A record (or a whole body) cannot be turned into a canonical CDR.

    ``field`` names what is wrong (``"variables.uuid"``, ``"body"``...), so the
    switch operator can fix the source.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class UnknownSwitch(IngestError):
    """No switch with that id or user is registered."""


class BadCredentials(IngestError):
    """The switch exists but the password is wrong (or the switch is disabled)."""


class NotFound(IngestError):
    """No such CDR in the caller's scope."""
