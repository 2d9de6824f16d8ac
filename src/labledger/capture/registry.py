"""Running every probe, each isolated: a failing or hanging probe costs only its own section."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labledger.capture.command import capture_command
from labledger.capture.determinism import capture_determinism
from labledger.capture.environment import capture_environment
from labledger.capture.git import cached_capture_git
from labledger.capture.gpu import capture_gpu
from labledger.capture.host import capture_host
from labledger.capture.probe import Probe, one_line

log = logging.getLogger("labledger")

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
        self.claimed = False  # a thread has taken the probe (guarded by the job's lock)


# How long each probe took last time: the ones that answered quickly (from their caches) run
# one after another on one kept thread, so a run wakes one thread instead of six.
_durations: weakref.WeakKeyDictionary[Probe, float] = weakref.WeakKeyDictionary()
FAST_SECONDS = 0.05
STALL_SECONDS = 1.0  # a probe taking longer on that thread has the rest moved off it


def _run_probe(probe: Probe, cwd: Path | None, slot: _Slot) -> None:
    started = time.monotonic()
    try:
        section = probe(cwd)
        if not isinstance(section, dict):
            raise TypeError(f"probe returned {type(section).__name__}, not dict")
        slot.section = section
    except BaseException as exc:
        slot.section = {"error": one_line(exc)}
    finally:
        with contextlib.suppress(TypeError):  # a probe that cannot be weakly referenced
            _durations[probe] = time.monotonic() - started
        slot.done.set()


Task = tuple[Probe, "Path | None", _Slot, "CaptureJob"]


class _Worker(threading.Thread):
    """A probe's thread, kept for the process: a later run's probe of the same name reuses it
    instead of starting a thread (a process starting many runs would start six per run)."""

    def __init__(self, name: str) -> None:
        super().__init__(name=f"labledger-capture-{name}", daemon=True)
        self.tasks: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self.busy = False  # guarded by _pool_lock

    def run(self) -> None:
        while True:
            probe, cwd, slot, job = self.tasks.get()
            _run_alone(probe, cwd, slot, job)
            with _pool_lock:
                self.busy = False


class _Runner(threading.Thread):
    """The kept thread that runs a job's quick probes one after another, quickest first."""

    def __init__(self) -> None:
        super().__init__(name="labledger-capture", daemon=True)
        self.tasks: queue.SimpleQueue[tuple[CaptureJob, list[str]]] = queue.SimpleQueue()
        self.busy = False  # guarded by _pool_lock

    def run(self) -> None:
        while True:
            job, names = self.tasks.get()
            for name in names:
                if job._claim(name):
                    _run_alone(job._probes[name], job._cwd, job.slots[name], job)
            with _pool_lock:
                self.busy = False


_pool_lock = threading.Lock()
_pool: dict[str, _Worker] = {}
_runner: _Runner | None = None


def _run_in_turn(job: CaptureJob) -> list[str]:
    """Queue ``job``'s quick probes on the kept runner thread, if it is idle; their names."""
    global _runner
    durations = {name: _durations.get(probe) for name, probe in job._probes.items()}
    quick = [n for n, d in durations.items() if d is not None and d < FAST_SECONDS]
    if len(quick) < 2:
        return []  # nothing to save
    quick.sort(key=lambda n: durations[n] or 0.0)
    with _pool_lock:
        runner = _runner
        if runner is None or not runner.is_alive():
            runner = _runner = _Runner()
            runner.start()
        elif runner.busy:
            return []
        runner.busy = True
    runner.tasks.put((job, quick))
    return quick


def _dispatch(name: str, task: Task) -> None:
    """Run ``task`` on ``name``'s kept thread when that one is idle, else on a new thread of
    its own: a probe still hanging from an earlier run never delays this run's."""
    with _pool_lock:
        worker = _pool.get(name)
        if worker is None or not worker.is_alive():
            worker = _pool[name] = _Worker(name)
            worker.busy = True
            worker.start()
        elif worker.busy:
            worker = None
        else:
            worker.busy = True
    if worker is not None:
        worker.tasks.put(task)
        return
    thread = threading.Thread(
        target=_run_alone, args=task, name=f"labledger-capture-{name}", daemon=True
    )
    thread.start()


def _run_alone(probe: Probe, cwd: Path | None, slot: _Slot, job: CaptureJob) -> None:
    _run_probe(probe, cwd, slot)
    try:
        job._probe_done()  # the last probe to finish hands the sections over
    except Exception as exc:  # the callback's own failure must not end a kept thread
        log.warning("labledger: handing over the capture failed: %s", one_line(exc))


class CaptureJob:
    """Every probe started at once on daemon threads; ``wait`` for some, ``collect`` all.
    Probes that answered quickly last time share one kept thread, in turn; one stalling
    there for ``STALL_SECONDS`` has the rest moved onto threads of their own.

    Daemon threads rather than a ThreadPoolExecutor: the executor's workers are joined at
    interpreter exit, so a hung probe would keep the user's program from exiting.

    With ``on_complete``, the sections are handed to it (once, from a probe's thread or one started
    at the deadline) as soon as every probe has finished or passed its deadline (``timeout`` seconds
    after the start, the git probe ``git_timeout``); ``delivered`` waits for that.
    """

    def __init__(
        self,
        cwd: Path | None = None,
        on_complete: Callable[[dict[str, dict[str, Any]]], None] | None = None,
        timeout: float = 10.0,
        git_timeout: float = GIT_DEADLINE,
    ) -> None:
        self.started = time.monotonic()
        self.slots = {name: _Slot() for name in PROBES}
        self._limits = (timeout, git_timeout)
        self._on_complete = on_complete
        self._lock = threading.Lock()
        self._remaining = len(self.slots)
        self._delivered = threading.Event()
        self._cwd = cwd
        self._probes = dict(PROBES)
        in_turn = _run_in_turn(self)
        for name in self._probes:
            if name not in in_turn:
                self._start(name)
        if in_turn:
            _schedule(self, self.started + STALL_SECONDS)  # to move the rest off a stall
        elif on_complete is not None and not self._delivered.is_set():
            _schedule(self, self.started + min(timeout, git_timeout))

    def _claim(self, name: str) -> bool:
        with self._lock:
            slot = self.slots[name]
            claimed, slot.claimed = slot.claimed, True
            return not claimed

    def _start(self, name: str) -> None:
        """Probe ``name`` on a thread of its own (unless a thread has taken it already)."""
        if not self._claim(name):
            return
        slot = self.slots[name]
        try:
            _dispatch(name, (self._probes[name], self._cwd, slot, self))
        except RuntimeError as exc:  # cannot start a thread (shutting down, limits)
            slot.section = {"error": one_line(exc)}
            slot.done.set()
            self._probe_done()

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
            result[name] = _section(slot, limit)
        return result

    def delivered(self, timeout: float | None = None) -> bool:
        """Wait until ``on_complete`` has returned; whether it has."""
        return self._delivered.wait(timeout)

    def _probe_done(self) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self._deliver()

    def _deadline_passed(self) -> None:
        """From the deadline thread: move probes still waiting behind a stalled one onto
        their own threads; deliver if every probe finished or is past its deadline, else
        come back at the next deadline."""
        now = time.monotonic()
        for name in self._probes:
            self._start(name)  # only those no thread has taken
        timeout, git_timeout = self._limits
        pending = [
            self.started + (git_timeout if name == "git" else timeout)
            for name, slot in self.slots.items()
            if not slot.done.is_set()
        ]
        later = [deadline for deadline in pending if deadline > now]
        if later:
            _schedule(self, min(later))
        else:  # on a thread of its own: a callback that blocks must not hold up other jobs
            threading.Thread(
                target=self._deliver_logging_errors, name="labledger-capture-deliver", daemon=True
            ).start()

    def _deliver_logging_errors(self) -> None:
        try:
            self._deliver()
        except Exception as exc:
            log.warning("labledger: handing over the capture failed: %s", one_line(exc))

    def _deliver(self) -> None:
        with self._lock:
            if self._delivered.is_set() or self._on_complete is None:
                return
            callback, self._on_complete = self._on_complete, None
        timeout, git_timeout = self._limits
        sections = {
            name: _section(slot, git_timeout if name == "git" else timeout)
            for name, slot in self.slots.items()
        }
        try:
            callback(sections)
        finally:
            self._delivered.set()


def _section(slot: _Slot, limit: float) -> dict[str, Any]:
    section = slot.section if slot.done.is_set() else None
    return section if section is not None else {"error": f"timed out after {limit:g}s"}


# --- deadlines: one thread for the process, woken at most once a second -------------------

_due_lock = threading.Condition()
_due: list[tuple[float, int, weakref.ref[CaptureJob]]] = []
_order = itertools.count()
_deadline_thread: threading.Thread | None = None
DEADLINE_RESOLUTION = 1.0  # seconds a deadline may be acted on late (they are 10 s and more)


def _schedule(job: CaptureJob, when: float) -> None:
    global _deadline_thread
    with _due_lock:
        earliest = _due[0][0] if _due else None
        heapq.heappush(_due, (when, next(_order), weakref.ref(job)))
        thread = _deadline_thread
        if thread is None or not thread.is_alive():
            thread = _deadline_thread = threading.Thread(
                target=_watch_deadlines, name="labledger-capture-deadlines", daemon=True
            )
            thread.start()
        elif earliest is None or when < earliest:
            _due_lock.notify()


def _watch_deadlines() -> None:
    while True:
        with _due_lock:
            while not _due or _due[0][0] > time.monotonic():
                wait = None if not _due else max(_due[0][0] - time.monotonic(), 0.0)
                _due_lock.wait(wait)
            now = time.monotonic() + DEADLINE_RESOLUTION
            due = []
            while _due and _due[0][0] <= now:
                due.append(heapq.heappop(_due)[2])
        for ref in due:
            job = ref()
            if job is not None and not job._delivered.is_set() and job._remaining:
                try:
                    job._deadline_passed()
                except Exception as exc:  # must not stop the deadlines of other jobs
                    log.warning("labledger: handing over the capture failed: %s", one_line(exc))
        time.sleep(DEADLINE_RESOLUTION)  # coalesce: one wakeup a second at most


def _after_fork_in_child() -> None:
    global _pool_lock, _due_lock, _deadline_thread, _runner
    _pool.clear()  # the kept threads did not survive the fork
    _runner = None
    _pool_lock = threading.Lock()
    _due.clear()
    _due_lock = threading.Condition()
    _deadline_thread = None


os.register_at_fork(after_in_child=_after_fork_in_child)


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
