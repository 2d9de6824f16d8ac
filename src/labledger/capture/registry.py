"""Running every probe, each isolated: a failing or hanging probe costs only its own section."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labledger.capture.command import capture_command
from labledger.capture.determinism import capture_determinism
from labledger.capture.environment import capture_environment
from labledger.capture.git import capture_git
from labledger.capture.gpu import capture_gpu
from labledger.capture.host import capture_host
from labledger.capture.probe import Probe, one_line

# Section name -> probe, in the order sections are reported.
PROBES: dict[str, Probe] = {
    "git": capture_git,
    "environment": lambda cwd: capture_environment(),
    "host": lambda cwd: capture_host(),
    "gpu": lambda cwd: capture_gpu(),
    "command": lambda cwd: capture_command(),
    "determinism": lambda cwd: capture_determinism(),
}


class _Slot:
    """Where one probe's thread leaves its section."""

    def __init__(self) -> None:
        self.section: dict[str, Any] | None = None


def _run_probe(probe: Probe, cwd: Path | None, slot: _Slot) -> None:
    try:
        section = probe(cwd)
        if not isinstance(section, dict):
            raise TypeError(f"probe returned {type(section).__name__}, not dict")
        slot.section = section
    except BaseException as exc:
        slot.section = {"error": one_line(exc)}


def capture_all(cwd: Path | None = None, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """Run every probe at once and return ``{section: data}`` within about ``timeout`` seconds.

    A probe that raises gives ``{"error": "<one line>"}`` for its section only; one still running
    at the deadline gives ``{"error": "timed out after ..."}`` and is left to finish in the
    background. Never raises.
    """
    # Daemon threads rather than a ThreadPoolExecutor: the executor's workers are joined at
    # interpreter exit, so a hung probe would keep the user's program from exiting.
    probes = dict(PROBES)
    slots = {name: _Slot() for name in probes}
    threads: dict[str, threading.Thread] = {}
    for name, probe in probes.items():
        thread = threading.Thread(
            target=_run_probe,
            args=(probe, cwd, slots[name]),
            name=f"labledger-capture-{name}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError as exc:  # cannot start a thread (interpreter shutting down, limits)
            slots[name].section = {"error": one_line(exc)}
            continue
        threads[name] = thread
    deadline = time.monotonic() + max(0.0, timeout)
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    result: dict[str, dict[str, Any]] = {}
    for name in probes:
        section = slots[name].section
        result[name] = (
            section if section is not None else {"error": f"timed out after {timeout:g}s"}
        )
    return result
