"""labledger: every training run recorded completely enough to reproduce it.

import labledger as ll
with ll.init(project="digits", config=cfg, seed=42) as run:
    run.log({"loss": loss, "acc": acc}, step=step)
    run.summary["f1"] = f1
    run.log_artifact("model.pt", name="digits-mlp", type="model")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labledger.entities import RunStatus
from labledger.errors import LabledgerError
from labledger.sdk.api import Api, RunList, RunView, runs
from labledger.sdk.run import Run
from labledger.sdk.seeding import seed_everything
from labledger.sdk.session import current_run, finish, init, log

__version__ = "0.1.0"

__all__ = [
    "Api",
    "LabledgerError",
    "Run",
    "RunList",
    "RunStatus",
    "RunView",
    "__version__",
    "current_run",
    "finish",
    "init",
    "log",
    "runs",
    "seed_everything",
    "use_artifact",
]


def use_artifact(ref: str, dest: str | None = None) -> Path:
    """Fetch artifact ``name[:vN|alias]`` (recording the current run, if any, as consumer)."""
    run = current_run()
    if run is not None:
        return run.use_artifact(ref, dest=dest)
    from labledger.sdk.artifacts import Artifacts

    api = Api()
    return Artifacts(api.store, api.settings).use(ref, dest=dest)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'labledger' has no attribute {name!r}")
