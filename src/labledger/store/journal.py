"""An append-only journal of writes not yet acknowledged by a store.

One file per writing process (``<dir>/<pid>-<id>.journal``), locked by that process while it
is open. The file is one segment in the journal file format (``labledger.store.journal_file``:
a 64-byte header, records ``<u32 length><u32 crc32> payload``, the torn-tail and flock rules,
shared with the run's point journal); the payload is a msgpack ``[kind, run_id, key, body]``:

- ``run``: a run to create (``body`` = wire ``RunRecord``), key ``<run_id>:create``;
- ``batch``: a writer flush (``body`` = wire ``RunBatch``), key ``<run_id>:<journal>.<n>``,
  the idempotency key the store applies once;
- ``ack``: the store has applied ``key``.

``run`` and ``batch`` records are fsynced before ``append_*`` returns; acks are not (a lost ack
only means a redelivery, which the key makes harmless). A torn or corrupt tail (a crash mid
write) ends the readable part; it is cut off when the journal is reopened. Files of the
earlier format (an 8-byte magic, unseeded CRCs) are still read, and appended to in it until
they start over. The file is bounded by ``max_bytes``: when it is full and nothing is pending
it starts over (a new header, numbering on), otherwise new batches are refused
(``append_batch`` returns None) with one warning.

``replay(journal, store)`` delivers what is pending into any ``Store`` exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from labledger.entities import RunRecord
from labledger.errors import LabledgerError, RunExists
from labledger.store import journal_file
from labledger.store.base import RunBatch

if TYPE_CHECKING:
    from labledger.store.base import Store

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Journal",
    "JournalBusy",
    "JournalEntry",
    "JournalSummary",
    "ReplayResult",
    "inspect",
    "journal_files",
    "replay",
]

log = logging.getLogger("labledger")

MAGIC = b"LLJRNL2\n"
VERSION = 2
LEGACY_MAGIC = b"LLJRNL1\n"  # version 1: the magic alone, then records with unseeded CRCs
SUFFIX = journal_file.BATCH_SUFFIX
DEFAULT_MAX_BYTES = 1 << 30

Kind = Literal["run", "batch", "ack"]


class JournalBusy(LabledgerError):
    """The journal is open in another (live) process."""


class _Record(msgspec.Struct, array_like=True):
    kind: str
    run_id: str
    key: str
    body: bytes


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


@dataclass(frozen=True)
class JournalEntry:
    """One journaled write: a run to create or a batch to apply, with its idempotency key."""

    kind: Kind
    run_id: str
    key: str
    body: bytes

    def run(self) -> RunRecord:
        from labledger.store.wire import decode

        return decode(self.body, RunRecord)

    def batch(self) -> RunBatch:
        from labledger.store.wire import decode_batch

        return decode_batch(self.body)


def journal_files(directory: Path) -> list[Path]:
    """Journal files in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: (p.stat().st_mtime, p.name))


class Journal:
    """An open, locked journal file. Thread-safe; create with ``create`` or ``open``."""

    def __init__(
        self, path: Path, fd: int, *, max_bytes: int, journal_id: str, next_seq: int | None
    ) -> None:
        self.path = path
        self.journal_id = journal_id
        self.max_bytes = max_bytes
        self._fd = fd
        self._lock = threading.Lock()
        self._pending: dict[str, JournalEntry] = {}
        self._size = os.fstat(fd).st_size
        self._seq = 0
        self._next_seq = next_seq  # of the next record; None: a legacy file (unseeded CRCs)
        self._warned_full = False
        self._closed = False
        self.torn_bytes = 0  # unreadable bytes cut off the tail when opened

    # --- opening ------------------------------------------------------------------------
    @classmethod
    def create(cls, directory: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Journal:
        """A new, empty journal for this process in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        journal_id = secrets.token_hex(6)
        path = directory / f"{os.getpid()}-{journal_id}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        journal_file.try_lock(fd)  # a new file: no one else has it
        os.write(fd, _header(journal_id, 1))
        os.fsync(fd)
        _fsync_dir(directory)
        return cls(path, fd, max_bytes=max_bytes, journal_id=journal_id, next_seq=1)

    @classmethod
    def open(cls, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Journal:
        """An existing journal (left by a finished, crashed or offline process), locked.

        Raises ``JournalBusy`` while its process still has it open. A torn tail is cut off.
        """
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            raise LabledgerError(f"cannot open journal {path}: {exc.strerror}") from None
        if not journal_file.try_lock(fd):
            os.close(fd)
            raise JournalBusy(f"journal {path.name} is in use by a running process")
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read()
        try:
            records, end, next_seq = _parse(data, path)
        except LabledgerError:
            os.close(fd)
            raise
        # New batches get keys under a fresh ID: the old history may have been dropped.
        journal = cls(
            path, fd, max_bytes=max_bytes, journal_id=secrets.token_hex(6), next_seq=next_seq
        )
        if end < len(data) or end == 0:  # a torn tail, or not even the header
            journal.torn_bytes = len(data) - end
            os.ftruncate(fd, end)
            if end == 0:
                _write_all(fd, _header(journal.journal_id, 1))
                end = journal_file.HEADER_BYTES
            os.fsync(fd)
            journal._size = end
        for record in records:
            journal._remember(record)
        return journal

    # --- writing ------------------------------------------------------------------------
    def append_run(self, run: RunRecord) -> JournalEntry:
        """Journal a run to create (durable when this returns)."""
        from labledger.store.wire import encode_run

        entry = JournalEntry("run", run.run_id, f"{run.run_id}:create", encode_run(run))
        self._append(entry, sync=True, bounded=False)
        return entry

    def append_batch(self, run_id: str, batch: RunBatch | bytes) -> JournalEntry | None:
        """Journal a batch under a new idempotency key (durable when this returns).

        ``batch`` may already be wire-encoded. None when the journal is full or the disk
        refused the write: the caller keeps the batch in memory (one warning is logged).
        """
        from labledger.store.wire import encode_batch

        body = batch if isinstance(batch, bytes) else encode_batch(batch)
        with self._lock:
            self._seq += 1
            key = f"{run_id}:{self.journal_id}.{self._seq}"
        entry = JournalEntry("batch", run_id, key, body)
        return entry if self._append(entry, sync=True, bounded=True) else None

    def ack(self, key: str) -> None:
        """Record that the store applied ``key`` (not fsynced: a lost ack is a harmless redo)."""
        with self._lock:
            if self._pending.pop(key, None) is None:
                return
        self._append(JournalEntry("ack", "", key, b""), sync=False, bounded=False)

    def pending(self) -> list[JournalEntry]:
        """Every run and batch never acknowledged, in the order they were journaled."""
        with self._lock:
            return list(self._pending.values())

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.pending())

    @property
    def done(self) -> bool:
        """True when everything journaled has been acknowledged."""
        return not self._pending

    def close(self, *, remove_if_done: bool = True) -> None:
        """Release the journal; delete the file when nothing is pending."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if remove_if_done and not self._pending:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)

    # --- internals ----------------------------------------------------------------------
    def _remember(self, record: _Record) -> None:
        if record.kind == "ack":
            self._pending.pop(record.key, None)
        elif record.kind in ("run", "batch"):
            kind: Kind = "run" if record.kind == "run" else "batch"
            self._pending[record.key] = JournalEntry(kind, record.run_id, record.key, record.body)

    def _append(self, entry: JournalEntry, *, sync: bool, bounded: bool) -> bool:
        payload = _encoder.encode(_Record(entry.kind, entry.run_id, entry.key, entry.body))
        with self._lock:
            if self._closed:
                raise LabledgerError(f"journal {self.path.name} is closed")
            if bounded and self._size + journal_file.RECORD.size + len(payload) > self.max_bytes:
                if self._pending:
                    self._warn_full()
                    return False
                self._restart()
            seq = self._next_seq
            frame = journal_file.frame(payload, 0 if seq is None else seq)
            start = self._size
            try:
                _write_all(self._fd, frame)
                if sync:
                    os.fdatasync(self._fd)
            except OSError as exc:
                self._undo(start)
                if not bounded:
                    raise
                self._warn_full(exc)
                return False
            self._size = start + len(frame)
            if seq is not None:
                self._next_seq = seq + 1
            if entry.kind != "ack":
                self._pending[entry.key] = entry
            return True

    def _restart(self) -> None:
        """Everything was acknowledged: drop the acknowledged history, keep the file (a
        legacy one continues in the current format). Record numbers go on from where they
        were: the new header says so."""
        first = self._next_seq or 1
        os.ftruncate(self._fd, 0)
        _write_all(self._fd, _header(self.journal_id, first))  # O_APPEND: at offset 0 now
        self._size = journal_file.HEADER_BYTES
        self._next_seq = first

    def _undo(self, size: int) -> None:
        with contextlib.suppress(OSError):  # never leave half a record to hide later ones
            os.ftruncate(self._fd, size)

    def _warn_full(self, error: OSError | None = None) -> None:
        if self._warned_full:
            return
        self._warned_full = True
        reason = f"cannot write ({error.strerror})" if error else f"is full ({self.max_bytes} B)"
        log.warning(
            "labledger: journal %s %s; new batches are kept in memory only until the "
            "store acknowledges the pending ones",
            self.path,
            reason,
        )


@dataclass(frozen=True)
class JournalSummary:
    """What a journal file holds, read without locking or repairing it (``sync --dry-run``)."""

    path: Path
    size: int  # bytes on disk
    pending: int  # runs to create and batches never acknowledged
    runs: tuple[str, ...]  # the runs those writes belong to, in journal order
    busy: bool  # its process still has it open
    torn_bytes: int  # an unreadable tail (a crash mid write), cut off when it is replayed


def inspect(path: Path) -> JournalSummary:
    """Summarise ``path`` without changing it: no exclusive lock, no truncation.

    Whether its process is alive is asked with a shared lock taken and released at once.
    Raises ``LabledgerError`` when the file cannot be read or is not a journal."""
    busy = journal_file.is_held(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LabledgerError(f"cannot open journal {path}: {exc.strerror}") from None
    records, end, _ = _parse(data, path)
    pending: dict[str, str] = {}  # key -> run ID
    for record in records:
        if record.kind == "ack":
            pending.pop(record.key, None)
        elif record.kind in ("run", "batch"):
            pending[record.key] = record.run_id
    return JournalSummary(
        path=path,
        size=len(data),
        pending=len(pending),
        runs=tuple(dict.fromkeys(pending.values())),
        busy=busy,
        torn_bytes=len(data) - end,
    )


def _header(journal_id: str, first_seq: int) -> bytes:
    return journal_file.Header(MAGIC, VERSION, 0, journal_id, first_seq).pack()


def _parse(data: bytes, path: Path) -> tuple[list[_Record], int, int | None]:
    """Records up to the first torn or corrupt one, the offset where the valid part ends and
    the sequence number of the next record (None: a legacy file)."""
    ends = [0]
    header = journal_file.read_header(data, MAGIC)
    if header is not None and header.version == VERSION:
        found = journal_file.records(
            data,
            journal_file.HEADER_BYTES,
            header.first_seq,
            _decoder.decode,
            (msgspec.DecodeError,),
            ends,
        )
        records = [record for _, record in found]
        return records, ends[0], header.first_seq + len(records)
    if len(data) < journal_file.HEADER_BYTES and MAGIC.startswith(data[: len(MAGIC)]):
        return [], 0, 1  # a crash while the header was written (created or restarted): empty
    if data.startswith(LEGACY_MAGIC):
        found = journal_file.records(
            data, len(LEGACY_MAGIC), None, _decoder.decode, (msgspec.DecodeError,), ends
        )
        return [record for _, record in found], ends[0], None
    raise LabledgerError(f"{path} is not a labledger journal")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class ReplayResult:
    """What ``replay`` did: entries applied now, entries the store already had."""

    applied: int = 0
    duplicates: int = 0
    runs: frozenset[str] = frozenset()


def replay(journal: Journal, store: Store) -> ReplayResult:
    """Deliver every pending entry of ``journal`` into ``store`` in order, acknowledging each.

    Exactly once: runs that exist are not created again and batches carry their idempotency
    key. Resumable: an interrupted replay continues where it stopped. Raises what the store
    raises (the entries not yet delivered stay pending).
    """
    result = ReplayResult()
    runs = set()
    for entry in journal.pending():
        runs.add(entry.run_id)
        if entry.kind == "run":
            try:
                store.create_run(entry.run())
                result.applied += 1
            except RunExists:
                result.duplicates += 1
        elif store.write_batch_once(entry.run_id, entry.key, entry.batch()):
            result.applied += 1
        else:
            result.duplicates += 1
        journal.ack(entry.key)
    result.runs = frozenset(runs)
    return result
