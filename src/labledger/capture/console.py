"""Console capture: tee ``sys.stdout`` and ``sys.stderr`` into a sink, unchanged for the user.

Only text written through ``sys.stdout``/``sys.stderr`` is seen; output that C extensions or child
processes write straight to file descriptors 1 and 2 is not.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO, cast

Sink = Callable[[str, float, str], None]


class _TeeStream:
    """Writes through to the original stream, then hands the same text to the sink.

    Everything else (``fileno``, ``isatty``, ``encoding``, ``buffer``...) is the original's.
    """

    def __init__(self, original: TextIO, name: str, sink: Sink) -> None:
        self._original = original
        self._name = name
        self._sink = sink
        self._active = True
        # Set while the sink runs on a thread, so a sink that prints does not recurse.
        self._in_sink = threading.local()

    def write(self, text: str) -> int:
        written = self._original.write(text)
        if text and self._active and not getattr(self._in_sink, "value", False):
            self._in_sink.value = True
            try:
                self._sink(self._name, time.time(), text)
            except Exception:
                pass  # recording the console must never break the user's print
            finally:
                self._in_sink.value = False
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def detach_sink(self) -> None:
        """Stop handing text to the sink; the stream keeps writing through."""
        self._active = False

    def __getattr__(self, name: str) -> Any:
        original = self.__dict__.get("_original")
        if original is None:  # during __init__ or unpickling: no recursion through _original
            raise AttributeError(name)
        return getattr(original, name)


class ConsoleCapture:
    """Tee ``sys.stdout`` and ``sys.stderr`` into ``sink(stream, unix_time, text)``.

    ``stream`` is ``"stdout"`` or ``"stderr"``; the sink is called for every non-empty write, on the
    writing thread, and its exceptions are swallowed. ``stop`` puts the original streams back.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._tees: dict[str, tuple[TextIO, _TeeStream]] = {}

    def start(self) -> None:
        with self._lock:
            if self._tees:
                return
            for name in ("stdout", "stderr"):
                original = cast("TextIO | None", getattr(sys, name))
                if original is None:  # pythonw and some embedded interpreters have no console
                    continue
                tee = _TeeStream(original, name, self._sink)
                self._tees[name] = (original, tee)
                setattr(sys, name, tee)

    def stop(self) -> None:
        with self._lock:
            for name, (original, tee) in self._tees.items():
                tee.detach_sink()
                # If something replaced the stream after us (and may hold our tee), putting the
                # original back would undo its change; our tee stays as a plain pass-through.
                if getattr(sys, name) is tee:
                    setattr(sys, name, original)
            self._tees.clear()
