"""The embedded SQLite store: WAL, synchronous=FULL, one write lock taken up front.

Writes go through connections of their own with a small page cache and no memory map: a long
run's flushes touch ever more B-tree pages, which a 64 MiB cache and a 1 GiB map would keep
resident in the training process. Reads (the UI, ``Api``) keep the large ones.

Opening a store (creating a new one at the head schema), the runs queries (``sql_records``)
and the writer's batches (``sql_write``) go through plain ``sqlite3`` connections
(``sqlite_connections``); SQLAlchemy and its engines are created by the first migration or
other query or write (artifacts, accounts, the UI's tables)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labledger.config import DEFAULT_DIRNAME
from labledger.errors import ConfigError, StoreUnavailable
from labledger.store.migrate import HEAD_REVISION
from labledger.store.sql import SqlStore
from labledger.store.sqlite_connections import Connections

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from labledger.store.sql_records import Execute
    from labledger.store.writes import Writes

BUSY_TIMEOUT_SECONDS = 120
CACHE_KIB = 64 * 1024
MMAP_BYTES = 1 << 30
WRITE_CACHE_KIB = 4 * 1024  # a flush appends: it needs the B-trees' right edges
# A commit that takes the WAL past this many pages also copies the WAL into the database
# and fsyncs that. At SQLite's default (1,000 pages) a run's final flush of 4 MiB, on the
# training thread, paid for one (W2: its commit 27 -> 50 ms); at 16 MiB checkpoints are
# rarer, each copying a page written several times (the B-trees' right edges) once.
CHECKPOINT_PAGES = 4096


def _configure(dbapi_conn: Any, _record: Any, *, cache_kib: int, mmap_bytes: int) -> None:
    # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # Reads of big tables and metric chunks (the UI's runs table, million-point series) come
    # from memory-mapped pages and a larger page cache instead of a read() per 4 KiB page.
    # One script, not a call per statement: each call waits to take the GIL back, up to 5 ms
    # while a training loop holds it (the store opens on the writer thread beside the loop).
    cursor.executescript(
        "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; "
        f"PRAGMA cache_size=-{cache_kib}; PRAGMA mmap_size={mmap_bytes}; "
        f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES};"
    )
    _use_wal(cursor)
    cursor.close()


def _configured(cache_kib: int, mmap_bytes: int) -> Callable[[sqlite3.Connection], None]:
    """``_configure`` for a plain ``sqlite3`` connection."""
    return lambda conn: _configure(conn, None, cache_kib=cache_kib, mmap_bytes=mmap_bytes)


def _use_wal(cursor: Any) -> None:
    """Switch a new database to WAL. SQLite answers "database is locked" at once, without
    waiting on the busy timeout, to a connection asking while another one switches it (two
    first opens of a new store): wait for that one instead."""
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.005)


def _begin(conn: Any) -> None:
    # Writers take the lock at BEGIN so concurrent processes queue on busy_timeout instead of
    # failing with "database is locked" when a deferred transaction tries to upgrade.
    immediate = conn.get_execution_options().get("labledger_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ignore_in_git(folder: Path) -> None:
    """A ``.gitignore`` that keeps the store's own folder out of ``git status`` (and so out of
    every run's captured untracked files)."""
    marker = folder / ".gitignore"
    if marker.exists():
        return
    with contextlib.suppress(OSError):  # read-only: capture still skips the store by name
        marker.write_text("# labledger's store: never committed\n*\n")


class SqliteStore(SqlStore):
    """Runs in a local SQLite file; many processes may write at once."""

    def __init__(self, uri: str) -> None:
        path = Path(uri.removeprefix("sqlite:///"))
        created = not path.parent.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create store folder {path.parent}: {exc}") from exc
        if created or path.parent.name == DEFAULT_DIRNAME:
            _ignore_in_git(path.parent)
        super().__init__(uri, None, dialect="sqlite")
        self._path = path

        self._identity: tuple[int, int] | None = None  # the file's, once opened
        check = self._check_writable
        self._reads = Connections(
            path, BUSY_TIMEOUT_SECONDS, _configured(CACHE_KIB, MMAP_BYTES), check=check
        )
        self._batches = Connections(
            path,
            BUSY_TIMEOUT_SECONDS,
            _configured(WRITE_CACHE_KIB, 0),
            read_only=False,
            check=check,
        )
        try:  # a new store is copied in without a look; an existing one is checked first
            if not path.exists() or self._reads.revision() != HEAD_REVISION:
                self._migrate(path)
        except BaseException:
            self.close()
            raise
        self._identity = _identity(path)

    def _migrate(self, path: Path) -> None:
        from labledger.store.migrate import copy_sqlite_head, upgrade

        with open(path.parent / ".migrate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with self._batches.outside_transactions() as conn:
                created = copy_sqlite_head(conn)
            # Another process may have created it meanwhile: then Alembic is not imported.
            if not created and self._batches.revision() != HEAD_REVISION:
                upgrade(self._engine)

    def _create_engines(self) -> tuple[Engine, Engine]:
        return _engine(self._path, CACHE_KIB, MMAP_BYTES), _engine(self._path, WRITE_CACHE_KIB, 0)

    @contextmanager
    def _reading(self) -> Iterator[Execute]:
        with self._reads.reading() as execute:
            yield execute

    @contextmanager
    def _batch(self) -> Iterator[Writes]:
        with self._batches.writing() as w:
            yield w

    def _batch_errors(self) -> tuple[type[Exception], type[Exception]]:
        return sqlite3.IntegrityError, sqlite3.OperationalError

    def close(self) -> None:
        self._reads.close()
        self._batches.close()
        super().close()

    def _check_writable(self) -> None:
        # A deleted or replaced file still takes writes through open connections, into an
        # inode nobody will read again, and a new connection would create an empty file in
        # its place: compare with the file opened.
        if self._identity is not None and _identity(self._path) != self._identity:
            gone = "deleted" if not self._path.exists() else "replaced"
            raise StoreUnavailable(f"the store file {self._path} was {gone}", permanent=True)


def _engine(path: Path, cache_kib: int, mmap_bytes: int) -> Engine:
    from sqlalchemy import create_engine, event

    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    configure = partial(_configure, cache_kib=cache_kib, mmap_bytes=mmap_bytes)
    event.listen(engine, "connect", configure)
    event.listen(engine, "begin", _begin)
    return engine


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
