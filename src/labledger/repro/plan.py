"""The reproduction plan: everything a rerun rebuilds, read from the record alone.

``build_plan`` does no I/O beyond reading the store and listing the reproductions folder, so
``labledger reproduce --dry-run`` prints exactly what a real reproduction would do.

Layout of a reproduction folder (``<store>/reproductions/<run_id>-<n>`` or ``--workdir``)::

    code/    git worktree at the recorded commit, with the diff and untracked files applied
    venv/    the rebuilt environment (not with --env current)

The worktree and the environment are siblings so the environment's files never show up as
untracked files in the reproduced run's own git capture.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labledger.capture.redact import REDACTED
from labledger.config import Settings
from labledger.errors import LabledgerError
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
class EditableSource:
    """An editable install rebuilt from source: from the worktree, or its recorded folder."""

    name: str
    path: Path
    in_worktree: bool
    recorded_commit: str | None


@dataclass(frozen=True)
class EnvPlan:
    mode: EnvMode
    python_version: str | None
    packages: dict[str, str]  # the recorded lock: name -> version
    pinned: dict[str, str]  # what pip installs by version
    editable: tuple[EditableSource, ...]
    notes: tuple[str, ...] = ()

    def requirements(self) -> list[str]:
        """Requirement lines for pip/uv (``name==version`` and ``-e path``)."""
        lines = [f"{name}=={version}" for name, version in sorted(self.pinned.items())]
        lines += [f"-e {source.path}" for source in self.editable]
        return lines


@dataclass(frozen=True)
class CommandPlan:
    args: tuple[str, ...]  # the interpreter's arguments: script or -m module, then its own
    cwd: Path
    env: dict[str, str]  # variables set (on top of the current environment) for the child

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

    @property
    def code_dir(self) -> Path:
        return self.workdir / "code"

    @property
    def venv_dir(self) -> Path:
        return self.workdir / "venv"


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
) -> EnvPlan:
    """Which recorded packages pip installs by version and which editable installs are rebuilt
    from source (``exists`` is replaceable in tests)."""
    packages: dict[str, str] = dict(environment.get("packages") or {})
    editable_info: dict[str, Any] = dict(environment.get("editable") or {})
    pinned: dict[str, str] = {}
    editable: list[EditableSource] = []
    notes: list[str] = []
    for name, version in sorted(packages.items()):
        info = editable_info.get(name)
        path = info.get("path") if isinstance(info, Mapping) else None
        commit = info.get("commit") if isinstance(info, Mapping) else None
        relative = _under(path, repo) if path and repo else None
        if path and relative is not None:
            editable.append(EditableSource(name, code_dir / relative, True, commit))
        elif path and exists(Path(path)):
            editable.append(EditableSource(name, Path(path), False, commit))
            notes.append(
                f"{name} was an editable install of {path}; it is installed from that folder "
                f"as it is now (recorded commit {commit or 'unknown'})"
            )
        else:
            pinned[name] = version
            if path:
                notes.append(
                    f"{name} was an editable install of {path}, which is gone: "
                    f"installing {name}=={version} from the index instead"
                )
    return EnvPlan(
        mode=mode,
        python_version=environment.get("python_version"),
        packages=packages,
        pinned=pinned,
        editable=tuple(editable),
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


def _command_plan(
    command: Mapping[str, Any], repo: str | None, code_dir: Path, exported_hashseed: str | None
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
    cwd_recorded = str(command.get("cwd") or "")
    relative = _under(cwd_recorded, repo) if repo and cwd_recorded else None
    if relative is None:
        where = cwd_recorded or "an unknown folder"
        warnings.append(
            f"the run was started outside its repository (in {where}); "
            "running from the worktree root"
        )
        relative = "."
    env: dict[str, str] = {}
    for name, value in sorted((command.get("env") or {}).items()):
        if name.startswith("LABLEDGER_") or name in _NOT_REPLAYED or value == REDACTED:
            continue
        if name == "PYTHONHASHSEED" and value == exported_hashseed:
            continue  # exported by seed_everything, which the rerun calls again
        env[name] = _rewrite(str(value), repo, code_dir)
    plan = CommandPlan(
        args=tuple(_rewrite(a, repo, code_dir) for a in args),
        cwd=code_dir / relative,
        env=env,
    )
    return plan, problems, warnings


def build_plan(
    run: RunView, settings: Settings, *, workdir: Path | None = None, env_mode: EnvMode = "venv"
) -> ReproPlan:
    """The reproduction of ``run`` as the record describes it. Raises ``LabledgerError`` when
    the record lacks the code or the command."""
    captures = run.captures()
    workdir = (workdir or next_workdir(settings, run.id)).resolve()
    code_dir = workdir / "code"
    code, problems = _code_plan(captures.get("git", {}))
    if code is None:
        raise LabledgerError(f"cannot reproduce run {run.id}: {problems[0]}")
    exported = _exported_hashseed(captures.get("seeds", {}), captures.get("determinism", {}))
    command, command_problems, warnings = _command_plan(
        captures.get("command", {}), code.repo, code_dir, exported
    )
    if command is None:
        raise LabledgerError(f"cannot reproduce run {run.id}: {command_problems[0]}")
    environment = captures.get("environment", {})
    if not environment.get("packages"):
        warnings.append("no package list was recorded: the environment cannot be rebuilt")
    env = env_plan(environment, env_mode, code.repo, code_dir)
    return ReproPlan(
        run_id=run.id,
        project=run.project,
        workdir=workdir,
        code=code,
        env=env,
        command=command,
        problems=tuple(command_problems),
        warnings=(*code.lost, *warnings),
    )
