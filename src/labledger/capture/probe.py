"""What a probe is, and how a probe's failure is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# A probe takes the working directory of the run and returns one JSON-ready section.
Probe = Callable[[Path | None], dict[str, Any]]

MAX_ERROR_LENGTH = 300
_T = TypeVar("_T")


def one_line(exc: BaseException) -> str:
    """``ExceptionType: first line of the message``, short enough to show in a table."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def copy_plain(value: _T) -> _T:
    """A deep copy of JSON-like data (dicts, lists, tuples of str/number/bool/None): what the
    capture caches hand out, so a caller changing its copy cannot change the cache. Several
    times faster than ``copy.deepcopy``; anything else is copied by ``copy.deepcopy``."""
    return _copy(value)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    kind = value.__class__
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _ATOMS:
        return value
    if kind is tuple:
        return tuple(_copy(v) for v in value)
    import copy

    return copy.deepcopy(value)


_ATOMS = frozenset({str, int, float, bool, type(None), bytes})
