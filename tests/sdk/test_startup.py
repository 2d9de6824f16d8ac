"""``init`` opens the store in the background and a run costs at most two transactions, with a
record exactly as complete as before: created with the first flush, sealed with the last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import labledger as ll
from labledger.capture import git as git_probe
from labledger.config import load_settings
from labledger.sdk.backend import close_stores, get_store
from labledger.sdk.fingerprint import (
    compute_fingerprint,
    fingerprint_material,
    verify_fingerprint,
)
from labledger.store.sql import SqlStore
from labledger.store.sqlite import SqliteStore

SRC = Path(ll.__file__).resolve().parents[1]


def _python(code: str, *args: str, env: dict[str, str], cwd: Path | None = None) -> str:
    """The standard output of ``python -c code args`` (a fresh process); it must succeed."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every write transaction a SQL store opens, by the method that opened it."""
    calls: list[str] = []

    def counted(cls: type[SqlStore], name: str) -> None:
        real = getattr(cls, name)

        def counting(self: SqlStore) -> Any:
            import inspect

            calls.append(inspect.stack()[2].function)
            return real(self)

        monkeypatch.setattr(cls, name, counting)

    counted(SqlStore, "_write")  # SQLAlchemy's transactions
    counted(SqliteStore, "_batch")  # a SQLite store's batches, on plain sqlite3
    yield calls


def _short_run(**kw: Any) -> ll.Run:
    run = ll.init(project="p", config={"lr": 0.1, "opt": {"name": "adam"}}, **kw)
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.summary.update({"acc": 0.9, "f1": 0.8})
    run.finish()
    return run


def test_a_short_run_with_full_capture_costs_at_most_two_transactions(
    transactions: list[str],
) -> None:
    ll.Api()  # the store is open, as for every run after a process's first
    transactions.clear()

    run = _short_run()

    assert len(transactions) <= 2, transactions
    store = get_store()
    record = store.get_run(run.id)
    assert record.status is ll.RunStatus.FINISHED
    assert record.fingerprint is not None
    assert verify_fingerprint(store, run.id).intact
    assert record.fingerprint == compute_fingerprint(store, run.id)
    captures = store.get_captures(run.id)
    assert {"git", "environment", "host", "command", "run", "fingerprint"} <= set(captures)
    assert store.read_metric(run.id, "loss").steps.tolist() == list(range(100))
    assert record.summary == {"acc": 0.9, "f1": 0.8}


def test_a_longer_run_is_created_by_its_first_flush_and_sealed_by_its_last(
    transactions: list[str],
) -> None:
    ll.Api()
    transactions.clear()
    run = ll.init(project="p", config={"a": 1}, capture=False)
    run.log({"x": 1.0})
    # Queued before the wait: one queued after it could meet a background flush on its way
    # to finish() (one transaction more, by timing alone).
    run.update_config({"b": 2})
    # Created by a background flush meanwhile (the first one may wait for imports the store's
    # first write needs: a deadline, not a measurement).
    deadline = time.monotonic() + 30
    while not get_store().count_runs("p") and time.monotonic() < deadline:
        time.sleep(run.settings.flush_interval)
    assert get_store().get_run(run.id).status is ll.RunStatus.RUNNING
    created = len(transactions)
    run.finish()

    assert created >= 1 and len(transactions) == created + 1
    assert verify_fingerprint(get_store(), run.id).intact
    assert get_store().get_run(run.id).config == {"a": 1, "b": 2}


def test_a_run_is_visible_to_this_process_right_after_init() -> None:
    run = ll.init(project="visible", capture=False)
    try:
        assert ll.Api().run(run.id).status is ll.RunStatus.RUNNING
        assert [v.id for v in ll.Api().runs("visible")] == [run.id]
    finally:
        run.finish()


def test_a_policy_still_marks_before_the_seal() -> None:
    settings = load_settings().with_overrides(policy={"require": ["seed"], "on_violation": "warn"})
    run = ll.init(project="p", settings=settings, capture=False)
    run.finish()
    store = get_store(settings)
    assert "policy-violation" in store.get_run(run.id).tags
    assert verify_fingerprint(store, run.id).intact


def test_a_short_run_that_uses_and_logs_artifacts_is_sealed_over_them(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"\x00" * 64)
    producer = ll.init(project="p", capture=False)
    producer.log_artifact(weights, name="weights", type="model")
    producer.finish()
    consumer = ll.init(project="p", capture=False)
    consumer.use_artifact("weights", dest=tmp_path / "got")
    consumer.finish()

    store = get_store()
    for run, part in ((producer, "artifacts"), (consumer, "data")):
        assert verify_fingerprint(store, run.id).intact
        material = fingerprint_material(store, run.id)
        assert [row["name"] for row in material[part]] == ["weights"]


def test_resumed_run_is_sealed_over_its_whole_record() -> None:
    first = _short_run()
    resumed = ll.init(project="p", resume=first.id, config={"more": True}, capture=False)
    resumed.log({"loss": 0.01})
    resumed.finish()
    store = get_store()
    assert store.get_run(first.id).config["more"] is True
    assert verify_fingerprint(store, first.id).intact


def test_file_edited_between_two_runs_shows_in_the_second_runs_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=T"]
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (repo / "train.py").write_text("lr = 0.1\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "one"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    monkeypatch.setattr(git_probe, "RACY_SECONDS", 0.05)
    time.sleep(0.2)
    monkeypatch.chdir(repo)

    first = _short_run()
    (repo / "train.py").write_text("lr = 0.2\n")  # same size, right after the first run
    second = _short_run()
    third = _short_run()  # nothing changed since: the cache may answer, and must agree

    store = get_store()
    assert store.get_captures(first.id)["git"]["diff"] == ""
    diff = store.get_captures(second.id)["git"]["diff"]
    assert "-lr = 0.1" in diff and "+lr = 0.2" in diff
    assert store.get_captures(third.id)["git"] == store.get_captures(second.id)["git"]
    assert store.get_captures(third.id)["git"] == git_probe.capture_git(repo)


def test_points_logged_before_the_store_is_open_are_kept(tmp_path: Path) -> None:
    """A fresh process: init returns before the store is open; nothing logged is lost, even
    when the process ends without finish()."""
    close_stores()
    script = """
import sys, labledger as ll
run = ll.init(project="p", config={"a": 1})
print(run.id, flush=True)
for i in range(20000):
    run.log({"loss": float(i), "acc": i / 2.0}, step=i)
if sys.argv[1] == "finish":
    run.finish()
"""
    env = {**os.environ, "PYTHONPATH": str(SRC), "LABLEDGER_DIR": str(tmp_path / "store")}
    env["LABLEDGER_SYSTEM_METRICS_INTERVAL"] = "0"
    for how in ("finish", "exit"):
        run_id = _python(script, how, env=env, cwd=tmp_path).split()[0]
        read = (
            "import json, sys, labledger as ll; v = ll.Api().run(sys.argv[1]);"
            "print(json.dumps([len(v.history('loss')[0]), str(v.status),"
            " v.record.fingerprint is not None]))"
        )
        assert json.loads(_python(read, run_id, env=env)) == [20000, "finished", True], how


_MAIN_THREAD_IMPORTS = """
import importlib._bootstrap as bootstrap, json, sys, threading
import labledger as ll

seen = []
find_and_load = bootstrap._find_and_load

def recording(name, import_):
    if threading.current_thread() is threading.main_thread():
        seen.append(name)
    return find_and_load(name, import_)

bootstrap._find_and_load = recording  # what the import statement calls for a new module
run = ll.init(project="p", config={"lr": 0.1})
bootstrap._find_and_load = find_and_load
run.finish()
view = ll.Api().run(run.id)
print(json.dumps({"imported": seen, "sections": sorted(view.captures()), "tags": view.record.tags}))
"""


def test_the_first_init_in_a_process_leaves_the_probes_to_other_threads(tmp_path: Path) -> None:
    """init imports no probe module (git, environment, ...) on the training thread, so it
    cannot start their threads there either; the run's capture is still complete."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {**os.environ, "PYTHONPATH": str(SRC), "LABLEDGER_DIR": str(tmp_path / "store")}
    env.update(LABLEDGER_SYSTEM_METRICS_INTERVAL="0", LABLEDGER_CAPTURE_CONSOLE="0")
    result = json.loads(_python(_MAIN_THREAD_IMPORTS, env=env, cwd=repo).splitlines()[-1])
    probes = [name for name in result["imported"] if name.startswith("labledger.capture.")]
    assert probes == ["labledger.capture.redact"]  # the config's secrets, redacted at init
    assert "hashlib" not in result["imported"]
    expected = {"git", "environment", "host", "gpu", "command", "determinism", "run"}
    assert expected <= set(result["sections"])
    assert "capture-incomplete" not in result["tags"]
