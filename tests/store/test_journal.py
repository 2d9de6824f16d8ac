"""The journal: durable appends, acknowledgements, torn tails, bounds, exactly-once replay."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from labledger.entities import RunRecord
from labledger.store import open_store
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.journal import Journal, JournalBusy, journal_files, replay


def batch(start: int, n: int = 3) -> RunBatch:
    steps = np.arange(start, start + n)
    return RunBatch(metrics={"loss": MetricColumns(steps, steps * 0.5, np.full(n, 1.0))})


def test_pending_is_what_was_never_acknowledged(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    run = journal.append_run(RunRecord("r1", "p", "n"))
    first = journal.append_batch("r1", batch(0))
    second = journal.append_batch("r1", batch(3))
    assert first is not None and second is not None and first.key != second.key
    journal.ack(run.key)
    journal.ack(first.key)
    assert [e.key for e in journal.pending()] == [second.key]
    journal.close()
    assert journal.path.exists()  # something is pending: kept
    reopened = Journal.open(journal.path)
    assert [e.key for e in reopened.pending()] == [second.key]
    assert reopened.pending()[0].batch().metrics["loss"].steps.tolist() == [3, 4, 5]
    reopened.ack(second.key)
    reopened.close()
    assert not journal.path.exists()  # everything acknowledged: removed


def test_a_torn_or_corrupt_tail_ends_the_journal_and_is_cut_off(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    kept = journal.append_batch("r1", batch(0))
    journal.append_batch("r1", batch(3))
    journal.close()
    data = journal.path.read_bytes()
    journal.path.write_bytes(data[:-5])  # a crash in the middle of the last record
    reopened = Journal.open(journal.path)
    assert kept is not None and [e.key for e in reopened.pending()] == [kept.key]
    assert reopened.torn_bytes > 0
    later = reopened.append_batch("r1", batch(6))  # appends after the cut stay readable
    reopened.close()
    again = Journal.open(journal.path)
    assert later is not None and [e.key for e in again.pending()] == [kept.key, later.key]
    again.close()
    flipped = bytearray(journal.path.read_bytes())
    flipped[-3] ^= 0xFF  # a flipped bit fails the checksum
    journal.path.write_bytes(bytes(flipped))
    corrupt = Journal.open(journal.path)
    assert [e.key for e in corrupt.pending()] == [kept.key]
    corrupt.close()


def test_full_journal_refuses_batches_once_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = Journal.create(tmp_path, max_bytes=400)
    accepted = [journal.append_batch("r1", batch(i * 3)) for i in range(10)]
    assert accepted[0] is not None and accepted[-1] is None
    assert (
        sum("journal" in r.getMessage() and "full" in r.getMessage() for r in caplog.records) == 1
    )
    for entry in journal.pending():
        journal.ack(entry.key)
    assert journal.append_batch("r1", batch(99)) is not None  # acknowledged history is dropped
    assert journal.path.stat().st_size < 400
    journal.close()


def test_an_open_journal_is_locked_against_other_processes(tmp_path: Path) -> None:
    journal = Journal.create(tmp_path)
    journal.append_batch("r1", batch(0))
    code = (
        "import sys; from pathlib import Path; from labledger.store.journal import Journal\n"
        "try:\n    Journal.open(Path(sys.argv[1]))\n"
        "except Exception as e:\n    print(type(e).__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(journal.path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == JournalBusy.__name__
    journal.close()
    assert journal_files(tmp_path) == [journal.path]


def test_journal_left_by_a_killed_process_replays_exactly_once(tmp_path: Path) -> None:
    store_uri = f"sqlite:///{tmp_path / 'db' / 'labledger.db'}"
    code = (
        "import sys, os, numpy as np\nfrom pathlib import Path\n"
        "from labledger.entities import RunRecord\n"
        "from labledger.store.base import MetricColumns, RunBatch\n"
        "from labledger.store.journal import Journal\n"
        "j = Journal.create(Path(sys.argv[1]))\nj.append_run(RunRecord('r1', 'p', 'n'))\n"
        "for i in range(20):\n"
        "    s = np.arange(i * 5, i * 5 + 5)\n"
        "    j.append_batch('r1', RunBatch(metrics={'x': MetricColumns(s, s * 1.0, s * 0.0)}))\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "j")], check=False)
    assert proc.returncode == -9
    [path] = journal_files(tmp_path / "j")
    store = open_store(store_uri)
    first = Journal.open(path)
    entries = first.pending()
    # An interrupted replay: deliver a few, "crash" without acks, then replay everything.
    store.create_run(entries[0].run())
    for entry in entries[1:6]:
        assert store.write_batch_once(entry.run_id, entry.key, entry.batch())
    first.close()
    for _ in range(2):  # a second sync finds nothing to do
        if not path.exists():
            break
        journal = Journal.open(path)
        result = replay(journal, store)
        assert (result.applied, result.duplicates) == (15, 6)
        journal.close()
    assert not path.exists()
    series = store.read_metric("r1", "x")
    assert series.steps.tolist() == list(range(100))
    assert store.get_run("r1").metrics["x"].count == 100
    store.close()


def test_append_cost_is_one_fsync(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    journal = Journal.create(tmp_path)
    start = time.perf_counter()
    for i in range(20):
        journal.append_batch("r1", batch(i))
    assert time.perf_counter() - start < 20  # sanity only; the bench measures it
    assert os.path.getsize(journal.path) > 0
    journal.close(remove_if_done=False)
