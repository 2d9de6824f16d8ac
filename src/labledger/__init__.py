"""labledger: every training run recorded completely enough to reproduce it.

    import labledger as ll
    with ll.init(project="digits", config=cfg, seed=42) as run:
        run.log({"loss": loss, "acc": acc}, step=step)
        run.summary["f1"] = f1
        run.log_artifact("model.pt", name="digits-mlp", type="model")

The names below are loaded on first use, so ``import labledger`` costs about as much as
starting Python; training scripts pay for the SDK only when they call ``init``.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # instead of importing `typing`, which costs more than this whole module
if TYPE_CHECKING:
    from typing import Any

    from labledger.entities import RunStatus
    from labledger.errors import LabledgerError
    from labledger.sdk.api import Api, RunList, RunView, runs
    from labledger.sdk.config_input import reproduce_config
    from labledger.sdk.run import Run
    from labledger.sdk.seeding import seed_everything
    from labledger.sdk.session import current_run, finish, init, log, use_artifact

__version__ = "0.1.0"


def _cwd() -> str | None:
    import os  # already loaded by the interpreter: free

    try:
        return os.getcwd()
    except OSError:
        return None


# The folder the program started from, before a framework (Hydra) changes it: recorded by
# capture as ``command.start_cwd``, and where a reproduction reruns the command.
_START_CWD = _cwd()
del _cwd

_EXPORTS = {
    "Api": "labledger.sdk.api",
    "LabledgerError": "labledger.errors",
    "Run": "labledger.sdk.run",
    "RunList": "labledger.sdk.api",
    "RunStatus": "labledger.entities",
    "RunView": "labledger.sdk.api",
    "current_run": "labledger.sdk.session",
    "finish": "labledger.sdk.session",
    "init": "labledger.sdk.session",
    "log": "labledger.sdk.session",
    "reproduce_config": "labledger.sdk.config_input",
    "runs": "labledger.sdk.api",
    "seed_everything": "labledger.sdk.seeding",
    "use_artifact": "labledger.sdk.session",
}

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
    "reproduce_config",
    "runs",
    "seed_everything",
    "use_artifact",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labledger' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
