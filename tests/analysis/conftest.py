"""Runs recorded through the real SDK into this test's own SQLite store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import labledger as ll
from tests.analysis.sweeps import seed_only, sweep


def record_runs(
    configs: Sequence[Mapping[str, Any]],
    values: Sequence[float],
    *,
    project: str = "sweep",
    metric: str = "val/acc",
    names: Sequence[str] | None = None,
) -> list[str]:
    """One finished run per config, logging ``metric`` twice (the last point is ``value``)."""
    ids = []
    for i, (config, value) in enumerate(zip(configs, values, strict=True)):
        name = names[i] if names else None
        with ll.init(project=project, config=dict(config), name=name, capture=False) as run:
            run.log({metric: value - 0.1, "train/loss": 1.0}, step=0)
            run.log({metric: value, "train/loss": 1.0 - value}, step=1)
            ids.append(run.id)
    return ids


@pytest.fixture
def sweep_runs() -> list[str]:
    configs, values = sweep(60)
    return record_runs(configs, values)


@pytest.fixture
def seed_runs() -> list[str]:
    configs, values = seed_only(8)
    return record_runs(configs, values, project="seeds")
