"""The admin operations behind ``labledger user|project|token``, two ways: over HTTP against a
running server (the normal way, with the caller's token), or straight against the database
(``--db``: bootstrap of the first admin, or recovery, on the server machine)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from labledger.config import Settings, normalize_url
from labledger.errors import ConfigError, LabledgerError

DAY = 86400.0


class AdminClient(Protocol):
    def whoami(self) -> dict[str, Any]: ...
    def add_user(
        self, name: str, *, admin: bool, password: str | None, token_name: str | None
    ) -> dict[str, Any]: ...
    def list_users(self) -> list[dict[str, Any]]: ...
    def add_project(self, name: str) -> dict[str, Any]: ...
    def list_projects(self) -> list[dict[str, Any]]: ...
    def grant(self, project: str, user: str, role: str | None) -> dict[str, Any]: ...
    def create_token(self, name: str, expires_days: float | None) -> dict[str, Any]: ...
    def list_tokens(self, everyone: bool) -> list[dict[str, Any]]: ...
    def revoke_token(self, token_id: str) -> None: ...


def server_url(settings: Settings, given: str | None) -> str:
    """``--server``, else LABLEDGER_URI when it is a server, else LABLEDGER_SERVER_URL."""
    for candidate in (given, settings.uri, settings.server_url):
        if candidate and candidate.startswith(("http://", "https://")):
            return normalize_url(candidate)
    raise ConfigError(
        "no team server given: pass --server URL (or set LABLEDGER_URI=http://host:port), "
        "or --db URI to work on the database directly"
    )


class HttpAdmin:
    """Admin calls against a running server's ``/api/auth`` and ``/api/admin`` routes."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 30.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self._client = httpx.Client(base_url=url, headers=headers, timeout=timeout)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        import httpx

        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise LabledgerError(f"cannot reach the server at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200] or response.reason_phrase
            hint = " (run `labledger login URL`)" if response.status_code == 401 else ""
            raise LabledgerError(f"server said {response.status_code}: {message}{hint}")
        return response.json()

    def whoami(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/api/auth/whoami")
        return result

    def login(self, user: str, password: str, token_name: str) -> dict[str, Any]:
        body = {"user": user, "password": password, "token_name": token_name}
        result: dict[str, Any] = self.call("POST", "/api/auth/login", body)
        return result

    def add_user(
        self, name: str, *, admin: bool, password: str | None, token_name: str | None
    ) -> dict[str, Any]:
        body = {"name": name, "admin": admin, "password": password, "token_name": token_name}
        result: dict[str, Any] = self.call("POST", "/api/admin/users", body)
        return result

    def list_users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/api/admin/users")
        return result

    def add_project(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/api/admin/projects", {"name": name})
        return result

    def list_projects(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "/api/admin/projects")
        return result

    def grant(self, project: str, user: str, role: str | None) -> dict[str, Any]:
        from urllib.parse import quote

        path = f"/api/admin/projects/{quote(project, safe='')}/members/{quote(user, safe='')}"
        result: dict[str, Any] = (
            self.call("PUT", path, {"role": role}) if role else self.call("DELETE", path)
        )
        return result

    def create_token(self, name: str, expires_days: float | None) -> dict[str, Any]:
        body = {"name": name, "expires_in_days": expires_days}
        result: dict[str, Any] = self.call("POST", "/api/auth/tokens", body)
        return result

    def list_tokens(self, everyone: bool) -> list[dict[str, Any]]:
        path = "/api/auth/tokens" + ("?all=true" if everyone else "")
        result: list[dict[str, Any]] = self.call("GET", path)
        return result

    def revoke_token(self, token_id: str) -> None:
        from urllib.parse import quote

        self.call("DELETE", f"/api/auth/tokens/{quote(token_id, safe='')}")


class DbAdmin:
    """The same operations on the database itself, as a server admin named ``as_user``."""

    def __init__(self, db: str, as_user: str | None = None) -> None:
        from labledger.store import auth_store, open_store

        if not db.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ConfigError(f"--db must be sqlite:///path or postgresql://..., got {db!r}")
        self._store = open_store(db)
        self.auth = auth_store(self._store)
        self.as_user = as_user

    def close(self) -> None:
        self._store.close()

    def _user(self) -> str:
        if not self.as_user:
            raise ConfigError("with --db, name the token's owner with --user NAME")
        return self.as_user

    def whoami(self) -> dict[str, Any]:
        user = self.auth.get_user(self._user())
        return {
            "user": user.name,
            "admin": user.is_admin,
            "projects": self.auth.roles_of(user.name),
        }

    def add_user(
        self, name: str, *, admin: bool, password: str | None, token_name: str | None
    ) -> dict[str, Any]:
        from labledger.server.routes.admin import user_json

        result = user_json(self.auth.add_user(name, admin=admin, password=password))
        if token_name:
            result["token"], _ = self.auth.create_token(name, token_name)
        return result

    def list_users(self) -> list[dict[str, Any]]:
        from labledger.server.routes.admin import user_json

        return [user_json(u) for u in self.auth.list_users()]

    def add_project(self, name: str) -> dict[str, Any]:
        from labledger.server.routes.admin import project_json

        return project_json(self.auth.add_project(name, created_by=self.as_user))

    def list_projects(self) -> list[dict[str, Any]]:
        from labledger.server.routes.admin import project_json

        return [project_json(p) for p in self.auth.list_project_infos()]

    def grant(self, project: str, user: str, role: str | None) -> dict[str, Any]:
        from labledger.server.routes.admin import project_json
        from labledger.store.sql_auth import check_role

        self.auth.get_project(project)
        self.auth.get_user(user)
        self.auth.grant(project, user, check_role(role) if role else None)
        return project_json(self.auth.get_project(project))

    def create_token(self, name: str, expires_days: float | None) -> dict[str, Any]:
        from labledger.server.routes.auth import token_json

        expires = time.time() + expires_days * DAY if expires_days else None
        plain, info = self.auth.create_token(self._user(), name, expires_at=expires)
        return {"token": plain, **token_json(info)}

    def list_tokens(self, everyone: bool) -> list[dict[str, Any]]:
        from labledger.server.routes.auth import token_json

        user = None if everyone else self._user()
        return [token_json(t) for t in self.auth.list_tokens(user)]

    def revoke_token(self, token_id: str) -> None:
        self.auth.revoke_token(token_id)
