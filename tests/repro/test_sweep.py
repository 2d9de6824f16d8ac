"""Reproducing one run of an in-process sweep: only that configuration reruns when the script
reads ``LABLEDGER_REPRODUCE_CONFIG`` (``ll.reproduce_config()``); otherwise the whole script
reruns and the output says so plainly, verifying the rerun with the original's config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import labledger as ll
from tests.repro.conftest import cli_process, commit_all

pytestmark = pytest.mark.slow

SWEEP = """\
import labledger as ll

GRID = [{{"lr": 0.1}}, {{"lr": 0.2}}, {{"lr": 0.3}}]
configs = {selection}
for config in configs:
    with ll.init(project="sweep", config=config, name=f"lr{{config['lr']}}", capture=True) as run:
        w = 0.0
        for step in range(5):
            w += config["lr"] * (1.0 - w)
            run.log({{"w": w}}, step=step)
        run.summary["w"] = w
"""
READS = "[ll.reproduce_config()] if ll.reproduce_config() is not None else GRID"


def _record(repo: Path, selection: str) -> list[str]:
    (repo / "sweep.py").write_text(SWEEP.format(selection=selection))
    commit_all(repo, "sweep")
    done = subprocess.run(
        [sys.executable, "sweep.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return [r.id for r in ll.Api().runs("sweep") if r.record.reproduces is None][::-1]


def _reruns(original: str) -> list[ll.RunView]:
    return [r for r in ll.Api().runs("sweep") if r.record.reproduces == original]


def test_a_script_that_reads_the_config_reruns_only_that_configuration(repo: Path) -> None:
    ids = _record(repo, READS)
    assert len(ids) == 3
    middle = ids[1]
    dry = cli_process("reproduce", middle, "--env", "current", "--dry-run", cwd=repo)
    assert "is one of 3 runs its process recorded (an in-process sweep)" in dry.stdout
    assert "LABLEDGER_REPRODUCE_CONFIG" in dry.stdout

    done = cli_process("reproduce", middle, "--env", "current", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reran only this configuration of the 3-run sweep" in done.stdout
    assert "REPRODUCED" in done.stdout
    (rerun,) = _reruns(middle)
    assert rerun.config == {"lr": 0.2}


def test_a_script_that_ignores_it_reruns_everything_and_says_so(repo: Path) -> None:
    ids = _record(repo, "GRID")
    last = ids[2]
    done = cli_process("reproduce", last, "--env", "current", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the script reran the whole sweep: 3 runs recorded as reproductions" in done.stdout
    assert "REPRODUCED" in done.stdout  # the rerun with the same config was verified
    assert sorted(r.config["lr"] for r in _reruns(last)) == [0.1, 0.2, 0.3]


def test_reproduce_config_reads_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ll.reproduce_config() is None
    monkeypatch.setenv("LABLEDGER_REPRODUCE_CONFIG", '{"lr": 0.2, "opt": {"name": "adam"}}')
    assert ll.reproduce_config() == {"lr": 0.2, "opt": {"name": "adam"}}
    monkeypatch.setenv("LABLEDGER_REPRODUCE_CONFIG", "not json")
    assert ll.reproduce_config() is None
