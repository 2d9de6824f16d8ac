"""The demo end to end, in a fresh git repository, asserting on what the store holds."""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import labledger as ll

pytestmark = pytest.mark.slow
DEMO = Path(__file__).parents[1] / "examples" / "digits_sweep.py"


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def test_demo_records_everything(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(DEMO, repo / "digits_sweep.py")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "demo")
    head = git(repo, "rev-parse", "HEAD").strip()

    result = subprocess.run(
        [sys.executable, "digits_sweep.py", "--quick", "--project", "demo"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "best:" in result.stdout

    runs = ll.runs("demo", order_by="-metrics.f1")
    assert len(runs) == 8
    varied = {
        key: {run.config[key] for run in runs}
        for key in ("lr", "batch_size", "optimizer", "activation")
    }
    assert all(len(values) == 2 for values in varied.values()), varied
    for run in runs:
        assert run.status is ll.RunStatus.FINISHED
        assert set(run.config) == {
            "lr",
            "batch_size",
            "optimizer",
            "activation",
            "epochs",
            "hidden",
        }
        assert 0.0 <= run.metrics["f1"] <= 1.0
        steps, values = run.history("val/acc")
        assert steps.tolist() == [0, 1, 2] and values[-1] == pytest.approx(run.metrics["acc"])
        captured = run.captures()
        assert captured["git"]["commit"] == head and captured["git"]["dirty"] is False
        packages = captured["environment"]["packages"]
        assert packages["torch"] == importlib.metadata.version("torch")
        assert packages["scikit-learn"] == importlib.metadata.version("scikit-learn")
        assert captured["seeds"]["seed"] == 42 and captured["seeds"]["torch"] == 42
        assert captured["command"]["argv"][0].endswith("digits_sweep.py")
        assert captured["host"]["cpu_count_logical"] >= 1

    store = ll.Api().store
    best = runs[0]
    (model,) = [v for v in store.artifacts.produced_by(best.id) if v.name == "digits-mlp"]
    assert "best" in store.artifacts.get_version("digits-mlp", "best").aliases
    assert store.artifacts.get_version("digits-mlp", "best").version == model.version
    weights = ll.use_artifact("digits-mlp:best")
    files = [weights] if weights.is_file() else [p for p in weights.rglob("*") if p.is_file()]
    (weights_file,) = files
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert [entry["digest"] for entry in model.manifest] == [digest]
    datasets = {v.name for run in runs for v in store.artifacts.used_by(run.id)}
    assert "digits" in datasets

    # Reproducing the best run reruns only its configuration (the demo reads
    # labledger.reproduce_config()), and moves no alias of the original.
    aliases = {v.ref: sorted(v.aliases) for v in store.artifacts.list_versions()}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from labledger.cli.main import main; main()",
            "reproduce",
            best.id,
            "--env",
            "current",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reran only this configuration of the 8-run sweep" in done.stdout
    assert "REPRODUCED" in done.stdout
    reruns = [r for r in ll.Api().runs("demo") if r.record.reproduces == best.id]
    assert len(reruns) == 1 and reruns[0].config == best.config
    after = {v.ref: sorted(v.aliases) for v in store.artifacts.list_versions()}
    assert {ref: after[ref] for ref in aliases} == aliases
