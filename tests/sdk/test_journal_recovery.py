"""Recovering a SIGKILLed run's point journal through the CLI: ``runs show`` and ``sync``
recover it, ``sync --dry-run`` lists it without writing, two recoveries at once store each
point once. Real processes, real SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from labledger.cli.main import cli
from labledger.config import load_settings
from labledger.errors import StoreUnavailable
from labledger.sdk.backend import close_stores
from labledger.sdk.mmap_journal import (
    committed_seq,
    pending_points,
    pending_runs,
    points_dir,
    recover,
)
from labledger.store import open_store
from labledger.store.base import RunBatch
from labledger.store.journal import Journal
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
CLI = "from labledger.cli.main import main; main()"


@pytest.fixture
def root(tmp_path: Path, store_uri: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store folder (journals); the store itself is ``store_uri`` (SQLite or PostgreSQL)."""
    folder = tmp_path / "store"
    monkeypatch.setenv("LABLEDGER_DIR", str(folder))
    monkeypatch.setenv("LABLEDGER_URI", store_uri)
    return folder


def _assert_every_witnessed_step_once(uri: str, run_id: str, witness: Path) -> None:
    _, steps = witnessed(witness)
    store = open_store(uri)
    try:
        stored = list(store.read_metric(run_id, "x").steps)
    finally:
        store.close()
    assert len(stored) == len(set(stored)), "a point was stored twice"
    assert not set(steps) - set(stored), "a point whose log() returned was lost"


def _snapshot(uri: str, journal_dir: Path, run_id: str) -> tuple[object, ...]:
    """What a dry run must not change: the stored points, status, committed sequence number
    and every journal file's bytes."""
    store = open_store(uri)
    try:
        stored = len(store.read_metric(run_id, "x"))
        status = store.get_run(run_id).status
        seq = committed_seq(store, run_id)
    finally:
        store.close()
    files = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(points_dir(journal_dir).iterdir())
    }
    return stored, status, seq, files


def test_runs_show_recovers_a_sigkilled_run(root: Path, store_uri: str, tmp_path: Path) -> None:
    env = child_env(root, store_uri)
    run_id = kill_logger_mid_loop(tmp_path, env, steps=3000)
    assert pending_runs(load_settings().journal_dir) == [run_id]
    table = subprocess.run(
        [sys.executable, "-c", CLI, "runs", "show", run_id],
        env=env,
        capture_output=True,
        text=True,
    )
    assert table.returncode == 0, table.stderr
    assert "crashed" in table.stdout
    assert "recovered" in table.stderr  # one warning says the journal was replayed
    shown = subprocess.run(
        [sys.executable, "-c", CLI, "runs", "show", run_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    data = json.loads(shown.stdout)
    _, steps = witnessed(tmp_path / "witness.txt")
    assert data["status"] == "crashed"
    assert data["metric_stats"]["x"]["count"] >= len(steps) >= 3000
    assert pending_runs(load_settings().journal_dir) == []
    _assert_every_witnessed_step_once(store_uri, run_id, tmp_path / "witness.txt")


def test_sync_dry_run_lists_a_crashed_journal_writes_nothing_then_sync_delivers_it(
    root: Path, store_uri: str, tmp_path: Path
) -> None:
    # Steps 0..1000 are committed by one flush, the rest only journaled.
    env = child_env(root, store_uri, LABLEDGER_FLUSH_INTERVAL="3600", CRASH_FLUSH_AT="1000")
    run_id = kill_logger_mid_loop(tmp_path, env, steps=3000)
    journal_dir = load_settings().journal_dir
    store = open_store(store_uri)
    pending = pending_points(store, journal_dir, run_id)
    assert len(store.read_metric(run_id, "x")) == 1001
    store.close()
    assert pending >= 3000 - 1001
    before = _snapshot(store_uri, journal_dir, run_id)
    runner = CliRunner()

    listed = runner.invoke(cli, ["sync", "--dry-run"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout and "crash-loop" in listed.stdout
    assert "gone" in listed.stdout and str(pending) in listed.stdout
    assert "Nothing was written" in listed.stdout
    as_json = runner.invoke(cli, ["sync", "--dry-run", "--json"], catch_exceptions=False)
    (row,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert row["kind"] == "point_journal" and row["run_id"] == run_id
    assert row["pending_points"] == pending and row["process"] == "gone"
    assert row["status"] == "running" and row["project"] == "crash"
    assert row["bytes"] > 0
    close_stores()
    assert _snapshot(store_uri, journal_dir, run_id) == before

    synced = runner.invoke(cli, ["sync"], catch_exceptions=False)
    assert synced.exit_code == 0, synced.output
    assert f"recovered {pending} point(s)" in synced.stdout
    after = runner.invoke(cli, ["sync", "--dry-run"], catch_exceptions=False)
    assert after.stdout.startswith("nothing to sync"), after.output
    empty = runner.invoke(cli, ["sync", "--dry-run", "--json"], catch_exceptions=False)
    assert empty.stdout == ""
    stored, status, _, files = _snapshot(store_uri, journal_dir, run_id)
    assert stored == before[0] + pending and str(status) == "crashed" and not files
    _assert_every_witnessed_step_once(store_uri, run_id, tmp_path / "witness.txt")


def test_two_recoveries_racing_store_each_point_once(
    root: Path, store_uri: str, tmp_path: Path
) -> None:
    """Nothing flushed before the kill (the run's row too): two processes, one ``recover``,
    one ``labledger sync``, released at the same moment on the same journal."""
    env = child_env(root, store_uri, LABLEDGER_FLUSH_INTERVAL="3600")
    run_id = kill_logger_mid_loop(tmp_path, env, steps=20_000)
    _, steps = witnessed(tmp_path / "witness.txt")
    # The child's writer may or may not have opened (created) the store before the kill.
    store_file = Path(store_uri.removeprefix("sqlite:///"))
    existed = store_uri.startswith("sqlite:///") and store_file.exists()
    listed = CliRunner().invoke(cli, ["sync", "--dry-run", "--json"], catch_exceptions=False)
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["in_store"], row["status"], row["name"]) == (False, None, "crash-loop")
    assert row["pending_points"] >= len(steps)
    if store_uri.startswith("sqlite:///"):  # the dry run did not create the store either
        assert store_file.exists() == existed
    go = tmp_path / "go"
    racers = [start_recoverer(tmp_path, env, how, go=str(go)) for how in ("recover", "sync")]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [racer.communicate(timeout=300) for racer in racers]
    for racer, (_, err) in zip(racers, outputs, strict=True):
        assert racer.returncode == 0, err
    recovered = int(outputs[0][0].split("recovered ")[1].split()[0])
    synced = outputs[1][0]
    by_sync = int(synced.split("recovered ")[1].split()[0]) if "of crashed" in synced else 0
    assert recovered + by_sync >= len(steps)  # one of them replayed everything
    assert 0 in (recovered, by_sync)
    _assert_every_witnessed_step_once(store_uri, run_id, tmp_path / "witness.txt")
    assert pending_runs(load_settings().journal_dir) == []


def test_sync_dry_run_lists_client_journals_without_touching_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import labledger

    with labledger.init(project="p", name="offline-one", capture=False) as run:
        run.log({"a": 1.0})
    directory = load_settings().journal_dir
    left = Journal.create(directory)
    left.append_run(run.record)
    left.append_batch(run.id, RunBatch(summary={"b": 2.0}))
    left.close(remove_if_done=False)
    with open(left.path, "ab") as f:
        f.write(b"\x05\x00\x00")  # a torn tail, as a crash mid write leaves
    live = Journal.create(directory)  # held open (locked) by this process: a running one
    live.append_batch(run.id, RunBatch(summary={"c": 3.0}))
    kept = left.path.read_bytes()
    try:
        result = CliRunner().invoke(cli, ["sync", "--dry-run", "--json"], catch_exceptions=False)
        rows = {row["path"]: row for row in map(json.loads, result.stdout.splitlines())}
        assert rows[str(left.path)] == {
            "kind": "client_journal",
            "path": str(left.path),
            "pending_writes": 2,
            "runs": [run.id],
            "bytes": len(kept),
            "torn_bytes": 3,
            "process": "gone",
        }
        assert rows[str(live.path)]["process"] == "alive"
        assert rows[str(live.path)]["pending_writes"] == 1
        table = CliRunner().invoke(cli, ["sync", "--dry-run"], catch_exceptions=False)
        assert "alive (skipped)" in table.stdout and left.path.name in table.stdout
        assert "deliver 2 write(s) from 1 client journal(s)" in table.stdout
        assert left.path.read_bytes() == kept  # not locked, not truncated, not replayed
    finally:
        live.close()


class _CapturesFail:
    """The store, except that reading captures fails (a dropped connection, say)."""

    def __init__(self, store: object) -> None:
        self._store = store

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def get_captures(self, run_id: str) -> dict[str, object]:
        raise StoreUnavailable("connection reset by peer")


def test_a_store_error_reading_the_committed_position_replays_nothing_twice(
    tmp_path: Path,
) -> None:
    """Taking the error for "nothing committed" would replay steps 0..500 a second time."""
    root = tmp_path / "store"
    env = child_env(root, LABLEDGER_FLUSH_INTERVAL="3600", CRASH_FLUSH_AT="500")
    run_id = kill_logger_mid_loop(tmp_path, env, steps=2000)
    settings = load_settings(env={"LABLEDGER_DIR": str(root)})
    store = open_store(settings.uri)
    try:
        assert recover(_CapturesFail(store), settings.journal_dir) == 0  # type: ignore[arg-type]
        assert pending_runs(settings.journal_dir) == [run_id]  # kept for the next attempt
        assert len(store.read_metric(run_id, "x")) == 501
        assert recover(store, settings.journal_dir) > 0
    finally:
        store.close()
    _assert_every_witnessed_step_once(settings.uri, run_id, tmp_path / "witness.txt")


def test_a_resumed_run_whose_journal_was_not_recovered_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    """Init's recovery fails: the resumed run must not continue from a stale step and journal
    after the unrecovered points (one committed sequence number cannot cover both: the old
    points would be skipped or deleted as committed, the new ones replayed twice). Init tries
    once more, and refuses to resume when that fails too."""
    root = tmp_path / "store"
    env = child_env(root, LABLEDGER_FLUSH_INTERVAL="3600", CRASH_FLUSH_AT="500")
    run_id = kill_logger_mid_loop(tmp_path, env, steps=2000)
    witness = tmp_path / "witness.txt"
    refused = start_logger(tmp_path, child_env(root, CRASH_FAIL_RECOVERY="always"), run_id)
    assert refused.wait(timeout=120) == 1  # init raised: it cannot resume from a stale step
    assert pending_runs(load_settings(env={"LABLEDGER_DIR": str(root)}).journal_dir) == [run_id]
    before = starts(witness)
    child = start_logger(tmp_path, child_env(root, CRASH_FAIL_RECOVERY="1"), run_id)
    wait_for_steps(witness, before, 5000, child)  # past the old journal's sequence numbers
    kill(child)
    synced = run_recoverer(tmp_path, child_env(root), "sync")
    assert synced.returncode == 0, synced.stderr
    settings = load_settings(env={"LABLEDGER_DIR": str(root)})
    _assert_every_witnessed_step_once(settings.uri, run_id, witness)
