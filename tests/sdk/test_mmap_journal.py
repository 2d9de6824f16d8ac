"""The memory-mapped point journal: a point is safe from SIGKILL once ``run.log`` returns."""

from __future__ import annotations

import marshal
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import labledger
from labledger.config import load_settings
from labledger.entities import RunStatus
from labledger.sdk.api import Api
from labledger.sdk.mmap_journal import (
    HEADER_BYTES,
    MARSHAL_VERSION,
    PointJournal,
    committed_seq,
    pending_runs,
    read_records,
    recover,
    segments,
)
from labledger.store import open_store

# Read at import: the test fixtures clear LABLEDGER_* variables.
KILLS = int(os.environ.get("LABLEDGER_CRASH_LOOP", "6") or 6)
SEED = int(os.environ.get("LABLEDGER_CRASH_SEED", "") or random.randrange(1 << 30))
SRC = str(Path(labledger.__file__).resolve().parents[1])

# Logs forever; after each log() returns it records the step in a file (the witness): every
# step written there must be in the store after a SIGKILL at any moment.
CHILD = textwrap.dedent(
    """
    import os, sys, labledger
    resume = sys.argv[2] if len(sys.argv) > 2 else None
    run = labledger.init(project="crash", capture=False, resume=resume)
    witness = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(witness, f"run {run.id}\\n".encode())
    start = run.step
    for i in range(start, start + 10_000_000):
        run.log({"x": float(i), "y": -0.5 * i}, step=i)
        os.write(witness, f"{i}\\n".encode())
    """
)


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


def _witnessed(path: Path) -> tuple[str | None, list[int]]:
    run_id, steps = None, []
    for line in path.read_text().splitlines():
        if line.startswith("run "):
            run_id = line.split()[1]
        elif line.strip():
            steps.append(int(line))
    return run_id, steps


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
    assert committed_seq(store, run_id) == 500
    assert pending_runs(load_settings().journal_dir) == []


def test_values_marshal_cannot_encode_take_the_memory_path(local: Path) -> None:
    with labledger.init(project="p", capture=False) as run:
        run.log({"a": np.float32(1.5)})  # read with .item(): journaled
        run.log({"a": object()})  # not encodable: queued without a sequence number
        run.log({"a": 2.0})
        run_id = run.id
    store = open_store(load_settings().uri)
    assert list(store.read_metric(run_id, "a").values) == [1.5, 2.0]
    assert committed_seq(store, run_id) == 2


def test_a_torn_final_record_is_ignored_and_the_rest_recovered(tmp_path: Path) -> None:
    directory = tmp_path / "points"
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(directory, "r1", queued.append)
    for i in range(100):
        journal.append((1.0 + i, i, {"v": float(i), "n": float("nan"), "i": float("-inf")}))
    journal.close(remove=False)
    path = segments(directory, "r1")[0]
    records = list(read_records(path))
    assert [seq for seq, _ in records] == list(range(1, 101))
    assert np.isnan(records[5][1][2]["n"]) and records[5][1][2]["i"] == float("-inf")
    # Tear the last record: its header is intact but its payload is cut short (zeroed).
    data = bytearray(path.read_bytes())
    end = HEADER_BYTES + sum(8 + len(marshal.dumps(p, MARSHAL_VERSION)) for _, p in records)
    data[end - 3 : end] = b"\x00\x00\x00"
    path.write_bytes(bytes(data))
    assert [seq for seq, _ in read_records(path)] == list(range(1, 100))
    # A header written over garbage stops the scan too.
    data[end - 3 : end] = b"\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert len(list(read_records(path))) == 99


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
    run._writer.points.clear()
    run._journal._state[2].close()  # type: ignore[union-attr]
    os.close(run._journal._lock_fd)  # type: ignore[union-attr]
    settings = load_settings()
    store = open_store(settings.uri)
    assert len(store.read_metric(run.id, "a")) == 50
    assert recover(store, settings.journal_dir) == 30
    assert recover(store, settings.journal_dir) == 0  # twice: nothing more
    series = store.read_metric(run.id, "a")
    assert list(series.steps) == list(range(80))
    assert store.get_run(run.id).status is RunStatus.CRASHED
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
    queued: list[tuple[object, ...]] = []
    journal = PointJournal(tmp_path, "r2", queued.append, segment_bytes=4096)
    for i in range(1000):
        journal.append((0.0, i, {"v": float(i)}))
    journal.close(remove=False)
    files = segments(tmp_path, "r2")
    assert len(files) > 10
    seqs = [seq for path in files for seq, _ in read_records(path)]
    assert seqs == list(range(1, 1001))
    assert [p[1] for p in queued] == list(range(1000))


def _starts(witness: Path) -> int:
    return witness.read_text().count("run ") if witness.exists() else 0


def _crash_loop(root: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    witness = root.parent / "witness.txt"
    script = root.parent / "child.py"
    script.write_text(CHILD)
    env = _env(root)
    run_id: str | None = None
    for _ in range(kills):
        args = [sys.executable, str(script), str(witness)] + ([run_id] if run_id else [])
        starts = _starts(witness)
        child = subprocess.Popen(args, env=env)
        if run_id is None or rng.random() < 0.7:  # kill while logging
            deadline = time.monotonic() + 60
            while _starts(witness) == starts and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
        else:  # kill at any moment, often during init's recovery of the previous crash
            time.sleep(rng.uniform(0.0, 1.0))
        child.send_signal(signal.SIGKILL)
        child.wait()
        if run_id is None:
            run_id, _ = _witnessed(witness)
    assert run_id is not None
    settings = load_settings(env={"LABLEDGER_DIR": str(root)})
    store = Api(settings=settings).store  # Api() recovers the last crash
    _, steps = _witnessed(witness)
    series = store.read_metric(run_id, "x")
    stored = list(series.steps)
    assert len(stored) == len(set(stored)), f"seed {seed}: duplicated points"
    missing = set(steps) - set(stored)
    left = pending_runs(settings.journal_dir)
    assert not missing, (
        f"seed {seed}: {len(missing)} witnessed point(s) lost; journals left: {left}"
    )
    assert np.array_equal(series.values, series.steps.astype(float))
    assert store.get_run(run_id).status is RunStatus.CRASHED


def test_crash_loop_every_logged_point_is_stored_exactly_once(tmp_path: Path) -> None:
    """SIGKILL at random moments, resuming the run each time (so kills also land in init's
    recovery of the previous crash). Long version: LABLEDGER_CRASH_LOOP=200."""
    print(f"crash loop: {KILLS} kills, LABLEDGER_CRASH_SEED={SEED}")
    _crash_loop(tmp_path / "store", KILLS, SEED)


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
