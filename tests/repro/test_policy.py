"""``[policy]`` in labledger.toml: validated, warned or refused at init, marked at finish."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import labledger as ll
from labledger.config import load_settings
from labledger.errors import ConfigError
from labledger.sdk.policy import (
    POLICY_SECTION,
    VIOLATION_TAG,
    Policy,
    PolicyViolation,
    enforce_at_init,
)
from tests.repro.conftest import commit_all


def write_policy(root: Path, require: list[str], on_violation: str = "warn") -> None:
    items = ", ".join(f'"{r}"' for r in require)
    (root / "labledger.toml").write_text(
        f'[policy]\nrequire = [{items}]\non_violation = "{on_violation}"\n'
    )


def test_policy_table_is_validated() -> None:
    assert Policy.parse({}) == Policy((), "warn")
    assert Policy.parse({"require": ["seed", "seed"], "on_violation": "refuse"}).require == (
        "seed",
    )
    with pytest.raises(ConfigError, match="unknown rule"):
        Policy.parse({"require": ["tests_pass"]})
    with pytest.raises(ConfigError, match="on_violation"):
        Policy.parse({"on_violation": "explode"})
    with pytest.raises(ConfigError, match="unknown key"):
        Policy.parse({"requires": ["seed"]})


def test_warn_logs_and_still_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_policy(tmp_path, ["seed"])
    with caplog.at_level(logging.WARNING, "labledger"), ll.init(project="p", capture=False) as run:
        pass
    assert any("seed: no seed given" in r.message for r in caplog.records)
    record = ll.Api().store.get_run(run.id)
    assert VIOLATION_TAG in record.tags
    section = ll.Api().store.get_captures(run.id)[POLICY_SECTION]
    assert section["violations"] == ["seed: no seed recorded"]


def test_refuse_starts_no_run_without_a_seed(tmp_path: Path) -> None:
    write_policy(tmp_path, ["seed"], "refuse")
    with pytest.raises(PolicyViolation, match="no seed given"):
        ll.init(project="p", capture=False)
    assert ll.current_run() is None
    with ll.init(project="p", seed=1, capture=False) as run:
        pass
    assert VIOLATION_TAG not in ll.Api().store.get_run(run.id).tags


def test_refuse_a_dirty_tree_but_not_a_reproduction_of_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "train.py").write_text("print('hi')\n")
    write_policy(repo, ["clean_git"], "refuse")
    commit_all(repo, "init")
    monkeypatch.chdir(repo)
    settings = load_settings()
    assert enforce_at_init(settings, seed=None) == []
    (repo / "train.py").write_text("print('changed')\n")
    with pytest.raises(PolicyViolation, match=r"clean_git: 1 uncommitted .* train.py"):
        enforce_at_init(settings, seed=None)
    assert enforce_at_init(settings, seed=None, reproduces="abc") == []
    assert enforce_at_init(settings, seed=None, resume="abc") == []


def test_weights_are_checked_at_finish(tmp_path: Path) -> None:
    write_policy(tmp_path, ["weights"], "refuse")
    with ll.init(project="p", capture=False) as bare:
        pass
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"w")
    with ll.init(project="p", capture=False) as stored:
        stored.log_artifact(weights, name="m", type="model")
    api = ll.Api()
    assert VIOLATION_TAG in api.store.get_run(bare.id).tags
    assert api.store.get_captures(bare.id)[POLICY_SECTION]["violations"] == [
        "weights: no artifact of type 'model' was logged"
    ]
    assert VIOLATION_TAG not in api.store.get_run(stored.id).tags
    assert POLICY_SECTION not in api.store.get_captures(stored.id)


def test_no_policy_no_marks() -> None:
    with ll.init(project="p", capture=False) as run:
        pass
    assert ll.Api().store.get_run(run.id).tags == []
