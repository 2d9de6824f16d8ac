"""Login, logout, who am I, and the caller's own API tokens (``/api/auth/...``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from labledger.errors import Unauthorized
from labledger.server.auth import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    AuthStoreDep,
    clear_session_cookie,
    is_server_admin,
    set_session_cookie,
)
from labledger.server.deps import AccessDep
from labledger.store.auth import TokenInfo

router = APIRouter(prefix="/api/auth", tags=["auth"])

DAY = 86400.0


class LoginBody(BaseModel):
    user: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    token_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Return a new API token by this name instead of setting a session cookie.",
    )


class TokenBody(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


def token_json(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.token_id,
        "user": info.user,
        "name": info.name,
        "created_at": info.created_at,
        "expires_at": info.expires_at,
        "last_used_at": info.last_used_at,
        "revoked": info.revoked_at is not None,
    }


def _whoami(user: str, admin: bool, roles: Mapping[str, str | None] | None) -> dict[str, Any]:
    return {"user": user, "admin": admin, "projects": roles}


@router.post("/login")
def login(body: LoginBody, request: Request, response: Response, auth: AuthStoreDep) -> Any:
    """Check a user's password; set the UI session cookie, or return a new API token."""
    user = auth.check_password(body.user, body.password)
    if user is None:
        raise Unauthorized("wrong user name or password")
    roles = dict(auth.roles_of(user.name))
    if body.token_name is not None:
        plain, info = auth.create_token(user.name, body.token_name)
        return {"token": plain, **token_json(info)}
    plain, _ = auth.create_token(
        user.name, "browser session", kind="session", expires_at=time.time() + SESSION_SECONDS
    )
    set_session_cookie(response, plain, secure=request.url.scheme == "https")
    return _whoami(user.name, user.is_admin, None if user.is_admin else roles)


@router.post("/logout")
def logout(request: Request, response: Response, auth: AuthStoreDep) -> dict[str, Any]:
    """End the browser session (its token is revoked) and clear the cookie."""
    from labledger.store.secrets import split_token

    parts = split_token(request.cookies.get(SESSION_COOKIE, ""))
    if parts is not None and auth.authenticate(request.cookies[SESSION_COOKIE]) is not None:
        auth.revoke_token(parts[0])
    clear_session_cookie(response)
    return {"logged_out": True}


@router.get("/whoami")
def whoami(access: AccessDep) -> dict[str, Any]:
    """The caller, whether they are a server admin, and their role in each project
    (``projects`` is null for a server admin, who sees every project)."""
    visible = access.visible_projects()
    roles = None if visible is None else {p: access.role(p) for p in sorted(visible)}
    return _whoami(access.user, is_server_admin(access), roles)


@router.get("/tokens")
def list_tokens(access: AccessDep, auth: AuthStoreDep, all: bool = False) -> list[dict[str, Any]]:
    """The caller's API tokens (a server admin may ask for everyone's with ``all=true``)."""
    user = None if all and is_server_admin(access) else access.user
    return [token_json(info) for info in auth.list_tokens(user)]


@router.post("/tokens", status_code=201)
def create_token(body: TokenBody, access: AccessDep, auth: AuthStoreDep) -> dict[str, Any]:
    """A new API token for the caller. The token is in this response only: store it."""
    expires = time.time() + body.expires_in_days * DAY if body.expires_in_days else None
    plain, info = auth.create_token(access.user, body.name, expires_at=expires)
    return {"token": plain, **token_json(info)}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: str, access: AccessDep, auth: AuthStoreDep) -> dict[str, Any]:
    """Revoke one of the caller's tokens (a server admin may revoke anyone's)."""
    auth.revoke_token(token_id, user=None if is_server_admin(access) else access.user)
    return {"id": token_id, "revoked": True}
