"""``SqlAuthStore``: users, projects, memberships and API tokens in the SQL store.

Tokens are stored as a salted SHA-256 of their secret part (``store/secrets.py``); the plain
token exists only in the response that created it. Every write is one transaction and every
statement is safe to run from several server processes at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy import Connection, Engine, Text, delete, func, insert, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError

from labledger.entities import RunStatus
from labledger.errors import ConfigError, NotFound
from labledger.store.auth import ROLES, Identity, ProjectInfo, Role, TokenInfo, TokenKind, User
from labledger.store.schema import (
    api_tokens,
    artifact_versions,
    memberships,
    projects,
    runs,
    users,
)
from labledger.store.secrets import (
    hash_password,
    new_token,
    password_matches,
    secret_matches,
    split_token,
)

WriteTransaction = Callable[[], AbstractContextManager[Connection]]

USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
LAST_USED_RESOLUTION = 60.0  # seconds: last_used_at is refreshed at most this often

u, t, m, p = users.c, api_tokens.c, memberships.c, projects.c


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not USER_NAME.match(name):
        raise ConfigError(
            f"invalid user name {name!r}: use letters, digits and _ . @ - (at most 100)"
        )
    return name


def check_project_name(name: str) -> str:
    if not isinstance(name, str) or not 0 < len(name) <= 200 or not name.isprintable():
        raise ConfigError(f"invalid project name {name!r}: 1-200 printable characters")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise ConfigError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
    return role  # narrowed to Role by the check above


def _user(row: Any) -> User:
    return User(row.user_id, row.name, bool(row.is_admin), bool(row.disabled), row.created_at)


def _token(row: Any) -> TokenInfo:
    return TokenInfo(
        token_id=row.token_id,
        user=row.user_name,
        name=row.name,
        kind=row.kind,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SqlAuthStore:
    """Implements ``AuthStore`` on the tables of migration 0002."""

    def __init__(self, engine: Engine, write: WriteTransaction) -> None:
        self._engine = engine
        self._write = write

    def _read(self) -> AbstractContextManager[Connection]:
        return self._engine.connect()

    # --- users ------------------------------------------------------------------------
    def add_user(self, name: str, *, admin: bool = False, password: str | None = None) -> User:
        check_user_name(name)
        row = {
            "name": name,
            "password_hash": hash_password(password) if password else None,
            "is_admin": admin,
            "disabled": False,
            "created_at": time.time(),
        }
        try:
            with self._write() as conn:
                conn.execute(insert(users), [row])
        except IntegrityError:
            raise ConfigError(f"user {name!r} already exists") from None
        return self.get_user(name)

    def _user_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(users).where(u.name == name)).first()
        if row is None:
            raise NotFound(f"no user {name!r}")
        return row

    def get_user(self, name: str) -> User:
        with self._read() as conn:
            return _user(self._user_row(conn, name))

    def list_users(self) -> list[User]:
        with self._read() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(u.name))]

    def update_user(
        self,
        name: str,
        *,
        admin: bool | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> User:
        values: dict[str, Any] = {}
        if admin is not None:
            values["is_admin"] = admin
        if disabled is not None:
            values["disabled"] = disabled
        if password is not None:
            values["password_hash"] = hash_password(password) if password else None
        with self._write() as conn:
            self._user_row(conn, name)
            if values:
                conn.execute(update(users).where(u.name == name).values(values))
        return self.get_user(name)

    def check_password(self, name: str, password: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(select(users).where(u.name == name)).first()
        if row is None or row.disabled or not password_matches(row.password_hash, password):
            return None
        return _user(row)

    # --- tokens -----------------------------------------------------------------------
    def create_token(
        self, user: str, name: str, *, kind: TokenKind = "api", expires_at: float | None = None
    ) -> tuple[str, TokenInfo]:
        if not name or len(name) > 100:
            raise ConfigError(f"invalid token name {name!r}: 1-100 characters")
        if kind not in ("api", "session"):
            raise ConfigError(f"invalid token kind {kind!r}")
        minted = new_token()
        now = time.time()
        with self._write() as conn:
            owner = self._user_row(conn, user)
            conn.execute(
                insert(api_tokens),
                [
                    {
                        "token_id": minted.token_id,
                        "user_id": owner.user_id,
                        "name": name,
                        "kind": kind,
                        "salt": minted.salt,
                        "secret_hash": minted.digest,
                        "created_at": now,
                        "expires_at": expires_at,
                        "last_used_at": None,
                        "revoked_at": None,
                    }
                ],
            )
        info = TokenInfo(minted.token_id, user, name, kind, now, expires_at, None, None)
        return minted.plain, info

    def _token_query(self) -> Any:
        return select(api_tokens, u.name.label("user_name")).join(users, u.user_id == t.user_id)

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = self._token_query().where(t.kind == "api").order_by(t.created_at)
        if user is not None:
            query = query.where(u.name == user)
        with self._read() as conn:
            return [_token(r) for r in conn.execute(query)]

    def revoke_token(self, token_id: str, *, user: str | None = None) -> None:
        condition = t.token_id == token_id
        if user is not None:
            owner = select(u.user_id).where(u.name == user).scalar_subquery()
            condition = condition & (t.user_id == owner)
        with self._write() as conn:
            result = conn.execute(
                update(api_tokens)
                .where(condition)
                .values(revoked_at=func.coalesce(t.revoked_at, time.time()))
            )
            if result.rowcount == 0:
                raise NotFound(f"no token {token_id!r}")

    def authenticate(self, token: str, *, now: float | None = None) -> Identity | None:
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        now = time.time() if now is None else now
        # One round trip per request: the token, its user and their memberships (one row each).
        query = (
            select(
                t.salt,
                t.secret_hash,
                t.revoked_at,
                t.expires_at,
                t.last_used_at,
                *users.c,
                m.project.label("member_of"),
                m.role.label("member_role"),
            )
            .join(users, u.user_id == t.user_id)
            .outerjoin(memberships, m.user_id == u.user_id)
            .where(t.token_id == token_id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return None
        row = rows[0]
        if not secret_matches(row.salt, row.secret_hash, secret):
            return None
        if row.revoked_at is not None or row.disabled:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        roles = {r.member_of: cast(Role, r.member_role) for r in rows if r.member_of is not None}
        if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
            self._touch(token_id, now)
        return Identity(_user(row), token_id, roles)

    def _touch(self, token_id: str, now: float) -> None:
        stale = or_(t.last_used_at.is_(None), t.last_used_at < now - LAST_USED_RESOLUTION)
        with self._write() as conn:
            conn.execute(
                update(api_tokens).where(t.token_id == token_id, stale).values(last_used_at=now)
            )

    # --- projects and roles -----------------------------------------------------------
    def _roles(self, conn: Connection, user_id: int) -> dict[str, Role]:
        query = select(m.project, m.role).where(m.user_id == user_id)
        return {project: cast(Role, role) for project, role in conn.execute(query)}

    def roles_of(self, user: str) -> dict[str, Role]:
        with self._read() as conn:
            return self._roles(conn, self._user_row(conn, user).user_id)

    def _register(self, conn: Connection, name: str, created_by: str | None) -> None:
        exists = conn.execute(select(p.name).where(p.name == name)).first()
        if exists is None:
            row = {"name": name, "created_at": time.time(), "created_by": created_by}
            try:
                with conn.begin_nested():
                    conn.execute(insert(projects), [row])
            except IntegrityError:
                pass  # registered concurrently by another process

    def add_project(self, name: str, *, created_by: str | None = None) -> ProjectInfo:
        check_project_name(name)
        with self._write() as conn:
            self._register(conn, name, created_by)
        return self.get_project(name)

    def _members(self, conn: Connection, project: str | None = None) -> dict[str, dict[str, Role]]:
        query = select(m.project, u.name, m.role).join(users, u.user_id == m.user_id)
        if project is not None:
            query = query.where(m.project == project)
        found: dict[str, dict[str, Role]] = {}
        for name, user, role in conn.execute(query.order_by(u.name)):
            found.setdefault(name, {})[user] = cast(Role, role)
        return found

    def get_project(self, name: str) -> ProjectInfo:
        with self._read() as conn:
            row = conn.execute(select(projects).where(p.name == name)).first()
            if row is None:
                raise NotFound(f"no project {name!r}")
            members = self._members(conn, name).get(name, {})
        return ProjectInfo(row.name, row.created_at, row.created_by, members)

    def list_project_infos(self) -> list[ProjectInfo]:
        with self._read() as conn:
            rows = conn.execute(select(projects).order_by(p.name)).all()
            members = self._members(conn)
        return [
            ProjectInfo(r.name, r.created_at, r.created_by, members.get(r.name, {})) for r in rows
        ]

    def grant(self, project: str, user: str, role: Role | None) -> None:
        check_project_name(project)
        if role is not None:
            check_role(role)
        with self._write() as conn:
            user_id = self._user_row(conn, user).user_id
            conn.execute(delete(memberships).where(m.user_id == user_id, m.project == project))
            if role is not None:
                self._register(conn, project, None)
                conn.execute(
                    insert(memberships), [{"user_id": user_id, "project": project, "role": role}]
                )

    # --- queries the server needs beyond the Store protocol ----------------------------
    def blob_projects(self, digest: str) -> set[str | None]:
        av = artifact_versions.c
        query = (
            select(runs.c.project)
            .select_from(artifact_versions)
            .outerjoin(runs, runs.c.run_id == av.run_id)
            .where(
                av.reference.is_(False),
                or_(av.digest == digest, sql_cast(av.manifest, Text).contains(digest)),
            )
            .distinct()
        )
        with self._read() as conn:
            return {row[0] for row in conn.execute(query)}

    def crash_stale_runs(self, heartbeat_before: float) -> int:
        last = func.coalesce(runs.c.heartbeat_at, runs.c.created_at)
        statement = (
            update(runs)
            .where(runs.c.status == str(RunStatus.RUNNING), last < heartbeat_before)
            .values(status=str(RunStatus.CRASHED), ended_at=last)
        )
        with self._write() as conn:
            return int(conn.execute(statement).rowcount or 0)
