"""The repository the gateway needs: users, customers, sessions, API tokens and its own settings.

Synchronous (DESIGN.md section 3); the aiohttp views call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from cdrstats_gateway.domain.models import ApiToken, Customer, Session, User


class UserExists(Exception):
    """A user with that username already exists."""


class Keep(enum.Enum):
    """``update_user(customer_id=KEEP)``: leave the value alone (None means "no customer")."""

    KEEP = "keep"


KEEP = Keep.KEEP


class GatewayStore(Protocol):
    def close(self) -> None: ...

    def secret_key(self, configured: str) -> str:
        """``configured`` if not empty, else a key generated once and kept in the store."""
        ...

    def ensure_admin(self, password: str) -> User:
        """Create ``admin`` with ``password``, or re-hash when the operator changed the password."""
        ...

    # --- users (NotFound, Conflict, UserExists, InvalidInput from cdrstats_gateway.domain.errors) ---

    def create_user(
        self,
        username: str,
        password: str,
        role: str,
        accountcodes: Sequence[str] = (),
        *,
        customer_id: int | None = None,
        email: str = "",
    ) -> User: ...

    def get_user(self, user_id: int) -> User | None: ...

    def require_user(self, user_id: int) -> User: ...

    def list_users(self, *, after_id: int = 0, limit: int = 100, customer_id: int | None = None) -> list[User]: ...

    def update_user(
        self,
        user_id: int,
        *,
        role: str | None = None,
        customer_id: int | None | Keep = KEEP,
        email: str | None = None,
        time_zone: str | None = None,
    ) -> User: ...

    def set_password(self, user_id: int, password: str, *, keep_session_id: str | None = None) -> None:
        """New password; every session of the user but ``keep_session_id`` ends."""
        ...

    def check_password(self, user_id: int, password: str) -> bool: ...

    def delete_user(self, user_id: int) -> None: ...

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password verifies (argon2id), else None; unknown users cost the same."""
        ...

    # --- customers ------------------------------------------------------------------------------

    def create_customer(self, name: str, accountcodes: Sequence[str] = (), *, reassign: bool = False) -> Customer: ...

    def get_customer(self, customer_id: int) -> Customer | None: ...

    def require_customer(self, customer_id: int) -> Customer: ...

    def list_customers(self, *, after_id: int = 0, limit: int = 100) -> list[Customer]: ...

    def update_customer(
        self,
        customer_id: int,
        *,
        name: str | None = None,
        accountcodes: Sequence[str] | None = None,
        reassign: bool = False,
    ) -> Customer: ...

    def delete_customer(self, customer_id: int) -> None: ...

    def accountcode_owners(self, codes: Sequence[str]) -> dict[str, str]: ...

    # --- sessions and tokens --------------------------------------------------------------------

    def create_session(self, user_id: int, ttl_s: float) -> tuple[str, Session]:
        """A new random session id (returned once; only its hash is stored) and the session."""
        ...

    def get_session(self, session_id: str) -> Session | None:
        """The live session for this id, or None if unknown or expired."""
        ...

    def delete_session(self, session_id: str) -> None: ...

    def create_api_token(self, user_id: int, name: str) -> tuple[str, ApiToken]:
        """A new token (returned once; only its hash is stored) and its record."""
        ...

    def list_api_tokens(self, user_id: int) -> list[ApiToken]: ...

    def get_api_token(self, user_id: int, token_id: int) -> ApiToken | None:
        """One of this user's tokens; None if unknown or another user's."""
        ...

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Revoke one of this user's tokens; False if it is not theirs or unknown."""
        ...

    def user_for_api_token(self, token: str) -> User | None:
        """The owner of a live (not revoked) token; records the time it was used."""
        ...

    # --- throttle events (cdrstats_gateway.throttle; shared by every gateway on the store) ---------

    def record_throttle_event(self, keys: Sequence[str], at: float) -> None:
        """One event at ``at`` for each key; events older than ``throttle_events.KEEP_S`` are pruned."""
        ...

    def recent_throttle_events(self, keys: Sequence[str], since: float, limit: int) -> dict[str, list[float]]:
        """Per key, the times of its latest ``limit`` events after ``since``, newest first."""
        ...

    def clear_throttle_key(self, key: str) -> None: ...

    def prune_throttle_events(self, before: float) -> int:
        """Delete the events before ``before``; how many went."""
        ...
