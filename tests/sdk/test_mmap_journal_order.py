"""The point journal's order and size: threads logging at once, segments deleted once committed."""

from __future__ import annotations

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


def test_a_point_that_is_not_journaled_is_queued_marked(tmp_path: Path) -> None:
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(tmp_path, "r2", queued.append)
    journal.append((1.0, 0, {"a": 1.0}))
    journal.append((2.0, 1, {"a": object()}))  # marshal refuses it
    journal.append((3.0, 2, {"a": 3.0}))
    journal.close(remove=False)
    assert [len(p) for p in queued] == [3, 4, 3]
    assert queued[1][3] is None
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
    assert committed_seq(store, run.id) == 20_000
    assert segments(directory, run.id) == []
