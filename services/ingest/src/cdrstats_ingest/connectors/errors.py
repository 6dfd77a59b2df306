"""Errors of the pull connectors: shown to admins as the connector's last error."""

from __future__ import annotations


class ConnectorError(Exception):
    """The connector is misconfigured or its source cannot be read as expected (the message says which)."""
