"""``Writes``: the statements of one write transaction, as SQL text with ``?`` parameters.

What a batch writes (``sql_write``) is SQL text run through this small interface, so a SQLite
store runs it on a plain ``sqlite3`` connection (``sqlite_connections``) without importing
SQLAlchemy, and every store runs it on a SQLAlchemy connection (``AlchemyWrites``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection


class Writes(Protocol):
    """One open write transaction."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""


class AlchemyWrites:
    """``Writes`` on a SQLAlchemy connection inside its transaction; the SQL goes to the driver
    as it is (``?`` become ``%s`` for PostgreSQL's driver)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect.name
        self._positional = self.dialect == "sqlite"

    def _sql(self, sql: str) -> str:
        return sql if self._positional else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self._conn.exec_driver_sql(self._sql(sql), tuple(params)).rowcount)

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self._conn.exec_driver_sql(self._sql(sql), tuple(params)).first()
        return None if row is None else tuple(row)
