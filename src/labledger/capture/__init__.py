"""Automatic capture for every run: independent probes and two background helpers.

``capture_all`` records what the run needs to be understood and reproduced (git state,
installed packages, host, GPUs, command line, determinism settings). ``ConsoleCapture`` tees the
console and ``SystemSampler`` samples CPU, memory and GPU load while the run is going.

Importing this package loads none of its modules: a name is imported when first used (the SDK
imports ``capture.redact`` on the training thread and the probes on their own threads).
psutil, NVML, subprocess and importlib.metadata are imported when a probe first needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labledger.capture.console import ConsoleCapture
    from labledger.capture.git import capture_git
    from labledger.capture.registry import capture_all
    from labledger.capture.system import SystemSampler

__all__ = ["ConsoleCapture", "SystemSampler", "capture_all", "capture_git"]

_HOMES = {
    "ConsoleCapture": "console",
    "SystemSampler": "system",
    "capture_all": "registry",
    "capture_git": "git",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
