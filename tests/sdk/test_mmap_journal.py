"""The memory-mapped point journal: a point is safe from SIGKILL once ``run.log`` returns."""

from __future__ import annotations

import marshal
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import labledger
from labledger.config import load_settings
from labledger.entities import RunStatus
from labledger.sdk.journal_decode import expand
from labledger.sdk.mmap_journal import (
    HEADER_BYTES,
    PointJournal,
    committed_seq,
    pending_runs,
    points_dir,
    read_records,
    recover,
    segments,
)
from labledger.sdk.point_journal import MARSHAL_VERSION, first_seq
from labledger.store import open_store
from labledger.store.base import RunBatch
from tests.sdk.test_mmap_journal_order import numbered

SRC = str(Path(labledger.__file__).resolve().parents[1])


def _env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        LABLEDGER_DIR=str(root),
        PYTHONPATH=SRC,
        LABLEDGER_SYSTEM_METRICS_INTERVAL="0",
        LABLEDGER_CAPTURE_CONSOLE="0",
    )
    env.pop("LABLEDGER_URI", None)
    return env


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("LABLEDGER_DIR", str(root))
    monkeypatch.delenv("LABLEDGER_URI", raising=False)
    monkeypatch.setenv("LABLEDGER_SYSTEM_METRICS_INTERVAL", "0")
    return root


def test_points_of_a_finished_run_are_stored_once_and_its_journal_removed(local: Path) -> None:
    with labledger.init(project="p", capture=False) as run:
        for i in range(500):
            run.log({"a": float(i), "b": i})  # an int value is journaled as it is
        run_id = run.id
    store = open_store(load_settings().uri)
    series = store.read_metric(run_id, "a")
    assert list(series.steps) == list(range(500))
    assert committed_seq(store, run_id) == first_seq(1) + 500  # the points and init's "run" capture
    assert pending_runs(load_settings().journal_dir) == []


def test_values_marshal_cannot_encode_take_the_memory_path(local: Path) -> None:
    with labledger.init(project="p", capture=False) as run:
        run.log({"a": np.float32(1.5)})  # read with .item(): journaled
        run.log({"a": object()})  # not encodable: kept in memory, its place journaled
        run.log({"a": 2.0})
        run_id = run.id
    store = open_store(load_settings().uri)
    assert list(store.read_metric(run_id, "a").values) == [1.5, 2.0]
    assert committed_seq(store, run_id) == first_seq(1) + 3  # three points and init's "run" capture


def test_a_torn_final_record_is_ignored_and_the_rest_recovered(tmp_path: Path) -> None:
    directory = tmp_path / "points"
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(directory, "r1", queued.append)
    for i in range(100):
        journal.append((1.0 + i, i, {"v": float(i), "n": float("nan"), "i": float("-inf")}))
    journal.close(remove=False)
    path = segments(directory, "r1")[0]
    records = list(read_records(path))
    assert [seq for seq, _ in records] == list(range(first_seq(1), first_seq(1) + 100))
    assert np.isnan(records[5][1][2]["n"]) and records[5][1][2]["i"] == float("-inf")
    # Tear the last record: its header is intact but its payload is cut short (zeroed).
    data = bytearray(path.read_bytes())
    end = HEADER_BYTES + sum(8 + len(marshal.dumps(p, MARSHAL_VERSION)) for _, p in records)
    data[end - 3 : end] = b"\x00\x00\x00"
    path.write_bytes(bytes(data))
    assert [seq for seq, _ in read_records(path)] == list(range(first_seq(1), first_seq(1) + 99))
    # A header written over garbage stops the scan too.
    data[end - 3 : end] = b"\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert len(list(read_records(path))) == 99


def _die(run: labledger.Run) -> None:
    """What SIGKILL leaves of ``run``: its memory is gone, its journal unmapped and unlocked.
    Its writer's thread must have stopped."""
    run._writer.points.clear()
    run._journal._mapping.close()  # type: ignore[union-attr]
    os.close(run._journal._lock_fd)  # type: ignore[union-attr]
    # The dead process's descriptor number is free now: the run, finished by a later test's
    # init, must not close it again (it could be that run's journal lock by then).
    run._journal._lock_fd = -1  # type: ignore[union-attr]


def test_recovery_replays_past_the_committed_sequence_number_exactly_once(local: Path) -> None:
    run = labledger.init(project="p", capture=False)
    for i in range(50):
        run.log({"a": float(i)})
    run.flush()
    # Simulate the process dying after 30 more points: the writer's thread stops first, so
    # they are only in memory and in the journal; then the memory is gone.
    run._writer._stop.set()
    run._writer._thread.join()
    for i in range(50, 80):
        run.log({"a": float(i)})
    _die(run)
    settings = load_settings()
    store = open_store(settings.uri)
    assert len(store.read_metric(run.id, "a")) == 50
    assert recover(store, settings.journal_dir) == 30
    assert recover(store, settings.journal_dir) == 0  # twice: nothing more
    series = store.read_metric(run.id, "a")
    assert list(series.steps) == list(range(80))
    assert store.get_run(run.id).status is RunStatus.CRASHED
    assert pending_runs(settings.journal_dir) == []


def test_a_run_killed_with_everything_committed_is_marked_crashed(local: Path) -> None:
    """Killed after its last flush (e.g. while resuming, before a new point): nothing to
    replay, but its lock is free, so it is crashed, not running for ever."""
    run = labledger.init(project="p", capture=False)
    run.log({"a": 1.0})
    run.flush()
    run._writer._stop.set()
    run._writer._thread.join()
    _die(run)
    settings = load_settings()
    store = open_store(settings.uri)
    assert store.get_run(run.id).status is RunStatus.RUNNING
    assert recover(store, settings.journal_dir) == 0
    assert store.get_run(run.id).status is RunStatus.CRASHED
    assert len(store.read_metric(run.id, "a")) == 1
    assert pending_runs(settings.journal_dir) == []


def test_a_live_runs_journal_is_not_recovered(local: Path) -> None:
    with labledger.init(project="p", capture=False) as run:
        run.log({"a": 1.0})
        settings = load_settings()
        assert recover(open_store(settings.uri), settings.journal_dir) == 0
        assert pending_runs(settings.journal_dir) == [run.id]


def test_a_journal_that_cannot_be_created_falls_back_with_one_warning(
    local: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    settings.journal_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.journal_dir.write_text("not a folder")  # mkdir fails: as a full or read-only disk
    with labledger.init(project="p", capture=False) as run:
        for i in range(10):
            run.log({"a": float(i)})
    warnings = [r for r in caplog.records if "point journal" in r.getMessage()]
    assert len(warnings) == 1
    assert len(open_store(settings.uri).read_metric(run.id, "a")) == 10


def test_segments_roll_at_the_size_limit(tmp_path: Path) -> None:
    journal = PointJournal(tmp_path, "r2", [].append, segment_bytes=4096)
    drained = []
    for i in range(1000):
        journal.append((0.0, i, {"v": float(i)}))
        if i % 300 == 0:
            drained += expand(journal.drain()[1])
    drained += expand(journal.drain()[1])
    journal.close(remove=False)
    files = segments(tmp_path, "r2")
    assert len(files) > 10
    assert all(map(numbered, files))
    assert sum(1 for path in files for _ in read_records(path)) == 1000
    assert [p[1] for p in drained] == list(range(1000))


def test_sync_recovers_a_tight_loop_killed_right_after_its_last_log(local: Path) -> None:
    """W6: 10,000 steps logged faster than the first flush, then SIGKILL."""
    from click.testing import CliRunner

    from labledger.cli.main import cli

    code = textwrap.dedent(
        """
        import os, signal, labledger
        run = labledger.init(project="w6", capture=False)
        print(run.id, flush=True)
        for i in range(10_000):
            run.log({"loss": 1.0 / (i + 1)}, step=i)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", code], env=_env(local), capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL
    run_id = child.stdout.strip()
    result = CliRunner().invoke(cli, ["sync"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    store = open_store(load_settings().uri)
    series = store.read_metric(run_id, "loss")
    assert list(series.steps) == list(range(10_000))
    assert store.get_run(run_id).status is RunStatus.CRASHED
    assert pending_runs(load_settings().journal_dir) == []


_CTRL_C_LOOP = """
import contextlib, random, signal, sys, threading
from pathlib import Path
from labledger.sdk.journal_decode import expand
from labledger.sdk.mmap_journal import PointJournal, read_records, segments

folder = Path(sys.argv[1])
journal = PointJournal(folder, "r", [].append, segment_bytes=1 << 16)
main, rng, held, drained, step = threading.get_ident(), random.Random(0), 0, [], 0
for _ in range(200):
    timer = threading.Timer(rng.uniform(0, 0.002), signal.pthread_kill, (main, signal.SIGINT))
    with contextlib.suppress(KeyboardInterrupt):  # also when it comes during start()
        timer.start()
        while True:
            step += 1
            journal.append((0.0, step, {"a": 1.0}))
    timer.join()
    if journal._lock.locked():
        held += 1
        journal._lock.release()
    drained += expand(journal.drain()[1])
journal.close(remove=False)
records = [item for path in segments(folder, "r") for item in read_records(path)]
steps = [point[1] for _, point in records]
rising = steps == sorted(set(steps)) and len(segments(folder, "r")) > 1
print(held, rising, [point for _, point in records] == drained, len(drained))
"""


def test_ctrl_c_in_a_tight_log_loop_leaves_the_journal_usable(tmp_path: Path) -> None:
    """KeyboardInterrupt lands at the end of any call inside ``append``: the journal's lock is
    never left held (the writer would wait on it for ever), and every journaled point is the
    drained one, in order (a notebook interrupted mid-loop logs on). In a process of its own:
    the signals go to its main thread."""
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C_LOOP, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    held, rising, same, count = done.stdout.split()
    assert held == "0", f"the lock was left held after {held} of 200 interrupts"
    assert rising == "True" and same == "True" and int(count) > 200
    assert "cannot extend" not in done.stderr


def test_a_version_2_journal_left_by_an_earlier_release_is_recovered(local: Path) -> None:
    """Version 2 numbered records on across segments and seeded each CRC with its number;
    a crash of that release leaves such segments for this one to replay past the committed
    number."""
    from labledger.sdk.point_journal import MAGIC
    from labledger.store import journal_file

    run = labledger.init(project="p", capture=False)
    for i in range(5):
        run.log({"a": float(i)})
    run.flush()
    run._writer._stop.set()
    run._writer._thread.join()
    _die(run)
    settings = load_settings()
    store = open_store(settings.uri)
    directory = points_dir(settings.journal_dir)
    for path in segments(directory, run.id):
        path.unlink()
    # What that release would have written: the 5 stored points were seqs 1-5 (committed),
    # 5 more follow, the last of them in a second segment.
    store.write_batch(run.id, RunBatch(captures={"journal": {"seq": 5}}))
    points = [(1.0, i, {"a": float(i)}) for i in range(10)]
    for number, first, part in ((0, 1, points[:9]), (1, 10, points[9:])):
        header = journal_file.Header(MAGIC, 2, number, run.id, first).pack()
        body = b"".join(
            journal_file.frame(marshal.dumps(p, MARSHAL_VERSION), first + k)
            for k, p in enumerate(part)
        )
        (directory / f"{run.id}.{number:06d}.mmj").write_bytes(header + body + bytes(64))
    assert recover(store, settings.journal_dir) == 5
    assert list(store.read_metric(run.id, "a").steps) == list(range(10))
    assert store.get_run(run.id).status is RunStatus.CRASHED
