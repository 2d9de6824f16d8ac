"""Issue 15: SIGKILL at random moments, across a running loop and during recovery itself;
every point whose ``log`` returned before the kill is in the store exactly once.

The bounded version runs in CI. The long one: ``LABLEDGER_CRASH_LOOP=200`` (kills), with
``LABLEDGER_CRASH_SEED`` to replay a printed seed."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from labledger.config import load_settings
from labledger.entities import RunStatus
from labledger.sdk.api import Api
from labledger.sdk.mmap_journal import committed_seq, pending_points, pending_runs
from labledger.store import open_store
from tests.sdk.crashing import (
    child_env,
    kill,
    kill_logger_mid_loop,
    run_recoverer,
    start_logger,
    start_recoverer,
    starts,
    wait_for_steps,
    witnessed,
)

pytestmark = pytest.mark.slow

# Read at import: the test fixtures clear LABLEDGER_* variables.
KILLS = int(os.environ.get("LABLEDGER_CRASH_LOOP", "") or 8)
SEED = int(os.environ.get("LABLEDGER_CRASH_SEED", "") or random.randrange(1 << 30))
HOWS = ("sync", "api", "recover")  # the entry points that recover: labledger sync, Api(), ...


def _check(workdir: Path, settings_root: Path, seed: int) -> str:
    """Recover what is left (``Api()``), then: every witnessed step stored exactly once."""
    settings = load_settings(env={"LABLEDGER_DIR": str(settings_root)})
    run_id, steps = witnessed(workdir / "witness.txt")
    assert run_id is not None
    store = Api(settings=settings).store
    series = store.read_metric(run_id, "x")
    stored = list(series.steps)
    assert len(stored) == len(set(stored)), f"seed {seed}: duplicated points"
    missing = sorted(set(steps) - set(stored))
    left = pending_runs(settings.journal_dir)
    assert not missing, (
        f"seed {seed}: {len(missing)} witnessed point(s) lost (first {missing[:5]}); "
        f"journals left: {left}"
    )
    assert np.array_equal(series.values, series.steps.astype(float))
    assert store.get_run(run_id).status is RunStatus.CRASHED
    assert left == []
    return run_id


def _crash_loop(workdir: Path, kills: int, seed: int) -> dict[str, int]:
    """``kills`` SIGKILLs: of the logging run (resumed each time) while it logs or at any
    moment (often in init's recovery of the previous crash), and of recovery processes
    (``labledger sync``, ``Api()``, ``recover``) at a random moment, at a random SQL statement
    of the replay or between its commit and the journal's removal."""
    rng = random.Random(seed)
    root = workdir / "store"
    env = child_env(root)
    witness = workdir / "witness.txt"
    tally = {"logging": 0, "any moment": 0, "recovery": 0}
    run_id: str | None = None
    for _ in range(kills):
        choice = rng.random()
        if run_id is not None and choice >= 0.65:
            how = rng.choice(HOWS)
            fault = rng.choice(["time", "sql", "insert", "unlink"])
            if fault == "time":
                child = start_recoverer(workdir, env, how)
                time.sleep(rng.uniform(0.0, 1.5))
                kill(child)
            else:  # the hook kills it; if the count is never reached it recovers in full
                run_recoverer(workdir, env, how, fault, rng.randint(1, 4))
            tally["recovery"] += 1
            continue
        before = starts(witness)
        child = start_logger(workdir, env, run_id)
        if run_id is None or choice < 0.45:  # while logging
            wait_for_steps(witness, before, 0, child)
            time.sleep(rng.uniform(0.0, 0.4))
            tally["logging"] += 1
        else:  # at any moment, often during init's recovery of the previous crash
            time.sleep(rng.uniform(0.0, 1.0))
            tally["any moment"] += 1
        kill(child)
        if run_id is None:
            run_id, _ = witnessed(witness)
    _check(workdir, root, seed)
    return tally


def test_crash_loop_every_logged_point_is_stored_exactly_once(tmp_path: Path) -> None:
    print(f"crash loop: {KILLS} kills, LABLEDGER_CRASH_SEED={SEED}")
    tally = _crash_loop(tmp_path, KILLS, SEED)
    print(f"kills: {tally}")


@pytest.mark.parametrize("how", ["sync", "api"])
def test_a_recovery_killed_mid_replay_is_completed_by_the_next(
    tmp_path: Path, store_uri: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic kills inside recovery: at the replay transaction's first INSERT (nothing
    of it may show), then after its commit, before the journal is removed (nothing may be
    replayed twice); then the run is resumed, killed while logging, and synced."""
    root = tmp_path / "store"
    monkeypatch.setenv("LABLEDGER_DIR", str(root))
    monkeypatch.setenv("LABLEDGER_URI", store_uri)
    # Steps 0..500 committed by one flush; the rest (20,000+) only journaled.
    env = child_env(root, store_uri, LABLEDGER_FLUSH_INTERVAL="3600", CRASH_FLUSH_AT="500")
    run_id = kill_logger_mid_loop(tmp_path, env, steps=20_000)
    journal_dir = load_settings().journal_dir

    def state() -> tuple[int, int, int]:
        store = open_store(store_uri)
        try:
            stored = len(store.read_metric(run_id, "x"))
            return stored, committed_seq(store, run_id), pending_points(store, journal_dir, run_id)
        finally:
            store.close()

    stored, seq, pending = state()
    # The sequence numbers also count the run's journaled captures (init's "run" section).
    others = seq - stored
    assert stored == 501 and others >= 0 and pending >= 20_000 - 501

    first = run_recoverer(tmp_path, env, how, "insert", 1)
    assert first.returncode == -signal.SIGKILL, first.stderr  # killed inside the replay
    assert state() == (501, seq, pending)  # the transaction left nothing behind
    assert pending_runs(journal_dir) == [run_id]

    second = run_recoverer(tmp_path, env, how, "unlink", 1)
    assert second.returncode == -signal.SIGKILL, second.stderr  # committed, not yet removed
    stored, seq, left = state()
    assert (stored, left) == (501 + pending, 0) and seq >= stored + others
    assert pending_runs(journal_dir) == [run_id]

    # A resumed run recovers the rest in init (nothing to replay), logs, is killed again.
    witness = tmp_path / "witness.txt"
    before = starts(witness)
    child = start_logger(tmp_path, child_env(root, store_uri), run_id)
    wait_for_steps(witness, before, 2000, child)
    kill(child)
    final = run_recoverer(tmp_path, env, how)
    assert final.returncode == 0, final.stderr
    _, steps = witnessed(witness)
    store = open_store(store_uri)
    try:
        stored_steps = list(store.read_metric(run_id, "x").steps)
        assert store.get_run(run_id).status is RunStatus.CRASHED
    finally:
        store.close()
    assert len(stored_steps) == len(set(stored_steps)), "a point was stored twice"
    assert not set(steps) - set(stored_steps), "a point whose log() returned was lost"
    assert pending_runs(journal_dir) == []
