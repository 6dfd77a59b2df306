"""What the gateway knows about: users and their scope, sessions, API tokens, reports."""

from __future__ import annotations

import dataclasses

ROLES = ("admin", "customer")


@dataclasses.dataclass(frozen=True)
class Scope:
    """What a request may see: everything (admin) or only CDRs of these account codes."""

    admin: bool
    accountcodes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class User:
    """A login. A customer user belongs to one customer and sees that customer's account codes.

    ``accountcodes`` is read from the customer when the user is loaded, so an admin's
    re-assignment applies to the next request (scoping happens at query time).
    """

    id: int
    username: str
    role: str
    accountcodes: tuple[str, ...]
    created_at: float
    customer_id: int | None = None
    customer_name: str = ""
    email: str = ""
    #: IANA zone raw CDR times are shown in; empty: the installation's reporting zone
    time_zone: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> Scope:
        """Admins see every account code; a customer sees only their own (none if they have none)."""
        return Scope(admin=True) if self.is_admin else Scope(admin=False, accountcodes=self.accountcodes)


@dataclasses.dataclass(frozen=True)
class Customer:
    """A tenant: owns account codes (each code belongs to at most one customer)."""

    id: int
    name: str
    accountcodes: tuple[str, ...]
    created_at: float
    users: int = 0


@dataclasses.dataclass(frozen=True)
class Session:
    user_id: int
    csrf_token: str
    created_at: float
    expires_at: float


@dataclasses.dataclass(frozen=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: float
    last_used_at: float | None
    revoked: bool


@dataclasses.dataclass(frozen=True)
class SwitchInfo:
    id: str
    name: str
    enabled: bool = True


@dataclasses.dataclass(frozen=True)
class HourBucket:
    start_us: int
    attempts: int
    answered: int
    minutes: float


@dataclasses.dataclass(frozen=True)
class Dashboard:
    """The last 24 hours as reporting computed them (metric definitions: cdrstats_common.metrics)."""

    window_start_us: int
    window_end_us: int
    attempts: int
    answered: int
    asr: float
    acd: float
    minutes: float
    ach: float
    hours: tuple[HourBucket, ...]
