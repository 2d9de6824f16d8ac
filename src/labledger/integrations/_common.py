"""Pieces every integration shares: lazy framework imports, the run to log into, model files."""

from __future__ import annotations

import contextlib
import importlib
import logging
import struct
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import labledger as ll
from labledger.errors import MissingExtra

log = logging.getLogger("labledger")


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import an optional framework, or fail with the one-line install command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(package or module, extra) from None


@contextlib.contextmanager
def run_scope(**init_kwargs: Any) -> Iterator[tuple[ll.Run, bool]]:
    """The current run if one is active (``owned`` False), else a new run that this scope
    finishes: ``failed`` with the traceback when the body raises."""
    current = ll.current_run()
    if current is not None:
        yield current, False
        return
    run = ll.init(**init_kwargs)
    try:
        yield run, True
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            run.finish("killed", error="KeyboardInterrupt")
        else:
            run.finish("failed", error="".join(traceback.format_exception(exc)))
        raise
    run.finish()


def guarded(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a failure to record something warns and never breaks training."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        log.warning("labledger: %s failed: %s", what, exc)
        return None


def numeric(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are real numbers (numpy/torch scalars included)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        item = getattr(value, "item", None)
        if callable(item) and getattr(value, "ndim", 0) == 0:
            value = item()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[str(key)] = float(value)
    return out


def log_file_artifact(
    run: ll.Run,
    write: Callable[[Path], None],
    filename: str,
    *,
    name: str,
    metadata: Mapping[str, Any] | None = None,
    aliases: tuple[str, ...] = (),
) -> Any:
    """Write a model with ``write(path)`` into a temporary folder and log it as ``name``."""
    with tempfile.TemporaryDirectory(prefix="labledger-") as folder:
        path = Path(folder) / filename
        write(path)
        return run.log_artifact(
            path, name=name, type="model", metadata=dict(metadata or {}), aliases=aliases
        )


def artifact_name(*parts: str) -> str:
    """A valid artifact name from free-form parts (``digits``, ``RandomForest``)."""
    text = "-".join(p for p in parts if p)
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-._")
    return (cleaned or "model")[:128]


class RunHandle:
    """The run a framework callback logs into: the active run if there is one when training
    starts, else one it starts itself, finishes with the trainer, and resumes if the
    framework logs again afterwards (``trainer.evaluate()`` after ``train()``)."""

    def __init__(self, project: str | None, init_kwargs: Mapping[str, Any]) -> None:
        self.project = project
        self.init_kwargs = dict(init_kwargs)
        self.run: ll.Run | None = None
        self.owned = False

    def get(self) -> ll.Run:
        if self.run is None:
            current = ll.current_run()
            if current is not None:
                self.run = current
            else:
                self.run = ll.init(project=self.project, **self.init_kwargs)
                self.owned = True
        elif self.owned and self.run.record.status != "running":
            self.run = ll.init(resume=self.run.id)
        return self.run

    def finish(self, status: str = "finished", error: str | None = None) -> None:
        """Finish the run if this handle started it and it is still running."""
        if self.run is not None and self.owned and self.run.record.status == "running":
            self.run.finish(status, error=error)


def as_written(value: Any) -> Any:
    """A float that frameworks kept in single precision (``0.009999999776``) back as the
    value the user wrote (``0.01``); anything else unchanged."""
    if isinstance(value, float) and value == struct.unpack("f", struct.pack("f", value))[0]:
        return float(f"{value:.7g}")
    return value
