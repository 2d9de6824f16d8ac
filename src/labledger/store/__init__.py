"""Persistence behind one interface. ``open_store(uri)`` picks the backend by URI scheme.

Backends are loaded only when a store is opened; a current SQLite store reads without
SQLAlchemy until a write or another query needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labledger.errors import ConfigError, StoreUnavailable

if TYPE_CHECKING:
    from labledger.config import Settings
    from labledger.store.auth import AuthStore
    from labledger.store.base import Store
    from labledger.store.experiments import ExperimentStore

__all__ = ["auth_store", "experiment_store", "open_store"]


def open_store(uri: str, *, settings: Settings | None = None, journal: bool = False) -> Store:
    """Open (creating and migrating if needed) the store at ``uri``.

    ``http(s)://`` opens a team server through ``HttpStore`` (token from ``settings``);
    ``journal=True`` makes its writes journaled and asynchronous (the SDK's writer path).
    """
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    if scheme in ("http", "https"):
        from labledger.config import load_settings
        from labledger.store.http import HttpStore

        settings = settings or load_settings()
        return HttpStore(
            uri,
            token=settings.token,
            journal_dir=settings.journal_dir if journal or settings.offline else None,
            offline=settings.offline,
            max_journal_bytes=settings.journal_max_bytes,
        )
    if scheme in ("sqlite", "postgresql", "postgres"):
        return _open_sql(uri, scheme)
    raise ConfigError(
        f"unsupported store URI {uri!r}: use sqlite:///path, postgresql://... or http(s)://..."
    )


def auth_store(store: Store) -> AuthStore:
    """The users, projects and tokens kept beside ``store`` (SQL stores only)."""
    auth: AuthStore | None = getattr(store, "auth", None)
    if auth is None:
        raise ConfigError(f"the store {store.uri!r} keeps no users: serve a SQL database")
    return auth


def experiment_store(store: Store) -> ExperimentStore:
    """The MLflow experiments kept beside ``store`` (SQL stores only)."""
    experiments: ExperimentStore | None = getattr(store, "experiments", None)
    if experiments is None:
        raise ConfigError(f"the store {store.uri!r} keeps no experiments: serve a SQL database")
    return experiments


def masked_uri(uri: str) -> str:
    """``uri`` with its password replaced by ``***``."""
    import re

    return re.sub(r"^([A-Za-z][\w+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", uri)


def _open_sql(uri: str, scheme: str) -> Store:
    """A SQL store; a database that cannot be reached, is missing or refuses us is one line
    naming the URI (password masked) and the cause, never a driver traceback."""
    try:
        if scheme == "sqlite":
            from labledger.store.sqlite import SqliteStore

            return SqliteStore(uri)
        from labledger.store.postgres import PostgresStore

        return PostgresStore(uri)
    except Exception as exc:
        cause = _open_failure(exc)
        if cause is None:
            raise
        raise StoreUnavailable(f"cannot open the store {masked_uri(uri)}: {cause}") from None


def _open_failure(exc: Exception) -> str | None:
    """The first line of a database error met while opening (the plain sqlite3 schema check,
    or SQLAlchemy's once loaded); None for anything else."""
    import sqlite3
    import sys

    if isinstance(exc, sqlite3.Error):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    if isinstance(exc, DBAPIError):
        return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if isinstance(exc, SQLAlchemyError):
        return str(exc).strip().splitlines()[0]
    return None
