"""The open point journal of one live run: what ``run.log`` appends to and the writer drains.

The file format, recovery and the rules for leftovers are in ``labledger.sdk.mmap_journal``.

``append`` takes no lock: a record (header and payload, framed in one bytes object first) goes
into the mapping with one ``mmap.write`` call, which reserves its place and copies it
atomically under the GIL, so threads logging at once write whole records, one after another.
Nothing on that path knows a record's sequence number: it is implicit, ``(segment << 32) +
index + 1``, and the CRC is seeded with the journal's own seed (from the run ID), not with it.
A full segment makes ``write`` fail; the slow path then takes the lock, seals the segment (its
position moved to the end, so no later write lands in it) and maps the next one. On a
free-threaded build (no GIL) ``append`` takes the lock too. ``logger`` is ``run.log`` itself
for the usual call: the same write, with the step bookkeeping, in one Python call.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import marshal
import mmap
import os
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from labledger.store import journal_file

log = logging.getLogger("labledger")

LogFunction = Callable[[Any, Any], None]
STEP_LIMIT = 2**63  # steps are stored as int64


class StepCounter(Protocol):
    _step: int  # the step the next point logged without one takes


MAGIC = b"LLMMJ1\n\x00"
VERSION = 3  # 2: CRCs seeded with the record's sequence number; 1: a u64 one in each record
SUFFIX = ".mmj"
HEADER_BYTES = journal_file.HEADER_BYTES
SEGMENT_BYTES = 8 << 20
FIRST_SEGMENT_BYTES = 256 << 10
MARSHAL_VERSION = 2
MEMO = "memo"  # (MEMO, n): the place of an item kept in memory (marshal cannot encode it)
_RECORD = journal_file.RECORD

Point = tuple[float, int, dict[str, Any]]


def seed_of(run_id: str) -> int:
    """The CRC seed of ``run_id``'s records: a record of another run's journal never passes."""
    return zlib.crc32(run_id.encode())


def first_seq(number: int) -> int:
    """The sequence number of the first record of segment ``number``."""
    return (number << 32) + 1


class PointJournal:
    """The open journal of one live run (see the module docstring).

    ``append`` journals a point, ``record`` a summary, config, capture or console item;
    ``drain`` gives the writer what was journaled since its last call, in order."""

    def __init__(
        self,
        directory: Path,
        run_id: str,
        sink: Callable[[Any], None],
        *,
        start_seq: int = 0,
        segment_bytes: int = SEGMENT_BYTES,
        convert: Callable[[Any], dict[str, Any]] = dict,
    ) -> None:
        """Create the journal; raises OSError when the folder or first segment cannot be made
        (the caller then logs without a journal). ``sink`` takes the points that come once
        it is closed. A point's dict may be the caller's own: ``append`` encodes it before it
        returns, and where it keeps a point in memory instead it keeps ``convert(dict)`` (a
        copy; ``run.log`` reads numpy and torch scalars there)."""
        self.directory = directory
        self.run_id = run_id
        self.segment_bytes = segment_bytes
        self.start_seq = start_seq
        self._sink = sink
        self._convert = convert
        self._seed = seed_of(run_id)
        self._first_number = (start_seq >> 32) + 1
        self._segment = self._first_number - 1
        self._mapping: mmap.mmap | None = None
        self._write: list[Callable[[bytes], int]] = [_closed_write]  # the hot path's target
        self._path: Path | None = None
        self._closed = False
        self._lock = threading.Lock()
        # Segments written before this process's first (a crash's leftovers, kept until the
        # store has committed past them), and the full ones drained, with their last seq.
        self._done: list[tuple[Path, int]] = []
        # What ``drain`` has not read yet: full segments (sealed), oldest first, with their
        # numbers; where it is in the oldest; the last sequence number it read; the items
        # kept in memory that ``MEMO`` records stand for.
        self._full: list[tuple[mmap.mmap, Path, int]] = []
        self._read = HEADER_BYTES
        self._read_index = 0
        self._last_seq = start_seq
        self._memo: dict[int, Any] = {}
        self._memo_count = 0
        self.behind = False  # the last drain stopped at its ``max_bytes``, short of the end
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = journal_file.hold(directory / f"{run_id}.lock")
        if lock_fd is None:
            raise BlockingIOError(errno.EAGAIN, "the journal is open in another process")
        self._lock_fd = lock_fd
        try:
            self._continue_after(_segments(directory, run_id))
            self._roll()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.append = self._appender()

    @property
    def seq(self) -> int:
        """The sequence number of the last record ``drain`` returned."""
        return self._last_seq

    def _appender(self) -> Callable[[Point], None]:
        """``append(point)``: journal ``point`` for the writer to drain. A closure over local
        names: this is ``run.log``'s hot path."""
        target, dumps, crc, pack = self._write, marshal.dumps, zlib.crc32, _RECORD.pack
        seed, put, sink, version = self._seed, self._put, self._sink, MARSHAL_VERSION
        convert = self._convert

        def append(point: Point) -> None:
            try:
                payload = dumps(point, version)
            except ValueError:  # a value marshal cannot encode: converted, else in memory
                point = (point[0], point[1], convert(point[2]))
                try:
                    payload = dumps(point, version)
                except ValueError:
                    put(None, point, sink)  # kept in memory, its place journaled (MEMO)
                    return
            try:  # one call: the record's place and its bytes, atomically under the GIL
                target[0](pack(len(payload), crc(payload, seed)) + payload)
            except ValueError:  # the segment is full (sealed), or the journal closed
                put(payload, (point[0], point[1], convert(point[2])), sink)

        if _gil_enabled():
            return append
        lock = self._lock

        def locked_append(point: Point) -> None:
            with lock:
                append(point)

        return locked_append

    def logger(self, steps: StepCounter, slow: LogFunction) -> LogFunction | None:
        """``run.log`` for a run logging into this journal: the usual call (a dict, no step
        or an int within int64) is timestamped, encoded and journaled here, in one call
        instead of ``Run.log``'s two; everything else (and a point this path cannot journal)
        goes to ``slow(data, step)``, the full ``Run.log``. ``steps._step`` is the run's step
        counter. None on a free-threaded build, where ``append`` takes the lock."""
        if not _gil_enabled():
            return None
        target, dumps, crc, pack = self._write, marshal.dumps, zlib.crc32, _RECORD.pack
        seed, version, now, limit = self._seed, MARSHAL_VERSION, time.time, STEP_LIMIT

        def log(data: Any, step: Any = None) -> None:
            if data.__class__ is not dict:
                return slow(data, step)
            if step is None:
                step = steps._step
                steps._step = step + 1
            elif step.__class__ is int and -limit <= step < limit:
                if step >= steps._step:
                    steps._step = step + 1
            else:
                return slow(data, step)
            try:
                payload = dumps((now(), step, data), version)
                target[0](pack(len(payload), crc(payload, seed)) + payload)
            except ValueError:  # a value marshal cannot take; a full segment; closed
                slow(data, step)

        return log

    def record(self, kind: str, item: Any, queue: Callable[[Any], None]) -> None:
        """Journal ``item`` (``kind``: a summary, config, capture or console item) for the
        writer to drain; once the journal is closed, ``queue`` it instead. Not on the hot
        path: these are rare next to points."""
        try:
            payload: bytes | None = marshal.dumps((kind, item), MARSHAL_VERSION)
        except ValueError:  # e.g. a numpy value in a summary: kept in memory (MEMO)
            payload = None
        self._put(payload, (kind, item), lambda _: queue(item))

    def _put(self, payload: bytes | None, item: Any, fallback: Callable[[Any], None]) -> None:
        """Journal ``payload``, the encoded ``item``, continuing in a new segment when this
        one is full. An item that cannot be journaled (``payload`` None, or larger than a
        segment) is kept in memory and a ``MEMO`` record holds its place in the journal's
        order; once the journal is closed (or cannot grow), ``fallback(item)``."""
        with self._lock:
            memo = None
            if payload is None or 8 + len(payload) > self.segment_bytes - HEADER_BYTES:
                memo = self._memo_count + 1
                payload = marshal.dumps((MEMO, memo), MARSHAL_VERSION)
            record = _RECORD.pack(len(payload), zlib.crc32(payload, self._seed)) + payload
            if memo is not None:  # before the write: a drain that sees the record finds it
                self._memo_count = memo
                self._memo[memo] = item
            while not self._closed:
                try:
                    self._write[0](record)
                    return
                except ValueError:  # full: the next segment (it takes any record)
                    if not self._grow():
                        break
            if memo is not None:
                del self._memo[memo]
            fallback(item)

    def drain(
        self, *queues: collections.deque[Any], max_bytes: int | None = None
    ) -> tuple[int, list[Any], list[int]]:
        """Everything journaled since the last call, decoded, in the journal's order (a
        ``MEMO`` record replaced by the item it stands for, runs of alike points as
        ``journal_decode.Block``s); the sequence number of the last record; and how many
        items each of ``queues`` held at that instant: what went there (what is not
        journaled, and everything once the journal is closed) came before what the next
        call returns. With ``max_bytes``, only the records in about that many bytes (at
        least one): the rest, and the queues' items (all 0), are for the next calls. For
        the writer's thread: one caller at a time."""
        from labledger.sdk.journal_decode import decode_prefix  # numpy: off init's path

        with self._lock:
            full, self._full = self._full, []
            mapping, number = self._mapping, self._segment
            end = mapping.tell() if mapping is not None else 0
            memo = self._memo
            if memo:
                self._memo = {}
            counts = [len(queue) for queue in queues]
        budget = max_bytes if max_bytes is not None else 1 << 62
        items: list[Any] = []
        while full and budget > 0:  # sealed: read up to the zero-filled rest
            old, path, old_number = full[0]
            length = _length_at(old, self._read)
            if length:
                stop = self._read + max(budget, 8 + length)  # at least one record
                got, used = decode_prefix(old[self._read : stop], budget)
                self._advance(got, old_number)
                items += got
                budget -= used
                self._read += used
            if not _length_at(old, self._read):
                del full[0]
                old.close()
                self._done.append((path, self._last_seq))
                self._read, self._read_index = HEADER_BYTES, 0
        if not full and mapping is not None and end > self._read and budget > 0:
            stop = min(end, self._read + max(budget, 8 + _length_at(mapping, self._read)))
            got, used = decode_prefix(mapping[self._read : stop], budget)
            self._advance(got, number)
            items += got
            self._read += used
        if memo:
            items = [memo.pop(i[1]) if i.__class__ is tuple and i[0] == MEMO else i for i in items]
        self.behind = bool(full) or (mapping is not None and end > self._read)
        if self.behind:  # the rest on the next calls
            counts = [0] * len(queues)
            with self._lock:
                self._full[:0] = full
                self._memo.update(memo)
        return self._last_seq, items, counts

    def unread_bytes(self) -> int:
        """About how many bytes of records ``drain`` has not returned yet."""
        with self._lock:
            sealed = sum(len(m) for m, _, _ in self._full)
            try:
                live = self._mapping.tell() if self._mapping is not None else 0
            except ValueError:  # unmapped under it (the tests' stand-in for a crash)
                return 0
            if self._full:
                return sealed - self._read + live
            return max(live - self._read, 0)

    def _advance(self, items: list[Any], number: int) -> None:
        count = sum(len(i) if i.__class__ is not tuple else 1 for i in items)
        if count:
            self._read_index += count
            self._last_seq = first_seq(number) + self._read_index - 1

    def _grow(self) -> bool:
        """The mapping is full: continue in a new segment. False: it cannot be made (the
        journal closes; what follows is kept in memory)."""
        try:
            self._roll()
            return True
        except OSError as exc:
            self._closed = True
            log.warning(
                "labledger: run %s: cannot extend the point journal in %s (%s); points are "
                "kept in memory until the writer stores them (lost on a crash)",
                self.run_id,
                self.directory,
                exc.strerror,
            )
            return False

    def _continue_after(self, old: list[Path]) -> None:
        """Segments a crashed process left (not recovered yet) are kept: number the new
        ones after them; they are deleted once the store has committed past them."""
        from labledger.sdk.mmap_journal import read_records

        for path in old:
            with contextlib.suppress(ValueError):
                self._segment = max(self._segment, int(path.name.split(".")[1]))
            last = max((seq for seq, _ in read_records(path)), default=0)
            self._done.append((path, last))
        self._first_number = self._segment + 1

    def _roll(self) -> None:
        """Seal the full segment (its position at the end: no later write lands in it) and
        map the next, allocated in full up front. The full one stays mapped until drained."""
        number = self._segment + 1
        path = self.directory / f"{self.run_id}.{number:06d}{SUFFIX}"
        grown = number - self._first_number
        size = max(min(self.segment_bytes, FIRST_SEGMENT_BYTES << max(grown, 0)), 4096)
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:  # a roll interrupted (Ctrl-C) before it switched over to it
            path.unlink()
            fd = os.open(path, flags, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError:
                path.unlink(missing_ok=True)
                raise
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        header = journal_file.Header(MAGIC, VERSION, number, self.run_id, first_seq(number))
        mm.write(header.pack())
        old, old_path = self._mapping, self._path
        sealed = [(old, old_path, self._segment)] if old is not None and old_path else []
        if old is not None:
            old.seek(0, os.SEEK_END)  # sealing twice (after a Ctrl-C here) changes nothing
            _unmap_pages(old)
        # No call from here on: Ctrl-C's KeyboardInterrupt cannot land between these stores.
        self._full += sealed
        self._mapping, self._path, self._segment = mm, path, number
        self._write[0] = mm.write

    def release(self, seq: int) -> None:
        """The store has committed every record up to ``seq``: delete the drained segments
        that hold nothing newer (the writer calls this after each successful flush)."""
        with self._lock:
            while self._done and self._done[0][1] <= seq:
                path, _ = self._done.pop(0)
                path.unlink(missing_ok=True)

    def close(self, *, remove: bool) -> None:
        """Unmap; with ``remove`` (everything is committed) delete the files."""
        from labledger.sdk.mmap_journal import remove_files

        with self._lock:
            self._closed = True
            self._write[0] = _closed_write
            mappings = [m for m, _, _ in self._full]
            if self._mapping is not None:
                mappings.append(self._mapping)
            self._full, self._mapping = [], None
            for mapping in mappings:
                mapping.close()
        if remove:
            remove_files(self.directory, self.run_id)
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1


def _segments(directory: Path, run_id: str) -> list[Path]:
    from labledger.sdk.mmap_journal import segments

    return segments(directory, run_id)


def _unmap_pages(segment: mmap.mmap) -> None:
    """Let go of a sealed segment's pages until ``drain`` reads them: a writer that falls
    behind leaves a backlog in the page cache (written back to the file as usual), not in
    the process's resident memory. A shared file mapping loses nothing: a later read faults
    the pages back in from the page cache."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        segment.madvise(mmap.MADV_DONTNEED)


def _length_at(segment: mmap.mmap, offset: int) -> int:
    """The length of the record at ``offset`` of a segment; 0 at its zero-filled rest."""
    return _RECORD.unpack_from(segment, offset)[0] if offset + 8 <= len(segment) else 0


def _closed_write(record: bytes) -> int:
    raise ValueError("the point journal is closed")


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())
