"""Failures seen on real training scripts, each rebuilt small: a Hydra app that changes folder,
a script seeded from an environment variable, a script that seeds itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import labledger as ll
from tests.repro.conftest import CLI, commit_all

pytestmark = pytest.mark.slow

HYDRA_APP = """\
import hydra
import numpy as np
from omegaconf import DictConfig

import labledger as ll


@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    with ll.init(project="corpus", config=cfg, seed=cfg.seed) as run:
        rng = np.random.default_rng(cfg.seed)
        for step in range(5):
            run.log({"loss": float(rng.random()) * cfg.lr}, step=step)
        print("run", run.id)


if __name__ == "__main__":
    main()
"""

HYDRA_CONFIG = """\
seed: 3
lr: 0.5
hydra:
  job:
    chdir: true
"""

ENV_SEEDED = """\
import os

import numpy as np

import labledger as ll

seed = int(os.environ.get("SEED", "0"))
with ll.init(project="corpus", config={"lr": 0.1}) as run:
    rng = np.random.default_rng(seed)
    run.log({"loss": float(rng.random())}, step=0)
    run.summary["draw"] = float(rng.random())
print("run", run.id)
"""


def run_script(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    match = re.search(r"^run (\w+)$", done.stdout, re.M)
    assert match, done.stdout
    return match.group(1)


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env,
        check=False,
    )  # fmt: skip


def test_a_hydra_app_that_changes_folder_reproduces(repo: Path) -> None:
    pytest.importorskip("hydra")
    (repo / "conf").mkdir()
    (repo / "conf" / "config.yaml").write_text(HYDRA_CONFIG)
    (repo / "train.py").write_text(HYDRA_APP)
    (repo / ".gitignore").write_text("outputs/\n")
    commit_all(repo, "hydra app")
    original = run_script(repo, "train.py")
    command = ll.Api().run(original).captures()["command"]
    assert command["start_cwd"] == str(repo)
    assert command["cwd"].startswith(str(repo / "outputs"))  # Hydra's chdir

    done = cli("reproduce", original, "--env", "current", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REPRODUCED" in done.stdout
    assert "the program changes folder itself" in done.stdout


def test_a_script_seeded_from_the_environment_reproduces_from_a_shell_without_it(
    repo: Path,
) -> None:
    (repo / "train.py").write_text(ENV_SEEDED)
    commit_all(repo, "env-seeded")
    original = run_script(repo, "train.py", env={**os.environ, "SEED": "3"})
    assert ll.Api().run(original).captures()["command"]["env"]["SEED"] == "3"

    without = {k: v for k, v in os.environ.items() if k != "SEED"}
    done = cli("reproduce", original, "--env", "current", cwd=repo, env=without)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "REPRODUCED" in done.stdout and "SEED=3" in done.stdout

    other = cli("reproduce", original, "--env", "current", cwd=repo, env={**without, "SEED": "9"})
    assert other.returncode == 0, other.stdout + other.stderr  # the recorded SEED wins


def test_a_self_seeding_script_passes_check(repo: Path) -> None:
    torch = pytest.importorskip("torch")
    import numpy as np

    from labledger.repro.check import check_run

    os.chdir(repo)
    np.random.seed(0)
    torch.manual_seed(0)
    with ll.init(project="corpus", config={"model": {"seed": 11}}) as run:
        run.log({"loss": float(torch.rand(1))}, step=0)
    api = ll.Api()
    report = check_run(api.run(run.id), api.store, api.settings)
    seeds = next(item for item in report.items if item.name == "seeds")
    assert seeds.status == "pass", seeds
    assert "torch.initial_seed 0" in seeds.message and "config model.seed 11" in seeds.message
