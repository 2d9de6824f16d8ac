"""Rebuilding the recorded code: a fresh worktree at the commit, the diff, the untracked files.

The worktree comes from the recorded repository when it still holds the commit
(``git worktree add --detach``, fast and offline), else from a clone of the recorded remote.
``git worktree prune`` in the original repository forgets a worktree whose folder was deleted.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from labledger.errors import LabledgerError
from labledger.repro.plan import CodePlan

__all__ = ["CodeError", "materialize_code"]

CLONE_TIMEOUT = 600.0
GIT_TIMEOUT = 120.0


class CodeError(LabledgerError):
    """The recorded code cannot be rebuilt."""


def _git(args: list[str], cwd: Path | None = None, timeout: float = GIT_TIMEOUT) -> str:
    """Run git; on failure raise with git's own ``fatal:``/``error:`` line."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "-c", "advice.detachedHead=false", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise CodeError("git is not installed: it is needed to rebuild the code") from None
    except subprocess.TimeoutExpired:
        raise CodeError(f"git {args[0]} timed out after {timeout:g}s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
        message = (errors or lines or [f"exited with {done.returncode}"])[0]
        raise CodeError(f"git {args[0]} failed: {message}")
    return done.stdout


def _has_commit(repo: Path, commit: str) -> bool:
    try:
        _git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo)
    except CodeError:
        return False
    return True


def _checkout(code: CodePlan, dest: Path) -> str:
    """Create ``dest`` at the recorded commit; returns how (for the report)."""
    repo = Path(code.repo) if code.repo else None
    if repo is not None and repo.is_dir() and _has_commit(repo, code.commit):
        _git(["worktree", "add", "--detach", str(dest), code.commit], cwd=repo)
        return f"worktree of {repo} at {code.commit[:12]}"
    if code.remote_url:
        _git(
            ["clone", "--quiet", "--no-checkout", code.remote_url, str(dest)], timeout=CLONE_TIMEOUT
        )
        if not _has_commit(dest, code.commit):
            raise CodeError(
                f"commit {code.commit} is not reachable: it is neither in {code.repo} "
                f"nor in the remote {code.remote_url} (was it pushed?)"
            )
        _git(["checkout", "--quiet", "--detach", code.commit], cwd=dest)
        return f"clone of {code.remote_url} at {code.commit[:12]}"
    where = f"the repository {code.repo}" if code.repo else "any recorded repository"
    raise CodeError(
        f"commit {code.commit} is not reachable: it is not in {where} and no remote was recorded"
    )


def _apply_diff(diff: str, dest: Path, commit: str) -> None:
    fd, patch = tempfile.mkstemp(prefix="labledger-", suffix=".patch")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(diff.encode("utf-8", "surrogateescape"))
        try:
            _git(["apply", "--binary", "--whitespace=nowarn", patch], cwd=dest)
        except CodeError as exc:
            raise CodeError(
                f"the recorded uncommitted diff does not apply to commit {commit[:12]}: {exc}"
            ) from None
    finally:
        os.unlink(patch)


def _targets(files: dict[str, str], dest: Path) -> dict[Path, str]:
    """Where each recorded untracked file goes; a path leading outside ``dest`` is refused."""
    root = dest.resolve()
    targets = {}
    for name, text in sorted(files.items()):
        target = (root / name).resolve()
        if target == root or root not in target.parents:
            raise CodeError(f"refusing to write recorded untracked file {name!r} outside {dest}")
        targets[target] = text
    return targets


def materialize_code(code: CodePlan, dest: Path) -> str:
    """Rebuild the recorded tree in ``dest`` (which must not exist or be empty)."""
    if dest.exists() and any(dest.iterdir()):
        raise CodeError(f"{dest} already exists and is not empty: choose another --workdir")
    dest.parent.mkdir(parents=True, exist_ok=True)
    untracked = _targets(code.untracked, dest)  # checked before anything is created
    how = _checkout(code, dest)
    if code.diff:
        _apply_diff(code.diff, dest, code.commit)
    for target, text in untracked.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8", "surrogateescape"))
    return how
