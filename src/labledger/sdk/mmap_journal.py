"""A per-run, memory-mapped, append-only journal of logged points: format and recovery.

``run.log`` copies each point into a shared file mapping before returning: memory the kernel
already holds survives the death of the process that wrote it (SIGKILL, the OOM killer), at the
cost of a memory copy (no syscall, no fsync, no lock: ``sdk/point_journal.py``). The journal is
also the writer's queue: the background writer reads the records back from the mapping
(``PointJournal.drain``; runs of alike points in bulk, ``journal_decode``), writes them to the
store and records, in the same transaction, the highest journal sequence number it committed
(the ``journal`` capture section, ``{"seq": N}``). Recovery (the next ``init``, ``Api()`` or
``labledger sync``) replays the records past that number, so each point lands exactly once.

Files: ``<journal_dir>/points/<run_id>.lock`` (held with ``flock`` by the live process; a
free lock means the process is gone) and segments ``<run_id>.<n>.mmj``, 256 KiB for the first
and doubling up to ``SEGMENT_BYTES`` (a short run pays for a small file), allocated up front
(``posix_fallocate``: a full disk fails here, never with a SIGBUS later). Segments are in the
journal file format (``store/journal_file.py``, shared with the client journal: a 64-byte
header holding the sequence number of the first record, records ``<u32 length><u32 crc32>
payload``, the torn-tail and flock rules); the payload is ``marshal.dumps((time, step, dict),
2)`` (version 2 writes no reference table: about a third cheaper than the default for these
small tuples), or ``(kind, item)`` for the other kinds. Version 3 (written now): a record's
sequence number is ``(segment << 32) + index + 1`` and its CRC is seeded with the CRC of the run
ID (threads append without knowing the index); version 2 (read, left by a crash of an earlier
release): numbered on from segment to segment, the CRC seeded with the number. A record cut
short by a crash (the mapping is zero-filled) has a zero length or a CRC that does not match:
it and everything after it in that segment are ignored. Segments whose every record the store
has committed are deleted while the run goes on, so a long run keeps at most a few on disk.

Not covered: items ``marshal`` cannot encode (rare values the writer converts), kept in memory
while a ``MEMO`` record holds their place in the journal's order; system metrics; power loss
or a kernel crash (the mapping is not ``msync``-ed: only what the writer committed, which the
store fsyncs, survives those).
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labledger.entities import RunRecord, RunStatus
from labledger.errors import RunExists, RunNotFound
from labledger.sdk.point_journal import (
    MAGIC,
    SUFFIX,
    VERSION,
    PointJournal,
    seed_of,
)
from labledger.store import journal_file
from labledger.store.base import RunBatch, Store

log = logging.getLogger("labledger")

HEADER_BYTES = journal_file.HEADER_BYTES
SECTION = "journal"  # the capture section holding the highest committed sequence number
_RECORD_V1 = struct.Struct("<IIQ")
_MASK = journal_file.MASK

Point = tuple[float, int, dict[str, Any]]
KINDS = ("summary", "config", "capture", "output")  # what else the journal holds


def points_dir(journal_dir: Path) -> Path:
    return journal_dir / "points"


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
    if header.version not in (2, VERSION):
        return
    seed = seed_of(path.name.rsplit(".", 2)[0]) if header.version == VERSION else None
    errors = (ValueError, EOFError, TypeError)
    yield from journal_file.records(
        data, HEADER_BYTES, header.first_seq, marshal.loads, errors, seed=seed
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
    directory: Path,
    run_id: str,
    sink: Callable[[Any], None],
    start_seq: int,
    convert: Callable[[Any], dict[str, Any]] = dict,
) -> PointJournal | None:
    """The run's journal, or None (one warning) when it cannot be created."""
    try:
        return PointJournal(directory, run_id, sink, start_seq=start_seq, convert=convert)
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
