"""Streaming SHA-256 of files, with a persistent cache that skips unchanged files.

Files are read in fixed-size chunks, so memory use does not grow with file size. The cache is
a small SQLite file keyed by absolute path and validated by size, mtime_ns, inode and device:
re-logging an unchanged 10 GB checkpoint costs one ``stat``. A file modified within
``RACY_SECONDS`` of being hashed is not cached, because a second write inside the same mtime
tick would leave the stat unchanged (git's "racy clean" problem).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from labledger.errors import ArtifactError

CHUNK_SIZE = 1024 * 1024
RACY_SECONDS = 2.0
HASH_CACHE_FILENAME = "hash-cache.db"
FLUSH_EVERY = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileStat:
    """The parts of ``os.stat`` that tell whether a file changed."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStat:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def iter_chunks(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := stream.read(chunk_size):
        yield chunk


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """Digest and byte count of everything left in ``stream``."""
    digest = hashlib.sha256()
    size = 0
    for chunk in iter_chunks(stream):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    with open(path, "rb") as stream:
        return sha256_stream(stream)[0]


class HashCache:
    """Digest of a file by (absolute path, size, mtime_ns, inode, device); safe across processes.

    The cache only saves time: any SQLite error disables it for the rest of the process with
    one warning, and hashing carries on.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False
        self._pending: list[tuple[Path, FileStat, str]] = []

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER,"
                    " mtime_ns INTEGER, inode INTEGER, device INTEGER, digest TEXT)"
                )
                conn.commit()
                self._conn = conn
            except (sqlite3.Error, OSError) as exc:
                self._disable(exc)
        return self._conn

    def _disable(self, exc: Exception) -> None:
        log.warning("labledger: hash cache %s disabled: %s", self.path, exc)
        self._broken = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path: Path, stat: FileStat) -> str | None:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT size, mtime_ns, inode, device, digest FROM hashes WHERE path = ?",
                    (str(path),),
                ).fetchone()
            except sqlite3.Error as exc:
                self._disable(exc)
                return None
        if row is None or tuple(row[:4]) != (stat.size, stat.mtime_ns, stat.inode, stat.device):
            return None
        return str(row[4])

    def put(self, path: Path, stat: FileStat, digest: str, hashed_at_ns: int) -> None:
        """Remember a digest read starting at ``hashed_at_ns``; skipped when the file was
        modified too shortly before. Written in batches (``flush``) to keep big folders fast."""
        if hashed_at_ns - stat.mtime_ns < RACY_SECONDS * 1e9:
            return
        with self._lock:
            self._pending.append((path, stat, digest))
            full = len(self._pending) >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self.put_many(pending)

    def put_many(self, entries: Iterable[tuple[Path, FileStat, str]]) -> None:
        rows = [(str(p), s.size, s.mtime_ns, s.inode, s.device, d) for p, s, d in entries]
        if not rows:
            return
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with conn:
                    conn.executemany("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?)", rows)
            except sqlite3.Error as exc:
                self._disable(exc)

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def hash_file(path: Path, cache: HashCache | None = None) -> tuple[str, FileStat]:
    """The SHA-256 of ``path`` and the stat it was taken at (from ``cache`` when unchanged).

    Raises ArtifactError when the file changes while it is being read.
    """
    path = path.absolute()
    try:
        before = FileStat.of(path)
        if cache is not None:
            cached = cache.get(path, before)
            if cached is not None:
                cache.hits += 1
                return cached, before
            cache.misses += 1
        started_ns = time.time_ns()
        digest = sha256_file(path)
        after = FileStat.of(path)
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if after != before:
        raise ArtifactError(f"{path} changed while it was being hashed; log it again when done")
    if cache is not None:
        cache.put(path, before, digest, started_ns)
    return digest, before


def open_hash_cache(folder: Path) -> HashCache:
    return HashCache(folder / HASH_CACHE_FILENAME)


def file_changed(path: Path, stat: FileStat) -> bool:
    try:
        return FileStat.of(path) != stat
    except OSError:
        return True


__all__ = [
    "CHUNK_SIZE",
    "FileStat",
    "HashCache",
    "file_changed",
    "hash_file",
    "iter_chunks",
    "open_hash_cache",
    "sha256_chunks",
    "sha256_file",
    "sha256_stream",
]
