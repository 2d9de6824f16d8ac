"""What reproductions leave behind, and cleaning it: worktrees (registered in the user's
repository, so they are unregistered too) and the shared environments.

Layout (``repro.plan``): ``<store>/reproductions/<run>-<n>/`` per reproduction (``code/`` a git
worktree, ``deps/`` clones) and ``<store>/reproductions/venvs/<lock key>/`` shared by every
reproduction with the same package lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from labledger.config import Settings

__all__ = ["Leftover", "leftovers", "remove"]

VENVS = "venvs"


@dataclass(frozen=True)
class Leftover:
    path: Path
    kind: str  # "worktree" or "venv"
    size: int  # bytes


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path, followlinks=False):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).lstat().st_size
    return total


def leftovers(settings: Settings, *, venvs: bool = True, worktrees: bool = True) -> list[Leftover]:
    """Every reproduction folder and shared environment, with its size on disk."""
    base = settings.root / "reproductions"
    if not base.is_dir():
        return []
    found: list[Leftover] = []
    for entry in sorted(base.iterdir()):
        if entry.name == VENVS and entry.is_dir():
            if venvs:
                found += [
                    Leftover(venv, "venv", _size(venv)) for venv in sorted(entry.iterdir())
                    if venv.is_dir()
                ]  # fmt: skip
        elif entry.is_dir() and worktrees:
            found.append(Leftover(entry, "worktree", _size(entry)))
    return found


def _unregister_worktree(code: Path) -> None:
    """Forget the worktree in the repository it came from (``git worktree prune``)."""
    marker = code / ".git"
    if not marker.is_file():
        return  # a clone, not a worktree
    text = marker.read_text(errors="replace").strip()
    if not text.startswith("gitdir:"):
        return
    common = Path(text.removeprefix("gitdir:").strip()).parent.parent  # <repo>/.git
    shutil.rmtree(code, ignore_errors=True)
    subprocess.run(
        ["git", "--git-dir", str(common), "worktree", "prune"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )


def remove(item: Leftover) -> None:
    if item.kind == "worktree":
        _unregister_worktree(item.path / "code")
    shutil.rmtree(item.path, ignore_errors=True)
    lock = item.path.parent / f"{item.path.name}.lock"
    if item.kind == "venv" and lock.exists():
        lock.unlink()
