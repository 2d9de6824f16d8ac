"""One thread for the process that turns the live writers' queued points into columns.

A point waiting as a dict costs about nine times its numpy columns, and a flush or an open
of the store can take seconds (imports, fsync on a busy disk) while logging goes on: every
writer's interval, what is queued becomes columns, kept for its next batch. One thread
serves every run of the process (a thread per run cost a start per run); while no run is
left it sleeps until the next one starts, without waking.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labledger.sdk.writer import Writer

_lock = threading.Condition()
_writers: weakref.WeakSet[Writer] = weakref.WeakSet()
_thread: threading.Thread | None = None


def watch(writer: Writer) -> None:
    """Compact ``writer``'s queue every ``writer.flush_interval`` until it is stopped."""
    global _thread
    with _lock:
        _writers.add(writer)
        _lock.notify()
        if _thread is None:
            _thread = threading.Thread(target=_loop, name="labledger-columns", daemon=True)
            _thread.start()


def _loop() -> None:
    while True:
        with _lock:
            writers = [w for w in _writers if not w.stopped()]
            while not writers:
                _writers.clear()
                _lock.wait()
                writers = [w for w in _writers if not w.stopped()]
            interval = min(w.flush_interval for w in writers)
        del writers  # a run abandoned meanwhile is collected, not kept by this thread
        time.sleep(interval)
        with _lock:
            writers = list(_writers)
        for writer in writers:
            if writer.points and not writer.stopped():
                # never raises out: anything left queued is drained by the next flush
                with contextlib.suppress(Exception):
                    writer._drain_queues()


def _after_fork_in_child() -> None:
    global _lock, _thread
    _lock = threading.Condition()
    _thread = None  # it did not survive the fork
    _writers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
