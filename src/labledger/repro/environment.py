"""Rebuilding the recorded Python environment, or comparing it with the current one.

``--env venv`` (default) creates a virtual environment with the current interpreter and installs
every recorded distribution at its recorded version with ``--no-deps`` (the record is the whole
dependency closure, so nothing is re-resolved). Editable installs of the reproduced project come
from the worktree. pip uses its own configuration (index, mirror, find-links); uv is used when
it is on PATH (``--installer`` chooses). When the batch install fails, each requirement is
retried alone so the report names exactly the packages that could not be installed.

``--env current`` keeps the current interpreter and lists every package whose version differs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labledger.capture.environment import capture_environment
from labledger.errors import LabledgerError
from labledger.repro.plan import EnvPlan

__all__ = [
    "EnvReport",
    "InstallFailure",
    "PackageDifference",
    "build_venv",
    "compare_packages",
    "current_environment_report",
    "venv_python",
]

Installer = Literal["auto", "pip", "uv"]
INSTALL_TIMEOUT = 3600.0


@dataclass(frozen=True)
class PackageDifference:
    name: str
    recorded: str | None  # None: not in the record
    current: str | None  # None: not installed now


@dataclass(frozen=True)
class InstallFailure:
    requirement: str
    reason: str


@dataclass
class EnvReport:
    """What the environment step did: the interpreter to run and what does not match."""

    python: str
    mode: str
    differences: list[PackageDifference] = field(default_factory=list)
    failures: list[InstallFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.differences and not self.failures


def compare_packages(
    recorded: Mapping[str, str], current: Mapping[str, str]
) -> list[PackageDifference]:
    """Every distribution whose version differs, or that only one side has, by name."""
    names = sorted(set(recorded) | set(current))
    return [
        PackageDifference(name, recorded.get(name), current.get(name))
        for name in names
        if recorded.get(name) != current.get(name)
    ]


def _python_note(recorded: str | None, current: str) -> list[str]:
    if recorded and recorded != current:
        return [f"recorded Python {recorded}, running Python {current}"]
    return []


def current_environment_report(plan: EnvPlan) -> EnvReport:
    """``--env current``: the recorded lock against the interpreter running this command."""
    environment = capture_environment()
    current_packages: dict[str, str] = dict(environment.get("packages") or {})
    report = EnvReport(python=sys.executable, mode="current")
    report.differences = compare_packages(plan.packages, current_packages)
    report.notes = _python_note(plan.python_version, str(environment.get("python_version")))
    return report


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _run(args: list[str], timeout: float = INSTALL_TIMEOUT) -> tuple[bool, str]:
    """Run an installer command; (succeeded, last meaningful line of its error output)."""
    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode == 0:
        return True, ""
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or line.startswith("error")]
    return False, (errors or lines or [f"exit code {done.returncode}"])[0]


def _choose_installer(installer: Installer) -> str | None:
    """The uv executable when uv is to be used, else None (pip)."""
    uv = shutil.which("uv")
    if installer == "uv" and uv is None:
        raise LabledgerError("--installer uv: uv is not on PATH")
    return uv if installer in ("auto", "uv") else None


def _install_command(uv: str | None, python: Path, requirements: Path) -> list[str]:
    if uv is not None:
        return [uv, "pip", "install", "--python", str(python), "--no-deps", "-r", str(requirements)]
    return [
        str(python),
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(requirements),
    ]


def build_venv(
    plan: EnvPlan,
    venv: Path,
    *,
    installer: Installer = "auto",
    progress: Callable[[str], None] = lambda message: None,
) -> EnvReport:
    """Create ``venv`` and install the plan's requirements; never raises for a package that
    cannot be installed (it is reported), only when the environment itself cannot be made."""
    uv = _choose_installer(installer)
    if venv.exists():
        raise LabledgerError(f"{venv} already exists: choose another --workdir")
    venv.parent.mkdir(parents=True, exist_ok=True)
    progress(f"creating a virtual environment in {venv} ({'uv' if uv else 'venv + pip'})")
    if uv is not None:
        ok, why = _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    else:
        ok, why = _run([sys.executable, "-m", "venv", str(venv)])
    if not ok:
        raise LabledgerError(f"cannot create a virtual environment in {venv}: {why}")
    python = venv_python(venv)
    report = EnvReport(python=str(python), mode="venv", notes=list(plan.notes))
    report.notes += _python_note(plan.python_version, sys.version.split()[0])
    lines = plan.requirements()
    if not lines:
        return report
    progress(f"installing {len(lines)} packages at their recorded versions")
    with tempfile.TemporaryDirectory(prefix="labledger-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(lines) + "\n")
        ok, why = _run(_install_command(uv, python, requirements))
        if not ok:
            progress(f"batch install failed ({why}); retrying one package at a time")
            for line in lines:
                requirements.write_text(line + "\n")
                ok, why = _run(_install_command(uv, python, requirements))
                if not ok:
                    report.failures.append(InstallFailure(line, why))
    return report
