"""Config capture: argparse without user code, dataclasses, pydantic, Hydra runs and sweeps."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import labledger as ll


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def test_argparse_namespace_is_captured_without_config(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        "train.py",
        """
        import argparse
        import labledger as ll

        def main():
            parser = argparse.ArgumentParser()
            parser.add_argument("--lr", type=float, default=0.1)
            parser.add_argument("--epochs", type=int, default=3)
            args = parser.parse_args()
            with ll.init(project="cfg", capture=False) as run:
                run.log({"loss": args.lr})

        main()
        """,
    )
    _run(str(script), "--lr", "0.5", cwd=tmp_path)
    (run,) = ll.runs("cfg")
    assert run.config == {"lr": 0.5, "epochs": 3}
    assert run.captures()["run"]["config_source"] == "argparse"


@dataclasses.dataclass
class Optimizer:
    name: str = "adam"
    lr: float = 1e-3


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 2
    optimizer: Optimizer = dataclasses.field(default_factory=Optimizer)


def test_dataclass_and_pydantic_configs_are_nested() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Data(pydantic.BaseModel):
        path: str = "data/"
        batch_size: int = 32

    class Settings(pydantic.BaseModel):
        data: Data = Data()
        seed: int = 7

    with ll.init(project="cfg", config=TrainConfig(), capture=False):
        pass
    with ll.init(project="cfg", config=Settings(), capture=False):
        pass
    first, second = sorted(ll.runs("cfg"), key=lambda r: r.record.created_at)
    assert first.params == {"epochs": 2, "optimizer.name": "adam", "optimizer.lr": 1e-3}
    assert first.captures()["run"]["config_source"] == "dataclass"
    assert second.config == {"data": {"path": "data/", "batch_size": 32}, "seed": 7}
    assert second.captures()["run"]["config_source"] == "pydantic"


HYDRA_APP = """
import hydra
from labledger.integrations import hydra as ll_hydra

@hydra.main(version_base=None, config_path="conf", config_name="config")
def train(cfg):
    with ll_hydra.init(cfg, project="hydra", capture=False) as run:
        run.log({"loss": cfg.optimizer.lr * 10})

if __name__ == "__main__":
    train()
"""


@pytest.fixture
def hydra_app(tmp_path: Path) -> Path:
    pytest.importorskip("hydra")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(
        "optimizer:\n  name: sgd\n  lr: 0.1\nepochs: 2\nrun_name: ${optimizer.name}-${epochs}\n"
    )
    return _script(tmp_path, "app.py", HYDRA_APP)


@pytest.mark.slow
def test_hydra_run_records_resolved_config_overrides_and_files(
    hydra_app: Path, tmp_path: Path
) -> None:
    _run(str(hydra_app), "optimizer.lr=0.01", "hydra.run.dir=out", cwd=tmp_path)
    (run,) = ll.runs("hydra")
    assert run.params["optimizer.lr"] == 0.01
    assert run.params["run_name"] == "sgd-2"  # interpolations resolved
    assert run.config["hydra"]["overrides"] == ["optimizer.lr=0.01"]
    assert run.config["hydra"]["mode"] == "RUN"
    (files,) = ll.Api().store.artifacts.produced_by(run.id)
    assert files.type == "config"
    assert {e["path"] for e in files.manifest} >= {"config.yaml", "hydra.yaml", "overrides.yaml"}


@pytest.mark.slow
def test_hydra_multirun_is_one_group(hydra_app: Path, tmp_path: Path) -> None:
    _run(str(hydra_app), "-m", "optimizer.lr=0.1,0.2", "hydra.sweep.dir=sweep", cwd=tmp_path)
    runs = ll.runs("hydra")
    assert len(runs) == 2
    assert {r.record.group for r in runs} == {"hydra-sweep"}
    assert sorted(r.params["optimizer.lr"] for r in runs) == [0.1, 0.2]
    assert sorted(r.config["hydra"]["num"] for r in runs) == [0, 1]
    assert all(r.config["hydra"]["mode"] == "MULTIRUN" for r in runs)
