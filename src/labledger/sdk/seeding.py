"""``seed_everything``: seed every random generator in use and remember what was seeded."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from labledger.sdk import lifecycle

_pending: dict[str, Any] = {}  # seeded before init: recorded by the next run


def seed_everything(seed: int, *, deterministic_torch: bool = False) -> dict[str, Any]:
    """Seed Python's ``random``, numpy (when installed) and torch (CPU and CUDA, when imported).

    Call it after importing torch: importing torch only to seed it would cost seconds in
    scripts that never use it. ``PYTHONHASHSEED`` is exported for child processes (it cannot
    change this process's hash seed). The seeds are recorded in the current run, or else in
    the next run ``init`` starts.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    import random  # here: init imports this module, and most runs never seed

    seeds: dict[str, Any] = {"seed": seed, "python_random": seed}
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    seeds["PYTHONHASHSEED_exported"] = seed
    if "numpy" in sys.modules or importlib.util.find_spec("numpy"):
        import numpy as np

        np.random.seed(seed)
        seeds["numpy"] = seed
    if "torch" in sys.modules:
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
    current = lifecycle.current()
    if current is not None:
        current.record_seeds(seeds)
    else:
        _pending.clear()
        _pending.update(seeds)
    return seeds


def pending_seeds() -> dict[str, Any]:
    """Seeds set while no run was active, which the next ``init`` will record."""
    return dict(_pending)


def take_pending_seeds() -> dict[str, Any]:
    """Hand the pending seeds to one run: a later run in the same process does not inherit
    them, because its random state no longer follows from the seed."""
    seeds = dict(_pending)
    _pending.clear()
    return seeds
