"""Every snippet of the README's Integrations section runs, on tiny real models."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import labledger as ll

README = Path(__file__).parents[2] / "README.md"
SNIPPET = re.compile(r"<!-- snippet: (\w+) -->\n```python\n(.*?)```", re.DOTALL)
SNIPPETS = dict(SNIPPET.findall(README.read_text()))


def _lightning() -> dict[str, Any]:
    from tests.integrations.test_lightning import Regressor, _loader

    return {"model": Regressor(), "train_loader": _loader(0), "val_loader": _loader(1)}


def _transformers(tmp_path: Path) -> dict[str, Any]:
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

    from tests.integrations.test_transformers import Toy

    config = BertConfig(
        vocab_size=32,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        per_device_train_batch_size=4,
    )
    return {
        "model": BertForSequenceClassification(config),
        "args": args,
        "train_dataset": Toy(8, 0),
    }


def _keras() -> dict[str, Any]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    return {"model": model, "x": x, "y": x.sum(axis=1)}


def _boosting(kind: str) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X.sum(axis=1)
    if kind == "xgboost":
        import xgboost as xgb

        return {
            "dtrain": xgb.DMatrix(X[:40], label=y[:40]),
            "dval": xgb.DMatrix(X[40:], label=y[40:]),
        }
    import lightgbm as lgb

    train = lgb.Dataset(X[:40], label=y[:40])
    return {"train_set": train, "val_set": lgb.Dataset(X[40:], label=y[40:], reference=train)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


EXPECTED_RUNS = {
    "sklearn": ("iris", 4),
    "argparse": ("cli", 1),
    "optuna": ("sweep", 5),
    "lightning": ("pl", 1),
    "transformers": ("nlp", 1),
    "keras": ("keras", 1),
    "xgboost": ("xgb", 1),
    "lightgbm": ("lgb", 1),
    "torchrun": ("ddp", 1),
}


def test_every_integration_has_a_snippet() -> None:
    assert set(SNIPPETS) == {*EXPECTED_RUNS, "hydra"}


@pytest.mark.parametrize("name", sorted(EXPECTED_RUNS))
def test_snippet_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    cleanup = []
    if name == "argparse":
        monkeypatch.setattr(sys, "argv", ["train.py"])
    elif name == "lightning":
        namespace.update(_lightning())
    elif name == "transformers":
        namespace.update(_transformers(tmp_path))
    elif name == "keras":
        namespace.update(_keras())
    elif name in ("xgboost", "lightgbm"):
        namespace.update(_boosting(name))
    elif name == "sklearn":
        from labledger.integrations import sklearn as ll_sklearn

        cleanup.append(lambda: ll_sklearn.autolog(disable=True))
    elif name == "torchrun":
        import torch.distributed as dist

        for key, value in {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(_free_port()),
            "RANK": "0",
            "WORLD_SIZE": "1",
        }.items():
            monkeypatch.setenv(key, value)
        cleanup.append(lambda: ll.finish())
        cleanup.append(dist.destroy_process_group)
    try:
        exec(compile(SNIPPETS[name], f"README:{name}", "exec"), namespace)
    finally:
        for step in cleanup:
            step()
    project, count = EXPECTED_RUNS[name]
    runs = ll.runs(project)
    assert len(runs) == count
    assert all(r.metrics for r in runs)
    if name == "argparse":
        assert runs[0].config == {"lr": 0.1}


@pytest.mark.slow
def test_hydra_snippet_runs(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text("lr: 0.1\n")
    (tmp_path / "app.py").write_text(SNIPPETS["hydra"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "app.py", "lr=0.2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (run,) = ll.runs("hydra")
    assert run.config["lr"] == 0.2 and run.config["hydra"]["overrides"] == ["lr=0.2"]
