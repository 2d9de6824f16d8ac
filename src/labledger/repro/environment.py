"""Rebuilding the recorded Python environment, or comparing it with the current one.

``--env venv`` (default) installs every recorded distribution the way it was installed
(``repro.packages``: by version, from the worktree, cloned at a commit, from a VCS URL or a
file) with ``--no-deps`` (the record is the whole dependency closure, so nothing is
re-resolved), then labledger itself from the running labledger's source, with its dependencies.
The environment is shared by every reproduction with the same package lock (a cache under
``<store>/reproductions/venvs/``): a second reproduction only reinstalls the packages that
come from its own worktree. uv is used when it is on PATH (``--installer`` chooses; pip's
indexes and find-links are handed to it), pip otherwise with its own configuration. When the
batch install fails, each requirement is retried alone, and the reproduction stops before the
rerun with ``InstallError`` naming exactly the packages that could not be installed.

``--env current`` keeps the current interpreter and lists every package whose version differs.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from labledger.capture.environment import capture_environment, install_sources
from labledger.errors import LabledgerError
from labledger.repro.packages import CloneSource, PackageSource
from labledger.repro.plan import EnvPlan

__all__ = [
    "COMPLETE_MARKER",
    "EnvReport",
    "InstallError",
    "InstallFailure",
    "PackageDifference",
    "build_venv",
    "compare_packages",
    "current_environment_report",
    "find_python",
    "venv_python",
]

Installer = Literal["auto", "pip", "uv"]
Progress = Callable[[str], None]
INSTALL_TIMEOUT = 3600.0
COMPLETE_MARKER = ".labledger-complete"
# Installer output lines worth showing as progress (pip, then uv).
_PROGRESS_PREFIXES = ("Collecting", "Building", "Installing", "Successfully", "Resolved",
                      "Prepared", "Installed", "Built", "Uninstalled")  # fmt: skip


@dataclass(frozen=True)
class PackageDifference:
    name: str
    recorded: str | None  # None: not in the record
    current: str | None  # None: not installed now


@dataclass(frozen=True)
class InstallFailure:
    requirement: str
    reason: str
    name: str = ""


@dataclass
class EnvReport:
    """What the environment step did: the interpreter to run and what does not match."""

    python: str
    mode: str
    differences: list[PackageDifference] = field(default_factory=list)
    failures: list[InstallFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cached: bool = False
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return not self.differences and not self.failures


class InstallError(LabledgerError):
    """Recorded packages that cannot be installed: the rerun would be bound to fail."""

    def __init__(self, failures: Sequence[InstallFailure]) -> None:
        self.failures = list(failures)
        shown = "; ".join(f"{f.requirement} ({f.reason})" for f in self.failures[:5])
        more = f" and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
        first = self.failures[0].name or self.failures[0].requirement if self.failures else "NAME"
        super().__init__(
            f"{len(self.failures)} recorded package(s) cannot be installed, so the rerun was "
            f"not started: {shown}{more}. Choose: --env current (rerun in this environment), "
            f"--skip-package {first} (rerun without it), or --index-url URL (another index)"
        )


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


def _minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


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


def find_python(recorded: str | None, uv: str | None) -> tuple[str, str | None]:
    """An interpreter matching the recorded ``X.Y`` (this one, ``pythonX.Y`` on PATH, or
    ``uv python find``), and a note saying which one or that the Python differs."""
    current = ".".join(map(str, sys.version_info[:3]))
    wanted = _minor(recorded)
    if wanted is None or wanted == _minor(current):
        return sys.executable, None
    found = shutil.which(f"python{wanted}")
    if found is None and uv is not None:
        ok, out = _run([uv, "python", "find", wanted], timeout=60)
        found = out.strip().splitlines()[-1] if ok and out.strip() else None
    if found:
        return found, f"recorded Python {recorded}: using {found} (Python {wanted})"
    return sys.executable, (
        f"recorded Python {recorded}, but no Python {wanted} was found on this machine "
        f"(PATH, uv): using Python {current}, so results may differ"
    )


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _run(args: list[str], timeout: float = INSTALL_TIMEOUT) -> tuple[bool, str]:
    """Run a command; (succeeded, stdout), or (False, the first error line of its output)."""
    try:
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode == 0:
        return True, done.stdout
    return False, _error_line(done.stderr + done.stdout, done.returncode)


def _error_line(output: str, code: int) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith(("error", "×", "╰─▶"))]
    hints = [line for line in lines if "No matching distribution" in line or "not found" in line]
    return (hints or errors or lines[-1:] or [f"exit code {code}"])[0]


def _install(args: list[str], progress: Progress) -> tuple[bool, str]:
    """Run an installer, showing its progress lines as they come."""
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as exc:
        return False, str(exc)
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        text = line.strip()
        if text.startswith(_PROGRESS_PREFIXES):
            progress(f"  {text}")
    try:
        code = process.wait(timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        return False, f"timed out after {INSTALL_TIMEOUT:g}s"
    return (True, "") if code == 0 else (False, _error_line("".join(output), code))


def _choose_installer(installer: Installer) -> str | None:
    """The uv executable when uv is to be used, else None (pip)."""
    uv = shutil.which("uv")
    if uv is None:
        beside = Path(sys.executable).parent / "uv"  # installed in this environment
        uv = str(beside) if beside.is_file() else None
    if installer == "uv" and uv is None:
        raise LabledgerError("--installer uv: uv is not on PATH")
    return uv if installer in ("auto", "uv") else None


def _uv_sources() -> list[str]:
    """pip's configured indexes and find-links as uv options (uv does not read pip.conf)."""
    sources = install_sources()
    args: list[str] = []
    if sources["index_url"]:
        args += ["--index-url", sources["index_url"]]
    for url in sources["extra_index_urls"]:
        args += ["--extra-index-url", url]
    for link in sources["find_links"]:
        args += ["--find-links", link]
    return args


def _install_command(
    uv: str | None, python: Path, requirements: Path, indexes: Sequence[str], deps: bool
) -> list[str]:
    no_deps = [] if deps else ["--no-deps"]
    extra = [arg for url in indexes for arg in ("--extra-index-url", url)]
    if uv is not None:
        return [
            uv, "pip", "install", "--python", str(python), *no_deps, *_uv_sources(), *extra,
            "--index-strategy", "unsafe-best-match", "-r", str(requirements),
        ]  # fmt: skip
    return [
        str(python), "-m", "pip", "install", *no_deps, "--disable-pip-version-check",
        "--no-input", *extra, "-r", str(requirements),
    ]  # fmt: skip


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process builds a given shared environment at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _clone(clone: CloneSource) -> None:
    from labledger.repro.code import CodeError
    from labledger.repro.code import _git as git

    if clone.dest.exists():
        shutil.rmtree(clone.dest)
    errors: list[str] = []
    for url in (clone.url, clone.fallback_url):
        if not url:
            continue
        try:
            git(["clone", "--quiet", "--no-checkout", url, str(clone.dest)], timeout=600)
            git(["checkout", "--quiet", "--detach", clone.commit], cwd=clone.dest)
            return
        except CodeError as exc:
            errors.append(str(exc))
            shutil.rmtree(clone.dest, ignore_errors=True)
    raise LabledgerError(f"commit {clone.commit[:12]} not available: {'; '.join(errors)}")


class _Installer:
    def __init__(self, uv: str | None, python: Path, indexes: Sequence[str], progress: Progress):
        self.uv, self.python, self.indexes, self.progress = uv, python, indexes, progress

    def install(
        self, sources: Sequence[PackageSource], *, deps: bool = False
    ) -> list[InstallFailure]:
        """Install ``sources`` in one batch; when it fails, one by one to name the failures."""
        if not sources:
            return []
        with tempfile.TemporaryDirectory(prefix="labledger-") as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text("".join(s.requirement + "\n" for s in sources))
            command = _install_command(self.uv, self.python, requirements, self.indexes, deps)
            ok, why = _install(command, self.progress)
            if ok:
                return []
            if len(sources) == 1:
                return [InstallFailure(sources[0].requirement, why, sources[0].name)]
            self.progress(f"batch install failed ({why}); retrying one package at a time")
            failures = []
            for source in sources:
                requirements.write_text(source.requirement + "\n")
                ok, why = _run(_install_command(self.uv, self.python, requirements,
                                                self.indexes, deps))  # fmt: skip
                if not ok:
                    failures.append(InstallFailure(source.requirement, why, source.name))
            return failures


@contextmanager
def _source_copy(source: PackageSource) -> Iterator[PackageSource]:
    """A source folder is built from a temporary copy: building in place would leave
    ``*.egg-info`` in the user's checkout (which a ``PYTHONPATH=src`` setup then reads as the
    installed package's metadata)."""
    folder = Path(source.requirement)
    if not folder.is_dir():
        yield source
        return
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", ".git", ".venv", "build", "dist")
    with tempfile.TemporaryDirectory(prefix="labledger-src-") as tmp:
        copy = Path(tmp) / folder.name
        copy.mkdir()
        for name in ("pyproject.toml", "setup.py", "setup.cfg", "README.md", "LICENSE"):
            if (folder / name).is_file():
                shutil.copy2(folder / name, copy / name)
        for name in ("src", folder.name.replace("-", "_")):
            if (folder / name).is_dir():
                shutil.copytree(folder / name, copy / name, ignore=ignore)
        yield PackageSource(source.name, source.version, source.kind, str(copy), source.note)


def _create(venv: Path, uv: str | None, python: str) -> None:
    if venv.exists():
        shutil.rmtree(venv)  # an unfinished build
    if uv is not None:
        ok, why = _run([uv, "venv", "--quiet", "--python", python, str(venv)])
    else:
        ok, why = _run([python, "-m", "venv", str(venv)])
    if not ok:
        raise LabledgerError(f"cannot create a virtual environment in {venv}: {why}")


def build_venv(
    plan: EnvPlan,
    venv: Path,
    *,
    installer: Installer = "auto",
    progress: Progress = lambda message: None,
) -> EnvReport:
    """The environment for ``plan`` in ``venv`` (reused when already built for the same lock),
    with the per-reproduction packages installed on top. Raises ``InstallError`` naming the
    packages that cannot be installed, ``LabledgerError`` when no environment can be made."""
    started = time.monotonic()
    uv = _choose_installer(installer)
    base, python_note = find_python(plan.python_version, uv)
    python = venv_python(venv)
    report = EnvReport(python=str(python), mode="venv", notes=list(plan.notes))
    if python_note:
        report.notes.append(python_note)
    shared = [s for s in plan.sources if not s.local and s.kind != "labledger"]
    own = [s for s in plan.sources if s.kind == "labledger"]
    local = [s for s in plan.sources if s.local]
    tool = "uv" if uv else "venv + pip"
    with _locked(venv.parent / f"{venv.name}.lock"):
        if (venv / COMPLETE_MARKER).is_file():
            report.cached = True
            progress(f"reusing the environment built for this package lock: {venv}")
        else:
            progress(f"creating a virtual environment in {venv} ({tool})")
            _create(venv, uv, base)
            steps = _Installer(uv, python, plan.indexes, progress)
            progress(f"installing {len(shared)} packages at their recorded versions")
            failures = steps.install(shared)
            if not failures and own:
                progress(f"installing {own[0].note or own[0].requirement}")
                with _source_copy(own[0]) as source:
                    failures = steps.install([source], deps=True)
            if failures:
                raise InstallError(failures)
            (venv / COMPLETE_MARKER).write_text("\n".join(plan.requirements()) + "\n")
    failures = []
    steps = _Installer(uv, python, plan.indexes, progress)
    for source in local:
        if source.clone is not None:
            progress(f"cloning {source.clone.url} at {source.clone.commit[:12]} for {source.name}")
            try:
                _clone(source.clone)
            except LabledgerError as exc:
                failures.append(InstallFailure(source.requirement, str(exc), source.name))
    if local and not failures:
        progress(f"installing {len(local)} package(s) from the reproduced sources")
        failures = steps.install(local)
    if failures:
        raise InstallError(failures)
    report.seconds = time.monotonic() - started
    progress(
        f"environment ready in {report.seconds:.1f} s" + (" (cached)" if report.cached else "")
    )
    return report
