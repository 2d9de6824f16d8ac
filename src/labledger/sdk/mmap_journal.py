"""A per-run, memory-mapped, append-only journal of logged points.

``run.log`` copies each point into a shared file mapping before returning: memory the kernel
already holds survives the death of the process that wrote it (SIGKILL, the OOM killer), at the
cost of a memory copy (no syscall, no fsync). The journal is also the writer's queue: the
background writer reads the records back from the mapping (``drain``; runs of alike points in
bulk, ``journal_decode``), writes them to the store and records, in the same transaction, the
highest journal sequence number it committed (the ``journal`` capture section, ``{"seq": N}``). Recovery (the next ``init``,
``Api()`` or ``labledger sync``) replays the records past that number, so each point lands
exactly once.

Files: ``<journal_dir>/points/<run_id>.lock`` (held with ``flock`` by the live process; a
free lock means the process is gone) and segments ``<run_id>.<n>.mmj``, each
256 KiB for the first and doubling up to ``SEGMENT_BYTES`` (a short run pays for a small
file), allocated up front (``posix_fallocate``: a full disk fails here, never
with a SIGBUS later). Segments are in the journal file format (``store/journal_file.py``,
shared with the client journal: a 64-byte header holding the sequence number of the first
record, records ``<u32 length><u32 crc32> payload``, the torn-tail and flock rules); the
payload is ``marshal.dumps((time, step, dict), 2)`` (version 2 writes no reference table:
about a third cheaper than the default for these small tuples) and the CRC covers it seeded
with the low 32 bits of the record's sequence number, which is implicit: the segment's first
plus the record's index. A record cut short by a crash (the mapping is zero-filled) has a zero
length or a CRC that does not match: it and everything after it in that segment are ignored.
Segments whose every record the store has committed are deleted while the run goes on, so a
long run keeps at most a few on disk.

Not covered: items ``marshal`` cannot encode (rare values the writer converts), kept in
memory while a ``MEMO`` record holds their place in the journal's order; system metrics; power loss or a kernel crash (the mapping is not
``msync``-ed: only what the writer committed, which the store fsyncs, survives those).
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import marshal
import mmap
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labledger.entities import RunRecord, RunStatus
from labledger.errors import RunExists, RunNotFound
from labledger.store import journal_file
from labledger.store.base import RunBatch, Store

log = logging.getLogger("labledger")

MAGIC = b"LLMMJ1\n\x00"
VERSION = 2  # 1: records carried a u64 sequence number and a version-4 marshal payload
HEADER_BYTES = journal_file.HEADER_BYTES
SEGMENT_BYTES = 8 << 20
FIRST_SEGMENT_BYTES = 256 << 10
SUFFIX = ".mmj"
SECTION = "journal"  # the capture section holding the highest committed sequence number
_RECORD = journal_file.RECORD
_RECORD_V1 = struct.Struct("<IIQ")
MARSHAL_VERSION = 2
_MASK = journal_file.MASK

Point = tuple[float, int, dict[str, Any]]
KINDS = ("summary", "config", "capture", "output")  # what else the journal holds
MEMO = "memo"  # (MEMO, n): the place of an item kept in memory (marshal cannot encode it)


def points_dir(journal_dir: Path) -> Path:
    return journal_dir / "points"


class PointJournal:
    """The open journal of one live run; ``append`` is what ``run.log`` calls.

    ``append`` journals a point, then hands it to ``sink`` (the writer's queue); ``record``
    does the same for a summary, config, capture or console item and its own queue. Both hold
    one lock while they write and queue, so ``snapshot`` can tell the writer exactly which
    queued items the journal's sequence number covers, also when several threads log."""

    def __init__(
        self,
        directory: Path,
        run_id: str,
        sink: Callable[[Any], None],
        *,
        start_seq: int = 0,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        """Create the journal; raises OSError when the folder or first segment cannot be made
        (the caller then logs without a journal)."""
        self.directory = directory
        self.run_id = run_id
        self.segment_bytes = segment_bytes
        self.start_seq = start_seq
        self._sink = sink
        self._segment = -1
        self._state: list[Any] = [0, start_seq, None, 0]
        self._done: list[tuple[Path, int]] = []  # full segments and their last seq, oldest first
        self._path: Path | None = None
        self._closed = False
        self._lock = threading.Lock()
        # What ``drain`` has not read yet: full segments' mappings and where their records end
        # (oldest first), the offset it reached in the oldest, and the items kept in memory
        # that ``MEMO`` records in the journal stand for (see ``append``).
        self._full: list[tuple[mmap.mmap, int]] = []
        self._read = HEADER_BYTES
        self._memo: dict[int, Any] = {}
        self._memo_count = 0
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = journal_file.hold(directory / f"{run_id}.lock")
        if lock_fd is None:
            raise BlockingIOError(errno.EAGAIN, "the journal is open in another process")
        self._lock_fd = lock_fd
        try:
            self._continue_after(segments(directory, run_id))
            self._roll()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.append = self._appender()

    @property
    def seq(self) -> int:
        """The sequence number of the last journaled point."""
        return int(self._state[1])

    def _appender(self) -> Callable[[Point], None]:
        """``append(point)``: journal ``point`` for the writer to drain. A closure over local
        names: this is ``run.log``'s hot path."""
        state = self._state  # [offset, seq, mapping, end of the mapping]
        dumps, crc, pack, put = marshal.dumps, zlib.crc32, _RECORD.pack, self._put
        lock, sink = self._lock, self._sink
        version = MARSHAL_VERSION

        # `with`, not acquire() and try: Ctrl-C's KeyboardInterrupt is raised at the end of a
        # call, so after acquire() returned and before the try (about one signal in seven in
        # a tight loop), leaving the lock held and the writer blocked on it for ever. Inside,
        # every call comes before the record's first store, so one raised there leaves the
        # mapping and the sequence number as they were.
        def append(point: Point) -> None:
            try:
                payload = dumps(point, version)
            except ValueError:  # a value marshal cannot encode: kept in memory (MEMO)
                put(None, point, sink)
                return
            n = len(payload)
            with lock:  # one order for every thread's records: the writer drains in it
                off = state[0]
                end = off + 8 + n
                if end <= state[3]:
                    seq = state[1] + 1
                    state[2][off:end] = pack(n, crc(payload, seq & _MASK)) + payload
                    state[0] = end
                    state[1] = seq
                    return
            put(payload, point, sink)  # the segment is full (or the journal closed)

        return append

    def record(self, kind: str, item: Any, queue: Callable[[Any], None]) -> None:
        """Journal ``item`` (``kind``: one of ``KINDS``) for the writer to drain; once the
        journal is closed, ``queue`` it instead. Not on the hot path: summaries, config
        updates, captures and console lines are rare next to points."""
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
            state = self._state
            memo = None
            if payload is None or 8 + len(payload) > self.segment_bytes - HEADER_BYTES:
                memo = self._memo_count + 1
                payload = marshal.dumps((MEMO, memo), MARSHAL_VERSION)
            n = len(payload)
            if self._closed or (state[0] + 8 + n > state[3] and not self._grow()):
                fallback(item)
                return
            if memo is not None:
                self._memo_count = memo
                self._memo[memo] = item
            off = state[0]
            seq = state[1] + 1
            state[2][off : off + 8 + n] = journal_file.frame(payload, seq)
            state[0] = off + 8 + n
            state[1] = seq

    def drain(self, *queues: collections.deque[Any]) -> tuple[int, list[Any], list[int]]:
        """Everything journaled since the last call, decoded, in the journal's order (a
        ``MEMO`` record replaced by the item it stands for); the sequence number of the last
        record; and how many items each of ``queues`` held at that instant: what went there
        (what is not journaled, and everything once the journal is closed) came before what
        the next call returns. For the writer's thread: one caller at a time."""
        with self._lock:
            full, self._full = self._full, []
            mapping, end, seq = self._state[2], self._state[0], self._state[1]
            memo = self._memo
            if memo:
                self._memo = {}
            counts = [len(queue) for queue in queues]
        from labledger.sdk.journal_decode import decode  # numpy: off init's path

        items: list[Any] = []
        start = self._read
        for old, stop in full:
            items += decode(old[start:stop])
            old.close()
            start = HEADER_BYTES
        if mapping is not None:
            items += decode(mapping[start:end])
            start = end
        self._read = start
        if memo:
            items = [memo.pop(i[1]) if i.__class__ is tuple and i[0] == MEMO else i for i in items]
        return seq, items, counts

    def _grow(self) -> bool:
        """The mapping is full: continue in a new segment. False: it cannot be made (the
        journal closes; what follows is kept in memory)."""
        try:
            self._roll()
            return True
        except OSError as exc:
            self._closed = True
            self._state[3] = 0
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
        ones after them and sequence numbers after their records."""
        for path in old:
            with contextlib.suppress(ValueError):
                self._segment = max(self._segment, int(path.name.split(".")[1]))
            last = self._state[1]
            for seq, _ in read_records(path):
                last = max(last, seq)
            self._state[1] = last
            self._done.append((path, last))

    def _roll(self) -> None:
        """Map a new segment, allocated in full up front. The full one stays mapped until the
        writer has drained it."""
        number = self._segment + 1
        path = self.directory / f"{self.run_id}.{number:06d}{SUFFIX}"
        size = max(min(self.segment_bytes, FIRST_SEGMENT_BYTES << number), 4096)
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
        first = self._state[1] + 1
        mm[:HEADER_BYTES] = journal_file.Header(MAGIC, VERSION, number, self.run_id, first).pack()
        old = self._state[2]
        if self._path is not None:
            self._done.append((self._path, first - 1))
        if old is not None:
            self._full.append((old, self._state[0]))
        self._state[0], self._state[2], self._state[3] = HEADER_BYTES, mm, size
        self._segment = number
        self._path = path

    def release(self, seq: int) -> None:
        """The store has committed every point up to ``seq``: delete the full segments that
        hold nothing newer (the writer calls this after each successful flush)."""
        with self._lock:
            while self._done and self._done[0][1] <= seq:
                path, _ = self._done.pop(0)
                path.unlink(missing_ok=True)

    def close(self, *, remove: bool) -> None:
        """Unmap; with ``remove`` (everything is committed) delete the files."""
        with self._lock:
            self._closed = True
            self._state[3] = 0  # every later append takes the slow path, which goes to memory
            old, self._state[2] = self._state[2], None
            for mapping in [m for m, _ in self._full] + ([old] if old is not None else []):
                mapping.close()
            self._full = []
        if remove:
            remove_files(self.directory, self.run_id)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
            self._lock_fd = -1


def committed_seq(store: Store, run_id: str) -> int:
    """The highest journal sequence number the store holds for ``run_id`` (0 when none).

    A store error propagates: taken for 0 it would replay committed points (twice) or
    number a resumed run's points below what recovery skips (lost)."""
    try:
        section = store.get_captures(run_id).get(SECTION) or {}
    except RunNotFound:
        return 0
    seq = section.get("seq", 0)
    return int(seq) if isinstance(seq, int) else 0


def segments(directory: Path, run_id: str) -> list[Path]:
    """The run's segment files, oldest first (a listing: a glob compiles a pattern per run)."""
    prefix = f"{run_id}."
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if e.name.startswith(prefix)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [directory / name for name in sorted(names) if name.endswith(SUFFIX)]


def remove_files(directory: Path, run_id: str) -> None:
    for path in segments(directory, run_id):
        path.unlink(missing_ok=True)
    (directory / f"{run_id}{RECORD_SUFFIX}").unlink(missing_ok=True)
    (directory / f"{run_id}.lock").unlink(missing_ok=True)


RECORD_SUFFIX = ".run.json"


def save_record(directory: Path, record: RunRecord) -> None:
    """Keep the record of a run whose row is not written yet (``init`` returns before the
    store is open) beside its journal, so recovery can create the run a crash left unwritten.
    Like the journal it survives the process, not the machine: no fsync."""
    import dataclasses
    import json

    from labledger.encoding import to_jsonable

    # the fields themselves, not asdict's deep copy: json.dumps below copies them anyway
    data = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    data.pop("metrics", None)
    data["status"] = str(record.status)
    data["config"] = to_jsonable(record.config)
    data["summary"] = to_jsonable(record.summary)
    path = directory / f"{record.run_id}{RECORD_SUFFIX}"
    tmp = path.with_suffix(".tmp")
    directory.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _saved_record(directory: Path, run_id: str) -> RunRecord | None:
    import json

    try:
        data = json.loads((directory / f"{run_id}{RECORD_SUFFIX}").read_text())
        data["status"] = RunStatus(data["status"])
        return RunRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def read_records(path: Path) -> Iterator[tuple[int, Point]]:
    """``(seq, point)`` of every intact record of a segment, up to the first torn one."""
    data = path.read_bytes()
    header = journal_file.read_header(data, MAGIC)
    if header is None:
        return
    if header.version == 1:
        yield from _read_v1(data)
        return
    if header.version != VERSION:
        return
    yield from journal_file.records(
        data, HEADER_BYTES, header.first_seq, marshal.loads, (ValueError, EOFError, TypeError)
    )


def _read_v1(data: bytes) -> Iterator[tuple[int, Point]]:
    """Segments of version 1 (each record carried its sequence number), left by a crash."""
    off = HEADER_BYTES
    size = len(data)
    while off + _RECORD_V1.size <= size:
        n, crc, seq = _RECORD_V1.unpack_from(data, off)
        start = off + _RECORD_V1.size
        if n == 0 or start + n > size or zlib.crc32(data[start : start + n], seq & _MASK) != crc:
            return
        try:
            point = marshal.loads(data[start : start + n])
        except (ValueError, EOFError, TypeError):
            return
        yield seq, point
        off = start + n


def pending_runs(journal_dir: Path) -> list[str]:
    """Run IDs with a point journal in ``journal_dir`` (live or left behind)."""
    directory = points_dir(journal_dir)
    if not directory.is_dir():
        return []
    return sorted({p.name.split(".", 1)[0] for p in directory.glob(f"*{SUFFIX}")})


def pending_points(store: Store | None, journal_dir: Path, run_id: str) -> int:
    """How many of ``run_id``'s journaled points ``recover`` would replay: those past the
    sequence number ``store`` committed (every one without a store). Reads, never writes."""
    done = committed_seq(store, run_id) if store is not None else 0
    return sum(
        1
        for path in segments(points_dir(journal_dir), run_id)
        for seq, item in read_records(path)
        if seq > done and len(item) == 3  # (time, step, dict); other kinds are (kind, item)
    )


def is_live(journal_dir: Path, run_id: str) -> bool:
    """Whether the process writing ``run_id``'s journal still runs (it holds the lock).

    Asked with a shared lock taken and released at once; a missing lock file means gone."""
    return journal_file.is_held(points_dir(journal_dir) / f"{run_id}.lock")


def saved_record(journal_dir: Path, run_id: str) -> RunRecord | None:
    """The record kept beside ``run_id``'s journal (see ``save_record``), if any."""
    return _saved_record(points_dir(journal_dir), run_id)


def recover(store: Store, journal_dir: Path) -> int:
    """Replay the journals of dead processes past what their store committed, then remove
    them; return how many points were replayed. Journals of live processes (their lock is
    held) are skipped. Never raises: what fails stays journaled for the next attempt."""
    directory = points_dir(journal_dir)
    total = 0
    for run_id in pending_runs(journal_dir):
        try:
            total += _recover_run(store, directory, run_id)
        except Exception as exc:
            log.warning("labledger: could not recover the point journal of %s: %s", run_id, exc)
    if total:
        log.warning("labledger: recovered %d point(s) from crashed runs' journals", total)
    return total


def _recover_run(store: Store, directory: Path, run_id: str) -> int:
    try:
        fd = journal_file.hold(directory / f"{run_id}.lock")
    except OSError:
        return 0
    if fd is None:
        return 0  # its process is alive and still logging
    try:
        try:
            record = store.get_run(run_id)
        except RunNotFound:
            saved = _saved_record(directory, run_id)
            if saved is None:
                remove_files(directory, run_id)  # the run is gone from this store
                return 0
            with contextlib.suppress(RunExists):  # it crashed before its first flush
                store.create_run(saved)
            record = store.get_run(run_id)
        done = committed_seq(store, run_id)
        records = [
            (seq, item)
            for path in segments(directory, run_id)
            for seq, item in read_records(path)
            if seq > done
        ]
        points = [(*item, seq) for seq, item in records if len(item) == 3]
        batch = RunBatch()
        if records:
            from labledger.sdk.writer import Writer

            writer = Writer(store, run_id)
            writer.points.extend(points)  # type: ignore[arg-type]  # (time, step, dict, seq)
            queues = dict(zip(KINDS, writer.queues(), strict=True))
            for _, item in records:
                if len(item) == 2 and item[0] in queues:
                    queues[item[0]].append(item[1])
            batch = writer._collect(None)
            batch.captures[SECTION] = {"seq": records[-1][0]}
        # The lock is free: its process is gone, also when everything it logged was committed
        # (killed while resuming, before its first new point).
        if record.status is RunStatus.RUNNING:
            ended = record.heartbeat_at or record.created_at
            batch.changes.update({"status": RunStatus.CRASHED, "ended_at": ended})
        if batch:
            store.write_batch(run_id, batch)  # everything and its sequence number, atomically
        remove_files(directory, run_id)
        return len(points)
    finally:
        os.close(fd)


def open_journal(
    directory: Path, run_id: str, sink: Callable[[Any], None], start_seq: int
) -> PointJournal | None:
    """The run's journal, or None (one warning) when it cannot be created."""
    try:
        return PointJournal(directory, run_id, sink, start_seq=start_seq)
    except OSError as exc:
        log.warning(
            "labledger: run %s: cannot create the point journal in %s (%s); logged points "
            "stay in memory until the writer stores them (lost on a crash)",
            run_id,
            directory,
            exc.strerror,
        )
        return None


__all__ = [
    "PointJournal",
    "committed_seq",
    "is_live",
    "open_journal",
    "pending_points",
    "pending_runs",
    "read_records",
    "recover",
    "saved_record",
]
