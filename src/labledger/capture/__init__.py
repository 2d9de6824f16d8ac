"""Automatic capture for every run: independent probes and two background helpers.

``capture_all`` records what the run needs to be understood and reproduced (git state,
installed packages, host, GPUs, command line, determinism settings). ``ConsoleCapture`` tees the
console and ``SystemSampler`` samples CPU, memory and GPU load while the run is going.

Importing this package loads only light standard modules; psutil, NVML, subprocess and
importlib.metadata are imported when a probe first needs them.
"""

from __future__ import annotations

from labledger.capture.console import ConsoleCapture
from labledger.capture.git import capture_git
from labledger.capture.registry import capture_all
from labledger.capture.system import SystemSampler

__all__ = ["ConsoleCapture", "SystemSampler", "capture_all", "capture_git"]
