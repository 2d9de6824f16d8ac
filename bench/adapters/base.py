"""The interface every tracker adapter implements (runs inside a benchmark child process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LogFn = Callable[[dict[str, Any], int], None]


class NotSupported(Exception):
    """The tracker has no public way to do this; the table shows ``n/a: <reason>``."""


@dataclass
class RunSpec:
    """One run to create: config, a short ``loss`` history and final metrics."""

    name: str
    config: dict[str, Any]
    final: dict[str, float]
    loss: list[float] = field(default_factory=list)


class Adapter:
    """Write side (``start``/``logger``/``summary``/``finish``), bulk population through the
    tracker's fastest public API, and the read side used by fresh reader processes."""

    name = "base"
    import_name = ""  # module timed by W0 ("" times a bare interpreter)
    durability = "unknown"  # what "finished" means on disk, for the README

    def __init__(self, store: Path) -> None:
        self.store = store

    # --- write side -------------------------------------------------------------------
    def start(self, project: str, name: str, config: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def logger(self, run: Any) -> LogFn:
        """The per-step call ``log(metrics, step)`` as a user would write it."""
        raise NotImplementedError

    def summary(self, run: Any, metrics: Mapping[str, float]) -> None:
        raise NotImplementedError

    def finish(self, run: Any) -> None:
        raise NotImplementedError

    def ref(self, run: Any) -> str:
        """A string that lets a later process find this run."""
        raise NotImplementedError

    def init_store(self, project: str) -> None:
        """Create the (empty) store and project, as a setup step before parallel writers."""

    # --- bulk population (W5 fallback, W8) ----------------------------------------------
    def populate_runs(self, project: str, specs: Iterable[RunSpec], deadline: float) -> int:
        """Create runs until ``specs`` or time run out; returns how many were created."""
        done = 0
        for spec in specs:
            if time.perf_counter() > deadline:
                break
            run = self.start(project, spec.name, spec.config)
            log = self.logger(run)
            for step, value in enumerate(spec.loss):
                log({"loss": value}, step)
            self.summary(run, spec.final)
            self.finish(run)
            done += 1
        return done

    def populate_series(
        self, project: str, name: str, key: str, n: int, deadline: float
    ) -> tuple[str, int]:
        """One run with an ``n``-point series of ``key``; returns (ref, points written)."""
        run = self.start(project, name, {})
        log = self.logger(run)
        written = 0
        for step in range(n):
            if step % 10_000 == 0 and time.perf_counter() > deadline:
                break
            log({key: 1.0 / (step + 1)}, step)
            written += 1
        self.finish(run)
        return self.ref(run), written

    # --- read side (fresh process) ------------------------------------------------------
    def prepare_read(self) -> None:
        """Untimed preparation a reader needs (e.g. Aim's indexing, done by ``aim up``)."""

    def query(self, project: str, limit: int | None = None) -> Any:
        """Runs with ``acc > 0.5`` sorted by ``acc`` descending, as a pandas DataFrame with
        config and metrics as columns (first ``limit`` rows when given)."""
        raise NotSupported("no query API")

    def history(self, ref: str, key: str) -> tuple[Any, Any]:
        """All ``(steps, values)`` of ``key`` as numpy arrays."""
        raise NotSupported("no read API")

    def history_sampled(self, ref: str, key: str, points: int) -> tuple[Any, Any]:
        """About ``points`` points of ``key`` for plotting."""
        raise NotSupported("no read API")

    def status(self, ref: str) -> str:
        """The run status the tracker shows now."""
        raise NotSupported("no read API")
