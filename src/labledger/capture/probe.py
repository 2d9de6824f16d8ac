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


# --- answers kept on disk for the next process ---------------------------------------------
# A probe's per-process cache can start from what the last process kept (the environment and
# git probes, ~0.1-0.2 s each in a process's first run): the probe checks it exactly as it
# checks its own cache before using it, so a kept copy is never more trusted than that.


def kept_file(kind: str, *identity: Any) -> Path:
    """``~/.cache/labledger/<kind>-<tag>.json`` (``XDG_CACHE_HOME`` honoured), one file per
    ``identity`` (a clash of tags only costs a recomputation: the content names its key)."""
    import os
    import zlib

    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = zlib.crc32(repr(identity).encode())
    return Path(cache) / "labledger" / f"{kind}-{tag:08x}.json"


def load_kept(path: Path) -> dict[str, Any] | None:
    """The JSON object kept at ``path``, or None (missing, unreadable, not an object)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def keep(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically, readable by the user only; never raises (a
    read-only home: every process computes its answers, as before)."""
    import contextlib
    import json
    import os

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            tmp.unlink()
