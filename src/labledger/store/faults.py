"""Telling a store that is down (worth a retry) from a bug."""

from __future__ import annotations


def is_unavailable(exc: BaseException) -> bool:
    """True for errors meaning the database cannot be reached right now (connection refused
    or dropped, server restarting, SQLite busy past its timeout)."""
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):  # the plain sqlite3 read path
        return True
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
