"""End to end in fresh virtual environments, one test per install kind of the project under
test: record a run in the project's own environment, delete the working copy, then
``labledger reproduce`` in the default mode (a new environment from the record) gives
REPRODUCED. uv builds the environments (seconds each, from its cache); without uv the tests
are skipped rather than taking minutes with pip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import labledger as ll
from labledger.repro.environment import _choose_installer, _uv_sources
from tests.repro.conftest import cli_process, commit_all, git

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """\
import numpy as np

import labledger as ll
{imports}

rng = np.random.default_rng(7)
with ll.init(project="fresh", config={{"scale": SCALE}}, seed=7) as run:
    x = rng.normal(size=200) * SCALE
    for step in range(5):
        run.log({{"mean": float(np.mean(x[: 40 * (step + 1)]))}}, step=step)
    run.summary["std"] = float(np.std(x))
print("run", run.id)
"""


def _uv() -> str:
    uv = _choose_installer("auto")
    if uv is None:
        pytest.skip("uv is not installed")
    return uv


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return env


def project_venv(tmp_path: Path, *requirements: str) -> Path:
    """The user's own environment: labledger from this checkout plus ``requirements``."""
    uv = _uv()
    venv = tmp_path / "user-venv"
    # A checkout of labledger of the user's own (a copy of this one: building in place would
    # leave src/labledger.egg-info behind, which PYTHONPATH=src setups read as metadata).
    checkout = tmp_path / "labledger-checkout"
    shutil.copytree(ROOT / "src", checkout / "src", ignore=shutil.ignore_patterns("*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, checkout / name)
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *_uv_sources(),
         "--index-strategy", "unsafe-best-match", "-e", str(checkout), *requirements],
        check=True, env=_clean_env(), capture_output=True,
    )  # fmt: skip
    return python


def library_repo(tmp_path: Path, name: str, value: float) -> Path:
    """A package of its own, under git: ``name.SCALE = value``."""
    path = tmp_path / name
    (path / name).mkdir(parents=True)
    (path / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1"\n[build-system]\n'
        'requires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    (path / name / "__init__.py").write_text(f"SCALE = {value}\n")
    git(path, "init", "-q", "-b", "main")
    commit_all(path, "lib")
    return path


def project(tmp_path: Path, imports: str) -> tuple[Path, Path]:
    """The project repository, pushed to a bare remote (so it survives the working copy)."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text(TRAIN.format(imports=imports))
    commit_all(repo, "train")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return repo, remote


def record(python: Path, repo: Path) -> str:
    done = subprocess.run(
        [str(python), "train.py"], cwd=repo, env=_clean_env(), capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    match = re.search(r"^run (\w+)$", done.stdout, re.M)
    assert match, done.stdout
    return match.group(1)


def reproduce(run_id: str, cwd: Path) -> str:
    done = cli_process("reproduce", run_id, cwd=cwd, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "REPRODUCED" in out
    return out


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One user environment (labledger from a checkout + numpy) shared by the tests that
    install nothing else: built once per module, never modified by a test."""
    return project_venv(tmp_path_factory.mktemp("plain"))


def test_registry_packages_and_labledger_from_a_checkout(
    tmp_path: Path, plain_python: Path
) -> None:
    python = plain_python
    repo, _ = project(tmp_path, "SCALE = 2.0")
    run_id = record(python, repo)
    shutil.rmtree(repo)

    out = reproduce(run_id, tmp_path)
    assert "clone of" in out  # the working copy is gone: the commit comes from the remote
    assert f"{ROOT} (labledger, labledger)" in out  # the running labledger's own source
    assert "numpy==" in out or "packages pinned" in out
    again = reproduce(run_id, tmp_path)
    assert "reusing the environment built for this package lock" in again


def test_an_editable_package_with_its_own_repository(tmp_path: Path) -> None:
    lib = library_repo(tmp_path, "scalelib", 3.0)
    python = project_venv(tmp_path, "-e", str(lib))
    repo, _ = project(tmp_path, "from scalelib import SCALE")
    run_id = record(python, repo)
    shutil.rmtree(repo)
    # The library moves on after the run: the reproduction must use the recorded commit.
    (lib / "scalelib" / "__init__.py").write_text("SCALE = 4.0\n")
    commit_all(lib, "new scale")

    out = reproduce(run_id, tmp_path)
    assert "scalelib: rebuilt from" in out and "(scalelib, clone)" in out


def test_a_vcs_installed_package(tmp_path: Path) -> None:
    lib = library_repo(tmp_path, "vcslib", 5.0)
    commit = git(lib, "rev-parse", "HEAD")
    python = project_venv(tmp_path, f"vcslib @ git+file://{lib}@{commit}")
    repo, _ = project(tmp_path, "from vcslib import SCALE")
    run_id = record(python, repo)
    shutil.rmtree(repo)

    out = reproduce(run_id, tmp_path)
    assert f"vcslib @ git+file://{lib}@{commit}" in out


def test_a_package_that_cannot_be_installed_stops_before_the_rerun(tmp_path: Path) -> None:
    lib = library_repo(tmp_path, "lostlib", 1.0)
    python = project_venv(tmp_path, str(lib))  # a folder install, not editable, not under git
    repo, _ = project(tmp_path, "from lostlib import SCALE")
    run_id = record(python, repo)
    shutil.rmtree(lib)  # the folder is gone and lostlib is on no index

    done = cli_process("reproduce", run_id, cwd=tmp_path, timeout=600)
    assert done.returncode == 1
    assert "lostlib" in done.stderr and "rerun was not started" in done.stderr
    assert "--skip-package lostlib" in done.stderr and "--env current" in done.stderr
    assert "running " not in done.stdout  # the command never started


def _readme_walkthrough() -> list[str]:
    """The commands of the README's "Reproduce your own run" block, comments stripped."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Reproduce your own run", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [
        line.split("#", 1)[0].strip() for line in block.splitlines() if line.split("#")[0].strip()
    ]


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path, plain_python: Path) -> None:
    """Every command of the README's walkthrough, in order, in a new project: `python` is the
    user's environment, `labledger` this checkout's CLI, RUN the run the script recorded."""
    commands = _readme_walkthrough()
    assert commands[0] == "cd my-project" and commands[1] == "python train.py"
    assert any(c.startswith("labledger reproduce RUN") and "--env" not in c for c in commands)
    project_dir = tmp_path / "my-project"
    project_dir.mkdir()
    git(project_dir, "init", "-q", "-b", "main")
    (project_dir / "train.py").write_text(TRAIN.format(imports="SCALE = 1.5"))
    commit_all(project_dir, "train")

    cwd, run_id, outputs = tmp_path, "", {}
    for command in commands:
        words = command.split()
        if words[0] == "cd":
            cwd = cwd / words[1]
        elif words[0] == "python":
            run_id = record(plain_python, cwd)
        else:
            assert words[0] == "labledger", command
            args = [run_id if w == "RUN" else w for w in words[1:]]
            done = cli_process(*args, cwd=cwd, timeout=600)
            assert done.returncode == 0, f"{command}:\n{done.stdout}{done.stderr}"
            outputs[command] = done.stdout + done.stderr
    assert run_id in outputs["labledger runs ls"]
    assert "REPRODUCED" in outputs["labledger reproduce RUN"]
    assert (
        "labledger reproduce RUN --dry-run" in outputs
        and "command:" in outputs["labledger reproduce RUN --dry-run"]
    )
    assert "Removed" in outputs["labledger reproductions clean --yes"]
    reproductions = ll.Api().settings.root / "reproductions"
    assert not [p for p in reproductions.glob("*/code") if p.exists()]  # worktrees gone
