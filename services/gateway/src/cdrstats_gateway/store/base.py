"""The repository the gateway needs: users, sessions, API tokens and its own settings.

Synchronous (DESIGN.md section 3); the aiohttp views call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cdrstats_gateway.domain.models import ApiToken, Session, User


class UserExists(Exception):
    """A user with that username already exists."""


class GatewayStore(Protocol):
    def close(self) -> None: ...

    def secret_key(self, configured: str) -> str:
        """``configured`` if not empty, else a key generated once and kept in the store."""
        ...

    def ensure_admin(self, password: str) -> User:
        """Create ``admin`` with ``password``, or re-hash when the operator changed the password."""
        ...

    def create_user(self, username: str, password: str, role: str, accountcodes: Sequence[str] = ()) -> User: ...

    def get_user(self, user_id: int) -> User | None: ...

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password verifies (argon2id), else None; unknown users cost the same."""
        ...

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

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        """Revoke one of this user's tokens; False if it is not theirs or unknown."""
        ...

    def user_for_api_token(self, token: str) -> User | None:
        """The owner of a live (not revoked) token; records the time it was used."""
        ...
