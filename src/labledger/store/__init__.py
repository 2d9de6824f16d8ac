"""Persistence behind one interface. ``open_store(uri)`` picks the backend by URI scheme.

Backends import SQLAlchemy, so they are loaded only when a store is opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labledger.errors import ConfigError

if TYPE_CHECKING:
    from labledger.store.base import Store

__all__ = ["open_store"]


def open_store(uri: str) -> Store:
    """Open (creating and migrating if needed) the store at ``uri``."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        from labledger.store.sqlite import SqliteStore

        return SqliteStore(uri)
    if scheme in ("postgresql", "postgres"):
        from labledger.store.postgres import PostgresStore

        return PostgresStore(uri)
    raise ConfigError(f"unsupported store URI {uri!r}: use sqlite:///path or postgresql://...")
