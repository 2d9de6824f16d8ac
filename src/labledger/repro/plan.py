"""The reproduction plan: everything a rerun rebuilds, read from the record alone.

``build_plan`` does no I/O beyond reading the store and listing the reproductions folder, so
``labledger reproduce --dry-run`` prints exactly what a real reproduction would do.

Layout of a reproduction folder (``<store>/reproductions/<run_id>-<n>`` or ``--workdir``)::

    code/    git worktree at the recorded commit, with the diff and untracked files applied
    deps/    other repositories installed editable, cloned at their recorded commits

The environment (``--env venv``) is shared by every reproduction with the same package lock:
``<store>/reproductions/venvs/<lock key>``. It sits outside the worktree, so its files never
show up as untracked files in the reproduced run's own git capture.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labledger.capture.command import is_machine_variable
from labledger.capture.redact import REDACTED
from labledger.config import Settings
from labledger.errors import LabledgerError
from labledger.repro.packages import PackageSource, lock_key, resolve_sources
from labledger.repro.sweep import config_json, process_siblings, sweep_note
from labledger.sdk.api import RunView

__all__ = [
    "REPRODUCES_ENV",
    "CodePlan",
    "CommandPlan",
    "EnvMode",
    "EnvPlan",
    "ReproPlan",
    "build_plan",
    "next_workdir",
]

EnvMode = Literal["venv", "current"]
REPRODUCES_ENV = "LABLEDGER_REPRODUCES"

# Recorded variables never replayed: labledger's own (the reproduction sets them) and ones that
# point at the original interpreter.
_NOT_REPLAYED = ("PYTHONHOME", "PYTHONEXECUTABLE", "PYTHONSTARTUP", "PYTHONUSERBASE")
_INTERACTIVE_MODULES = ("ipykernel_launcher", "ipykernel", "IPython", "jupyter")


@dataclass(frozen=True)
class CodePlan:
    """The recorded code state."""

    repo: str | None  # the recorded repository root
    remote_url: str | None
    commit: str
    branch: str | None
    diff: str  # "" for a clean tree
    untracked: dict[str, str]
    lost: tuple[str, ...] = ()  # changes the record could not keep (big diff, binary files)

    @property
    def patch_lines(self) -> int:
        return self.diff.count("\n")

    @property
    def changed_files(self) -> list[str]:
        """Paths the diff touches (``+++ b/<path>`` lines; deletions by their ``a/`` path)."""
        paths: list[str] = []
        previous = ""
        for line in self.diff.splitlines():
            if line.startswith("+++ "):
                target = line[4:]
                if target == "/dev/null" and previous.startswith("--- a/"):
                    target = previous[4:]
                paths.append(target.removeprefix("b/").removeprefix("a/"))
            previous = line
        return paths


@dataclass(frozen=True)
class EnvPlan:
    mode: EnvMode
    python_version: str | None
    packages: dict[str, str]  # the recorded lock: name -> version
    sources: tuple[PackageSource, ...] = ()  # how each package is installed again
    indexes: tuple[str, ...] = ()  # extra indexes: recorded ones, then --index-url
    notes: tuple[str, ...] = ()

    @property
    def pinned(self) -> dict[str, str]:
        """Packages installed by version from an index."""
        return {s.name: s.version for s in self.sources if s.kind == "registry"}

    def requirements(self) -> list[str]:
        """Requirement lines for pip/uv, shared ones first, then the per-reproduction ones."""
        shared = [s.requirement for s in self.sources if not s.local]
        return shared + [s.requirement for s in self.sources if s.local]


@dataclass(frozen=True)
class CommandPlan:
    args: tuple[str, ...]  # the interpreter's arguments: script or -m module, then its own
    cwd: Path
    env: dict[str, str]  # variables set (on top of the current environment) for the child
    unset: tuple[str, ...] = ()  # variables of the current environment the original did not have
    init_cwd: Path | None = None  # where labledger.init ran, when the program changed folder

    def display(self, python: str = "python") -> str:
        return shlex.join([python, *self.args])


@dataclass(frozen=True)
class ReproPlan:
    run_id: str
    project: str
    workdir: Path
    code: CodePlan
    env: EnvPlan
    command: CommandPlan
    problems: tuple[str, ...] = ()  # reasons the plan cannot run at all
    warnings: tuple[str, ...] = field(default=())
    venv: Path | None = None  # the shared environment for this package lock (--env venv)
    config: str = "{}"  # the run's recorded config as JSON, for LABLEDGER_REPRODUCE_CONFIG
    siblings: int = 1  # runs the original's process recorded (> 1: an in-process sweep)

    @property
    def code_dir(self) -> Path:
        return self.workdir / "code"

    @property
    def venv_dir(self) -> Path:
        return self.venv or self.workdir / "venv"


def next_workdir(settings: Settings, run_id: str) -> Path:
    """``<store>/reproductions/<run_id>-<n>`` with the first ``n`` not used yet."""
    base = settings.root / "reproductions"
    n = 1
    while (base / f"{run_id}-{n}").exists():
        n += 1
    return base / f"{run_id}-{n}"


def _under(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` (``"."`` for the root itself), or None when outside."""
    try:
        relative = Path(path).relative_to(root)
    except ValueError:
        return None
    return str(relative) if str(relative) else "."


def _rewrite(value: str, root: str | None, code_dir: Path) -> str:
    """Point absolute paths inside the original repository at the worktree."""
    if not root:
        return value
    if value == root:
        return str(code_dir)
    return value.replace(root.rstrip("/") + "/", str(code_dir) + "/")


def _code_plan(git: Mapping[str, Any]) -> tuple[CodePlan | None, list[str]]:
    if not git:
        return None, ["no git state was recorded for this run (capture was off or failed)"]
    if "error" in git:
        return None, [f"the git capture failed: {git['error']}"]
    if not git.get("present"):
        return None, ["the run was not started inside a git repository: its code was not recorded"]
    commit = git.get("commit")
    if not commit:
        return None, [f"the repository {git.get('root')} had no commit when the run started"]
    lost = []
    if git.get("diff") is None:
        lost.append(f"the uncommitted diff was not recorded ({git.get('diff_skipped', 'unknown')})")
    skipped = git.get("untracked_skipped") or {}
    for path, reason in sorted(skipped.items()):
        lost.append(f"untracked file {path} was not recorded ({reason})")
    if git.get("untracked_skipped_unlisted"):
        lost.append(f"{git['untracked_skipped_unlisted']} more untracked files were not recorded")
    plan = CodePlan(
        repo=git.get("root"),
        remote_url=git.get("remote_url"),
        commit=str(commit),
        branch=git.get("branch"),
        diff=git.get("diff") or "",
        untracked=dict(git.get("untracked") or {}),
        lost=tuple(lost),
    )
    return plan, []


def env_plan(
    environment: Mapping[str, Any],
    mode: EnvMode,
    repo: str | None,
    code_dir: Path,
    exists: Callable[[Path], bool] = Path.exists,
    *,
    skip: Sequence[str] = (),
    index_urls: Sequence[str] = (),
) -> EnvPlan:
    """How every recorded package is installed again (``exists`` is replaceable in tests)."""
    sources, notes = resolve_sources(
        environment, repo, code_dir, code_dir.parent / "deps", skip=skip, exists=exists
    )
    recorded = dict(environment.get("indexes") or {})
    indexes = [str(u) for u in recorded.get("extra_index_urls") or []]
    if recorded.get("index_url"):
        indexes.insert(0, str(recorded["index_url"]))
    indexes += [u for u in index_urls if u not in indexes]
    return EnvPlan(
        mode=mode,
        python_version=environment.get("python_version"),
        packages=dict(environment.get("packages") or {}),
        sources=tuple(sources),
        indexes=tuple(indexes),
        notes=tuple(notes),
    )


def _exported_hashseed(seeds: Mapping[str, Any], determinism: Mapping[str, Any]) -> str | None:
    """The PYTHONHASHSEED value ``seed_everything`` exported, unless the process was started
    with it: the command probe runs after seeding, so the variable alone cannot tell. A process
    started with PYTHONHASHSEED=0 is the one case the interpreter's flags reveal."""
    exported = seeds.get("PYTHONHASHSEED_exported")
    if exported is None:
        return None
    if str(exported) == "0" and determinism.get("hash_randomization") is False:
        return None
    return str(exported)


def _replayed(
    command: Mapping[str, Any],
    repo: str | None,
    code_dir: Path,
    exported_hashseed: str | None,
    current: Mapping[str, str],
) -> tuple[dict[str, str], tuple[str, ...], list[str]]:
    """Variables to set and to unset for the rerun, and warnings about secrets."""
    recorded: dict[str, Any] = dict(command.get("env") or {})
    env: dict[str, str] = {}
    warnings: list[str] = []
    for name, value in sorted(recorded.items()):
        if name.startswith("LABLEDGER_") or name in _NOT_REPLAYED or is_machine_variable(name):
            continue
        if name == "PYTHONHASHSEED" and value == exported_hashseed:
            continue  # exported by seed_everything, which the rerun calls again
        if value == REDACTED:
            if name not in current:
                warnings.append(f"{name} was set (a secret, not recorded) and is not set now")
            continue  # the current value, if any, is kept
        env[name] = _rewrite(str(value), repo, code_dir)
    unset: tuple[str, ...] = ()
    if command.get("env_complete"):
        unset = tuple(
            sorted(
                name
                for name in current
                if name not in recorded
                and not is_machine_variable(name)
                and not name.startswith("LABLEDGER_")
                and name not in _NOT_REPLAYED
            )
        )
    return env, unset, warnings


def _command_plan(
    command: Mapping[str, Any],
    repo: str | None,
    code_dir: Path,
    exported_hashseed: str | None,
    current: Mapping[str, str],
) -> tuple[CommandPlan | None, list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    orig = command.get("orig_argv") or []
    argv = command.get("argv") or []
    if not command or "error" in command:
        return None, ["no command line was recorded for this run"], []
    args = [str(a) for a in orig[1:]] if orig else [str(a) for a in argv]
    if not args or args[0] == "-" or any(m in args for m in _INTERACTIVE_MODULES):
        started = shlex.join(str(a) for a in orig or argv) or "python"
        problems.append(
            f"the run was started from an interactive session ({started}): "
            "there is no command to rerun"
        )
    init_cwd = str(command.get("cwd") or "")
    # The folder the program was started from: relative script paths and data paths are
    # relative to it (Hydra's chdir moves the init folder into a git-ignored output folder).
    cwd_recorded = str(command.get("start_cwd") or init_cwd)
    relative = _under(cwd_recorded, repo) if repo and cwd_recorded else None
    if relative is None:
        where = cwd_recorded or "an unknown folder"
        warnings.append(
            f"the run was started outside its repository (in {where}); "
            "running from the worktree root"
        )
        relative = "."
    init_relative = _under(init_cwd, repo) if repo and init_cwd else None
    env, unset, secret_warnings = _replayed(command, repo, code_dir, exported_hashseed, current)
    plan = CommandPlan(
        args=tuple(_rewrite(a, repo, code_dir) for a in args),
        cwd=code_dir / relative,
        env=env,
        unset=unset,
        init_cwd=code_dir / init_relative
        if init_relative is not None and init_cwd != cwd_recorded
        else None,
    )
    return plan, problems, warnings + secret_warnings


def build_plan(
    run: RunView,
    settings: Settings,
    *,
    workdir: Path | None = None,
    env_mode: EnvMode = "venv",
    skip_packages: Sequence[str] = (),
    index_urls: Sequence[str] = (),
    current_env: Mapping[str, str] | None = None,
) -> ReproPlan:
    """The reproduction of ``run`` as the record describes it. Raises ``LabledgerError`` when
    the record lacks the code or the command. ``current_env`` (default ``os.environ``) is the
    environment the rerun starts from."""
    captures = run.captures()
    workdir = (workdir or next_workdir(settings, run.id)).resolve()
    code_dir = workdir / "code"
    code, problems = _code_plan(captures.get("git", {}))
    if code is None:
        raise LabledgerError(f"cannot reproduce run {run.id}: {problems[0]}")
    exported = _exported_hashseed(captures.get("seeds", {}), captures.get("determinism", {}))
    current = os.environ if current_env is None else current_env
    command, command_problems, warnings = _command_plan(
        captures.get("command", {}), code.repo, code_dir, exported, current
    )
    if command is None:
        raise LabledgerError(f"cannot reproduce run {run.id}: {command_problems[0]}")
    environment = captures.get("environment", {})
    if not environment.get("packages"):
        warnings.append("no package list was recorded: the environment cannot be rebuilt")
    env = env_plan(
        environment, env_mode, code.repo, code_dir, skip=skip_packages, index_urls=index_urls
    )
    venv = None
    if env_mode == "venv":
        python = str(env.python_version or "").rsplit(".", 1)[0] or "current"
        key = lock_key(env.sources, python, env.indexes)
        venv = settings.root / "reproductions" / "venvs" / key
    siblings = len(process_siblings(run, run.store))
    note = sweep_note(run.id, siblings)
    if note:
        warnings.append(note)
    return ReproPlan(
        run_id=run.id,
        project=run.project,
        workdir=workdir,
        code=code,
        env=env,
        command=command,
        problems=tuple(command_problems),
        warnings=(*code.lost, *warnings),
        venv=venv,
        config=config_json(run),
        siblings=siblings,
    )
