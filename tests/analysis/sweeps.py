"""Synthetic sweeps with a known answer, shared by the analysis, SDK, route and CLI tests."""

from __future__ import annotations

from typing import Any

import numpy as np

NOISE_KEYS = ("dropout", "weight_decay", "batch_size", "warmup", "layers")


def sweep(n: int = 60, seed: int = 0) -> tuple[list[dict[str, Any]], list[float]]:
    """Eight config keys, nested and categorical among them; only ``optim.lr`` and
    ``optim.name`` change the metric."""
    rng = np.random.default_rng(seed)
    configs, values = [], []
    for i in range(n):
        lr = float(10 ** rng.uniform(-4, -1))
        name = str(rng.choice(["adam", "sgd", "rmsprop"]))
        config = {
            "optim": {"lr": lr, "name": name, "momentum": float(rng.uniform(0.0, 0.99))},
            "dropout": float(rng.uniform(0.0, 0.5)),
            "weight_decay": float(rng.uniform(0.0, 1e-3)),
            "batch_size": int(rng.choice([32, 64, 128, 256])),
            "warmup": bool(rng.integers(0, 2)),
            "layers": int(rng.integers(1, 7)),
            "seed": i,
        }
        value = (
            0.9
            - 0.05 * (np.log10(lr) + 2.5) ** 2
            + {"adam": 0.08, "sgd": 0.0, "rmsprop": 0.04}[name]
            + rng.normal(0.0, 0.005)
        )
        configs.append(config)
        values.append(float(value))
    return configs, values


def seed_only(n: int = 8, seed: int = 3) -> tuple[list[dict[str, Any]], list[float]]:
    """``n`` runs of one configuration that differ only by seed (metric = seed noise)."""
    rng = np.random.default_rng(seed)
    configs = [{"optim": {"lr": 0.01, "name": "adam"}, "seed": i} for i in range(n)]
    return configs, [float(0.9 + rng.normal(0.0, 0.01)) for _ in range(n)]
