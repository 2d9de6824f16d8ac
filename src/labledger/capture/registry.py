"""Running every probe, each isolated: a failing or hanging probe costs only its own section."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from labledger.capture.command import capture_command
from labledger.capture.determinism import capture_determinism
from labledger.capture.environment import capture_environment
from labledger.capture.git import cached_capture_git
from labledger.capture.gpu import capture_gpu
from labledger.capture.host import capture_host
from labledger.capture.probe import Probe, one_line

# Section name -> probe, in the order sections are reported.
PROBES: dict[str, Probe] = {
    "git": cached_capture_git,
    "environment": lambda cwd: capture_environment(),
    "host": lambda cwd: capture_host(),
    "gpu": lambda cwd: capture_gpu(),
    "command": lambda cwd: capture_command(),
    "determinism": lambda cwd: capture_determinism(),
}


# The git probe records the code state, the most important thing a run keeps: it gets its own
# deadline, much longer than the others' (each git command may take a minute, plus a retry).
GIT_DEADLINE = 150.0
INCOMPLETE_TAG = "capture-incomplete"


class _Slot:
    """Where one probe's thread leaves its section."""

    def __init__(self) -> None:
        self.section: dict[str, Any] | None = None
        self.done = threading.Event()


def _run_probe(probe: Probe, cwd: Path | None, slot: _Slot) -> None:
    try:
        section = probe(cwd)
        if not isinstance(section, dict):
            raise TypeError(f"probe returned {type(section).__name__}, not dict")
        slot.section = section
    except BaseException as exc:
        slot.section = {"error": one_line(exc)}
    finally:
        slot.done.set()


class CaptureJob:
    """Every probe started at once on daemon threads; ``wait`` for some, ``collect`` all.

    Daemon threads rather than a ThreadPoolExecutor: the executor's workers are joined at
    interpreter exit, so a hung probe would keep the user's program from exiting.
    """

    def __init__(self, cwd: Path | None = None) -> None:
        self.started = time.monotonic()
        self.slots = {name: _Slot() for name in PROBES}
        for name, probe in PROBES.items():
            thread = threading.Thread(
                target=_run_probe,
                args=(probe, cwd, self.slots[name]),
                name=f"labledger-capture-{name}",
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError as exc:  # cannot start a thread (shutting down, limits)
                self.slots[name].section = {"error": one_line(exc)}
                self.slots[name].done.set()

    def wait(self, name: str, timeout: float) -> bool:
        """Whether probe ``name`` finished within ``timeout`` seconds from now."""
        return self.slots[name].done.wait(max(0.0, timeout))

    def collect(
        self, timeout: float = 10.0, git_timeout: float = GIT_DEADLINE
    ) -> dict[str, dict[str, Any]]:
        """Every section; a probe still running ``timeout`` seconds (git: ``git_timeout``)
        after the start gives ``{"error": "timed out after ..."}``."""
        result: dict[str, dict[str, Any]] = {}
        for name, slot in self.slots.items():
            limit = git_timeout if name == "git" else timeout
            slot.done.wait(max(0.0, self.started + limit - time.monotonic()))
            section = slot.section
            if section is None:
                section = {"error": f"timed out after {limit:g}s"}
            result[name] = section
        return result


def capture_all(
    cwd: Path | None = None, timeout: float = 10.0, git_timeout: float = GIT_DEADLINE
) -> dict[str, dict[str, Any]]:
    """Run every probe at once and return ``{section: data}``: within about ``timeout``
    seconds, the git probe within ``git_timeout``.

    A probe that raises gives ``{"error": "<one line>"}`` for its section only; one still running
    at its deadline gives ``{"error": "timed out after ..."}`` and is left to finish in the
    background. Never raises.
    """
    return CaptureJob(cwd).collect(timeout, git_timeout)


def incomplete_sections(sections: dict[str, dict[str, Any]]) -> list[str]:
    """The sections that matter for reproducing a run and could not be recorded."""
    git = sections.get("git", {})
    return ["git"] if "error" in git else []
