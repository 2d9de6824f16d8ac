"""A reproduction writes to the same store without side effects on the original's record:
its artifacts never move the original's aliases, and listings hide it by default."""

from __future__ import annotations

from pathlib import Path

import pytest

import labledger as ll


def test_a_reproduction_moves_no_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, data = tmp_path / "model.pt", tmp_path / "data.npy"
    model.write_bytes(b"weights of the original")
    data.write_bytes(b"data")
    with ll.init(project="p", capture=False) as original:
        original.use_dataset(str(data), name="digits")
        logged = original.log_artifact(str(model), name="mlp", type="model", aliases=["best"])
    api = ll.Api()
    api.artifact(logged.ref).alias("production")
    before = {ref: api.artifact(ref).version.version for ref in ("mlp:best", "mlp:production")}
    before["mlp:latest"] = api.artifact("mlp:latest").version.version

    monkeypatch.setenv("LABLEDGER_REPRODUCES", original.id)
    data.write_bytes(b"other data")
    model.write_bytes(b"weights of the rerun")
    with ll.init(project="p", capture=False) as rerun:
        rerun.use_dataset(str(data), name="digits")
        new = rerun.log_artifact(str(model), name="mlp", type="model", aliases=["best"])
        ll.Api().artifact(new.ref).alias("production")
    monkeypatch.delenv("LABLEDGER_REPRODUCES")

    api = ll.Api()
    assert api.run(rerun.id).record.reproduces == original.id
    after = {ref: api.artifact(ref).version.version for ref in before}
    assert after == before
    assert new.version == logged.version + 1  # the rerun's weights are kept, as a new version
    assert api.artifact("digits:latest").version.run_id is None
    assert api.artifact("digits:latest").version.version == 0


def test_the_public_alias_api(tmp_path: Path) -> None:
    (tmp_path / "m.pt").write_bytes(b"w")
    with ll.init(project="p", capture=False) as run:
        version = run.log_artifact(str(tmp_path / "m.pt"), name="m", type="model")
    handle = ll.Api().artifact(f"m:v{version.version}").alias("best")
    assert handle.ref == "m:v0"
    assert ll.Api().artifact("m:best").digest == version.digest


def test_reproductions_clean_removes_worktrees_and_venvs(tmp_path: Path) -> None:
    import subprocess

    from click.testing import CliRunner

    from labledger.cli.repro import reproductions_group
    from tests.repro.conftest import commit_all, git

    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.py").write_text("x = 1\n")
    commit_all(repo, "a")
    base = ll.Api().settings.root / "reproductions"
    base.mkdir(parents=True)
    git(repo, "worktree", "add", "-q", "--detach", str(base / "r1-1" / "code"))
    (base / "venvs" / "k1").mkdir(parents=True)
    (base / "venvs" / "k1" / "big").write_bytes(b"x" * 2048)

    listed = CliRunner().invoke(reproductions_group, ["clean", "--dry-run"])
    assert (
        "worktree" in listed.output and "venv" in listed.output and "2 folder(s)" in listed.output
    )
    done = CliRunner().invoke(reproductions_group, ["clean", "--yes"])
    assert done.exit_code == 0, done.output
    assert not (base / "r1-1").exists() and not (base / "venvs" / "k1").exists()
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert "r1-1" not in worktrees  # unregistered from the user's repository
