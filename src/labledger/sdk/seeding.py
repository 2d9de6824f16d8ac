"""``seed_everything``: seed every random generator in use and remember what was seeded."""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from typing import Any

from labledger.sdk import lifecycle

_last_seeds: dict[str, Any] = {}


def seed_everything(seed: int, *, deterministic_torch: bool = False) -> dict[str, Any]:
    """Seed Python's ``random``, numpy and torch (CPU and CUDA, when installed).

    ``PYTHONHASHSEED`` is exported for child processes (it cannot change this process's hash
    seed). The seeds are recorded in the current run, or in the next one ``init`` starts.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    seeds: dict[str, Any] = {"seed": seed, "python_random": seed}
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    seeds["PYTHONHASHSEED_exported"] = seed
    if "numpy" in sys.modules or importlib.util.find_spec("numpy"):
        import numpy as np

        np.random.seed(seed)
        seeds["numpy"] = seed
    if "torch" in sys.modules or importlib.util.find_spec("torch"):
        import torch

        torch.manual_seed(seed)
        seeds["torch"] = seed
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
            seeds["torch_cuda"] = seed
        if deterministic_torch:
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            seeds["torch_deterministic"] = True
    _last_seeds.clear()
    _last_seeds.update(seeds)
    current = lifecycle.current()
    if current is not None:
        current.record_seeds(seeds)
    return seeds


def last_seeds() -> dict[str, Any]:
    """The seeds set by the latest ``seed_everything`` call in this process."""
    return dict(_last_seeds)
