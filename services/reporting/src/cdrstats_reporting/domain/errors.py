"""Domain errors; api.py maps each to a gRPC status once."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of every error the reporting domain raises on purpose."""


class PermissionDenied(ReportingError):
    """The caller's scope does not allow the query (e.g. a customer without account codes)."""


class InvalidArgument(ReportingError):
    """A request or event is malformed; the message names the field and what was expected."""
