"""The ``AuthStore`` protocol: users, projects, roles per project and API tokens.

Used by the team server only (``labledger ui`` runs without it). ``SqlAuthStore`` implements
it on the SQL store's engine; ``auth_store(store)`` returns it for an opened store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["viewer", "writer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "writer", "admin")
TokenKind = Literal["api", "session"]


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    is_admin: bool
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret)."""

    token_id: str
    user: str
    name: str
    kind: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to, and their role in each project they are a member of."""

    user: User
    token_id: str
    roles: dict[str, Role] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    created_at: float
    created_by: str | None
    members: dict[str, Role] = field(default_factory=dict)


@runtime_checkable
class AuthStore(Protocol):
    """Identity and access records. Errors are ``LabledgerError`` subclasses with one line."""

    def add_user(self, name: str, *, admin: bool = False, password: str | None = None) -> User:
        """Create a user; ``ConfigError`` when the name is taken or invalid."""
        ...

    def get_user(self, name: str) -> User:
        """``NotFound`` when there is no such user."""
        ...

    def list_users(self) -> list[User]: ...

    def update_user(
        self,
        name: str,
        *,
        admin: bool | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> User: ...

    def check_password(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs (and they are enabled), else None."""
        ...

    def create_token(
        self, user: str, name: str, *, kind: TokenKind = "api", expires_at: float | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token for ``user``: the plain token (shown once) and its listing."""
        ...

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]: ...

    def revoke_token(self, token_id: str, *, user: str | None = None) -> None:
        """Revoke a token (only one of ``user``'s when given); ``NotFound`` otherwise."""
        ...

    def authenticate(self, token: str, *, now: float | None = None) -> Identity | None:
        """The identity behind a valid token; None when it is unknown, wrong, revoked,
        expired, or its user is disabled. Updates ``last_used_at`` (at most once a minute)."""
        ...

    def add_project(self, name: str, *, created_by: str | None = None) -> ProjectInfo:
        """Register a project (idempotent)."""
        ...

    def get_project(self, name: str) -> ProjectInfo:
        """``NotFound`` when the project is not registered."""
        ...

    def list_project_infos(self) -> list[ProjectInfo]: ...

    def grant(self, project: str, user: str, role: Role | None) -> None:
        """Give ``user`` ``role`` in ``project`` (registering it); None removes the membership."""
        ...

    def roles_of(self, user: str) -> dict[str, Role]: ...

    def blob_projects(self, digest: str) -> set[str | None]:
        """Projects of the runs whose stored artifacts contain blob ``digest`` (None: an
        artifact logged outside any run)."""
        ...

    def crash_stale_runs(self, heartbeat_before: float) -> int:
        """Mark ``running`` runs whose last heartbeat is older than ``heartbeat_before``
        crashed (ended at their last heartbeat); returns how many. Idempotent."""
        ...
