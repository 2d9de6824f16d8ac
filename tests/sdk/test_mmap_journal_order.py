"""The point journal's order and size: threads logging at once, segments deleted once committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import labledger
from labledger.config import load_settings
from labledger.sdk.journal_decode import expand
from labledger.sdk.mmap_journal import (
    PointJournal,
    committed_seq,
    points_dir,
    read_records,
    segments,
)
from labledger.sdk.point_journal import first_seq
from labledger.store import open_store


def numbered(path: Path) -> bool:
    """Whether the records of segment ``path`` are numbered on from its first, unbroken."""
    number = int(path.name.split(".")[1])
    seqs = [seq for seq, _ in read_records(path)]
    return seqs == list(range(first_seq(number), first_seq(number) + len(seqs)))


def test_threads_logging_at_once_are_drained_in_the_journal_order(tmp_path: Path) -> None:
    journal = PointJournal(tmp_path, "r1", [].append, segment_bytes=64 << 10)
    per_thread = 5_000
    drained: list[tuple[object, ...]] = []
    seqs: list[int] = []

    def work(t: int) -> None:
        for i in range(per_thread):
            journal.append((float(t), i, {"t": float(t), "i": float(i)}))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):  # drained while they log and roll
        seq, items, _ = journal.drain()
        drained += expand(items)
        seqs.append(seq)
    for thread in threads:
        thread.join()
    seq, items, _ = journal.drain()
    drained += expand(items)
    journal.close(remove=False)
    files = segments(tmp_path, "r1")
    records = [rec for path in files for rec in read_records(path)]
    # Every point is journaled once, and drained once in the journal's order; the sequence
    # number a drain returns is the last record's it returned.
    assert len(files) > 3 and all(map(numbered, files))
    assert [point for _, point in records] == drained
    assert len(drained) == 4 * per_thread and seq == records[-1][0]
    assert seqs == sorted(seqs)
    for t in range(4):
        mine = [p[1] for p in drained if p[0] == float(t)]
        assert mine == list(range(per_thread))


def test_drains_of_bounded_size_give_every_item_once_in_order(tmp_path: Path) -> None:
    """Drained a few KiB at a time while a thread logs across segment rolls: every point,
    summary and item kept in memory comes once, in the journal's order, each drain's
    sequence number is its last record's, and the queues wait until nothing is unread."""
    import collections

    queue: collections.deque[object] = collections.deque()
    journal = PointJournal(tmp_path, "rb", queue.append, segment_bytes=64 << 10)
    odd = object()
    logged: list[object] = []

    def work() -> None:
        for i in range(6_000):
            point = (float(i), i, {"a": float(i), "b": odd if i % 997 == 0 else 1.0})
            journal.append(point)
            logged.append(point)
            if i % 500 == 0:
                journal.record("summary", {"i": i}, queue.append)
                logged.append(("summary", {"i": i}))

    thread = threading.Thread(target=work)
    thread.start()
    drained: list[object] = []
    last_seq = 0
    while thread.is_alive() or journal.unread_bytes():
        seq, items, counts = journal.drain(queue, max_bytes=3_000)
        got = expand(items)
        assert seq >= last_seq and (not got or seq > last_seq)
        if journal.unread_bytes():
            assert counts == [0]
        drained += got
        last_seq = seq
    journal.close(remove=False)
    records = [rec for path in segments(tmp_path, "rb") for rec in read_records(path)]
    assert len(segments(tmp_path, "rb")) > 3
    assert drained == logged and last_seq == records[-1][0]
    assert journal.drain(queue) == (last_seq, [], [0])


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="Linux: reads /proc/self/smaps")
def test_a_sealed_segment_leaves_resident_memory_until_drained(tmp_path: Path) -> None:
    """A writer that falls behind leaves the backlog in the page cache, not in the process:
    a sealed segment's pages are let go (and read back intact by the drain)."""
    journal = PointJournal(tmp_path, "rs", [].append, segment_bytes=1 << 20)
    points = [(0.0, i, {f"m{k:02d}": float(i) for k in range(20)}) for i in range(8_000)]
    for point in points:
        journal.append(point)
    sealed = [path for path in segments(tmp_path, "rs")][:-1]
    assert len(sealed) >= 2

    def resident_kib(path: Path) -> int:
        text = Path("/proc/self/smaps").read_text()
        block = text.split(str(path), 1)[1].split("VmFlags", 1)[0]
        return int(block.split("Rss:", 1)[1].split()[0])

    assert all(resident_kib(path) == 0 for path in sealed)
    assert resident_kib(segments(tmp_path, "rs")[-1]) > 0  # the live one is written to
    assert expand(journal.drain()[1]) == points
    journal.close(remove=True)


def test_an_item_marshal_cannot_encode_keeps_its_place_in_memory(tmp_path: Path) -> None:
    journal = PointJournal(tmp_path, "r2", [].append)
    odd = object()
    journal.append((1.0, 0, {"a": 1.0}))
    journal.append((2.0, 1, {"a": odd}))  # marshal refuses it
    journal.record("summary", {"x": odd}, [].append)
    journal.append((3.0, 2, {"a": 3.0}))
    seq, items, _ = journal.drain()
    assert seq == first_seq(1) + 3
    assert items == [
        (1.0, 0, {"a": 1.0}),
        (2.0, 1, {"a": odd}),
        ("summary", {"x": odd}),
        (3.0, 2, {"a": 3.0}),
    ]
    journal.close(remove=False)
    records = list(read_records(segments(tmp_path, "r2")[0]))  # recovery skips the places
    assert [item for _, item in records] == [
        (1.0, 0, {"a": 1.0}),
        ("memo", 1),
        ("memo", 2),
        (3.0, 2, {"a": 3.0}),
    ]


def test_once_the_journal_is_closed_items_go_to_the_queues(tmp_path: Path) -> None:
    queued: list[object] = []
    journal = PointJournal(tmp_path, "r3", queued.append)
    journal.append((1.0, 0, {"a": 1.0}))
    journal.close(remove=False)
    journal.append((2.0, 1, {"a": 2.0}))
    summaries: list[object] = []
    journal.record("summary", {"x": 1}, summaries.append)
    assert journal.drain() == (0, [], [])  # its mapping is gone with the close
    assert queued == [(2.0, 1, {"a": 2.0})] and summaries == [{"x": 1}]


def test_committed_segments_are_deleted_while_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABLEDGER_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("LABLEDGER_URI", raising=False)
    monkeypatch.setenv("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
    run = labledger.init(project="p", capture=False)
    journal = run._journal
    assert journal is not None
    journal.segment_bytes = 16 << 10  # small segments, so a short run rolls many
    directory = points_dir(load_settings().journal_dir)
    most = 0
    for i in range(20_000):
        run.log({"a": float(i), "b": -float(i)}, step=i)
        if i % 2_000 == 1_999:
            run.flush()
            most = max(most, len(segments(directory, run.id)))
    assert journal._segment > 20  # it rolled often ...
    assert most <= 3  # ... and kept only what the store had not committed
    run.finish()
    store = open_store(load_settings().uri)
    assert list(store.read_metric(run.id, "a").steps) == list(range(20_000))
    assert committed_seq(store, run.id) == journal.seq >= 20_000  # points and captures
    assert segments(directory, run.id) == []


def test_summaries_config_and_console_output_survive_a_sigkill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed long before the first flush: what the run recorded besides points is
    recovered from the journal too."""
    from click.testing import CliRunner

    from labledger.cli.main import cli

    root = tmp_path / "store"
    env = dict(os.environ, LABLEDGER_DIR=str(root), LABLEDGER_CAPTURE_CONSOLE="1")
    env.update(LABLEDGER_SYSTEM_METRICS_INTERVAL="0", LABLEDGER_FLUSH_INTERVAL="60")
    env["PYTHONPATH"] = str(Path(labledger.__file__).resolve().parents[1])
    code = textwrap.dedent(
        """
        import os, signal, sys, labledger
        run = labledger.init(project="kill", config={"lr": 0.1})
        print(run.id, flush=True)
        run.log({"loss": 0.5}, step=0)
        run.update_config({"warmup": 3})
        run.summary["f1"] = 0.875
        run.summary.update({"best_epoch": 7, "note": "kept"})
        print("epoch 7 done", flush=True)
        sys.stderr.write("a warning\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    run_id = child.stdout.split()[0]
    monkeypatch.setenv("LABLEDGER_DIR", str(root))
    monkeypatch.delenv("LABLEDGER_URI", raising=False)
    result = CliRunner().invoke(cli, ["sync"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    store = open_store(load_settings().uri)
    record = store.get_run(run_id)
    assert record.summary == {"f1": 0.875, "best_epoch": 7, "note": "kept"}
    assert record.config == {"lr": 0.1, "warmup": 3}
    assert list(store.read_metric(run_id, "loss").values) == [0.5]
    text = "".join(line[2] for line in store.read_output(run_id))
    assert "epoch 7 done" in text and "a warning" in text
