"""The errors alerting's use-cases raise on purpose, and who is asking (the caller's tenant).

``api_errors`` maps each error class to its gRPC status, once, for alarms and destinations alike.
"""

from __future__ import annotations

import dataclasses
import re

#: a customer tenant id as the gateway sends it
TENANT_ID = re.compile(r"customer:\S+")


class AlertingError(Exception):
    """Base of the errors raised on purpose."""


class InvalidArgument(AlertingError):
    """Malformed input; the message is ``field: what was expected, got X``."""


class NotFound(AlertingError):
    """No such object, or one of another tenant (ids of other tenants are never confirmed)."""


class PermissionDenied(AlertingError):
    """The caller's scope does not allow this action."""


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: an admin (every owner) or one customer tenant (its own objects; global rules read-only)."""

    admin: bool
    tenant: str = ""

    def __post_init__(self) -> None:
        if not self.admin and not TENANT_ID.fullmatch(self.tenant):
            raise PermissionDenied(f"scope: a customer scope needs tenant 'customer:<id>', got {self.tenant!r}")

    @property
    def owner(self) -> str:
        """The owner of what this caller creates: "" (the installation) for admins."""
        return "" if self.admin else self.tenant

    def may_see(self, owner: str) -> bool:
        return self.admin or owner == self.tenant

    def visible_owners(self) -> tuple[str, ...] | None:
        """Owners whose rules the caller may read (its own and the global ones); None: all."""
        return None if self.admin else ("", self.tenant)
