"""End to end, through real processes: record a run made from uncommitted code, move the
repository on, then ``labledger reproduce`` rebuilds the original code and reruns it.

The environment step is exercised here with ``--env current`` (the rerun uses this interpreter
and reports every package that differs from the record). Building a real virtual environment
with numpy and labledger installed from the worktree would take minutes offline, so the venv
path is covered by ``test_plan.py`` (requirement generation: pins, editable installs from the
worktree) and ``test_environment.py`` (one real venv with a tiny lock).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import labledger as ll
from tests.repro.conftest import cli_process, commit_all, git

pytestmark = pytest.mark.slow

TRAIN = '''\
"""Linear regression by gradient descent; deterministic for a given seed."""
import argparse

import numpy as np

import labledger as ll
{import_line}
LR = {lr}

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--epochs", type=int, default=25)
args = parser.parse_args()

with ll.init(project="e2e", config={{"lr": LR, "epochs": args.epochs}}, seed=args.seed) as run:
    x, y = make_data(np.random.default_rng(args.seed))
    w = np.zeros(x.shape[1])
    for epoch in range(args.epochs):
        w -= LR * 2 * x.T @ (x @ w - y) / len(y)
        run.log({{"loss": float(np.mean((x @ w - y) ** 2))}}, step=epoch)
    run.summary["final_loss"] = float(np.mean((x @ w - y) ** 2))
    run.summary["weight_error"] = float(np.abs(w - TRUE_W).sum())
print("run", run.id)
'''

INLINE_DATA = """
TRUE_W = np.array([1.0, -2.0, 0.5])


def make_data(rng):
    x = rng.normal(size=(64, 3))
    return x, x @ TRUE_W + 0.1 * rng.normal(size=64)
"""

HELPERS = """\
import numpy as np

TRUE_W = np.array([1.0, -2.0, 0.5])


def make_data(rng):
    x = rng.normal(size=(128, 3))
    return x, x @ TRUE_W + 0.05 * rng.normal(size=128)
"""


def train_py(lr: float, *, helper: bool) -> str:
    if helper:
        return TRAIN.format(import_line="from helpers import TRUE_W, make_data", lr=lr)
    source = TRAIN.format(import_line="", lr=lr)
    return source.replace("\nLR =", INLINE_DATA + "\nLR =", 1)


def train(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    match = re.search(r"^run (\w+)$", done.stdout, re.M)
    assert match, done.stdout
    return match.group(1)


def test_reproduce_rebuilds_uncommitted_code_and_verify_matches(repo: Path) -> None:
    (repo / "train.py").write_text(train_py(0.05, helper=False))
    first = commit_all(repo, "inline data, lr 0.05")
    # Uncommitted edits: another learning rate, and data from an untracked helper module.
    (repo / "train.py").write_text(train_py(0.1, helper=True))
    (repo / "helpers.py").write_text(HELPERS)
    original = train(repo)

    # The edits are thrown away and the project moves on.
    git(repo, "checkout", "--", "train.py")
    (repo / "helpers.py").unlink()
    (repo / "train.py").write_text(train_py(0.2, helper=False))
    commit_all(repo, "lr 0.2")
    (repo / "README.md").write_text("later work\n")
    head = commit_all(repo, "docs")
    assert head != first

    done = cli_process("reproduce", original, "--env", "current", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert f"commit:      {first}" in out
    assert "untracked:   helpers.py" in out and "1 file(s): train.py" in out
    assert "every recorded package matches the current environment" in out
    assert "REPRODUCED: run " in out

    api = ll.Api()
    orig_view = api.run(original)
    (rerun,) = [r for r in api.runs("e2e") if r.record.reproduces == original]
    assert rerun.metrics["final_loss"] == orig_view.metrics["final_loss"]
    assert rerun.metrics["weight_error"] == orig_view.metrics["weight_error"]
    assert rerun.config == {"lr": 0.1, "epochs": 25}
    assert rerun.history("loss").values.tolist() == orig_view.history("loss").values.tolist()
    # The rerun's own record shows the same code state: commit, diff and untracked files.
    git_a, git_b = orig_view.captures()["git"], rerun.captures()["git"]
    assert git_b["commit"] == first and git_b["diff"] == git_a["diff"]
    assert git_b["untracked"] == git_a["untracked"] == {"helpers.py": HELPERS}
    # Same config, code, packages, seeds and determinism settings: the same fingerprint.
    assert rerun.record.fingerprint == orig_view.record.fingerprint is not None
    workdir = api.settings.root / "reproductions" / f"{original}-1" / "code"
    assert (workdir / "helpers.py").read_text() == HELPERS
    assert git(repo, "rev-parse", "HEAD") == head  # the user's checkout is untouched
    assert (repo / "train.py").read_text() == train_py(0.2, helper=False)

    verified = cli_process("verify", original, rerun.id, cwd=repo)
    assert verified.returncode == 0, verified.stdout

    # Control: the code as it is now does not give the original's numbers, and verify says
    # the config and the code changed.
    now = train(repo)
    control = cli_process("verify", original, now, cwd=repo)
    assert control.returncode == 1
    assert "NOT REPRODUCED" in control.stdout
    assert "1. Config  <- likely cause" in control.stdout and "lr: 0.1 → 0.2" in control.stdout
    assert re.search(r"^  \d\. Code$", control.stdout, re.M)
    assert "commit: " in control.stdout and "diff_digest: " in control.stdout


def test_a_different_seed_fails_verify_with_the_seed_as_likely_cause(repo: Path) -> None:
    (repo / "train.py").write_text(train_py(0.1, helper=False))
    commit_all(repo, "train")
    a = train(repo, "--seed", "0")
    b = train(repo, "--seed", "1")
    done = cli_process("verify", a, b, cwd=repo)
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert "NOT REPRODUCED: 3 of 3 metric(s) differ" in out
    assert "final final_loss" in out and "curve loss" in out
    assert "1. Seeds  <- likely cause" in out and "seed: 0 → 1" in out
    assert "Config" not in out and "Code" not in out
