"""The journal file format: what the run's point journal (``sdk/mmap_journal.py``) and the
journal of unacknowledged writes (``store/journal.py``) both write and read.

A journal is one or more segment files. A segment starts with a 64-byte header::

    <8s magic> <u32 version> <u32 segment number> <32s owner> <u64 first sequence number>

(the magic names the journal kind and so its payload encoding; the owner is a run or journal
ID, NUL-padded; the rest of the 64 bytes is zero) followed by records::

    <u32 length> <u32 crc32(payload, seed = seq & 0xFFFFFFFF)> payload

where ``seq`` is implicit: the header's first sequence number plus the record's index. Seeding
the CRC with it means a record read at the wrong position never passes. A journal whose writers
cannot know a record's index when they write it (the point journal since its version 3: threads
append without a lock) seeds every CRC with one value of its own instead.

The end of the readable part (a torn tail) is the first record whose length is zero (the
zero-filled rest of a preallocated segment), larger than the limit, running past the end of
the data, whose CRC does not match, or whose payload does not decode: it and everything after
it in that segment are ignored (or cut off by the owner that reopens it).

Ownership (the flock rule): the process writing a journal holds an exclusive, non-blocking
``flock`` on its lock file for as long as the journal is open, and so does a process that
replays it; a free lock means the writer is gone. Whether a writer is alive is asked with a
shared lock taken and released at once, which changes nothing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "HEADER_BYTES",
    "MASK",
    "RECORD",
    "Header",
    "frame",
    "hold",
    "is_held",
    "read_header",
    "records",
    "try_lock",
]

HEADER_BYTES = 64
BATCH_SUFFIX = ".journal"  # the batch journals' files (``store.journal``)
RECORD = struct.Struct("<II")  # length, crc32
MASK = 0xFFFFFFFF
MAX_RECORD = 1 << 31
_HEADER = struct.Struct("<8sII32sQ")

T = TypeVar("T")


@dataclass(frozen=True)
class Header:
    """A segment's header."""

    magic: bytes
    version: int
    number: int  # the segment's position in its journal, from 0
    owner: str  # the run or journal ID (at most 32 bytes kept)
    first_seq: int  # the sequence number of the segment's first record

    def pack(self) -> bytes:
        packed = _HEADER.pack(
            self.magic, self.version, self.number, self.owner.encode()[:32], self.first_seq
        )
        return packed.ljust(HEADER_BYTES, b"\x00")


def read_header(data: bytes | memoryview, magic: bytes) -> Header | None:
    """The header of a segment of the journal kind ``magic``; None when it is not one."""
    if len(data) < HEADER_BYTES or bytes(data[: len(magic)]) != magic:
        return None
    got, version, number, owner, first = _HEADER.unpack_from(data)
    return Header(got, version, number, owner.rstrip(b"\x00").decode(errors="replace"), first)


def frame(payload: bytes, seq: int) -> bytes:
    """``payload`` framed as the record of sequence number ``seq``."""
    return RECORD.pack(len(payload), zlib.crc32(payload, seq & MASK)) + payload


def records(
    data: bytes,
    offset: int,
    seq: int | None,
    decode: Callable[[bytes], T],
    errors: tuple[type[Exception], ...] = (ValueError,),
    ends: list[int] | None = None,
    seed: int | None = None,
) -> Iterator[tuple[int, T]]:
    """``(seq, decode(payload))`` of every intact record from ``offset``, numbered from
    ``seq``, up to the torn tail. ``seq=None`` reads a legacy unseeded file (CRC seed 0,
    records numbered from 0); ``seed`` checks every CRC with that one seed (a journal whose
    writers do not know a record's number when they write it). When given, ``ends[0]``
    follows the offset where the readable part ends (where an owner cuts a torn tail off)."""
    size = len(data)
    number = 0 if seq is None else seq
    if ends is not None:
        ends[:] = [offset]
    while offset + RECORD.size <= size:
        length, crc = RECORD.unpack_from(data, offset)
        start = offset + RECORD.size
        if length == 0 or length > MAX_RECORD or start + length > size:
            return
        payload = data[start : start + length]
        expected = seed if seed is not None else 0 if seq is None else number & MASK
        if zlib.crc32(payload, expected) != crc:
            return
        try:
            item = decode(payload)
        except errors:
            return
        offset = start + length
        if ends is not None:
            ends[0] = offset
        yield number, item
        number += 1


def try_lock(fd: int) -> bool:
    """Take the exclusive lock of an open lock file; False while a live process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def hold(path: Path) -> int | None:
    """Open ``path`` (created if missing) and take its exclusive lock: the open descriptor
    (closing it releases the lock), or None while a live process holds it. OSError when the
    file cannot be opened.

    A file removed or replaced between the open and the lock is opened again: whoever removes
    a journal removes its lock file last, still holding it, and a lock on the removed file
    would exclude nobody."""
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not try_lock(fd):
                os.close(fd)
                return None
            held, now = os.fstat(fd), os.stat(path)
            if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EAGAIN, f"{path} keeps being replaced")


def is_held(path: Path) -> bool:
    """Whether a live process holds ``path``'s lock (a missing file: no). Changes nothing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's lock
    return False
