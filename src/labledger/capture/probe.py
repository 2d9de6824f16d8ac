"""What a probe is, and how a probe's failure is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

# A probe takes the working directory of the run and returns one JSON-ready section.
Probe = Callable[[Path | None], dict[str, Any]]

MAX_ERROR_LENGTH = 300


def one_line(exc: BaseException) -> str:
    """``ExceptionType: first line of the message``, short enough to show in a table."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"
