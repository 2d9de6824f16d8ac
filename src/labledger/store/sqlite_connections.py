"""Plain ``sqlite3`` connections of ``SqliteStore``: the schema check, the runs queries
(``sql_records``) and the writer's batches (``sql_write``) without importing SQLAlchemy
(~0.4 s of a fresh process).

They are configured by the same ``_configure`` as the store's SQLAlchemy connections (busy
timeout, WAL, synchronous=FULL, cache, memory map). Read connections are ``query_only``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labledger.store.sql_records import Execute

Configure = Callable[[sqlite3.Connection], None]


class SqliteWrites:
    """``Writes`` on a plain ``sqlite3`` connection inside its transaction."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)


class Connections:
    """A small pool of connections to one SQLite file, safe across threads."""

    def __init__(
        self,
        path: Path,
        timeout: float,
        configure: Configure,
        *,
        read_only: bool = True,
        check: Callable[[], None] = lambda: None,
    ) -> None:
        """``check`` runs before each new connection: connecting creates a missing file."""
        self._path = path
        self._timeout = timeout
        self._configure = configure
        self._read_only = read_only
        self._check = check
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        self._check()
        conn = sqlite3.connect(self._path, timeout=self._timeout, check_same_thread=False)
        try:
            self._configure(conn)
            if self._read_only:
                conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _transaction(self, begin: str | None) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._connect()
        try:
            if begin is not None:
                conn.execute(begin)
            yield conn
            if begin is not None and not self._read_only:
                conn.execute("COMMIT")
        finally:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                reusable = True
            except sqlite3.Error:
                reusable = False
            if reusable:
                with self._lock:
                    self._idle.append(conn)
            else:
                conn.close()

    @contextmanager
    def reading(self) -> Iterator[Execute]:
        """One read transaction (a consistent snapshot for every statement run in it)."""
        with self._transaction("BEGIN") as conn:

            def execute(sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
                return conn.execute(sql, params).fetchall()

            yield execute

    @contextmanager
    def writing(self) -> Iterator[SqliteWrites]:
        """One write transaction, committed when the block ends without an error. It takes the
        write lock up front (``BEGIN IMMEDIATE``), so concurrent writers queue on the busy
        timeout instead of failing when a deferred transaction tries to upgrade."""
        with self._transaction("BEGIN IMMEDIATE") as conn:
            yield SqliteWrites(conn)

    @contextmanager
    def outside_transactions(self) -> Iterator[sqlite3.Connection]:
        """A connection holding no transaction, for what takes its own locks (a backup)."""
        with self._transaction(None) as conn:
            yield conn

    def revision(self) -> str | None:
        """The schema's Alembic revision, ``None`` for a database without one."""
        with self.reading() as execute:
            found = execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
                {},
            )
            if not found:
                return None
            rows = execute("SELECT version_num FROM alembic_version", {})
            return str(rows[0][0]) if rows else None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
