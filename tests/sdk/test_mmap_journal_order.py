"""The point journal's order and size: threads logging at once, segments deleted once committed."""

from __future__ import annotations

import collections
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
from labledger.sdk.mmap_journal import (
    PointJournal,
    committed_seq,
    points_dir,
    read_records,
    segments,
)
from labledger.store import open_store


def test_threads_logging_at_once_keep_journal_and_queue_in_one_order(tmp_path: Path) -> None:
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(tmp_path, "r1", queued.append, segment_bytes=64 << 10)
    per_thread = 5_000

    def work(t: int) -> None:
        for i in range(per_thread):
            journal.append((float(t), i, {"t": float(t), "i": float(i)}))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close(remove=False)
    records = [rec for path in segments(tmp_path, "r1") for rec in read_records(path)]
    # Every point is journaled once, in the order the writer's queue received them: the
    # sequence number the writer counts from the queue is the journal's own.
    assert [seq for seq, _ in records] == list(range(1, 4 * per_thread + 1))
    assert [point for _, point in records] == queued
    for t in range(4):
        mine = [p[1] for p in queued if p[0] == float(t)]
        assert mine == list(range(per_thread))


def test_a_point_marshal_cannot_encode_is_queued_but_not_journaled(tmp_path: Path) -> None:
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(tmp_path, "r2", queued.append)
    journal.append((1.0, 0, {"a": 1.0}))
    journal.append((2.0, 1, {"a": object()}))  # marshal refuses it
    journal.append((3.0, 2, {"a": 3.0}))
    seq, counts = journal.snapshot(collections.deque(queued))
    journal.close(remove=False)
    assert [p[1] for p in queued] == [0, 1, 2]
    assert (seq, counts) == (2, [3])
    records = list(read_records(segments(tmp_path, "r2")[0]))
    assert [(seq, p[1]) for seq, p in records] == [(1, 0), (2, 2)]


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
