"""Plain ``sqlite3`` read connections of ``SqliteStore``: the schema check and the runs
queries (``sql_records``) without importing SQLAlchemy (~0.4 s of a fresh process).

They are configured by the same ``_configure`` as the store's SQLAlchemy read connections
(busy timeout, WAL, cache, memory map) and are ``query_only``: writes never go through them.
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


class ReadConnections:
    """A small pool of read-only connections to one SQLite file, safe across threads."""

    def __init__(self, path: Path, timeout: float, configure: Configure) -> None:
        self._path = path
        self._timeout = timeout
        self._configure = configure
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=self._timeout, check_same_thread=False)
        try:
            self._configure(conn)
            conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def reading(self) -> Iterator[Execute]:
        """One read transaction (a consistent snapshot for every statement run in it)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        conn = conn or self._connect()

        def execute(sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
            return conn.execute(sql, params).fetchall()

        try:
            conn.execute("BEGIN")
            yield execute
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
