"""Rebuilding recorded code: worktree or clone at the commit, diff applied, untracked written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labledger.capture.git import capture_git
from labledger.repro.code import CodeError, materialize_code
from labledger.repro.plan import CodePlan
from tests.repro.conftest import commit_all, git


def recorded(repo: Path) -> CodePlan:
    """The code plan exactly as the git probe records ``repo`` now."""
    state = capture_git(repo)
    return CodePlan(
        repo=state["root"],
        remote_url=state["remote_url"],
        commit=state["commit"],
        branch=state["branch"],
        diff=state["diff"] or "",
        untracked=state["untracked"],
    )


@pytest.fixture
def dirty_repo(repo: Path) -> tuple[Path, CodePlan]:
    (repo / "train.py").write_text("LR = 0.05\n")
    (repo / "old.py").write_text("x = 1\n")
    commit_all(repo, "first")
    (repo / "train.py").write_text("LR = 0.1\nfrom pkg.helpers import f\n")
    (repo / "old.py").unlink()
    (repo / "pkg").mkdir()
    (repo / "pkg" / "helpers.py").write_text("def f():\n    return 'ü'\n")
    plan = recorded(repo)
    git(repo, "checkout", "--", ".")
    shutil.rmtree(repo / "pkg")
    (repo / "train.py").write_text("LR = 0.2\n")
    commit_all(repo, "second")
    return repo, plan


def test_worktree_at_the_commit_with_diff_and_untracked_files(
    dirty_repo: tuple[Path, CodePlan], tmp_path: Path
) -> None:
    repo, plan = dirty_repo
    dest = tmp_path / "w" / "code"
    how = materialize_code(plan, dest)
    assert how.startswith(f"worktree of {repo}")
    assert (dest / "train.py").read_text() == "LR = 0.1\nfrom pkg.helpers import f\n"
    assert not (dest / "old.py").exists()
    assert (dest / "pkg" / "helpers.py").read_text() == "def f():\n    return 'ü'\n"
    rebuilt = capture_git(dest)
    assert rebuilt["commit"] == plan.commit
    assert rebuilt["diff"] == plan.diff and rebuilt["untracked"] == plan.untracked
    assert (repo / "train.py").read_text() == "LR = 0.2\n"  # the original is untouched


def test_clone_of_the_remote_when_the_repository_is_gone(
    dirty_repo: tuple[Path, CodePlan], tmp_path: Path
) -> None:
    repo, plan = dirty_repo
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    moved = CodePlan(
        repo=str(tmp_path / "gone"),
        remote_url=str(remote),
        commit=plan.commit,
        branch="main",
        diff=plan.diff,
        untracked=plan.untracked,
    )
    dest = tmp_path / "clone"
    assert materialize_code(moved, dest).startswith(f"clone of {remote}")
    assert (dest / "train.py").read_text().startswith("LR = 0.1")


def test_an_unreachable_commit_names_the_commit_and_the_repository(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "a.txt").write_text("a\n")
    commit_all(repo, "only")
    missing = "0123456789abcdef0123456789abcdef01234567"
    plan = CodePlan(
        repo=str(repo), remote_url=None, commit=missing, branch=None, diff="", untracked={}
    )
    with pytest.raises(CodeError, match=f"commit {missing} is not reachable: .*{repo}"):
        materialize_code(plan, tmp_path / "x")


def test_a_diff_that_does_not_apply_is_reported(repo: Path, tmp_path: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    head = commit_all(repo, "only")
    bad = "--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-zzz\n+b\n"
    plan = CodePlan(
        repo=str(repo), remote_url=None, commit=head, branch=None, diff=bad, untracked={}
    )
    with pytest.raises(CodeError, match="diff does not apply to commit"):
        materialize_code(plan, tmp_path / "x")


def test_untracked_paths_cannot_escape_the_worktree(repo: Path, tmp_path: Path) -> None:
    (repo / "a.txt").write_text("a\n")
    head = commit_all(repo, "only")
    plan = CodePlan(
        repo=str(repo),
        remote_url=None,
        commit=head,
        branch=None,
        diff="",
        untracked={"../../evil.py": "x"},
    )
    with pytest.raises(CodeError, match="outside"):
        materialize_code(plan, tmp_path / "x")
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "x").exists()


def test_a_non_empty_destination_is_refused(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("")
    plan = CodePlan(
        repo=str(repo), remote_url=None, commit="abc", branch=None, diff="", untracked={}
    )
    with pytest.raises(CodeError, match="not empty"):
        materialize_code(plan, tmp_path / "x")
