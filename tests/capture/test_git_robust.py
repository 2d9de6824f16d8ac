"""Git capture that is never silently incomplete: a slow git still gives a whole record, a
failing git marks the run loudly, an edit git's stat cache would hide is seen, and the store
never records itself."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import labledger as ll
from labledger.capture import registry
from labledger.capture.git import capture_git
from labledger.capture.registry import INCOMPLETE_TAG, capture_all
from tests.capture.conftest import GitRunner

REAL_GIT = "/usr/bin/git"


def git_wrapper(folder: Path, body: str) -> None:
    """A ``git`` on PATH that runs ``body`` (sh) before the real git."""
    folder.mkdir()
    script = folder / "git"
    script.write_text(f'#!/bin/sh\n{body}\nexec {REAL_GIT} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def repo(tmp_path: Path, git_env: None, git: GitRunner) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("LR = 0.1\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_a_slow_git_still_gives_the_whole_record(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every git diff takes 2 s: longer than the other probes' deadline here (1 s).
    git_wrapper(tmp_path / "bin", 'case "$*" in *--binary*) sleep 2;; esac')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (repo / "train.py").write_text("LR = 0.2\n")

    sections = capture_all(repo, timeout=1.0)

    git = sections["git"]
    assert "error" not in git, git
    assert "+LR = 0.2" in git["diff"]


def test_a_failing_git_marks_the_run_incomplete_loudly(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    git_wrapper(
        tmp_path / "bin",
        'case "$*" in *--binary*) echo "fatal: simulated failure" >&2; exit 128;; esac',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(repo)
    with ll.init(project="p") as run:
        pass
    assert "WARNING: the git state of run" in capsys.readouterr().err
    view = ll.Api().run(run.id)
    assert INCOMPLETE_TAG in view.record.tags
    assert "simulated failure" in view.captures()["git"]["error"]

    from labledger.repro.check import check_run

    report = check_run(view, ll.Api().store, ll.Api().settings)
    code = next(item for item in report.items if item.name == "code")
    assert code.status == "fail" and "incomplete" in code.message


def test_an_edit_that_keeps_size_and_mtime_is_captured(repo: Path) -> None:
    path = repo / "train.py"
    before = path.stat()
    index = repo / ".git" / "index"
    index_before = (index.read_bytes(), index.stat().st_mtime_ns)
    # Same size, and the modification time put back (a same-second edit, or a tool that
    # preserves mtimes): git's stat cache says the file is unchanged.
    path.write_text("LR = 0.9\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    git = capture_git(repo)

    assert git["dirty"] is True
    assert "+LR = 0.9" in git["diff"]
    assert (index.read_bytes(), index.stat().st_mtime_ns) == index_before  # never written


def test_the_store_folder_is_never_captured(repo: Path) -> None:
    store = repo / ".labledger"
    store.mkdir()
    (store / "labledger.db").write_text("not code")
    (store / ".migrate.lock").write_text("")
    (repo / "notes.txt").write_text("mine\n")

    git = capture_git(repo)

    assert git["untracked"] == {"notes.txt": "mine\n"}
    assert not git["untracked_skipped"]


def test_a_new_store_keeps_itself_out_of_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABLEDGER_DIR")
    monkeypatch.chdir(repo)
    with ll.init(project="p") as run:
        pass
    assert (repo / ".labledger" / ".gitignore").read_text().strip().endswith("*")
    git = ll.Api().run(run.id).captures()["git"]
    assert git["untracked"] == {} and git["dirty"] is False


def test_registry_gives_git_its_own_deadline() -> None:
    assert registry.GIT_DEADLINE >= 60
