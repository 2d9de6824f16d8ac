"""Process exit handling: finished on normal exit, failed on an uncaught exception, killed on
Ctrl-C or SIGTERM. SIGKILL cannot be caught: the heartbeat and pid tell readers it crashed."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from labledger.entities import RunStatus

if TYPE_CHECKING:
    from labledger.sdk.run import Run

_installed = False
_lock = threading.Lock()
_runs: list[Run] = []
_exit_status: list[tuple[RunStatus, str | None]] = []
_previous_excepthook = sys.excepthook


def current() -> Run | None:
    """The most recently started run that has not finished, if any."""
    return _runs[-1] if _runs else None


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
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        _exit_status.append((RunStatus.KILLED, "KeyboardInterrupt"))
    else:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        _exit_status.append((RunStatus.FAILED, text))
    _previous_excepthook(exc_type, exc, tb)


def _finish_all() -> None:
    status, error = _exit_status[-1] if _exit_status else (RunStatus.FINISHED, None)
    while _runs:
        _runs.pop().finish(status, error=error)


def _on_sigterm(signum: int, frame: FrameType | None) -> Any:
    _exit_status.append((RunStatus.KILLED, "SIGTERM"))
    _finish_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
