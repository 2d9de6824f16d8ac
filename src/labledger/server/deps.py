"""Request dependencies: who is asking (``Access``), the store, the read API, and the one
authorisation check every route goes through (``require``).

``labledger ui`` uses ``LocalAccess`` (one local user, admin everywhere); the team server
plugs its token authenticator into ``create_app(authenticator=...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Request

from labledger.config import Settings
from labledger.errors import Forbidden, NotFound
from labledger.sdk.api import Api
from labledger.server.series_cache import SeriesCache
from labledger.store.base import Store

Role = Literal["viewer", "writer", "admin"]
ROLE_RANK: dict[Role, int] = {"viewer": 0, "writer": 1, "admin": 2}


class Access(Protocol):
    """What the caller of one request may see and do."""

    @property
    def user(self) -> str: ...

    def role(self, project: str) -> Role | None:
        """The caller's role in ``project``; None when the project is invisible to them."""
        ...

    def visible_projects(self) -> frozenset[str] | None:
        """The projects the caller may see; None means every project."""
        ...


Authenticator = Callable[[Request], Access]
"""Builds the request's ``Access``; raises ``Unauthorized`` for a bad or missing credential."""


@dataclass(frozen=True)
class LocalAccess:
    """The single local user of ``labledger ui``: admin of every project."""

    user: str = "local"

    def role(self, project: str) -> Role | None:
        return "admin"

    def visible_projects(self) -> frozenset[str] | None:
        return None


def local_authenticator(request: Request) -> Access:
    return LocalAccess()


def require(access: Access, project: str, role: Role = "viewer") -> None:
    """Raise unless ``access`` holds at least ``role`` in ``project``.

    An invisible project is ``NotFound`` (404, so project names do not leak); a visible one
    with too low a role is ``Forbidden`` (403).
    """
    held = access.role(project)
    if held is None:
        raise NotFound(f"no project {project!r}")
    if ROLE_RANK[held] < ROLE_RANK[role]:
        raise Forbidden(f"{access.user} needs the {role} role in project {project!r}")


def can_see(access: Access, project: str) -> bool:
    return access.role(project) is not None


def get_access(request: Request) -> Access:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator(request)


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_api(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def get_series_cache(request: Request) -> SeriesCache:
    cache: SeriesCache = request.app.state.series_cache
    return cache


AccessDep = Annotated[Access, Depends(get_access)]
StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ApiDep = Annotated[Api, Depends(get_api)]
SeriesCacheDep = Annotated[SeriesCache, Depends(get_series_cache)]
