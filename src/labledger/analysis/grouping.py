"""Group runs for "is the difference real?": by a config key, or by configuration (every key
except seeds), so that runs differing only by seed land in one group."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from labledger.analysis.features import MISSING, label
from labledger.encoding import flatten

SEED_KEY = re.compile(r"(^|[._/-])(\w*_)?(seed|random_state|rng)$", re.IGNORECASE)


def is_seed_key(key: str) -> bool:
    """``seed``, ``train.seed``, ``data_seed``, ``random_state``: keys that pick a seed."""
    return bool(SEED_KEY.search(key))


def labels_by_key(configs: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    """Each run's value of config ``key`` (dotted for nested keys) as a group name."""
    flat = [flatten(c) for c in configs]
    return [label(f[key]) if key in f else MISSING for f in flat]


def labels_by_configuration(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each run's group name from the non-seed keys that vary across ``configs``
    (``"lr=0.1, optimizer=adam"``); one shared name ``"all runs"`` when only seeds vary."""
    flat = [flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f if not is_seed_key(k)})
    varying = [k for k in keys if len({label(f.get(k, MISSING)) for f in flat}) > 1]
    if not varying:
        return ["all runs"] * len(flat)
    return [", ".join(f"{k}={label(f.get(k, MISSING))}" for k in varying) for f in flat]


def group_values(
    labels: Sequence[str], values: Sequence[float | None], run_ids: Sequence[str]
) -> tuple[dict[str, list[float | None]], dict[str, list[str]]]:
    """Values and run IDs per group name, in order of first appearance."""
    groups: dict[str, list[float | None]] = {}
    ids: dict[str, list[str]] = {}
    for name, value, run_id in zip(labels, values, run_ids, strict=True):
        groups.setdefault(name, []).append(value)
        ids.setdefault(name, []).append(run_id)
    return groups, ids
