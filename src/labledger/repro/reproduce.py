"""``labledger reproduce``: rebuild code and environment, rerun the command, verify the result.

The rerun writes to the same store as this command (its location is passed to the child
explicitly, so a ``labledger.toml`` in the rebuilt tree cannot send it elsewhere) and is linked
to the original through ``LABLEDGER_REPRODUCES``, which ``init`` records as ``reproduces``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labledger.config import Settings
from labledger.errors import LabledgerError
from labledger.repro.code import materialize_code
from labledger.repro.environment import (
    EnvReport,
    Installer,
    build_venv,
    current_environment_report,
)
from labledger.repro.plan import REPRODUCES_ENV, ReproPlan
from labledger.repro.sweep import REPRODUCE_CONFIG_ENV, pick_rerun
from labledger.repro.verify import Tolerance, Verification, verify_runs
from labledger.sdk.api import RunView
from labledger.store.base import Store

__all__ = ["ReproResult", "child_environment", "find_reproductions", "run_plan"]

Progress = Callable[[str], None]


@dataclass
class ReproResult:
    plan: ReproPlan
    checkout: str = ""
    env: EnvReport | None = None
    exit_code: int | None = None
    runs: list[RunView] = field(default_factory=list)
    verification: Verification | None = None

    @property
    def reproduced(self) -> bool:
        return self.verification is not None and self.verification.reproduced


def child_environment(plan: ReproPlan, settings: Settings, python: str) -> dict[str, str]:
    """The current environment without the variables the original did not have, plus the
    recorded variables, plus where to record the run."""
    env = {k: v for k, v in os.environ.items() if k not in plan.command.unset}
    env.update(plan.command.env)
    env.update(
        {
            "LABLEDGER_URI": settings.uri,
            "LABLEDGER_DIR": str(settings.root),
            "LABLEDGER_ARTIFACTS": settings.artifact_uri,
            "LABLEDGER_PROJECT": plan.project,
            REPRODUCES_ENV: plan.run_id,
            REPRODUCE_CONFIG_ENV: plan.config,
        }
    )
    if plan.env.mode == "venv":
        bin_dir = str(Path(python).parent)
        env["VIRTUAL_ENV"] = str(Path(python).parent.parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env.pop("PYTHONHOME", None)
    return env


def find_reproductions(store: Store, original: str, since: float) -> list[RunView]:
    """Runs recorded as reproductions of ``original`` created at or after ``since``."""
    records = store.search_runs(None, None, ["-created_at"], 200)
    return [
        RunView(r, store)
        for r in reversed(records)
        if r.reproduces == original and r.created_at >= since
    ]


def run_plan(
    plan: ReproPlan,
    original: RunView,
    store: Store,
    settings: Settings,
    *,
    installer: Installer = "auto",
    tolerance: Tolerance | None = None,
    include_system: bool = False,
    ignore: Sequence[str] = (),
    progress: Progress = lambda message: None,
) -> ReproResult:
    """Rebuild, rerun and verify. Raises ``LabledgerError`` when the code cannot be rebuilt or
    the environment cannot be created; a failing rerun is reported in the result."""
    if plan.problems:
        raise LabledgerError(f"cannot reproduce run {plan.run_id}: {plan.problems[0]}")
    result = ReproResult(plan)
    progress(f"rebuilding the code in {plan.code_dir}")
    result.checkout = materialize_code(plan.code, plan.code_dir)
    if plan.env.mode == "venv":
        result.env = build_venv(plan.env, plan.venv_dir, installer=installer, progress=progress)
    else:
        result.env = current_environment_report(plan.env)
    python = result.env.python
    # The start folder may be git-ignored (an output folder), so absent from the worktree.
    plan.command.cwd.mkdir(parents=True, exist_ok=True)
    if plan.command.env:
        progress(f"replaying {len(plan.command.env)} recorded variable(s): "
                 + ", ".join(sorted(plan.command.env)))  # fmt: skip
    if plan.command.unset:
        progress(f"unsetting {len(plan.command.unset)} variable(s) the original did not have: "
                 + ", ".join(plan.command.unset))  # fmt: skip
    progress(f"running {plan.command.display()} in {plan.command.cwd}")
    started = time.time()
    env = child_environment(plan, settings, python)
    try:
        done = subprocess.run(
            [python, *plan.command.args],
            cwd=plan.command.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise LabledgerError(f"cannot start {python}: {exc.strerror or exc}") from None
    result.exit_code = done.returncode
    # created_at is the child's clock on this machine; allow for float rounding only.
    result.runs = find_reproductions(store, plan.run_id, started - 1.0)
    if result.runs:
        rerun = pick_rerun(original, result.runs)
        result.verification = verify_runs(
            original, rerun, store, tolerance, include_system=include_system, ignore=ignore
        )
    return result


def python_for_display(plan: ReproPlan) -> str:
    return str(plan.venv_dir / "bin" / "python") if plan.env.mode == "venv" else sys.executable
