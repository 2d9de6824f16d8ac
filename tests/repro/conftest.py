"""Helpers for the reproduction tests: throwaway git repositories, runs made through the real
SDK, and the CLI in-process (Click's runner) or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import labledger as ll

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


@pytest.fixture(autouse=True)
def _git_isolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git without the machine's configuration, with an identity, and no repo above tmp_path.
    Child processes (training scripts, the CLI) inherit the same."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.setenv("LABLEDGER_CAPTURE_CONSOLE", "0")
    for name, value in GIT_IDENTITY.items():
        monkeypatch.setenv(name, value)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    # seed_everything's memory is process-wide: a seed set by an earlier test would be recorded
    # in this test's runs.
    monkeypatch.setattr("labledger.sdk.seeding._pending", {})


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository at tmp_path/project (branch main)."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def commit_all(path: Path, message: str) -> str:
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD")


def make_run(
    project: str = "p",
    config: Mapping[str, Any] | None = None,
    losses: Sequence[float] = (1.0, 0.5, 0.25),
    *,
    seed: int | None = None,
    summary: Mapping[str, Any] | None = None,
    capture: bool = False,
) -> str:
    """One finished run recorded in-process: ``loss`` per step and an ``acc`` summary."""
    with ll.init(project=project, config=dict(config or {}), seed=seed, capture=capture) as run:
        for step, loss in enumerate(losses):
            run.log({"loss": loss}, step=step)
        run.summary.update(summary or {"acc": 0.9})
        return run.id


def invoke(command: Any, *args: str) -> Result:
    """Run one of the repro commands in-process; stdout and stderr kept apart."""
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


CLI = [sys.executable, "-c", "from labledger.cli.main import main; main()"]


def cli_process(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The ``labledger`` command as a real process (exit codes as a shell sees them)."""
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def no_torch_determinism() -> Iterator[None]:
    """Undo ``seed_everything(..., deterministic_torch=True)`` after the test."""
    yield
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
