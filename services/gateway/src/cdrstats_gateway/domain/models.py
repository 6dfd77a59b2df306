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
    id: int
    username: str
    role: str
    accountcodes: tuple[str, ...]
    created_at: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scope(self) -> Scope:
        """Admins see every account code; a customer sees only their own (none if they have none)."""
        return Scope(admin=True) if self.is_admin else Scope(admin=False, accountcodes=self.accountcodes)


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
