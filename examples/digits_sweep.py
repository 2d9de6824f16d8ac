"""labledger demo: a hyperparameter sweep of a small PyTorch MLP on scikit-learn's digits.

Every run is recorded without bookkeeping code: config, seed, git state, packages, hardware,
per-epoch metrics, final F1 and the trained weights as a versioned artifact. The best model
gets the artifact alias ``best``.

    python examples/digits_sweep.py            # 16 runs, about a minute on 2 CPU cores
    python examples/digits_sweep.py --quick    # 8 runs, 3 epochs

``labledger reproduce RUN`` of one of its runs reruns only that run's configuration: the script
reads it from ``labledger.reproduce_config()`` (``LABLEDGER_REPRODUCE_CONFIG``).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from torch import nn

import labledger as ll

GRID = {
    "lr": [0.003, 0.03],
    "batch_size": [32, 128],
    "optimizer": ["adam", "sgd"],
    "activation": ["relu", "tanh"],
}
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def load_data(seed: int) -> tuple[torch.Tensor, ...]:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_val, y_train, y_val = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    return (
        torch.from_numpy(x_train),
        torch.from_numpy(x_val),
        torch.from_numpy(y_train),
        torch.from_numpy(y_val),
    )


def build_model(hidden: int, activation: str) -> nn.Module:
    act = ACTIVATIONS[activation]
    return nn.Sequential(
        nn.Linear(64, hidden), act(), nn.Linear(hidden, hidden), act(), nn.Linear(hidden, 10)
    )


def train(
    config: dict[str, Any], project: str, seed: int, out_dir: Path, data_file: Path
) -> ll.Run:
    name = "{optimizer}-{activation}-lr{lr}-bs{batch_size}".format(**config)
    with ll.init(
        project=project,
        config=config,
        seed=seed,
        name=name,
        tags=["demo", config["optimizer"]],
        group="digits-grid",
    ) as run:
        run.use_dataset(str(data_file), name="digits")
        x_train, x_val, y_train, y_val = load_data(seed)
        model = build_model(config["hidden"], config["activation"])
        optimizer_cls = torch.optim.Adam if config["optimizer"] == "adam" else torch.optim.SGD
        optimizer = optimizer_cls(model.parameters(), lr=config["lr"])
        loss_fn = nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(seed)
        for epoch in range(config["epochs"]):
            model.train()
            order = torch.randperm(len(x_train), generator=generator)
            total = 0.0
            for start in range(0, len(order), config["batch_size"]):
                batch = order[start : start + config["batch_size"]]
                optimizer.zero_grad()
                loss = loss_fn(model(x_train[batch]), y_train[batch])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            model.eval()
            with torch.no_grad():
                logits = model(x_val)
                val_loss = loss_fn(logits, y_val).item()
                predicted = logits.argmax(dim=1)
            acc = (predicted == y_val).float().mean().item()
            run.log(
                {"train/loss": total / len(x_train), "val/loss": val_loss, "val/acc": acc},
                step=epoch,
            )
        run.summary["f1"] = float(f1_score(y_val.numpy(), predicted.numpy(), average="macro"))
        run.summary["acc"] = acc
        weights = out_dir / f"{run.id}.pt"
        torch.save(model.state_dict(), weights)
        run.log_artifact(
            weights, name="digits-mlp", type="model", metadata={"val_acc": acc, "config": config}
        )
        print(f"{run.id}  {name:<32} val/acc={acc:.3f}  f1={run.summary['f1']:.3f}")
    return run


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="digits")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="8 runs of 3 epochs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    combos = list(itertools.product(*GRID.values()))
    if args.quick:
        combos = [c for i, c in enumerate(combos) if bin(i).count("1") % 2 == 0]  # half fraction
        args.epochs = 3
    configs = []
    for values in combos:
        config = dict(zip(GRID, values, strict=True))
        config.update(epochs=args.epochs, hidden=args.hidden)
        configs.append(config)
    # `labledger reproduce` of one run of this sweep passes that run's config: rerun just it.
    only = ll.reproduce_config()
    if only is not None:
        configs = [only]
    run_ids = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp)
        data_file = out_dir / "digits.npy"  # fingerprinted as the runs' input dataset
        digits = load_digits()
        np.save(data_file, np.column_stack([digits.data, digits.target]))
        for config in configs:
            run_ids.append(train(config, args.project, args.seed, out_dir, data_file).id)
    if only is not None:
        return run_ids  # a reproduction: no new `best` to pick

    (best,) = ll.runs(
        args.project,
        filter=f"run_id in ({', '.join(repr(r) for r in run_ids)})",
        order_by="-metrics.f1",
        limit=1,
    )
    api = ll.Api()
    model = next(v for v in api.store.artifacts.produced_by(best.id) if v.name == "digits-mlp")
    api.artifact(model.ref).alias("best")
    print(f"\nbest: {best.id} {best.name}  f1={best.metrics['f1']:.3f}  -> digits-mlp:best")
    return run_ids


if __name__ == "__main__":
    main()
