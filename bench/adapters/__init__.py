"""Tracker adapters, loaded by name inside benchmark child processes."""

from __future__ import annotations

import importlib
from pathlib import Path

from adapters.base import Adapter, NotSupported, RunSpec

# name -> (module, class, import name used to check availability)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "floor": ("adapters.floor", "FloorAdapter", ""),
    "labledger": ("adapters.labledger", "LabledgerAdapter", "labledger"),
    "mlflow": ("adapters.mlflow", "MlflowAdapter", "mlflow"),
    "wandb": ("adapters.wandb", "WandbAdapter", "wandb"),
    "aim": ("adapters.aim", "AimAdapter", "aim"),
}
PEERS = ("mlflow", "wandb", "aim")


def load(name: str, store: Path) -> Adapter:
    module, cls, _ = REGISTRY[name]
    adapter: Adapter = getattr(importlib.import_module(module), cls)(store)
    return adapter


__all__ = ["PEERS", "REGISTRY", "Adapter", "NotSupported", "RunSpec", "load"]
