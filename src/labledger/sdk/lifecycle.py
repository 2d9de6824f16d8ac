"""Process exit handling: finished on normal exit, failed on an uncaught exception or a non-zero
``sys.exit``, killed on Ctrl-C or SIGTERM. SIGKILL cannot be caught: the heartbeat and pid tell
readers it crashed.

Signals are safe at every point: the handlers take no lock and write nothing. They record the
request and raise (``KeyboardInterrupt``, or ``Terminated`` for SIGTERM) into the main thread,
except inside a ``critical()`` section (a flush between its write and its bookkeeping, a
``finish``), where the raise waits for the section to end. The main path then finishes the run
``killed``; after SIGTERM the process ends by that signal once runs are finished.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from labledger.entities import RunStatus

if TYPE_CHECKING:
    from labledger.sdk.run import Run

_installed = False
_lock = threading.Lock()
_runs: list[Run] = []
_exit_status: list[tuple[RunStatus, str | None, int | None]] = []
_previous_excepthook = sys.excepthook
_original_exit = sys.exit
_main_ident = threading.main_thread().ident
_critical = 0  # depth of critical sections on the main thread
_deferred: list[int] = []  # signals received inside a critical section, raised at its end
_received: list[int] = []  # every SIGTERM/SIGINT handled, for finish() to see
_exiting = False


class Terminated(BaseException):  # like KeyboardInterrupt, not an Exception
    """Raised in the main thread when the process receives SIGTERM."""


def current() -> Run | None:
    """The most recently started run that has not finished, if any."""
    return _runs[-1] if _runs else None


def create_pending() -> None:
    """Write the rows of this process's runs whose first flush has not happened yet, so that
    a read in this process sees every run it started."""
    for run in list(_runs):
        if not run._writer.created:
            run._ensure_created()


def unregister(run: Run) -> None:
    with _lock:
        if run in _runs:
            _runs.remove(run)


def register(run: Run) -> None:
    """Track ``run`` so it is finished with the right status when the process ends."""
    global _installed
    with _lock:
        _runs.append(run)
    if _installed:
        return
    _installed = True
    atexit.register(_finish_all)
    # A forked child (a DataLoader worker, say) must not finish its parent's runs at exit.
    os.register_at_fork(after_in_child=_runs.clear)
    sys.excepthook = _excepthook
    sys.exit = _sys_exit
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_signal)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_signal)


def signal_received() -> str | None:
    """``"SIGTERM"``/``"KeyboardInterrupt"`` once such a signal reached this process."""
    if not _received:
        return None
    return "SIGTERM" if signal.SIGTERM in _received else "KeyboardInterrupt"


def deferred_signal() -> str | None:
    """The signal waiting for the current critical section to end, if any (main thread)."""
    if not _deferred:
        return None
    return "SIGTERM" if signal.SIGTERM in _deferred else "KeyboardInterrupt"


@contextmanager
def critical() -> Iterator[None]:
    """A section SIGTERM/SIGINT must not interrupt (main thread; no-op elsewhere): a signal
    arriving inside is raised when the outermost section ends."""
    global _critical
    if threading.get_ident() != _main_ident:
        yield
        return
    _critical += 1
    try:
        yield
    finally:
        _critical -= 1
        if _critical == 0 and _deferred and not _exiting:
            _raise_for(_deferred.pop())


def _raise_for(signum: int) -> NoReturn:
    _deferred.clear()
    if signum == signal.SIGTERM:
        raise Terminated("SIGTERM")
    raise KeyboardInterrupt


def _on_signal(signum: int, frame: FrameType | None) -> Any:
    _received.append(signum)
    if not _runs and not _exiting and _critical == 0:
        _default(signum)
    if _critical or _exiting:
        _deferred.append(signum)
        return
    _raise_for(signum)


def _default(signum: int) -> None:
    """Behave as if we had never installed a handler."""
    if signum == signal.SIGTERM:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    raise KeyboardInterrupt


def _sys_exit(status: Any = None) -> NoReturn:
    """``sys.exit`` that remembers its code, so a run finished at exit records it."""
    code = 0 if status is None else status if isinstance(status, int) else 1
    if code == 0:
        _exit_status.append((RunStatus.FINISHED, None, 0))
    else:
        _exit_status.append((RunStatus.FAILED, f"sys.exit({status!r})", code))
    _original_exit(status)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, Terminated):
        _exit_status.append((RunStatus.KILLED, "SIGTERM", None))
        return  # no traceback for a requested stop
    if issubclass(exc_type, KeyboardInterrupt):
        _exit_status.append((RunStatus.KILLED, "KeyboardInterrupt", None))
    else:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        _exit_status.append((RunStatus.FAILED, text, None))
    _previous_excepthook(exc_type, exc, tb)


def _finish_all() -> None:
    global _exiting
    _exiting = True
    status, error, code = _exit_status[-1] if _exit_status else (RunStatus.FINISHED, None, None)
    received = signal_received()
    if received is not None and status is RunStatus.FINISHED:
        status, error, code = RunStatus.KILLED, received, None
    while _runs:
        _runs.pop().finish(status, error=error, exit_code=code)
    if signal.SIGTERM in _received:  # end the way SIGTERM ends a process: by that signal
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
