"""Users, projects and project members (``/api/admin/...``).

Server admins manage users and create projects. A project's admins manage its members; a
server admin may manage every project's.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from labledger.errors import Forbidden
from labledger.server.auth import AuthStoreDep, is_server_admin
from labledger.server.deps import Access, AccessDep, require
from labledger.store.auth import ProjectInfo, User

router = APIRouter(prefix="/api/admin", tags=["admin"])


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    admin: bool = False
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    token_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="Also create an API token."
    )


class UserChange(BaseModel):
    admin: bool | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1000)


class NewProject(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Grant(BaseModel):
    role: Literal["viewer", "writer", "admin"]


def _server_admin(access: Access) -> None:
    if not is_server_admin(access):
        raise Forbidden(f"{access.user} is not a server admin")


def user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "admin": user.is_admin,
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


def project_json(project: ProjectInfo) -> dict[str, Any]:
    return {
        "name": project.name,
        "created_at": project.created_at,
        "created_by": project.created_by,
        "members": project.members,
    }


@router.get("/users")
def list_users(access: AccessDep, auth: AuthStoreDep) -> list[dict[str, Any]]:
    _server_admin(access)
    return [user_json(u) for u in auth.list_users()]


@router.post("/users", status_code=201)
def add_user(body: NewUser, access: AccessDep, auth: AuthStoreDep) -> dict[str, Any]:
    """Create a user; with ``token_name`` the response holds their first token (once)."""
    _server_admin(access)
    result = user_json(auth.add_user(body.name, admin=body.admin, password=body.password))
    if body.token_name:
        result["token"], _ = auth.create_token(body.name, body.token_name)
    return result


@router.patch("/users/{name}")
def change_user(
    name: str, body: UserChange, access: AccessDep, auth: AuthStoreDep
) -> dict[str, Any]:
    _server_admin(access)
    if name == access.user and (body.admin is False or body.disabled):
        raise Forbidden("a server admin cannot demote or disable themselves")
    user = auth.update_user(name, admin=body.admin, disabled=body.disabled, password=body.password)
    return user_json(user)


@router.get("/projects")
def list_projects(access: AccessDep, auth: AuthStoreDep) -> list[dict[str, Any]]:
    """Registered projects and their members (a non-admin sees the projects they admin)."""
    infos = auth.list_project_infos()
    if not is_server_admin(access):
        infos = [p for p in infos if access.role(p.name) == "admin"]
    return [project_json(p) for p in infos]


@router.post("/projects", status_code=201)
def add_project(body: NewProject, access: AccessDep, auth: AuthStoreDep) -> dict[str, Any]:
    """Register a project (idempotent). Only server admins create projects."""
    _server_admin(access)
    return project_json(auth.add_project(body.name, created_by=access.user))


@router.put("/projects/{project}/members/{user}")
def grant(
    project: str, user: str, body: Grant, access: AccessDep, auth: AuthStoreDep
) -> dict[str, Any]:
    """Give ``user`` a role in ``project`` (replacing any other)."""
    _project_admin(access, auth, project)
    auth.get_user(user)
    auth.grant(project, user, body.role)
    return project_json(auth.get_project(project))


@router.delete("/projects/{project}/members/{user}")
def revoke(project: str, user: str, access: AccessDep, auth: AuthStoreDep) -> dict[str, Any]:
    _project_admin(access, auth, project)
    auth.get_user(user)
    auth.grant(project, user, None)
    return project_json(auth.get_project(project))


def _project_admin(access: Access, auth: Any, project: str) -> None:
    if is_server_admin(access):
        auth.get_project(project)  # a server admin grants only in registered projects
        return
    require(access, project, "admin")
