"""In-process sweeps: one process that recorded several runs (a grid in a loop, as the demo).

Reproducing one of its runs reruns the whole script unless the script takes its
configuration from ``LABLEDGER_REPRODUCE_CONFIG`` (``labledger.reproduce_config()``), which
``reproduce`` always sets to the original run's recorded config as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from labledger.sdk.api import RunView
from labledger.sdk.config_input import REPRODUCE_CONFIG_ENV
from labledger.store.base import Store

__all__ = [
    "REPRODUCE_CONFIG_ENV",
    "config_json",
    "pick_rerun",
    "process_siblings",
    "rerun_note",
    "sweep_note",
]

_WINDOW = 7 * 86400.0  # one process: the same host and pid within a week
_MAX_SIBLINGS = 10_000


def config_json(run: RunView) -> str:
    return json.dumps(run.record.config, sort_keys=True, default=str)


def process_siblings(run: RunView, store: Store) -> list[str]:
    """IDs of the runs (this one included) the original's process recorded, oldest first."""
    record = run.record
    if record.pid is None or not record.host:
        return [record.run_id]
    host = record.host.replace("\\", "\\\\").replace("'", "\\'")
    text = (
        f"host = '{host}' and created_at >= {record.created_at - _WINDOW!r}"
        f" and created_at <= {record.created_at + _WINDOW!r} and reproduces is null"
    )
    found = store.search_runs(record.project, text, ["created_at"], _MAX_SIBLINGS)
    ids = [r.run_id for r in found if r.pid == record.pid]
    return ids if record.run_id in ids else [record.run_id]


def sweep_note(run_id: str, siblings: int) -> str | None:
    """What the plan says about an in-process sweep (None for a process with one run)."""
    if siblings <= 1:
        return None
    return (
        f"run {run_id} is one of {siblings} runs its process recorded (an in-process sweep): "
        f"the rerun runs only this configuration if the script reads {REPRODUCE_CONFIG_ENV} "
        "(labledger.reproduce_config()), otherwise the whole script, all "
        f"{siblings} runs again"
    )


def pick_rerun(original: RunView, runs: Sequence[RunView]) -> RunView:
    """The rerun to verify: the one with the original's config and name, else its config,
    else its name, else the first."""
    config = original.record.config

    def score(run: RunView) -> tuple[bool, bool]:
        return (run.record.config == config, run.name == original.name)

    return max(runs, key=score)  # max keeps the first of equals


def rerun_note(original: str, siblings: int, reruns: int) -> str | None:
    """After the rerun: whether only the configuration ran, or the whole script."""
    if reruns > 1:
        return (
            f"the script reran the whole sweep: {reruns} runs recorded as reproductions of "
            f"{original} (read {REPRODUCE_CONFIG_ENV} / labledger.reproduce_config() to rerun "
            "only the reproduced configuration); verifying the one with its config"
        )
    if siblings > 1 and reruns == 1:
        return (
            f"reran only this configuration of the {siblings}-run sweep "
            f"(the script reads {REPRODUCE_CONFIG_ENV})"
        )
    return None
