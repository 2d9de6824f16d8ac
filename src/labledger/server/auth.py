"""Token authentication for the team server: the ``Authenticator`` plugged into ``create_app``.

A request proves who it is with ``Authorization: Bearer <token>`` (scripts, the CLI, the SDK)
or with the session cookie the login page sets (the browser UI; HttpOnly, SameSite=Strict, so
other sites can neither read it nor send it). Both are rows of ``api_tokens``, checked on every
request against the database: a revoked token stops working at once, on every server process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Response

from labledger.errors import Unauthorized
from labledger.server.deps import Access, Role
from labledger.store.auth import AuthStore, Identity

SESSION_COOKIE = "labledger_session"
SESSION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class TokenAccess:
    """The caller behind a valid token: a server admin sees every project, anyone else only
    the projects they are a member of."""

    user: str
    is_admin: bool = False
    roles: Mapping[str, Role] = field(default_factory=dict)
    token_id: str | None = None

    @classmethod
    def of(cls, identity: Identity) -> TokenAccess:
        return cls(identity.user.name, identity.user.is_admin, identity.roles, identity.token_id)

    def role(self, project: str) -> Role | None:
        return "admin" if self.is_admin else self.roles.get(project)

    def visible_projects(self) -> frozenset[str] | None:
        return None if self.is_admin else frozenset(self.roles)


def is_server_admin(access: Access) -> bool:
    """Server admins (and the local user of ``labledger ui``) see every project."""
    return access.visible_projects() is None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


class TokenAuthenticator:
    """``Authenticator`` over an ``AuthStore``: 401 for a missing, unknown, wrong, revoked or
    expired token, or one whose user is disabled."""

    def __init__(self, auth: AuthStore) -> None:
        self.auth = auth

    def __call__(self, request: Request) -> Access:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized(
                "this server needs a token: send 'Authorization: Bearer <token>' "
                "(run `labledger login URL`)"
            )
        identity = self.auth.authenticate(token)
        if identity is None:
            raise Unauthorized("the token is not valid (unknown, revoked or expired)")
        return TokenAccess.of(identity)


def set_session_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def get_auth_store(request: Request) -> AuthStore:
    """The users and tokens kept beside the app's store."""
    from labledger.store import auth_store

    return auth_store(request.app.state.store)


AuthStoreDep = Annotated[AuthStore, Depends(get_auth_store)]
