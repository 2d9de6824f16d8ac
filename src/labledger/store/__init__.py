"""Persistence behind one interface. ``open_store(uri)`` picks the backend by URI scheme.

Backends import SQLAlchemy, so they are loaded only when a store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labledger.errors import ConfigError

if TYPE_CHECKING:
    from labledger.config import Settings
    from labledger.store.auth import AuthStore
    from labledger.store.base import Store

__all__ = ["auth_store", "open_store"]


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
    if scheme == "sqlite":
        from labledger.store.sqlite import SqliteStore

        return SqliteStore(uri)
    if scheme in ("postgresql", "postgres"):
        from labledger.store.postgres import PostgresStore

        return PostgresStore(uri)
    raise ConfigError(
        f"unsupported store URI {uri!r}: use sqlite:///path, postgresql://... or http(s)://..."
    )


def auth_store(store: Store) -> AuthStore:
    """The users, projects and tokens kept beside ``store`` (SQL stores only)."""
    auth: AuthStore | None = getattr(store, "auth", None)
    if auth is None:
        raise ConfigError(f"the store {store.uri!r} keeps no users: serve a SQL database")
    return auth
