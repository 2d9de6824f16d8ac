"""SQLite writes go through connections of their own: a small page cache and no memory map,
so a long run's flushes do not grow the logging process; reads keep the large ones."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labledger.entities import RunRecord, new_run_id
from labledger.store.base import MetricColumns, RunBatch
from labledger.store.sqlite import (
    CACHE_KIB,
    CHECKPOINT_PAGES,
    MMAP_BYTES,
    WRITE_CACHE_KIB,
    SqliteStore,
)


def test_writes_use_a_small_cache_and_no_map_reads_the_large_ones(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
        store.create_run(run)
        steps = np.arange(100)
        batch = RunBatch(metrics={"m": MetricColumns(steps, steps * 0.5, steps * 1.0)})
        store.write_batch(run.run_id, batch)
        with store._write() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -WRITE_CACHE_KIB
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == 0
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        with store._read() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -CACHE_KIB
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == MMAP_BYTES
        # what one connection wrote, the other reads
        assert store.read_metric(run.run_id, "m").values.tolist() == (steps * 0.5).tolist()
    finally:
        store.close()


def _open_at_once(uri: str, barrier: Any, answers: Any) -> None:
    barrier.wait()
    try:
        SqliteStore(uri).close()
        answers.put(None)
    except Exception as exc:
        answers.put(repr(exc))


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """The first opens of a new store race to switch it to WAL; SQLite answers the losers
    "database is locked" without waiting on the busy timeout. They wait and open it. (A race:
    before the wait, about one round in five failed; twenty rounds catch it.)"""
    fork = multiprocessing.get_context("fork")
    for round_ in range(20):
        uri = f"sqlite:///{tmp_path / str(round_) / 'labledger.db'}"
        barrier, answers = fork.Barrier(4), fork.Queue()
        children = [
            fork.Process(target=_open_at_once, args=(uri, barrier, answers)) for _ in range(4)
        ]
        for child in children:
            child.start()
        errors = [answers.get(timeout=60) for _ in children]
        for child in children:
            child.join()
        assert errors == [None] * 4, f"round {round_}"


def test_a_flush_of_many_keys_is_a_statement_per_table_not_a_step_per_row(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """SQLite's driver hands the GIL over for every step it runs: a flush's rows go in
    multi-row statements (a writer beside a busy training loop waits a switch interval per
    hand-over), and they read back as written, summaries merged across flushes."""
    import sqlite3

    from labledger.store import sqlite_connections

    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite_connections.sqlite3, "connect", traced)
    store = SqliteStore(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
        config = {f"c{i}": i for i in range(300)}  # params: more than one statement's worth
        store.create_run_batch(run, RunBatch(config=config))
        for flush in range(2):
            steps = np.arange(flush * 100, flush * 100 + 100)
            metrics = {
                f"m{k:03d}": MetricColumns(steps, steps + k, steps * 1.0) for k in range(200)
            }
            statements.clear()
            store.write_batch(run.run_id, RunBatch(metrics=metrics))
            inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
            assert 3 <= len(inserts) <= 20  # chunks, rollups, summaries of 200 keys: ~1,400 rows
        for k in (0, 199):
            series = store.read_metric(run.run_id, f"m{k:03d}")
            assert series.steps.tolist() == list(range(200))
            assert series.values.tolist() == [float(s + k) for s in range(200)]
        summary = store.get_run(run.run_id).metrics["m199"]  # merged over both flushes
        assert (summary.count, summary.min, summary.max, summary.last) == (200, 199, 398, 398)
        params = store.search_runs(project="p", filter="config.c299 = 299")
        assert [r.run_id for r in params] == [run.run_id]
    finally:
        store.close()


def test_a_large_flush_commits_without_a_checkpoint_and_the_wal_stays_bounded(
    tmp_path: Path,
) -> None:
    """A 4 MiB flush is made durable in the WAL alone (no copy into the database in its
    commit); flush after flush, checkpoints keep the WAL near ``CHECKPOINT_PAGES``."""
    path = tmp_path / "l.db"
    wal = tmp_path / "l.db-wal"
    store = SqliteStore(f"sqlite:///{path}")
    try:
        run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
        store.create_run(run)
        before = path.stat().st_size
        rng = np.random.default_rng(0)
        steps = np.arange(250_000)
        flush = MetricColumns(steps, rng.random(len(steps)), rng.random(len(steps)))
        store.write_batch(run.run_id, RunBatch(metrics={"m": flush}))  # ~4 MB
        assert path.stat().st_size == before  # not checkpointed: only the WAL grew
        assert wal.stat().st_size > 4_000_000
        largest = 0
        for i in range(1, 12):
            store.write_batch(
                run.run_id,
                RunBatch(
                    metrics={"m": MetricColumns(steps + i * len(steps), flush.values, flush.times)}
                ),
            )
            largest = max(largest, wal.stat().st_size)
        page = 4096
        assert largest <= (CHECKPOINT_PAGES + 1100) * (page + 24) + 32
        assert len(store.read_metric(run.run_id, "m")) == 12 * len(steps)
    finally:
        store.close()


def test_a_new_connection_to_a_deleted_store_file_is_refused_not_created(
    tmp_path: Path,
) -> None:
    """Connecting creates a missing file: a store whose file was deleted must say so instead
    of reading or writing an empty one made in its place."""
    from labledger.errors import StoreUnavailable

    path = tmp_path / "l.db"
    store = SqliteStore(f"sqlite:///{path}")  # a new store: no read connection yet
    try:
        run = RunRecord(run_id=new_run_id(), project="p", name="n", created_at=time.time())
        store.create_run(run)
        for leftover in tmp_path.glob("l.db*"):
            leftover.unlink()
        with pytest.raises(StoreUnavailable, match="was deleted"):
            store.get_run(run.run_id)
        assert not path.exists()
    finally:
        store.close()
