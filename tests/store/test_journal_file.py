"""The journal file format both journals share: segment header, record framing, CRC seeded with
the sequence number, the torn-tail rule and the flock rule; each tested once here, and the
framing and torn-tail rules also through both journals' own readers."""

from __future__ import annotations

import fcntl
import marshal
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from labledger.store import journal_file
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.journal import LEGACY_MAGIC, Journal, inspect
from labledger.store.journal import MAGIC as CLIENT_MAGIC

HEADER = journal_file.HEADER_BYTES


def segment(payloads: list[bytes], first: int = 1, magic: bytes = b"TESTJRN\n") -> bytes:
    header = journal_file.Header(magic, 1, 0, "owner", first).pack()
    body = b"".join(journal_file.frame(p, first + i) for i, p in enumerate(payloads))
    return header + body


def read(data: bytes, first: int = 1) -> tuple[list[tuple[int, bytes]], int]:
    ends = [0]
    found = list(journal_file.records(data, HEADER, first, bytes, (ValueError,), ends))
    return found, ends[0]


def test_header_is_64_bytes_and_names_its_kind() -> None:
    header = journal_file.Header(b"TESTJRN\n", 3, 7, "r" * 40, 12345)
    packed = header.pack()
    assert len(packed) == HEADER
    back = journal_file.read_header(packed, b"TESTJRN\n")
    assert back == journal_file.Header(b"TESTJRN\n", 3, 7, "r" * 32, 12345)  # owner: 32 bytes
    assert journal_file.read_header(packed, b"OTHERJR\n") is None
    assert journal_file.read_header(packed[:40], b"TESTJRN\n") is None


def test_records_are_numbered_from_the_header_and_read_back() -> None:
    payloads = [f"payload {i}".encode() * (i + 1) for i in range(50)]
    data = segment(payloads, first=1000)
    found, end = read(data, first=1000)
    assert found == [(1000 + i, p) for i, p in enumerate(payloads)]
    assert end == len(data)


def test_the_crc_is_seeded_with_the_sequence_number() -> None:
    """A record read at another position (a stale segment, a misnumbered header) never
    passes, although its bytes are intact."""
    data = segment([b"a", b"b", b"c"], first=1)
    assert [s for s, _ in read(data, first=1)[0]] == [1, 2, 3]
    assert read(data, first=2) == ([], HEADER)
    swapped = segment([b"a"], first=1) + journal_file.frame(b"c", 3)  # record 3 at index 1
    assert read(swapped)[0] == [(1, b"a")]


@pytest.mark.parametrize(
    "tear",
    ["zero-filled", "cut short", "flipped bit", "zero length", "too long", "undecodable"],
)
def test_the_torn_tail_ends_the_readable_part(tear: str) -> None:
    payloads = [bytes([i]) * 20 for i in range(10)]
    data = bytearray(segment(payloads))
    last = len(data) - (8 + 20)  # where the last record starts
    if tear == "zero-filled":  # a crash before the last record's bytes reached the mapping
        data[last:] = bytes(len(data) - last) + bytes(4096)
    elif tear == "cut short":
        del data[-5:]
    elif tear == "flipped bit":
        data[-3] ^= 0x10
    elif tear == "zero length":
        data[last : last + 4] = b"\x00\x00\x00\x00"
    elif tear == "too long":
        data[last : last + 4] = (journal_file.MAX_RECORD + 1).to_bytes(4, "little")

    def decode(payload: bytes) -> bytes:
        if tear == "undecodable" and payload == payloads[-1]:
            raise ValueError("not ours")
        return payload

    ends = [0]
    found = list(journal_file.records(bytes(data), HEADER, 1, decode, (ValueError,), ends))
    assert [p for _, p in found] == payloads[:-1]
    assert ends[0] == last


def test_legacy_files_have_unseeded_crcs() -> None:
    data = b"".join(
        journal_file.RECORD.pack(len(p), zlib.crc32(p)) + p for p in (b"x", b"yy", b"zzz")
    )
    found = list(journal_file.records(data, 0, None, bytes))
    assert found == [(0, b"x"), (1, b"yy"), (2, b"zzz")]


def test_the_lock_is_held_for_the_life_of_its_process(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    assert not journal_file.is_held(lock)  # no file: no owner
    code = (
        "import sys, time\nfrom pathlib import Path\n"
        "from labledger.store.journal_file import hold\n"
        "fd = hold(Path(sys.argv[1]))\nprint(fd is not None, flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "True"
        assert journal_file.is_held(lock)
        assert journal_file.is_held(lock)  # probing takes nothing away
        assert journal_file.hold(lock) is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not journal_file.is_held(lock)  # the kernel released it with the process
    fd = journal_file.hold(lock)
    assert fd is not None
    os.close(fd)


def test_a_lock_file_removed_between_open_and_lock_is_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recovery removes the journal and then its lock file, still holding it; a process
    that opened the file before and locks it after would hold a lock that excludes nobody (a
    second recovery could then replay, and delete, a new live journal of the run)."""
    path = tmp_path / "r1.lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    assert journal_file.hold(path) is None  # held: a live process
    real, finished = fcntl.flock, []

    def flock(fd: int, operation: int) -> None:
        if not finished:  # the holder finishes between our open and our lock
            finished.append(1)
            path.unlink()
            os.close(holder)
            path.touch()  # and the next one creates the file again
        real(fd, operation)

    monkeypatch.setattr(journal_file.fcntl, "flock", flock)
    fd = journal_file.hold(path)
    assert fd is not None and finished
    assert os.fstat(fd).st_ino == os.stat(path).st_ino  # the file now at the path
    os.close(fd)


# --- both journals write the format, and their readers follow the same rules ------------------


# A made journal: its file, magic, what its reader finds pending, the first record's sequence
# number and the CRC seed of every record (None: each record's own sequence number).
Made = tuple[Path, bytes, Callable[[Path], list[int]], int, int | None]


def point_journal(tmp_path: Path, n: int) -> Made:
    from labledger.sdk.mmap_journal import MAGIC, PointJournal, read_records, segments
    from labledger.sdk.point_journal import first_seq, seed_of

    journal = PointJournal(tmp_path, "r1", lambda point: None)
    for i in range(n):
        journal.append((float(i), i, {"v": float(i)}))
    journal.close(remove=False)
    path = segments(tmp_path, "r1")[0]
    return path, MAGIC, lambda p: [s for s, _ in read_records(p)], first_seq(1), seed_of("r1")


def client_journal(tmp_path: Path, n: int) -> Made:
    journal = Journal.create(tmp_path)
    for i in range(n):
        steps = np.arange(i, i + 1)
        journal.append_batch(
            "r1", RunBatch(metrics={"x": MetricColumns(steps, steps * 1.0, steps)})
        )
    journal.close(remove_if_done=False)

    def pending(path: Path) -> list[int]:
        reopened = Journal.open(path)
        try:
            return [int(e.key.rsplit(".", 1)[1]) for e in reopened.pending()]
        finally:
            reopened.close(remove_if_done=False)

    return journal.path, CLIENT_MAGIC, pending, 1, None


@pytest.mark.parametrize("make", [point_journal, client_journal], ids=["point", "client"])
def test_both_journals_write_the_format_and_stop_at_a_torn_tail(
    make: Callable[[Path, int], Made], tmp_path: Path
) -> None:
    path, magic, readable, first, seed = make(tmp_path, 20)
    data = path.read_bytes()
    header = journal_file.read_header(data, magic)
    assert header is not None and header.first_seq == first
    ends = [0]
    found = list(journal_file.records(data, HEADER, first, bytes, (), ends, seed=seed))
    numbers = list(range(first, first + 20))
    assert [s for s, _ in found] == numbers
    assert readable(path) == numbers
    last_start = HEADER + sum(8 + len(p) for _, p in found[:-1])
    torn = bytearray(data)
    torn[ends[0] - 2] ^= 0xFF  # the last record's payload is damaged
    path.write_bytes(bytes(torn))
    assert readable(path) == numbers[:-1]
    assert len(path.read_bytes()) in (len(data), last_start)  # the client journal cuts it off


def test_a_legacy_client_journal_is_replayable_and_continues_in_the_new_format(
    tmp_path: Path,
) -> None:
    """A file left by the previous version (magic, unseeded CRCs) is read; acks go on in its
    framing; once everything is acknowledged and it restarts, it is in the current format."""
    from labledger.store.journal import _encoder, _Record

    path = tmp_path / "1-legacy.journal"
    payloads = [_encoder.encode(_Record("batch", "r1", f"r1:old.{i}", b"\x80")) for i in range(3)]
    path.write_bytes(
        LEGACY_MAGIC
        + b"".join(journal_file.RECORD.pack(len(p), zlib.crc32(p)) + p for p in payloads)
    )
    journal = Journal.open(path)
    assert [e.key for e in journal.pending()] == ["r1:old.0", "r1:old.1", "r1:old.2"]
    journal.ack("r1:old.0")
    journal.close(remove_if_done=False)
    assert inspect(path).pending == 2
    again = Journal.open(path, max_bytes=1000)
    for entry in again.pending():
        again.ack(entry.key)
    entry = again.append_batch("r1", RunBatch(config={"k": "v" * 800}))  # full: restarts
    assert entry is not None
    again.close(remove_if_done=False)
    data = path.read_bytes()
    assert journal_file.read_header(data, CLIENT_MAGIC) is not None
    assert [e.key for e in Journal.open(path).pending()] == [entry.key]


@pytest.mark.parametrize("left", [b"", b"LLJRNL2\n\x02\x00"])
def test_a_client_journal_whose_header_was_torn_is_empty_and_usable(
    tmp_path: Path, left: bytes
) -> None:
    """A crash while the header is written (at creation, or when a full journal starts
    over with everything acknowledged) leaves nothing pending, and no unreadable file."""
    path = tmp_path / "1-torn.journal"
    path.write_bytes(left)
    assert inspect(path).pending == 0
    journal = Journal.open(path)
    assert journal.pending() == [] and journal.torn_bytes == len(left)
    entry = journal.append_batch("r1", RunBatch(config={"k": 1}))
    journal.close()
    assert entry is not None
    assert [e.key for e in Journal.open(path).pending()] == [entry.key]


def test_marshal_payloads_of_the_point_journal_decode_with_the_shared_reader() -> None:
    points = [(1.5, i, {"loss": 0.25 * i}) for i in range(5)]
    data = segment([marshal.dumps(p, 2) for p in points], first=7)
    found = list(journal_file.records(data, HEADER, 7, marshal.loads))
    assert found == [(7 + i, p) for i, p in enumerate(points)]
